// The thing model end to end through the real binary against the platform emulator: the device
// (`prop post`, `event post`, `ntp`, `thing serve`) and the backend (`cloud prop set|get`,
// `cloud invoke`, `cloud events`, `cloud broadcast`), with mosquitto_sub as a device we did not
// write for the broadcasts.
#include "cloud_support.hpp"
#include "emulator.hpp"

#include <fstream>
#include <sstream>
#include <thread>

using namespace aliot::test;
using nlohmann::json;

namespace {

constexpr const char* k_tpk = "a1ThingCli01";
constexpr const char* k_ds = "0123456789abcdef0123456789abcdef";
constexpr const char* k_ak = "EmuAkSecret000000000000000000002";
constexpr const char* k_akid_thing = "LTAIthingcli0001";

const char* const k_tsl = R"({
 "schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
 "profile": {"productKey": "a1ThingCli01", "version": "1.0"},
 "properties": [
  {"identifier": "Temp", "name": "Temperature", "accessMode": "rw", "required": false,
   "dataType": {"type": "float", "specs": {"min": "-40", "max": "120", "step": "0.1", "unit": "C"}}},
  {"identifier": "Power", "name": "Power", "accessMode": "rw",
   "dataType": {"type": "bool", "specs": {"0": "off", "1": "on"}}},
  {"identifier": "Label", "name": "Label", "accessMode": "rw",
   "dataType": {"type": "text", "specs": {"length": "8"}}}
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

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ThingCli : public SharedEmulator<ThingCli> {
public:
  static void prepare(Emulator& emu) {
    emu.add_product(k_tpk, "ps-thing", false);
    emu.add_access_key(k_akid_thing, k_ak);
    TempDir d;
    const auto f = d.write("tsl.json", k_tsl);
    auto r = run_aliot({"emulate", "cloud", "add-thing-model", "--dir", emu.dir(), "-k", k_tpk, f});
    if (r.status != 0) {
      s_error = "add-thing-model failed: " + r.err;
    }
  }

protected:
  void SetUp() override {
    SharedEmulator<ThingCli>::SetUp();
    if (!s_error.empty()) {
      GTEST_FAIL() << s_error;
    }
  }

  static Env env() {
    Env e(s_emu->env().begin(), s_emu->env().end());
    e["ALIOT_ACCESS_KEY_ID"] = k_akid_thing;
    e["ALIOT_ACCESS_KEY_SECRET"] = k_ak;
    e["ALIOT_DEVICE_SECRET"] = k_ds;
    return e;
  }

  // A device of the product, and the flags that name it.
  static std::vector<std::string> device(const std::string& dn) {
    s_emu->add_device(k_tpk, dn, k_ds);
    return {"-k", k_tpk, "-d", dn};
  }

  // mosquitto client arguments that log in as the device.
  std::vector<std::string> mosquitto_args(const std::string& dn) {
    const auto r =
        run_aliot({"sign", "-k", k_tpk, "-d", dn, "--for", "mosquitto-lines"}, {.env = env()});
    EXPECT_EQ(r.status, 0) << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string a; std::getline(in, a);) {
      out.push_back(a);
    }
    return out;
  }

  // The JSON lines of `cloud prop get` by identifier.
  static std::map<std::string, json> props(const std::string& dn) {
    const auto r =
        run_aliot({"cloud", "prop", "get", "-k", k_tpk, "-d", dn, "-o", "json"}, {.env = env()});
    EXPECT_EQ(r.status, 0) << r.err;
    std::map<std::string, json> out;
    for (const auto& l : lines_of(r.out)) {
      const auto j = json::parse(l);
      out[j["identifier"]] = j;
    }
    return out;
  }
};

} // namespace

TEST_F(ThingCli, PropPostIsCode200AndTheBackendReadsTheValue) {
  const auto dev = device("tc-post-1");
  auto r = run_aliot(cat({"prop", "post", "Temp=21.5", "Power=1"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ""); // quiet on success in text
  auto p = props("tc-post-1");
  ASSERT_EQ(p.count("Temp"), 1u);
  EXPECT_EQ(p["Temp"]["value"], "21.5");
  EXPECT_EQ(p["Power"]["value"], "1");
  EXPECT_EQ(p["Temp"]["time"].get<std::string>().back(), 'Z');
  // text: IDENTIFIER  VALUE  TIME, only the names asked for
  r = run_aliot({"cloud", "prop", "get", "-k", k_tpk, "-d", "tc-post-1", "Temp"}, {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Temp  21.5  20", 0), 0u) << r.out;
  EXPECT_EQ(lines_of(r.out).size(), 1u);
  // a property never reported is exit 7
  r = run_aliot({"cloud", "prop", "get", "-k", k_tpk, "-d", "tc-post-1", "Label"}, {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
}

TEST_F(ThingCli, TheThingModelsRefusalIsExit7WithThePlatformsMessage) {
  const auto dev = device("tc-tsl-1");
  for (const auto& bad :
       std::vector<std::string>{"Temp=500", "Nope=1", "Label=\"far too long\"", "Power=7"}) {
    auto r = run_aliot(cat({"prop", "post", bad}, dev), {.env = env()});
    EXPECT_EQ(r.status, 7) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("property post refused: code "), std::string::npos) << r.err;
  }
  // -o json still prints the reply
  auto r = run_aliot(cat({"prop", "post", "Temp=500", "-o", "json"}, dev), {.env = env()});
  EXPECT_EQ(r.status, 7);
  const auto j = json::parse(lines_of(r.out).at(0));
  EXPECT_NE(j["code"], 200);
  EXPECT_FALSE(j["message"].get<std::string>().empty());
  // the refused values were not stored: the thing model's properties are listed, never reported
  auto p = props("tc-tsl-1");
  ASSERT_EQ(p.count("Temp"), 1u);
  EXPECT_TRUE(p["Temp"]["value"].is_null()) << p["Temp"].dump();
  EXPECT_TRUE(p["Temp"]["time"].is_null());
  auto r2 =
      run_aliot({"cloud", "prop", "get", "-k", k_tpk, "-d", "tc-tsl-1", "Temp"}, {.env = env()});
  EXPECT_EQ(r2.status, 7) << r2.out;
  EXPECT_EQ(r2.out, "Temp  -  -\n");
}

TEST_F(ThingCli, EventPostThenCloudEvents) {
  const auto dev = device("tc-ev-1");
  auto r = run_aliot(cat({"event", "post", "Alarm", "Level=2"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_aliot(cat({"event", "post", "Alarm", "Level=9"}, dev), {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
  r = run_aliot({"cloud", "events", "Alarm", "-k", k_tpk, "-d", "tc-ev-1", "-o", "json"},
                {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 1u) << r.out;
  const auto j = json::parse(l[0]);
  EXPECT_EQ(j["identifier"], "Alarm");
  EXPECT_EQ(j["type"], "alert"); // the thing model's event type, as the platform keeps it
  EXPECT_EQ(j["output"]["Level"], 2);
}

TEST_F(ThingCli, PropertyHistoryNewestFirst) {
  const auto dev = device("tc-hist-1");
  for (const char* v : {"Temp=1.5", "Temp=2.5", "Temp=3.5"}) {
    ASSERT_EQ(run_aliot(cat({"prop", "post", v}, dev), {.env = env()}).status, 0);
  }
  auto r = run_aliot({"cloud", "prop", "get", "-k", k_tpk, "-d", "tc-hist-1", "Temp", "--history",
                      "--limit", "2", "-o", "json"},
                     {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  EXPECT_EQ(json::parse(l[0])["value"], "3.5");
  EXPECT_EQ(json::parse(l[1])["value"], "2.5");
  EXPECT_NE(r.err.find("more values"), std::string::npos) << r.err;
}

TEST_F(ThingCli, ThingServeAnswersSyncAndAsyncInvoke) {
  const auto dev = device("tc-serve-1");
  Background serve(cat({aliot_bin(), "thing", "serve", "-o", "json", "--reply",
                        "Ping={\"Echo\":\"pong\"}", "--reply", "Reboot={}"},
                       dev),
                   {.env = env()});
  auto ready = serve.read_line(std::chrono::seconds(20));
  ASSERT_TRUE(ready) << serve.err();
  ASSERT_EQ(json::parse(*ready)["event"], "ready");
  // sync: the device's data comes back within the platform's deadline
  auto r = run_aliot({"cloud", "invoke", "Ping", "-k", k_tpk, "-d", "tc-serve-1"}, {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err << serve.err();
  EXPECT_EQ(json::parse(r.out), json::parse(R"({"Echo":"pong"})"));
  // async: the MessageId at once, the device sees the request
  r = run_aliot({"cloud", "invoke", "Reboot", "--args", "{\"Delay\":5}", "-k", k_tpk, "-d",
                 "tc-serve-1", "-o", "json"},
                {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["sync"], false);
  EXPECT_FALSE(j["message_id"].get<std::string>().empty());
  ASSERT_TRUE(serve.wait_for("\"name\":\"Reboot\",\"sync\":false", std::chrono::seconds(10)))
      << serve.out();
  ASSERT_TRUE(serve.wait_for("thing/service/Reboot_reply", std::chrono::seconds(10)))
      << serve.out();
  EXPECT_NE(serve.out().find("\"name\":\"Ping\",\"sync\":true"), std::string::npos);
  // the TSL still applies to the cloud's call
  r = run_aliot(
      {"cloud", "invoke", "Reboot", "--args", "{\"Delay\":500}", "-k", k_tpk, "-d", "tc-serve-1"},
      {.env = env()});
  EXPECT_NE(r.status, 0) << r.out;
}

TEST_F(ThingCli, CloudPropSetReachesThingServeWhichReportsItBack) {
  const auto dev = device("tc-set-1");
  Background serve(cat({aliot_bin(), "thing", "serve", "-C", "1", "-o", "json"}, dev),
                   {.env = env()});
  auto ready = serve.read_line(std::chrono::seconds(20));
  ASSERT_TRUE(ready) << serve.err();
  auto r =
      run_aliot({"cloud", "prop", "set", "-k", k_tpk, "-d", "tc-set-1", "Temp=25"}, {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(r.out.empty()); // the MessageId
  ASSERT_EQ(serve.wait(std::chrono::seconds(15)), 0) << serve.err();
  const auto l = lines_of(serve.out());
  ASSERT_GE(l.size(), 4u) << serve.out(); // ready, request, reply, echo
  const auto req = json::parse(l[1]);
  EXPECT_EQ(req["name"], "property/set");
  EXPECT_EQ(req["params"]["Temp"], 25);
  EXPECT_EQ(json::parse(l[3])["event"], "echo");
  // The echo is a property post the platform stores: the backend reads 25 once it is processed.
  std::map<std::string, json> p;
  for (int i = 0; i < 50 && p.count("Temp") == 0; ++i) {
    p = props("tc-set-1");
    if (p.count("Temp") == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_EQ(p.count("Temp"), 1u);
  EXPECT_EQ(p["Temp"]["value"], "25");
}

TEST_F(ThingCli, NtpPrintsTheOffsetAndRoundTrip) {
  const auto dev = device("tc-ntp-1");
  auto r = run_aliot(cat({"ntp", "-o", "json"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_GE(j["round_trip_ms"].get<double>(), 0.0);
  EXPECT_LE(j["serverRecvTime"].get<long long>(), j["serverSendTime"].get<long long>());
  EXPECT_LE(j["deviceSendTime"].get<long long>(), j["deviceRecvTime"].get<long long>());
  EXPECT_TRUE(j.contains("offset_ms"));
  r = run_aliot(cat({"ntp"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("offset", 0), 0u) << r.out;
}

TEST_F(ThingCli, BroadcastReachesMosquittoSubWithAndWithoutTopic) {
  device("tc-bc-1");
  auto args = mosquitto_args("tc-bc-1");
  std::vector<std::string> argv{"stdbuf", "-oL", "mosquitto_sub"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-t", std::string("/broadcast/") + k_tpk + "/notice", "-v", "-d"});
  Background sub(argv);
  ASSERT_TRUE(sub.wait_for("SUBACK", std::chrono::seconds(15))) << sub.err();
  auto r = run_aliot({"cloud", "broadcast", "-k", k_tpk, "-t", "notice", "-m", "to subscribers"},
                     {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(sub.wait_for(std::string("/broadcast/") + k_tpk + "/notice to subscribers",
                           std::chrono::seconds(10)))
      << sub.out();
  // without a topic: every online device, on its own broadcast topic, unsubscribed
  r = run_aliot({"cloud", "broadcast", "-k", k_tpk, "-m", "to everyone", "-o", "json"},
                {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string id = json::parse(r.out)["message_id"];
  ASSERT_TRUE(sub.wait_for(std::string("/sys/") + k_tpk + "/tc-bc-1/broadcast/request/" + id
                               + " to everyone",
                           std::chrono::seconds(10)))
      << sub.out();
  // a topic of another product is refused before any call
  r = run_aliot({"cloud", "broadcast", "-k", k_tpk, "-t", "/broadcast/a1Other/x", "-m", "x"},
                {.env = env()});
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(ThingCli, ReadmeThingModelRecipe) {
  device("tc-recipe-1");
  TempDir work;
  Env e = env();
  e["PK"] = k_tpk;
  e["DN"] = "tc-recipe-1";
  const std::string bin = aliot_bin();
  e["PATH"] = bin.substr(0, bin.rfind('/')) + ":" + std::getenv("PATH");
  auto r = run({"bash", std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/thing_smoke.sh"},
               {.env = e, .timeout_s = 90, .cwd = work.path()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  // The README quotes the script exactly.
  std::ifstream readme(std::string(ALIOT_SOURCE_DIR) + "/README.md");
  std::stringstream rs;
  rs << readme.rdbuf();
  std::ifstream script(std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/thing_smoke.sh");
  std::stringstream ss;
  ss << script.rdbuf();
  EXPECT_NE(rs.str().find("```sh\n" + ss.str() + "```"), std::string::npos)
      << "README.md must quote tests/cloud/thing_smoke.sh verbatim in a ```sh block";
}

TEST_F(ThingCli, DryRunShowsEachActionsParameters) {
  const std::vector<std::string> dev{"-k", k_tpk, "-d", "tc-dry-1"};
  const std::vector<std::string> dry{
      "--dry-run", "-o", "json", "--nonce", "n1", "--timestamp", "2026-12-07T00:00:00Z"};
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> in_body;
  };
  const std::vector<Case> cases{
      {{"cloud", "prop", "set", "Temp=25", "Label=hall"},
       {"Action=SetDeviceProperty", "Items=%7B%22Temp%22%3A25%2C%22Label%22%3A%22hall%22%7D"}},
      {{"cloud", "prop", "get"}, {"Action=QueryDevicePropertyStatus", "DeviceName=tc-dry-1"}},
      {{"cloud", "prop", "get", "Temp", "--history", "--start", "1000", "--end",
        "1970-01-01T00:00:02Z", "--limit", "50", "--asc"},
       {"Action=QueryDevicePropertyData", "Identifier=Temp", "StartTime=1000", "EndTime=2000",
        "PageSize=50", "Asc=1"}},
      {{"cloud", "invoke", "Ping", "--args", "{\"x\": 1}"},
       {"Action=InvokeThingService", "Identifier=Ping", "Args=%7B%22x%22%3A1%7D"}},
      {{"cloud", "events", "Alarm", "--type", "alert"},
       {"Action=QueryDeviceEventData", "Identifier=Alarm", "EventType=alert"}},
  };
  for (const auto& c : cases) {
    auto r = run_aliot(cat(cat(c.args, dev), dry), {.env = env()});
    ASSERT_EQ(r.status, 0) << c.args[1] << ": " << r.err;
    const std::string body = json::parse(r.out)["body"];
    for (const auto& want : c.in_body) {
      EXPECT_NE(body.find(want), std::string::npos) << want << " in " << body;
    }
  }
  auto r = run_aliot(cat({"cloud", "broadcast", "-k", k_tpk, "-t", "notice", "-m", "hi"}, dry),
                     {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string body = json::parse(r.out)["body"];
  EXPECT_NE(body.find("MessageContent=aGk%3D"), std::string::npos) << body;
  EXPECT_NE(body.find("TopicFullName=%2Fbroadcast%2Fa1ThingCli01%2Fnotice"), std::string::npos);
}

TEST_F(ThingCli, SyncInvokeUnansweredIsExit6AndOfflineIsExit7) {
  const auto dev = device("tc-inv-2");
  auto r = run_aliot({"cloud", "invoke", "Ping", "-k", k_tpk, "-d", "tc-inv-2"}, {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err; // offline
  // Online, but no answer for Ping: the server reports it and the platform times out.
  Background serve(cat({aliot_bin(), "thing", "serve", "-C", "1"}, dev), {.env = env()});
  ASSERT_TRUE(serve.wait_for_err("serving the thing model", std::chrono::seconds(20)))
      << serve.err();
  r = run_aliot({"cloud", "invoke", "Ping", "-k", k_tpk, "-d", "tc-inv-2"}, {.env = env()});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("over RRPC within the platform's 8 s"), std::string::npos) << r.err;
  ASSERT_EQ(serve.wait(std::chrono::seconds(15)), 0) << serve.err();
  EXPECT_NE(serve.err().find("no --reply or --exec for service Ping"), std::string::npos);
}

TEST_F(ThingCli, BatchPostStoresTimedValuesAndEvents) {
  const auto dev = device("tc-batch-1");
  const std::string batch = R"({"properties":{"Temp":[{"value":22.5,"time":1700000000000}],)"
                            R"("Power":[{"value":1,"time":1700000001000}]},)"
                            R"("events":{"Alarm":[{"value":{"Level":3},"time":1700000002000}]}})";
  auto r = run_aliot(cat({"prop", "batch-post", "--params", batch}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  auto p = props("tc-batch-1");
  ASSERT_EQ(p.count("Temp"), 1u);
  EXPECT_EQ(p["Temp"]["value"], "22.5");
  EXPECT_EQ(p["Temp"]["time"].get<std::string>().rfind("2023-11-14T22:13:20", 0), 0u)
      << p["Temp"].dump(); // the point's own time, not the time of the post
  EXPECT_EQ(p["Power"]["value"], "1");
  r = run_aliot({"cloud", "events", "Alarm", "-k", k_tpk, "-d", "tc-batch-1", "--start",
                 "1700000000000", "--end", "1700000003000", "-o", "json"},
                {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(lines_of(r.out).size(), 1u) << r.out; // kept at the point's own time
  EXPECT_EQ(json::parse(lines_of(r.out)[0])["output"]["Level"], 3);

  // from a file, and a value the thing model refuses: exit 7, nothing stored
  TempDir d;
  const auto f = d.write("batch.json", R"({"properties":{"Temp":[{"value":500}]}})");
  r = run_aliot(cat({"prop", "batch-post", "-f", f}, dev), {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("batch post refused: code "), std::string::npos) << r.err;
  EXPECT_EQ(props("tc-batch-1")["Temp"]["value"], "22.5");
}

TEST_F(ThingCli, MalformedBatchOrDesiredArgumentsAreExit2) {
  const auto dev = device("tc-batch-bad");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"prop", "batch-post"},
           {"prop", "batch-post", "--params", "{"},
           {"prop", "batch-post", "--params", "[1]"},
           {"prop", "batch-post", "--params", "{}"},
           {"prop", "batch-post", "--params", R"({"props":{"Temp":[{"value":1}]}})"},
           {"prop", "batch-post", "--params", R"({"properties":{"Temp":5}})"},
           {"prop", "batch-post", "--params", R"({"properties":{"Temp":[{"time":1}]}})"},
           {"prop", "batch-post", "--params",
            R"({"properties":{"Temp":[{"value":1,"time":"x"}]}})"},
           {"prop", "batch-post", "--params", R"({"events":{"Alarm":[{"value":2}]}})"},
           {"prop", "batch-post", "--params", R"({"properties":{"bad id":[{"value":1}]}})"},
           {"prop", "get-desired", "bad id"},
           {"prop", "get-desired", "Temp", "Temp"},
           {"prop", "delete-desired"},
           {"prop", "delete-desired", "Temp=x"},
           {"prop", "delete-desired", "Temp=-1"},
           {"prop", "delete-desired", "Temp", "Temp=2"}}) {
    auto r = run_aliot(cat(args, dev), {.env = env()});
    EXPECT_EQ(r.status, 2) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
}

TEST_F(ThingCli, DesiredGetPrintsTheDataAndDeleteIsCode200) {
  const auto dev = device("tc-desired-1");
  // the emulator holds no desired value: the reply's data is {}
  auto r = run_aliot(cat({"prop", "get-desired", "Temp", "Power"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{}\n");
  r = run_aliot(cat({"prop", "get-desired", "-o", "json"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(lines_of(r.out).at(0));
  EXPECT_EQ(j["code"], 200);
  EXPECT_EQ(j["data"], json::object());
  EXPECT_EQ(j["topic"], std::string("/sys/") + k_tpk + "/tc-desired-1/thing/property/desired/get");
  r = run_aliot(cat({"prop", "delete-desired", "Temp", "Power=3"}, dev), {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
}
