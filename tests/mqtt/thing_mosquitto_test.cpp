// The thing-model commands (`prop post`, `event post`, `thing serve`) against peers we did not
// write: a plain mosquitto broker, mosquitto_sub watching what aliot sends, mosquitto_pub
// answering as the platform (the _reply) or asking as the cloud (property/set, services).
#include "broker.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sstream>

using namespace aliot::test;
using nlohmann::json;

namespace {

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// mosquitto client flags of the broker's operator (no ACL: it sees and sends everything).
std::string op_flags(const Mosquitto& b) {
  return "-h 127.0.0.1 -p " + std::to_string(b.tcp_port()) + " -u operator -P operator-pass";
}

const std::string k_post = "/sys/a1FakePK001/devPub/thing/event/property/post";

// A platform of shell: answers the first message on `topic` on `topic`_reply with `code` and
// `message` and the request's id (and `data`, JSON without a single quote); says READY once
// subscribed.
std::string platform_script(const Mosquitto& b,
                            const std::string& topic,
                            int code,
                            const std::string& message,
                            std::string data = "{}") {
  for (std::size_t at = 0; (at = data.find('"', at)) != std::string::npos; at += 2) {
    data.replace(at, 1, "\\\"");
  }
  return "stdbuf -oL mosquitto_sub " + op_flags(b) + " -t '" + topic
         + "' -C 1 -W 30 -d | while IFS= read -r line; do\n"
           "  case \"$line\" in\n"
           "    *'received SUBACK'*) echo READY ;;\n"
           "    '{'*) id=$(printf '%s' \"$line\" | sed 's/.*\"id\":\"\\([0-9]*\\)\".*/\\1/')\n"
           "      echo \"GOT $line\"\n"
           "      mosquitto_pub "
         + op_flags(b) + " -t '" + topic + "_reply' -m \"{\\\"code\\\":" + std::to_string(code)
         + ",\\\"data\\\":" + data + ",\\\"id\\\":\\\"$id\\\",\\\"message\\\":\\\"" + message
         + "\\\",\\\"version\\\":\\\"1.0\\\"}\"\n"
           "      echo ANSWERED ;;\n"
           "  esac\n"
           "done\n";
}

} // namespace

TEST(ThingMosquitto, PropPostSendsTheAlinkRequestAndExitsByTheMosquittoPubReply) {
  Mosquitto b;
  TempDir dir;
  Background platform({"bash", dir.write("p.sh", platform_script(b, k_post, 200, "success"))});
  ASSERT_TRUE(platform.wait_for("READY", std::chrono::seconds(15))) << platform.err();
  auto r = run_aliot(cat({"prop", "post", "Temp=21.5", "Power=1", "Label=hall 2", "-o", "json"},
                         b.device_args("devPub")),
                     {.env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err << platform.out();
  const auto out = json::parse(r.out);
  EXPECT_EQ(out["code"], 200);
  EXPECT_EQ(out["topic"], k_post);
  ASSERT_TRUE(platform.wait_for("ANSWERED", std::chrono::seconds(10)));
  // exactly the bytes of the Alink request, the id aliot printed
  const std::string id = out["id"];
  EXPECT_NE(platform.out().find("GOT {\"id\":\"" + id
                                + "\",\"version\":\"1.0\",\"params\":{\"Temp\":21.5,\"Power\":1,"
                                  "\"Label\":\"hall 2\"},\"sys\":{\"ack\":1},"
                                  "\"method\":\"thing.event.property.post\"}"),
            std::string::npos)
      << platform.out();
}

TEST(ThingMosquitto, AThingModelRefusalIsExit7WithThePlatformsMessage) {
  Mosquitto b;
  TempDir dir;
  Background platform(
      {"bash", dir.write("p.sh", platform_script(b, k_post, 6106, "map size must less than 200"))});
  ASSERT_TRUE(platform.wait_for("READY", std::chrono::seconds(15))) << platform.err();
  auto r = run_aliot(cat({"prop", "post", "--params", "{\"Temp\":21.5}"}, b.device_args("devPub")),
                     {.env = b.env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("code 6106: map size must less than 200"), std::string::npos) << r.err;
}

TEST(ThingMosquitto, EventPostUsesTheEventsTopicAndMethod) {
  Mosquitto b;
  TempDir dir;
  const std::string topic = "/sys/a1FakePK001/devPub/thing/event/Overheat/post";
  Background platform({"bash", dir.write("p.sh", platform_script(b, topic, 200, "success"))});
  ASSERT_TRUE(platform.wait_for("READY", std::chrono::seconds(15))) << platform.err();
  auto r = run_aliot(
      cat({"event", "post", "Overheat", "--params", "{\"Temp\":90}"}, b.device_args("devPub")),
      {.env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(platform.wait_for("ANSWERED", std::chrono::seconds(10)));
  EXPECT_NE(platform.out().find("\"params\":{\"Temp\":90}"), std::string::npos);
  EXPECT_NE(platform.out().find("\"method\":\"thing.event.Overheat.post\""), std::string::npos);
}

TEST(ThingMosquitto, NoReplyIsExit6AndNoAckWaitsForNothing) {
  Mosquitto b;
  Background watch({"stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p",
                    std::to_string(b.tcp_port()), "-u", "operator", "-P", "operator-pass", "-t",
                    k_post, "-d"});
  ASSERT_TRUE(watch.wait_for("SUBACK", std::chrono::seconds(15))) << watch.err();
  auto r = run_aliot(cat({"prop", "post", "Temp=1", "--timeout", "1"}, b.device_args("devPub")),
                     {.env = b.env()});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("no reply to thing.event.property.post"), std::string::npos) << r.err;
  r = run_aliot(cat({"prop", "post", "Temp=2", "--no-ack", "-q", "1"}, b.device_args("devPub")),
                {.env = b.env()});
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(watch.wait_for("\"sys\":{\"ack\":0}", std::chrono::seconds(10))) << watch.out();
}

TEST(ThingMosquitto, BadParamsAreExit2BeforeConnecting) {
  const std::vector<std::string> dev{"-k",        k_pk,    "-d",     "devPub", "--host",
                                     "127.0.0.1", "--tcp", "--port", "1"};
  const Env env{{"ALIOT_DEVICE_SECRET", k_secret}};
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"prop", "post"},
                                             {"prop", "post", "Temp"},
                                             {"prop", "post", "Temp=1", "Temp=2"},
                                             {"prop", "post", "--params", "[1]"},
                                             {"prop", "post", "--params", "{"},
                                             {"event", "post", "bad name"}}) {
    auto r = run_aliot(cat(args, dev), {.env = env});
    EXPECT_EQ(r.status, 2) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos);
  }
}

TEST(ThingMosquitto, ThingServeAnswersPropertySetAndServicesAsyncAndSync) {
  Mosquitto b;
  const std::string base = "/sys/a1FakePK001/devSub/";
  Background serve(
      cat({aliot_bin(), "thing", "serve", "-C", "3", "-o", "json", "--reply", "add={\"z\":3}",
           "--exec", "reboot=cat >/dev/null; echo '{\"code\":10001,\"message\":\"busy\"}'"},
          b.device_args("devSub")),
      {.env = b.env()});
  auto ready = serve.read_line(std::chrono::seconds(15));
  ASSERT_TRUE(ready) << serve.err();
  const auto rj = json::parse(*ready);
  ASSERT_EQ(rj["event"], "ready");
  EXPECT_EQ(rj["topics"].size(), 3u);

  Background replies({"stdbuf",
                      "-oL",
                      "mosquitto_sub",
                      "-h",
                      "127.0.0.1",
                      "-p",
                      std::to_string(b.tcp_port()),
                      "-u",
                      "operator",
                      "-P",
                      "operator-pass",
                      "-t",
                      base + "thing/service/+",
                      "-t",
                      base + "thing/service/property/set_reply",
                      "-t",
                      base + "rrpc/response/+",
                      "-t",
                      base + "thing/event/property/post",
                      "-v",
                      "-d"});
  ASSERT_TRUE(replies.wait_for("SUBACK", std::chrono::seconds(15))) << replies.err();
  auto pub = [&](const std::string& topic, const std::string& payload) {
    auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                  "operator", "-P", "operator-pass", "-t", topic, "-m", payload});
    ASSERT_EQ(r.status, 0) << r.err;
  };
  pub(base + "thing/service/property/set",
      R"({"method":"thing.service.property.set","id":"11","params":{"Temp":25},"version":"1.0"})");
  ASSERT_TRUE(
      replies.wait_for(base + "thing/service/property/set_reply {\"id\":\"11\",\"code\":200",
                       std::chrono::seconds(10)))
      << replies.out() << serve.err();
  // applied: the values come back as the device's properties
  ASSERT_TRUE(replies.wait_for("\"params\":{\"Temp\":25},\"sys\":{\"ack\":0},"
                               "\"method\":\"thing.event.property.post\"",
                               std::chrono::seconds(10)))
      << replies.out();

  pub(base + "rrpc/request/889455942124347392",
      R"({"method":"thing.service.add","id":"12","params":{"x":1,"y":2},"version":"1.0"})");
  ASSERT_TRUE(replies.wait_for(base
                                   + "rrpc/response/889455942124347392 {\"id\":\"12\",\"code\":200,"
                                     "\"data\":{\"z\":3}",
                               std::chrono::seconds(10)))
      << replies.out();

  pub(base + "thing/service/reboot", R"({"method":"thing.service.reboot","id":"13","params":{}})");
  ASSERT_TRUE(replies.wait_for(base
                                   + "thing/service/reboot_reply {\"id\":\"13\",\"code\":10001,"
                                     "\"data\":{},\"message\":\"busy\"",
                               std::chrono::seconds(10)))
      << replies.out();
  ASSERT_EQ(serve.wait(std::chrono::seconds(15)), 0) << serve.err();
  // every request and reply as a JSON line
  std::vector<json> lines;
  std::istringstream in(serve.out());
  for (std::string l; std::getline(in, l);) {
    lines.push_back(json::parse(l));
  }
  int requests = 0;
  for (const auto& l : lines) {
    if (l["event"] == "request") {
      ++requests;
    }
  }
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(lines[1]["event"], "request");
  EXPECT_EQ(lines[1]["name"], "property/set");
  EXPECT_EQ(lines[1]["params"]["Temp"], 25);
}

TEST(ThingMosquitto, ThingServeReportsAServiceWithoutAnswerAndMalformedRequests) {
  Mosquitto b;
  const std::string base = "/sys/a1FakePK001/devSub/";
  Background serve(cat({aliot_bin(), "thing", "serve", "-C", "1"}, b.device_args("devSub")),
                   {.env = b.env()});
  ASSERT_TRUE(serve.wait_for_err("serving the thing model", std::chrono::seconds(15)))
      << serve.err();
  auto pub = [&](const std::string& topic, const std::string& payload) {
    auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                  "operator", "-P", "operator-pass", "-t", topic, "-m", payload});
    ASSERT_EQ(r.status, 0) << r.err;
  };
  pub(base + "thing/service/add", std::string("not json \x1b[2J\xff"));
  pub(base + "thing/service/add", R"({"method":"thing.service.add","id":"1","params":{}})");
  ASSERT_EQ(serve.wait(std::chrono::seconds(15)), 0) << serve.err();
  EXPECT_NE(serve.err().find("not a JSON object"), std::string::npos) << serve.err();
  EXPECT_EQ(serve.err().find('\x1b'), std::string::npos);
  EXPECT_NE(serve.err().find("no --reply or --exec for service add"), std::string::npos);
  EXPECT_NE(serve.out().find("request add 1 async {}"), std::string::npos) << serve.out();
}

TEST(ThingMosquitto, ThingServeExecAppliesAPropertySetAndWaitEndsWithExit6WhenNothingCame) {
  Mosquitto b;
  TempDir dir;
  const std::string base = "/sys/a1FakePK001/devSub/";
  const std::string applied = dir.file("applied.json");
  // The command applies the set (keeps the request) and refuses it: no echo then.
  Background serve(cat({aliot_bin(), "thing", "serve", "-C", "1", "-o", "json", "--exec",
                        "property/set=cat > '" + applied
                            + "'; echo '{\"code\":9201,\"message\":\"read-only now\"}'"},
                       b.device_args("devSub")),
                   {.env = b.env()});
  ASSERT_TRUE(serve.read_line(std::chrono::seconds(15))) << serve.err();
  auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                "operator", "-P", "operator-pass", "-t", base + "thing/service/property/set", "-m",
                R"({"method":"thing.service.property.set","id":"5","params":{"Temp":30}})"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(serve.wait(std::chrono::seconds(15)), 0) << serve.err();
  std::ifstream f(applied);
  std::stringstream got;
  got << f.rdbuf();
  EXPECT_EQ(json::parse(got.str())["params"]["Temp"], 30); // the request on its stdin
  const auto out = serve.out();
  EXPECT_NE(out.find(R"("code":9201,"data":{},"message":"read-only now")"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("\"event\":\"echo\""), std::string::npos) << "a refused set is not echoed";

  // -W: nothing arrives, exit 6 naming the wait
  auto w = run_aliot(cat({"thing", "serve", "-W", "1"}, b.device_args("devSub")), {.env = b.env()});
  EXPECT_EQ(w.status, 6) << w.err;
  EXPECT_NE(w.err.find("no request arrived within 1 s"), std::string::npos) << w.err;
}

TEST(ThingMosquitto, BatchPostSendsExactlyTheAlinkBatchRequest) {
  Mosquitto b;
  TempDir dir;
  const std::string topic = "/sys/a1FakePK001/devPub/thing/event/property/batch/post";
  Background platform({"bash", dir.write("p.sh", platform_script(b, topic, 200, "success"))});
  ASSERT_TRUE(platform.wait_for("READY", std::chrono::seconds(15))) << platform.err();
  const std::string params = R"({"properties":{"Temp":[{"value":21.5,"time":1700000000000},)"
                             R"({"value":22,"time":1700000001000}]},)"
                             R"("events":{"Alarm":[{"value":{"Level":2},"time":1700000002000}]}})";
  // spaces and newlines in the input: what is sent is the compact object, members in order
  std::string spaced = params;
  spaced.insert(1, "\n  ");
  auto r = run_aliot(
      cat({"prop", "batch-post", "--params", spaced, "-o", "json"}, b.device_args("devPub")),
      {.env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(platform.wait_for("ANSWERED", std::chrono::seconds(10)));
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["topic"], topic);
  EXPECT_EQ(j["code"], 200);
  const std::string want = "GOT {\"id\":\"" + j["id"].get<std::string>()
                           + "\",\"version\":\"1.0\",\"params\":" + params
                           + ",\"sys\":{\"ack\":1},\"method\":\"thing.event.property.batch.post\"}";
  EXPECT_NE(platform.out().find(want + "\n"), std::string::npos) << platform.out();
}

TEST(ThingMosquitto, DesiredGetSendsTheIdsAndPrintsTheReplysData) {
  Mosquitto b;
  TempDir dir;
  const std::string topic = "/sys/a1FakePK001/devPub/thing/property/desired/get";
  const std::string data = R"({"Temp":{"value":25,"version":3}})";
  Background platform({"bash", dir.write("p.sh", platform_script(b, topic, 200, "success", data))});
  ASSERT_TRUE(platform.wait_for("READY", std::chrono::seconds(15))) << platform.err();
  auto r = run_aliot(cat({"prop", "get-desired", "Temp", "Power"}, b.device_args("devPub")),
                     {.env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, data + "\n");
  ASSERT_TRUE(platform.wait_for("ANSWERED", std::chrono::seconds(10)));
  EXPECT_NE(
      platform.out().find("\"params\":[\"Temp\",\"Power\"],\"sys\":{\"ack\":1},\"method\":\"thing."
                          "property.desired.get\"}"),
      std::string::npos)
      << platform.out();
}

TEST(ThingMosquitto, DesiredDeleteRefusedIsExit7) {
  Mosquitto b;
  TempDir dir;
  const std::string topic = "/sys/a1FakePK001/devPub/thing/property/desired/delete";
  Background platform(
      {"bash", dir.write("p.sh", platform_script(b, topic, 460, "request parameter error"))});
  ASSERT_TRUE(platform.wait_for("READY", std::chrono::seconds(15))) << platform.err();
  auto r = run_aliot(cat({"prop", "delete-desired", "Temp=3", "Power"}, b.device_args("devPub")),
                     {.env = b.env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("desired delete refused: code 460"), std::string::npos) << r.err;
  ASSERT_TRUE(platform.wait_for("ANSWERED", std::chrono::seconds(10)));
  EXPECT_NE(platform.out().find("\"params\":{\"Temp\":{\"version\":3},\"Power\":{}}"),
            std::string::npos)
      << platform.out();
}
