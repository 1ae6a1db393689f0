// The thing model's Alink JSON (lib/src/thing): topics, request building from K=V pairs and JSON,
// the platform's replies (untrusted: malformed, oversized, not UTF-8), the codes' error classes,
// NTP arithmetic, the cloud's requests as the device receives them, and the OpenAPI bodies.
#include <aliot/thing.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <set>
#include <string>

using namespace aliot;
using nlohmann::json;

TEST(Thing, TopicsAndMethodsFollowAlink) {
  EXPECT_EQ(thing::property_post_topic("a1PK", "dev1"), "/sys/a1PK/dev1/thing/event/property/post");
  EXPECT_EQ(thing::reply_topic_of(thing::property_post_topic("a1PK", "dev1")),
            "/sys/a1PK/dev1/thing/event/property/post_reply");
  EXPECT_EQ(thing::event_post_topic("a1PK", "dev1", "Overheat"),
            "/sys/a1PK/dev1/thing/event/Overheat/post");
  EXPECT_EQ(thing::property_set_topic("a1PK", "dev1"), "/sys/a1PK/dev1/thing/service/property/set");
  EXPECT_EQ(thing::service_topic("a1PK", "dev1", "add"), "/sys/a1PK/dev1/thing/service/add");
  EXPECT_EQ(thing::ntp_request_topic("a1PK", "dev1"), "/ext/ntp/a1PK/dev1/request");
  EXPECT_EQ(thing::ntp_response_topic("a1PK", "dev1"), "/ext/ntp/a1PK/dev1/response");
  EXPECT_EQ(thing::property_post_method(), "thing.event.property.post");
  EXPECT_EQ(thing::event_post_method("Overheat"), "thing.event.Overheat.post");
}

TEST(Thing, PairsAreTypedAsJsonWhenTheyParse) {
  auto p = thing::params_from_pairs({"Temp=21.5", "Power=1", "On=true", "Label=hall 2",
                                     "Code=\"007\"", "Obj={\"a\":[1,2]}", "Empty="});
  ASSERT_TRUE(p) << p.error().message();
  const auto j = json::parse(*p);
  EXPECT_EQ(j["Temp"], 21.5);
  EXPECT_EQ(j["Power"], 1);
  EXPECT_EQ(j["On"], true);
  EXPECT_EQ(j["Label"], "hall 2");
  EXPECT_EQ(j["Code"], "007");
  EXPECT_EQ(j["Obj"]["a"][1], 2);
  EXPECT_EQ(j["Empty"], "");
  // order is kept: what the user wrote is what goes on the wire
  EXPECT_EQ(p->substr(0, 13), "{\"Temp\":21.5,");
}

TEST(Thing, BadPairsAreUsageErrors) {
  for (const auto& bad : std::vector<std::vector<std::string>>{{"Temp"},
                                                               {"=1"},
                                                               {"Te mp=1"},
                                                               {"Temp=1", "Temp=2"},
                                                               {"Temp=\xff\xfe"},
                                                               {std::string(51, 'a') + "=1"}}) {
    auto p = thing::params_from_pairs(bad);
    ASSERT_FALSE(p) << bad.front();
    EXPECT_EQ(p.error().code(), Errc::usage);
  }
}

TEST(Thing, ParamsJsonMustBeAnObject) {
  auto ok = thing::params_from_json(" {\"Temp\": 21.5} ", "--params");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "{\"Temp\":21.5}");
  for (const char* bad : {"[1]", "21.5", "{", "", "{\"a\":\"\xff\"}"}) {
    auto r = thing::params_from_json(bad, "--params");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::usage);
    EXPECT_NE(r.error().message().find("--params"), std::string::npos);
  }
  auto merged = thing::merge_params("{\"a\":1}", "{\"b\":2}");
  ASSERT_TRUE(merged);
  EXPECT_EQ(*merged, "{\"a\":1,\"b\":2}");
  EXPECT_FALSE(thing::merge_params("{\"a\":1}", "{\"a\":2}"));
}

TEST(Thing, DesiredAndBatchTopicsMethodsAndParams) {
  EXPECT_EQ(thing::property_batch_post_topic("pk", "dn"),
            "/sys/pk/dn/thing/event/property/batch/post");
  EXPECT_EQ(thing::desired_get_topic("pk", "dn"), "/sys/pk/dn/thing/property/desired/get");
  EXPECT_EQ(thing::desired_delete_topic("pk", "dn"), "/sys/pk/dn/thing/property/desired/delete");
  EXPECT_EQ(thing::property_batch_post_method(), "thing.event.property.batch.post");
  EXPECT_EQ(thing::desired_get_method(), "thing.property.desired.get");
  EXPECT_EQ(thing::desired_delete_method(), "thing.property.desired.delete");
  EXPECT_EQ(thing::desired_get_params({}).value(), "[]");
  EXPECT_EQ(thing::desired_get_params({"Temp", "Power"}).value(), R"(["Temp","Power"])");
  EXPECT_EQ(thing::desired_delete_params({"Temp", "Power=0", "Label=42"}).value(),
            R"({"Temp":{},"Power":{"version":0},"Label":{"version":42}})");
  for (const auto& bad : std::vector<std::vector<std::string>>{{},
                                                               {"Temp="},
                                                               {"Temp=1x"},
                                                               {"Temp=-2"},
                                                               {"=1"},
                                                               {"Temp", "Temp=1"},
                                                               {"Temp=99999999999999999999999"}}) {
    auto r = thing::desired_delete_params(bad);
    ASSERT_FALSE(r) << (bad.empty() ? "" : bad.back());
    EXPECT_EQ(r.error().code(), Errc::usage);
  }
  EXPECT_EQ(thing::batch_params(R"({ "events": {"A": [{"value": {"x": 1}}]}})").value(),
            R"({"events":{"A":[{"value":{"x":1}}]}})");
  for (const char* bad : {"{}", "[]", R"({"properties":[]})", R"({"properties":{"T":[]}})",
                          R"({"properties":{"T":[1]}})", R"({"properties":{"T":[{"time":1}]}})",
                          R"({"properties":{"T":[{"value":1,"time":1.5}]}})",
                          R"({"properties":{},"extra":{}})", R"({"events":{"A":[{"value":1}]}})"}) {
    auto r = thing::batch_params(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::usage);
  }
}

TEST(Thing, RequestPayloadIsTheAlinkEnvelope) {
  thing::Request r;
  r.id = "123";
  r.method = thing::property_post_method();
  r.params = "{\"Temp\":21.5}";
  EXPECT_EQ(thing::request_payload(r),
            "{\"id\":\"123\",\"version\":\"1.0\",\"params\":{\"Temp\":21.5},\"sys\":{\"ack\":1},"
            "\"method\":\"thing.event.property.post\"}");
  r.ack = false;
  EXPECT_EQ(json::parse(thing::request_payload(r))["sys"]["ack"], 0);
}

TEST(Thing, IdsAreDecimalIn32Bits) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const auto id = thing::new_id();
    ASSERT_FALSE(id.empty());
    ASSERT_LE(id.size(), 10u);
    EXPECT_EQ(id.find_first_not_of("0123456789"), std::string::npos);
    EXPECT_LE(std::stoull(id), 4294967295ull);
    EXPECT_GE(std::stoull(id), 1ull);
    seen.insert(id);
  }
  EXPECT_GT(seen.size(), 45u);
}

TEST(Thing, RepliesParseAndMapToExitClasses) {
  auto r = thing::parse_reply(
      R"({"code":200,"data":{},"id":"123","message":"success","method":"thing.event.property.post","version":"1.0"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->id, "123");
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ(r->data, "{}");
  EXPECT_TRUE(thing::check_reply(*r, "property post"));

  auto bad = thing::parse_reply(
      R"({"code":6106,"data":{},"id":"7","message":"map size must less than 200"})");
  ASSERT_TRUE(bad);
  auto e = thing::check_reply(*bad, "property post");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), Errc::remote);
  EXPECT_NE(e.error().message().find("6106"), std::string::npos);
  EXPECT_NE(e.error().message().find("map size must less than 200"), std::string::npos);
  EXPECT_FALSE(e.error().hint().empty());

  auto s = thing::parse_reply(R"({"code":"460","id":1,"message":"request parameter error"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 460);
  EXPECT_EQ(s->id, "1"); // a numeric id still matches its text
  EXPECT_EQ(thing::check_reply(*s, "x").error().code(), Errc::remote);
}

TEST(Thing, UntrustedRepliesAreErrorsNotCrashes) {
  const std::string cases[] = {
      "",
      "not json",
      "[1,2]",
      R"({"id":"1"})",
      R"({"id":"1","code":"abc"})",
      R"({"id":"1","code":1e30})",
      R"({"id":"1","code":99999999999})",
      std::string("{\"id\":\"1\",\"code\":200,\"message\":\"\xff\xfe\"}"),
      std::string(300 * 1024, '{'),
      std::string("{\"code\":200,\"id\":\"\x1b[31m\"") + "}",
  };
  for (const auto& c : cases) {
    auto r = thing::parse_reply(c);
    if (r) {
      // the one well-formed case: an ESC inside a JSON string is escaped JSON, still text
      EXPECT_EQ(r->code, 200);
      continue;
    }
    EXPECT_EQ(r.error().code(), Errc::remote);
    // the message is one printable line
    EXPECT_EQ(r.error().message().find('\x1b'), std::string::npos);
    EXPECT_LT(r.error().message().size(), 400u);
  }
}

TEST(Thing, NtpOffsetAndRoundTrip) {
  auto t = thing::parse_ntp_response(
      R"({"deviceSendTime":"1000","serverRecvTime":"1600","serverSendTime":1610})", 1050);
  ASSERT_TRUE(t) << t.error().message();
  const auto c = thing::clock_offset(*t);
  // server 1600..1610, device 1000..1050: offset ((600) + (560)) / 2, wire 50 - 10
  EXPECT_DOUBLE_EQ(c.offset_ms, 580.0);
  EXPECT_DOUBLE_EQ(c.round_trip_ms, 40.0);
  EXPECT_EQ(thing::ntp_request_payload(1234), "{\"deviceSendTime\":\"1234\"}");
  for (const char* bad :
       {"{}", R"({"deviceSendTime":"x","serverRecvTime":"1","serverSendTime":"1"})", "[]",
        R"({"deviceSendTime":"-1","serverRecvTime":"1","serverSendTime":"1"})"}) {
    auto r = thing::parse_ntp_response(bad, 0);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::remote);
  }
}

TEST(Thing, IncomingRequestsAsyncSyncAndPropertySet) {
  const auto filters = thing::serve_filters("pk1", "dev1");
  EXPECT_EQ(filters, (std::vector<std::string>{"/sys/pk1/dev1/thing/service/property/set",
                                               "/sys/pk1/dev1/thing/service/+",
                                               "/sys/pk1/dev1/rrpc/request/+"}));
  auto set = thing::parse_incoming(
      "/sys/pk1/dev1/thing/service/property/set",
      R"({"method":"thing.service.property.set","id":"42","params":{"Temp":25},"version":"1.0"})",
      "pk1", "dev1");
  ASSERT_TRUE(set && *set);
  EXPECT_EQ((*set)->name, thing::k_property_set);
  EXPECT_FALSE((*set)->sync);
  EXPECT_EQ((*set)->id, "42");
  EXPECT_EQ((*set)->params, "{\"Temp\":25}");
  EXPECT_EQ((*set)->reply_topic, "/sys/pk1/dev1/thing/service/property/set_reply");

  auto async = thing::parse_incoming("/sys/pk1/dev1/thing/service/add",
                                     R"({"method":"thing.service.add","id":"7","params":{"x":1}})",
                                     "pk1", "dev1");
  ASSERT_TRUE(async && *async);
  EXPECT_EQ((*async)->name, "add");
  EXPECT_EQ((*async)->reply_topic, "/sys/pk1/dev1/thing/service/add_reply");

  auto sync = thing::parse_incoming("/sys/pk1/dev1/rrpc/request/889455942124347392",
                                    R"({"method":"thing.service.add","id":"8","params":{}})", "pk1",
                                    "dev1");
  ASSERT_TRUE(sync && *sync);
  EXPECT_TRUE((*sync)->sync);
  EXPECT_EQ((*sync)->name, "add");
  EXPECT_EQ((*sync)->reply_topic, "/sys/pk1/dev1/rrpc/response/889455942124347392");

  // not requests: our own replies, a plain RRPC request, another device, another topic
  for (const auto& [topic, payload] : std::vector<std::pair<std::string, std::string>>{
           {"/sys/pk1/dev1/thing/service/add_reply", R"({"code":200,"id":"7"})"},
           {"/sys/pk1/dev1/rrpc/request/1", "ping"},
           {"/sys/pk1/dev1/rrpc/request/1", R"({"cmd":"x"})"},
           {"/sys/pk1/dev2/thing/service/add", R"({"method":"thing.service.add"})"},
           {"/pk1/dev1/user/get", "{}"}}) {
    auto r = thing::parse_incoming(topic, payload, "pk1", "dev1");
    ASSERT_TRUE(r) << topic;
    EXPECT_FALSE(*r) << topic;
  }
  // a request of the device that is malformed is an error to report
  for (const char* bad : {"nope", "{\"method\":\"thing.service.other\",\"id\":\"1\"}",
                          "{\"method\":\"thing.service.a b\"}", "\xff"}) {
    auto r = thing::parse_incoming("/sys/pk1/dev1/thing/service/add", bad, "pk1", "dev1");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::remote);
  }
}

TEST(Thing, AnswersAndTheirPayload) {
  thing::Incoming in;
  in.id = "7";
  auto data = thing::answer_from_json("{\"z\":3}\n", "--reply");
  ASSERT_TRUE(data);
  EXPECT_EQ(
      thing::reply_payload(in, *data),
      "{\"id\":\"7\",\"code\":200,\"data\":{\"z\":3},\"message\":\"success\",\"version\":\"1.0\"}");
  auto full = thing::answer_from_json(R"({"code":10001,"data":{},"message":"x missing"})", "r");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->code, 10001);
  EXPECT_EQ(json::parse(thing::reply_payload(in, *full))["message"], "x missing");
  auto empty = thing::answer_from_json("", "r");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->data, "{}");
  auto bad = thing::answer_from_json("z=3", "--reply add");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::usage);
}

TEST(Thing, HandlerCommandGetsTheRequestAndAnswers) {
  // As aliot's main does: a command that exits without reading its stdin is an EPIPE for the
  // writer, not a SIGPIPE that ends the process.
  std::signal(SIGPIPE, SIG_IGN);
  thing::Incoming in;
  in.name = "add";
  in.id = "9";
  in.sync = true;
  in.payload = R"({"id":"9","params":{"x":1,"y":2}})";
  config::Env env{{"PATH", "/usr/bin:/bin"}, {"ALIOT_DEVICE_SECRET", "s3cret"}};
  auto a = thing::run_handler(
      "read -r l; echo \"{\\\"n\\\":\\\"$ALIOT_THING_NAME$ALIOT_THING_ID$ALIOT_THING_SYNC\\\","
      "\\\"s\\\":\\\"${ALIOT_DEVICE_SECRET:-none}\\\",\\\"len\\\":${#l}}\"",
      in, env, std::chrono::seconds(5));
  ASSERT_TRUE(a) << a.error().message();
  const auto j = json::parse(a->data);
  EXPECT_EQ(j["n"], "add91");
  EXPECT_EQ(j["s"], "none");
  EXPECT_EQ(j["len"], in.payload.size());
  auto failed = thing::run_handler("exit 3", in, env, std::chrono::seconds(5));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Errc::remote);
  auto slow = thing::run_handler("sleep 5", in, env, std::chrono::milliseconds(200));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code(), Errc::timeout);
}

TEST(Thing, CloudRequestsAndBodies) {
  const thing::cloud::Device d{"a1PK", "dev1"};
  const auto p = thing::cloud::set_property_params(d, "{\"Temp\":25}");
  EXPECT_EQ(p, (openapi::Params{
                   {"ProductKey", "a1PK"}, {"DeviceName", "dev1"}, {"Items", "{\"Temp\":25}"}}));
  const auto b = thing::cloud::broadcast_params({"a1PK", "hi", std::string("/broadcast/a1PK/x")});
  EXPECT_EQ(b, (openapi::Params{{"ProductKey", "a1PK"},
                                {"MessageContent", "aGk="},
                                {"TopicFullName", "/broadcast/a1PK/x"}}));
  thing::cloud::Window w{1000, 2000, 50, true};
  const auto h = thing::cloud::property_data_params(d, "Temp", w);
  EXPECT_EQ(h.back(), (std::pair<std::string, std::string>{"Asc", "1"}));

  auto st = thing::cloud::parse_property_status(
      R"({"Success":true,"RequestId":"r","Data":{"List":{"PropertyStatusInfo":[
         {"Identifier":"Temp","Value":"21.5","Time":"1517553572362","DataType":"double","Name":"t","Unit":"C"},
         {"Identifier":"Power","Value":"1","DataType":"int"}]}}})");
  ASSERT_TRUE(st);
  ASSERT_EQ(st->size(), 2u);
  EXPECT_EQ((*st)[0].value, "21.5");
  EXPECT_EQ((*st)[0].time, "1517553572362");
  EXPECT_EQ((*st)[1].time, "");
  EXPECT_TRUE((*st)[1].reported);
  auto listed = thing::cloud::parse_property_status(
      R"({"Data":{"List":{"PropertyStatusInfo":[{"Identifier":"Label","DataType":"text"}]}}})");
  ASSERT_TRUE(listed);
  EXPECT_FALSE(listed->at(0).reported);

  auto inv = thing::cloud::parse_invoke(
      R"({"Success":true,"Data":{"Result":"{\"z\":3}","MessageId":"abc"}})");
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->message_id, "abc");
  ASSERT_TRUE(inv->result);
  EXPECT_EQ(*inv->result, "{\"z\":3}");
  auto async = thing::cloud::parse_invoke(R"({"Success":true,"Data":{"MessageId":123}})");
  ASSERT_TRUE(async);
  EXPECT_EQ(async->message_id, "123");
  EXPECT_FALSE(async->result);

  auto ev = thing::cloud::parse_event_data(
      R"({"Data":{"NextValid":true,"NextTime":1,"List":{"EventInfo":[{"Identifier":"Overheat","Time":5,"EventType":"alert","OutputData":"{\"Temp\":90}"}]}}})");
  ASSERT_TRUE(ev);
  EXPECT_TRUE(ev->next_valid);
  ASSERT_EQ(ev->records.size(), 1u);
  EXPECT_EQ(ev->records[0].value, "{\"Temp\":90}");

  auto mid = thing::cloud::parse_message_id(R"({"RequestId":"r","Data":{"MessageId":"m1"}})");
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->message_id, "m1");
  EXPECT_FALSE(thing::cloud::parse_property_status("\xff"));
}
