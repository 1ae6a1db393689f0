// The emulator's thing model (Alink) against peers we did not write: devices are mosquitto_pub /
// mosquitto_sub with passwords computed here by `openssl dgst -hmac`, the backend is curl with
// requests signed by pop_sign.py, and replies are read by an operator's mosquitto_sub.
#include "emulator.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using aliot::test::Background;
using aliot::test::Emulator;
using aliot::test::ProcResult;
using aliot::test::run;
using aliot::test::run_aliot;
using aliot::test::sh;
using nlohmann::json;

namespace {

const std::string k_pk = "a1ThingPK01";    // with a thing model
const std::string k_plain = "a1PlainPK01"; // without one
const std::string k_ds = "0123456789abcdef0123456789abcdef";
const std::string k_ak = "LTAIthingTest1";
const std::string k_aks = "AccessKeySecretForThings1";
const std::string k_test_dir = ALIOT_EMU_TEST_DIR;

// Every data type with bounds, a struct with a required member, an array, an event with a
// required output, an async and a sync service: the console's export format.
const char* const k_tsl = R"({
 "schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
 "profile": {"productKey": "a1ThingPK01", "version": "1.0"},
 "properties": [
  {"identifier": "Temp", "name": "Temperature", "accessMode": "rw", "required": false,
   "dataType": {"type": "float", "specs": {"min": "-40", "max": "120", "step": "0.1", "unit": "C"}}},
  {"identifier": "Count", "name": "Count", "accessMode": "r",
   "dataType": {"type": "int", "specs": {"min": "0", "max": "100", "step": "1"}}},
  {"identifier": "Energy", "dataType": {"type": "double", "specs": {"min": "0", "max": "1000"}}},
  {"identifier": "Label", "dataType": {"type": "text", "specs": {"length": "8"}}},
  {"identifier": "Mode", "dataType": {"type": "enum", "specs": {"0": "auto", "1": "cool", "2": "heat"}}},
  {"identifier": "Power", "dataType": {"type": "bool", "specs": {"0": "off", "1": "on"}}},
  {"identifier": "Since", "dataType": {"type": "date", "specs": {}}},
  {"identifier": "Pos", "dataType": {"type": "struct", "specs": [
    {"identifier": "x", "name": "x", "dataType": {"type": "int", "specs": {"min": "0", "max": "10"}}},
    {"identifier": "y", "name": "y", "required": true,
     "dataType": {"type": "int", "specs": {"min": "0", "max": "10"}}}]}},
  {"identifier": "Samples", "dataType": {"type": "array",
   "specs": {"size": "3", "item": {"type": "int", "specs": {"min": "0", "max": "9"}}}}}
 ],
 "events": [
  {"identifier": "Alarm", "type": "alert", "method": "thing.event.Alarm.post",
   "outputData": [{"identifier": "Level", "required": true,
                   "dataType": {"type": "int", "specs": {"min": "1", "max": "3"}}}]}
 ],
 "services": [
  {"identifier": "Reboot", "callType": "async", "method": "thing.service.Reboot",
   "inputData": [{"identifier": "Delay", "dataType": {"type": "int", "specs": {"min": "0", "max": "60"}}}],
   "outputData": []},
  {"identifier": "Ping", "callType": "sync", "method": "thing.service.Ping", "inputData": [],
   "outputData": [{"identifier": "Echo", "dataType": {"type": "text", "specs": {"length": "64"}}}]}
 ]
})";

std::string openssl_hmac(const std::string& key, const std::string& msg) {
  auto r = sh("printf '%s' \"$MSG\" | openssl dgst -sha256 -hmac \"$KEY\" | sed 's/^.*= //'",
              {.env = {{"MSG", msg}, {"KEY", key}}});
  EXPECT_EQ(r.status, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

struct Login {
  std::string client_id, username, password;
};

Login device_login(const std::string& pk, const std::string& dn, const std::string& extra = "") {
  const std::string id = pk + "." + dn;
  const std::string ts = "1700000000000";
  return {id + "|securemode=3,signmethod=hmacsha256,timestamp=" + ts + extra + "|", dn + "&" + pk,
          openssl_hmac(k_ds,
                       "clientId" + id + "deviceName" + dn + "productKey" + pk + "timestamp" + ts)};
}

Login operator_login(const std::string& cid) {
  return {cid, "operator/" + k_ak, k_aks};
}

std::string b64(const std::string& s) {
  return sh("printf '%s' \"$P\" | base64 -w0", {.env = {{"P", s}}}).out;
}

struct ApiReply {
  int http = 0;
  json body;
};

ApiReply parse_curl(const std::string& out) {
  ApiReply r;
  const auto nl = out.rfind('\n');
  if (nl != std::string::npos) {
    r.http = std::atoi(out.c_str() + nl + 1);
    r.body = json::parse(out.substr(0, nl), nullptr, false);
  }
  return r;
}

class ThingTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (!aliot::test::have_program("mosquitto_pub") || !aliot::test::have_program("curl")) {
      GTEST_SKIP() << "mosquitto-clients and curl are needed";
    }
    emu = new Emulator();
    ASSERT_EQ(emu->add_product(k_pk, "ProductSecret0001").status, 0);
    ASSERT_EQ(emu->add_product(k_plain, "ProductSecret0002").status, 0);
    for (const char* dn : {"dev1", "dev2", "dev3", "dev4", "dev5", "dev6", "idle"}) {
      ASSERT_EQ(emu->add_device(k_pk, dn, k_ds).status, 0);
      ASSERT_EQ(emu->add_device(k_plain, dn, k_ds).status, 0);
    }
    ASSERT_EQ(emu->add_access_key(k_ak, k_aks).status, 0);
    const std::string file = emu->dir() + "/model.json";
    std::ofstream(file) << k_tsl;
    auto r =
        run_aliot({"emulate", "cloud", "add-thing-model", "--dir", emu->dir(), "-k", k_pk, file});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("9 properties, 1 events, 2 services"), std::string::npos) << r.err;
  }
  static void TearDownTestSuite() {
    delete emu;
    emu = nullptr;
  }

  static std::vector<std::string> mqtt_args(const std::string& tool, const Login& l) {
    return {tool,       "-h",        emu->host(), "-p",       std::to_string(emu->mqtt_tcp_port()),
            "-i",       l.client_id, "-u",        l.username, "-P",
            l.password, "-k",        "60",        "-V",       "mqttv311"};
  }

  static ProcResult pub(const Login& l, const std::string& topic, const std::string& msg) {
    auto a = mqtt_args("mosquitto_pub", l);
    a.insert(a.end(), {"-t", topic, "-m", msg, "-q", "1"});
    return run(a, {.timeout_s = 20});
  }

  // mosquitto_sub -v on `filter`, returned once its SUBACK came (debug lines stay on stdout).
  static std::unique_ptr<Background> sub(const Login& l, const std::string& filter) {
    auto a = mqtt_args("mosquitto_sub", l);
    a.insert(a.end(), {"-t", filter, "-v", "-d", "-W", "30"});
    a.insert(a.begin(), {"stdbuf", "-oL"}); // its debug lines are not flushed into a pipe
    auto b = std::make_unique<Background>(a);
    EXPECT_TRUE(b->wait_for("received SUBACK", std::chrono::seconds(10))) << b->err();
    return b;
  }

  // The next message line (`topic payload`) whose topic starts with `prefix`.
  static std::optional<std::pair<std::string, std::string>>
  next_message(Background& b, const std::string& prefix) {
    for (int i = 0; i < 200; ++i) {
      auto line = b.read_line(std::chrono::seconds(10));
      if (!line) {
        return std::nullopt;
      }
      if (line->starts_with(prefix)) {
        const auto sp = line->find(' ');
        return std::make_pair(line->substr(0, sp),
                              sp == std::string::npos ? "" : line->substr(sp + 1));
      }
    }
    return std::nullopt;
  }

  static std::vector<std::string> api_argv(const std::vector<std::string>& params) {
    std::vector<std::string> a{"python3", k_test_dir + "/pop_sign.py", "GET", k_ak, k_aks};
    a.insert(a.end(), params.begin(), params.end());
    auto q = run(a);
    EXPECT_EQ(q.status, 0) << q.err;
    return {"curl",
            "-sS",
            "--max-time",
            "20",
            "-w",
            "\n%{http_code}",
            emu->api_endpoint() + "/?" + q.out.substr(0, q.out.find('\n'))};
  }

  static ApiReply api(const std::vector<std::string>& params) {
    auto r = run(api_argv(params), {.timeout_s = 30});
    EXPECT_EQ(r.status, 0) << r.err;
    return parse_curl(r.out);
  }

  // Posts an Alink request as the device and returns the platform's reply (read by an
  // operator subscribed to the reply topic).
  static json request(const std::string& pk,
                      const std::string& dn,
                      const std::string& topic_rest,
                      const std::string& id,
                      const json& params,
                      const std::string& method) {
    const std::string topic = "/sys/" + pk + "/" + dn + "/" + topic_rest;
    auto op = sub(operator_login("op-" + id), topic + "_reply");
    json req{{"id", id}, {"version", "1.0"}, {"params", params}, {"method", method}};
    EXPECT_EQ(pub(device_login(pk, dn), topic, req.dump()).status, 0);
    auto m = next_message(*op, topic + "_reply");
    if (!m) {
      ADD_FAILURE() << "no reply on " << topic << "_reply: " << op->out() << emu->log();
      return {};
    }
    return json::parse(m->second, nullptr, false);
  }

  static json post_props(const std::string& pk,
                         const std::string& dn,
                         const json& params,
                         const std::string& id) {
    return request(pk, dn, "thing/event/property/post", id, params, "thing.event.property.post");
  }

  static inline Emulator* emu = nullptr;
};

TEST_F(ThingTest, PropertyPostGetsItsReplyAndTheValueIsQueryable) {
  const json r = post_props(k_plain, "dev1", {{"Temp", 21.5}, {"Note", "any"}}, "101");
  EXPECT_EQ(r, json::parse(R"({"code":200,"data":{},"id":"101","message":"success",
                              "method":"thing.event.property.post","version":"1.0"})"))
      << r.dump();
  // Without a thing model, anything is taken as it comes, and is what the backend reads.
  auto s = api({"Action=QueryDevicePropertyStatus", "ProductKey=" + k_plain, "DeviceName=dev1"});
  ASSERT_EQ(s.body["Success"], true) << s.body.dump();
  std::map<std::string, json> by_id;
  for (const auto& p : s.body["Data"]["List"]["PropertyStatusInfo"]) {
    by_id[p["Identifier"]] = p;
  }
  ASSERT_EQ(by_id.count("Temp"), 1U) << s.body.dump();
  EXPECT_EQ(by_id["Temp"]["Value"], "21.5");
  EXPECT_EQ(by_id["Note"]["Value"], "any");
  // The extended form carries its own time; history lists both points, newest first.
  const json r2 =
      post_props(k_plain, "dev1", {{"Temp", {{"value", 22.5}, {"time", 1700000000123}}}}, "102");
  EXPECT_EQ(r2["code"], 200) << r2.dump();
  auto h = api({"Action=QueryDevicePropertyData", "ProductKey=" + k_plain, "DeviceName=dev1",
                "Identifier=Temp", "StartTime=0", "EndTime=9999999999999", "PageSize=10", "Asc=0"});
  ASSERT_EQ(h.body["Success"], true) << h.body.dump();
  const auto& list = h.body["Data"]["List"]["PropertyInfo"];
  ASSERT_EQ(list.size(), 2U) << h.body.dump();
  EXPECT_EQ(list[0]["Value"], "21.5"); // posted now, later than 1700000000123
  EXPECT_EQ(list[1]["Value"], "22.5");
  EXPECT_EQ(list[1]["Time"], 1700000000123LL);
  EXPECT_EQ(h.body["Data"]["NextValid"], false);
  // One per page: the next page starts at the second point.
  h = api({"Action=QueryDevicePropertyData", "ProductKey=" + k_plain, "DeviceName=dev1",
           "Identifier=Temp", "StartTime=0", "EndTime=9999999999999", "PageSize=1", "Asc=1"});
  ASSERT_EQ(h.body["Data"]["List"]["PropertyInfo"].size(), 1U) << h.body.dump();
  EXPECT_EQ(h.body["Data"]["List"]["PropertyInfo"][0]["Value"], "22.5");
  EXPECT_EQ(h.body["Data"]["NextValid"], true);
}

TEST_F(ThingTest, ThingModelChecksEachDataTypeWithThePlatformCodes) {
  struct Case {
    json params;
    int code;
  };
  const std::vector<Case> cases{
      {{{"Temp", 21.5},
        {"Count", 100},
        {"Energy", 0.5},
        {"Label", "12345678"},
        {"Mode", 2},
        {"Power", 1},
        {"Since", "1700000000000"},
        {"Pos", {{"x", 1}, {"y", 2}}},
        {"Samples", {1, 2, 9}}},
       200},
      {{{"Temp", 120.5}}, 6307},
      {{{"Temp", -40.5}}, 6307},
      {{{"Temp", "hot"}}, 6301},
      {{{"Count", 101}}, 6306},
      {{{"Count", 1.5}}, 6301},
      {{{"Energy", -0.1}}, 6308},
      {{{"Label", "123456789"}}, 6310},
      {{{"Mode", 3}}, 6311},
      {{{"Power", 2}}, 6312},
      {{{"Since", "yesterday"}}, 6313},
      {{{"Pos", {{"x", 1}}}}, 6302},
      {{{"Pos", {{"y", 1}, {"z", 1}}}}, 6304},
      {{{"Pos", {{"y", 11}}}}, 6306},
      {{{"Samples", {1, 2, 3, 4}}}, 6324},
      {{{"Samples", {1, 10}}}, 6306},
      {{{"Humidity", 40}}, 6321},
  };
  int n = 200;
  for (const auto& c : cases) {
    const std::string id = std::to_string(++n);
    const json r = post_props(k_pk, "dev1", c.params, id);
    EXPECT_EQ(r["code"], c.code) << c.params.dump() << " -> " << r.dump();
    EXPECT_EQ(r["id"], id);
    if (c.code != 200) {
      EXPECT_NE(r["message"], "success") << r.dump();
    }
  }
  // A refused post leaves the last accepted value.
  auto s = api({"Action=QueryDevicePropertyStatus", "ProductKey=" + k_pk, "DeviceName=dev1"});
  bool seen_temp = false;
  for (const auto& p : s.body["Data"]["List"]["PropertyStatusInfo"]) {
    if (p["Identifier"] == "Temp") {
      seen_temp = true;
      EXPECT_EQ(p["Value"], "21.5") << p.dump();
      EXPECT_EQ(p["DataType"], "float");
    }
  }
  EXPECT_TRUE(seen_temp) << s.body.dump();
  // Events: a required output missing, an unknown event, a good one (then queryable).
  json r = request(k_pk, "dev1", "thing/event/Alarm/post", "301", json::object(),
                   "thing.event.Alarm.post");
  EXPECT_EQ(r["code"], 6302) << r.dump();
  r = request(k_pk, "dev1", "thing/event/Flood/post", "302", {{"Level", 1}},
              "thing.event.Flood.post");
  EXPECT_EQ(r["code"], 6321) << r.dump();
  r = request(k_pk, "dev1", "thing/event/Alarm/post", "303", {{"Level", 2}},
              "thing.event.Alarm.post");
  EXPECT_EQ(r["code"], 200) << r.dump();
  auto e =
      api({"Action=QueryDeviceEventData", "ProductKey=" + k_pk, "DeviceName=dev1",
           "Identifier=Alarm", "StartTime=0", "EndTime=9999999999999", "PageSize=10", "Asc=1"});
  ASSERT_EQ(e.body["Data"]["List"]["EventInfo"].size(), 1U) << e.body.dump();
  EXPECT_EQ(json::parse(e.body["Data"]["List"]["EventInfo"][0]["OutputData"].get<std::string>()),
            json({{"Level", 2}}));
}

TEST_F(ThingTest, BatchPostAndDesiredRequestsAreAnswered) {
  json r =
      request(k_pk, "dev2", "thing/event/property/batch/post", "401",
              {{"properties",
                {{"Temp",
                  {{{"value", 20.0}, {"time", 1700000000000}},
                   {{"value", 21.0}, {"time", 1700000001000}}}}}},
               {"events", {{"Alarm", {{{"value", {{"Level", 1}}}, {"time", 1700000002000}}}}}}},
              "thing.event.property.batch.post");
  EXPECT_EQ(r["code"], 200) << r.dump();
  r = request(k_pk, "dev2", "thing/event/property/batch/post", "402",
              {{"properties", {{"Temp", {{{"value", 500.0}, {"time", 1700000003000}}}}}}},
              "thing.event.property.batch.post");
  EXPECT_EQ(r["code"], 6307) << r.dump();
  auto h = api({"Action=QueryDevicePropertyData", "ProductKey=" + k_pk, "DeviceName=dev2",
                "Identifier=Temp", "StartTime=0", "EndTime=9999999999999", "PageSize=10", "Asc=1"});
  ASSERT_EQ(h.body["Data"]["List"]["PropertyInfo"].size(), 2U) << h.body.dump();
  EXPECT_EQ(h.body["Data"]["List"]["PropertyInfo"][1]["Value"], "21.0");
  r = request(k_pk, "dev2", "thing/property/desired/get", "403", {"Temp"},
              "thing.property.desired.get");
  EXPECT_EQ(r["code"], 200) << r.dump();
  EXPECT_EQ(r["data"], json::object());
  r = request(k_pk, "dev2", "thing/property/desired/delete", "404", {{"Temp", json::object()}},
              "thing.property.desired.delete");
  EXPECT_EQ(r["code"], 200) << r.dump();
  r = request(k_pk, "dev2", "thing/property/desired/get", "405", {{"Temp", 1}},
              "thing.property.desired.get");
  EXPECT_EQ(r["code"], 460) << r.dump();
}

TEST_F(ThingTest, NtpRequestIsAnsweredWithTheThreeTimes) {
  const std::string base = "/ext/ntp/" + k_pk + "/dev3/";
  auto op = sub(operator_login("op-ntp"), base + "response");
  const long long before = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  ASSERT_EQ(
      pub(device_login(k_pk, "dev3"), base + "request", R"({"deviceSendTime":"1234"})").status, 0);
  auto m = next_message(*op, base + "response");
  ASSERT_TRUE(m) << op->out();
  const json j = json::parse(m->second);
  EXPECT_EQ(j["deviceSendTime"], "1234") << j.dump();
  ASSERT_TRUE(j["serverRecvTime"].is_string() && j["serverSendTime"].is_string()) << j.dump();
  const long long recv = std::stoll(j["serverRecvTime"].get<std::string>());
  EXPECT_GE(recv, before);
  EXPECT_GE(std::stoll(j["serverSendTime"].get<std::string>()), recv);
}

TEST_F(ThingTest, SetDevicePropertyAndAsyncServiceReachTheDevice) {
  auto dev = sub(device_login(k_pk, "dev4"), "/sys/" + k_pk + "/dev4/thing/service/#");
  auto r = api({"Action=SetDeviceProperty", "ProductKey=" + k_pk, "DeviceName=dev4",
                R"(Items={"Temp":25.5})"});
  ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  const std::string mid = r.body["Data"]["MessageId"];
  auto m = next_message(*dev, "/sys/" + k_pk + "/dev4/thing/service/property/set");
  ASSERT_TRUE(m) << dev->out();
  json j = json::parse(m->second);
  EXPECT_EQ(j["id"], mid);
  EXPECT_EQ(j["method"], "thing.service.property.set");
  EXPECT_EQ(j["params"], json({{"Temp", 25.5}}));
  // Checked against the thing model before anything is sent.
  r = api({"Action=SetDeviceProperty", "ProductKey=" + k_pk, "DeviceName=dev4",
           R"(Items={"Temp":250})"});
  EXPECT_EQ(r.body["Success"], false) << r.body.dump();
  EXPECT_EQ(r.body["Code"], "iot.thing.InvalidPropertyValue");
  r = api({"Action=SetDeviceProperty", "ProductKey=" + k_pk, "DeviceName=dev4", "Items=[1]"});
  EXPECT_EQ(r.body["Code"], "iot.system.IllegalRequest") << r.body.dump();
  r = api(
      {"Action=SetDeviceProperty", "ProductKey=" + k_pk, "DeviceName=idle", R"(Items={"Temp":1})"});
  EXPECT_EQ(r.body["Code"], "iot.device.OfflineDevice") << r.body.dump();

  r = api({"Action=InvokeThingService", "ProductKey=" + k_pk, "DeviceName=dev4",
           "Identifier=Reboot", R"(Args={"Delay":5})"});
  ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  m = next_message(*dev, "/sys/" + k_pk + "/dev4/thing/service/Reboot");
  ASSERT_TRUE(m) << dev->out();
  j = json::parse(m->second);
  EXPECT_EQ(j["id"], r.body["Data"]["MessageId"]);
  EXPECT_EQ(j["method"], "thing.service.Reboot");
  EXPECT_EQ(j["params"], json({{"Delay", 5}}));
  r = api({"Action=InvokeThingService", "ProductKey=" + k_pk, "DeviceName=dev4",
           "Identifier=Reboot", R"(Args={"Delay":61})"});
  EXPECT_EQ(r.body["Code"], "iot.thing.InvalidPropertyValue") << r.body.dump();
  r = api({"Action=InvokeThingService", "ProductKey=" + k_pk, "DeviceName=dev4",
           "Identifier=Explode", "Args={}"});
  EXPECT_EQ(r.body["Code"], "iot.thing.ServiceNotExist") << r.body.dump();
}

TEST_F(ThingTest, SyncServiceGoesOverRrpcAndReturnsTheDevicesData) {
  const std::string sys = "/sys/" + k_pk + "/dev5/";
  auto dev = sub(device_login(k_pk, "dev5"), sys + "rrpc/request/+");
  Background call(api_argv({"Action=InvokeThingService", "ProductKey=" + k_pk, "DeviceName=dev5",
                            "Identifier=Ping", "Args={}"}));
  auto m = next_message(*dev, sys + "rrpc/request/");
  ASSERT_TRUE(m) << dev->out();
  const std::string mid = m->first.substr((sys + "rrpc/request/").size());
  const json req = json::parse(m->second);
  EXPECT_EQ(req["method"], "thing.service.Ping");
  EXPECT_EQ(req["id"], mid);
  dev.reset(); // one connection per device: the answer comes from a new one
  ASSERT_EQ(pub(device_login(k_pk, "dev5"), sys + "rrpc/response/" + mid,
                json({{"id", mid}, {"code", 200}, {"data", {{"Echo", "pong"}}}}).dump())
                .status,
            0);
  ASSERT_TRUE(call.wait(std::chrono::seconds(20)));
  const auto r = parse_curl(call.out());
  ASSERT_EQ(r.body["Success"], true) << call.out();
  EXPECT_EQ(json::parse(r.body["Data"]["Result"].get<std::string>()), json({{"Echo", "pong"}}));
  EXPECT_EQ(r.body["Data"]["MessageId"], mid);
  // A device that is not connected is said to be offline at once.
  const auto off = api({"Action=InvokeThingService", "ProductKey=" + k_pk, "DeviceName=idle",
                        "Identifier=Ping", "Args={}"});
  EXPECT_EQ(off.body["Code"], "iot.device.OfflineDevice") << off.body.dump();
}

// LinkSDK 4's form: a device that announced ext=1 gets the call on
// /ext/rrpc/ID/sys/PK/DN/thing/service/NAME and answers on the same topic.
TEST_F(ThingTest, SyncServiceReachesAnExtDeviceOnTheExtRrpcTopic) {
  const std::string svc = "/sys/" + k_pk + "/dev6/thing/service/";
  auto dev = sub(device_login(k_pk, "dev6", ",ext=1"), "/ext/rrpc/+" + svc + "+");
  Background call(api_argv({"Action=InvokeThingService", "ProductKey=" + k_pk, "DeviceName=dev6",
                            "Identifier=Ping", "Args={}"}));
  auto m = next_message(*dev, "/ext/rrpc/");
  ASSERT_TRUE(m) << dev->out();
  ASSERT_TRUE(m->first.ends_with(svc + "Ping")) << m->first;
  const json req = json::parse(m->second);
  EXPECT_EQ(req["method"], "thing.service.Ping");
  dev.reset();
  ASSERT_EQ(pub(device_login(k_pk, "dev6", ",ext=1"), m->first,
                json({{"id", req["id"]}, {"code", 200}, {"data", {{"Echo", "ext"}}}}).dump())
                .status,
            0);
  ASSERT_TRUE(call.wait(std::chrono::seconds(20)));
  const auto r = parse_curl(call.out());
  ASSERT_EQ(r.body["Success"], true) << call.out();
  EXPECT_EQ(json::parse(r.body["Data"]["Result"].get<std::string>()), json({{"Echo", "ext"}}));
}

TEST_F(ThingTest, AutoSubscribedDeviceGetsItsDownlinksWithoutSubscribing) {
  // The device subscribes only to a custom topic; `_ss=1` subscribes it to the rest.
  auto dev = sub(device_login(k_plain, "dev6", ",_ss=1"), "/" + k_plain + "/dev6/user/get");
  auto r = api({"Action=SetDeviceProperty", "ProductKey=" + k_plain, "DeviceName=dev6",
                R"(Items={"Anything":"goes"})"});
  ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  auto m = next_message(*dev, "/sys/" + k_plain + "/dev6/thing/service/property/set");
  ASSERT_TRUE(m) << dev->out();
  EXPECT_EQ(json::parse(m->second)["params"], json({{"Anything", "goes"}}));
}

TEST_F(ThingTest, AutoSubscribedDeviceThatSubscribedGetsEachDownlinkOnce) {
  const std::string set = "/sys/" + k_plain + "/dev5/thing/service/property/set";
  auto dev = sub(device_login(k_plain, "dev5", ",_ss=1"), set);
  for (const std::string v : {"first", "second"}) {
    auto r = api({"Action=SetDeviceProperty", "ProductKey=" + k_plain, "DeviceName=dev5",
                  "Items={\"V\":\"" + v + "\"}"});
    ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  }
  // Had the first come twice (by its subscription and straight), the second line would repeat it.
  for (const std::string v : {"first", "second"}) {
    auto m = next_message(*dev, set);
    ASSERT_TRUE(m) << dev->out();
    EXPECT_EQ(json::parse(m->second)["params"]["V"], v) << dev->out();
  }
}

TEST_F(ThingTest, PubBroadcastReachesOnlineDevicesWithoutSubscriptionOnceAMinute) {
  // dev1 of the plain product subscribes to nothing of the broadcast; dev2 to a broadcast topic.
  auto d1 = sub(device_login(k_plain, "dev1"), "/" + k_plain + "/dev1/user/get");
  auto d2 = sub(device_login(k_plain, "dev2"), "/broadcast/" + k_plain + "/group1");
  auto r = api({"Action=PubBroadcast", "ProductKey=" + k_plain, "MessageContent=" + b64("to all")});
  ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  const std::string mid = std::to_string(r.body["MessageId"].get<unsigned long long>());
  auto m = next_message(*d1, "/sys/" + k_plain + "/dev1/broadcast/request/");
  ASSERT_TRUE(m) << d1->out();
  EXPECT_EQ(m->first, "/sys/" + k_plain + "/dev1/broadcast/request/" + mid);
  EXPECT_EQ(m->second, "to all");
  // All devices: once a minute.
  r = api({"Action=PubBroadcast", "ProductKey=" + k_plain, "MessageContent=" + b64("again")});
  EXPECT_EQ(r.http, 400);
  EXPECT_EQ(r.body["Code"], "Throttling.User") << r.body.dump();
  // A broadcast topic reaches its subscribers.
  r = api({"Action=PubBroadcast", "ProductKey=" + k_plain,
           "TopicFullName=/broadcast/" + k_plain + "/group1", "MessageContent=" + b64("group")});
  ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  m = next_message(*d2, "/broadcast/" + k_plain + "/group1");
  ASSERT_TRUE(m) << d2->out();
  EXPECT_EQ(m->second, "group");
  r = api({"Action=PubBroadcast", "ProductKey=" + k_plain,
           "TopicFullName=/" + k_plain + "/dev1/user/get", "MessageContent=" + b64("x")});
  EXPECT_EQ(r.body["Code"], "iot.messagebroker.InvalidFormattedTopicName") << r.body.dump();
}

TEST_F(ThingTest, AddThingModelRefusesWhatIsNotATsl) {
  const std::string bad = emu->dir() + "/bad.json";
  for (const std::string& text :
       {std::string("not json"), std::string(200, '[') + std::string(200, ']'),
        std::string(R"({"properties":[{"identifier":"A","dataType":{"type":"complex"}}]})"),
        std::string(R"({"properties":[{"identifier":"A","dataType":{"type":"int",)"
                    R"("specs":{"min":"9","max":"1"}}}]})")}) {
    std::ofstream(bad, std::ios::trunc) << text;
    auto r =
        run_aliot({"emulate", "cloud", "add-thing-model", "--dir", emu->dir(), "-k", k_plain, bad});
    EXPECT_EQ(r.status, 2) << text.substr(0, 40) << ": " << r.err;
    EXPECT_NE(r.err.find("thing model"), std::string::npos) << r.err;
  }
  std::ofstream(bad, std::ios::trunc) << "{}";
  auto r = run_aliot(
      {"emulate", "cloud", "add-thing-model", "--dir", emu->dir(), "-k", "a1NoSuchPK1", bad});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no product a1NoSuchPK1"), std::string::npos) << r.err;
  // The plain product still takes anything.
  EXPECT_EQ(post_props(k_plain, "dev3", {{"Whatever", {1, 2}}}, "501")["code"], 200);
}

} // namespace
