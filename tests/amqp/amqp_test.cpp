// AMQP server-side subscription: the credentials (Set A vectors), `aliot cloud sub` against the
// emulator's AMQP endpoint, python3-qpid-proton as a peer aliot did not write, redelivery and
// consumer groups shared by several consumers.
#include "emulator.hpp"
#include "support.hpp"
#include "unwrap.hpp"

#include <aliot/amqp.hpp>
#include <aliot/topic.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using namespace aliot;
using namespace aliot::test;
using nlohmann::json;

namespace {

constexpr const char* k_pk = "a1AmqpPK001";
constexpr const char* k_dn = "amqpdev1";
constexpr const char* k_dev_secret = "0123456789abcdef0123456789abcdef";
constexpr const char* k_ak = "AKAMQP0001";
constexpr const char* k_ak_secret = "AmqpAkSecret000000000000000001";
const std::string k_py = "/usr/bin/python3";

json vectors() {
  std::ifstream f(data_path("vectors-a.json"));
  return json::parse(f);
}

std::vector<json> amqp_vectors() {
  std::vector<json> out;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object() && j.value("scheme", "") == "amqp_password") {
      out.push_back(j);
    } else if (j.is_structured()) {
      for (const auto& v : j) {
        walk(v);
      }
    }
  };
  walk(vectors());
  return out;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(json::parse(line));
    }
  }
  return out;
}

// The JSON lines of a waiting command (sub, rrpc serve, cloud sub): the first must be its ready
// event; the rest (what arrived) are returned.
std::vector<json> after_ready(const std::string& text) {
  auto lines = json_lines(text);
  EXPECT_FALSE(lines.empty()) << "no ready line: " << text;
  if (lines.empty()) {
    return lines;
  }
  EXPECT_EQ(lines.front().value("event", ""), "ready") << text;
  lines.erase(lines.begin());
  return lines;
}

// An emulator with a product, a device, an AccessKey and consumer group G1 (and G2).
class AmqpEmu : public ::testing::Test {
protected:
  void SetUp() override {
    emu = std::make_unique<Emulator>();
    ASSERT_EQ(emu->add_product(k_pk, "ps-secret-amqp").status, 0);
    ASSERT_EQ(emu->add_device(k_pk, k_dn, k_dev_secret).status, 0);
    ASSERT_EQ(emu->add_access_key(k_ak, k_ak_secret).status, 0);
    for (const char* g : {"G1", "G2"}) {
      auto r = run_aliot({"emulate", "cloud", "add-consumer-group", "--dir", emu->dir(), "-k", k_pk,
                          "--consumer-group", g});
      ASSERT_EQ(r.status, 0) << r.err;
    }
    ASSERT_TRUE(emu->env().count("ALIOT_AMQP_ENDPOINT")) << "no ALIOT_AMQP_ENDPOINT export";
  }
  Env env(std::string secret = k_ak_secret) const {
    Env e = emu->env();
    e["ALIOT_ACCESS_KEY_ID"] = k_ak;
    e["ALIOT_ACCESS_KEY_SECRET"] = std::move(secret);
    e["ALIOT_DEVICE_SECRET"] = k_dev_secret;
    return e;
  }
  void publish(const std::string& payload, const std::string& topic = "user/update") {
    auto r = run_aliot({"pub", "-k", k_pk, "-d", k_dn, "-t", topic, "-m", payload}, {.env = env()});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // Waits until the emulator logged `n` consumers attached in total.
  bool attached(int n) const {
    for (int i = 0; i < 200; ++i) {
      std::ifstream f(emu->dir() + "/mosquitto.log");
      std::stringstream ss;
      ss << f.rdbuf();
      const std::string log = ss.str();
      int seen = 0;
      for (auto p = log.find("attached to group"); p != std::string::npos;
           p = log.find("attached to group", p + 1)) {
        ++seen;
      }
      if (seen >= n) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::vector<std::string> py(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv{
        k_py,       std::string(ALIOT_SOURCE_DIR) + "/tests/amqp/py_consumer.py",
        "--url",    emu->env().at("ALIOT_AMQP_ENDPOINT"),
        "--ca",     emu->ca_file(),
        "--ak",     k_ak,
        "--secret", k_ak_secret};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::unique_ptr<Emulator> emu;
};

// How often `needle` occurs in `text`.
int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

// Reads a background process's output until its stderr holds `needle` `n` times (or it ends, or
// `timeout` passes).
bool stderr_has(Background& b, const std::string& needle, int n, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (occurrences(b.err(), needle) < n) {
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    // Collects stdout and stderr for 100 ms (the needle is never printed on stdout).
    b.wait_for("\x01never\x01", std::chrono::milliseconds(100));
  }
  return true;
}

} // namespace

// ---- credentials and parsing (pure) ----

TEST(AmqpCredentials, SetAVectors) {
  const auto vs = amqp_vectors();
  ASSERT_EQ(vs.size(), 3u);
  for (const auto& v : vs) {
    const auto& in = v["inputs"];
    amqp::CredentialParams p;
    p.client_id = in["clientId"];
    p.access_key_id = in["accessKeyId"];
    p.timestamp = in["timestamp"];
    p.consumer_group = in["consumerGroupId"];
    p.instance_id = in["iotInstanceId"].get<std::string>();
    p.method = *sign::parse_method(v["signMethod"].get<std::string>());
    const auto c =
        test::unwrap(amqp::credentials(p, Secret(in["accessKeySecret"].get<std::string>())));
    EXPECT_EQ(c.username, v["username"]);
    EXPECT_EQ(c.string_to_sign, v["string_to_sign"]);
    EXPECT_EQ(c.password.reveal(), v["password"]);
  }
}

TEST(AmqpCredentials, ParsesUserNamesInAnyOrder) {
  auto u = amqp::parse_username("c1|timestamp=1,authMode=aksign,consumerGroupId=G|");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->client_id, "c1");
  EXPECT_EQ(u->option("consumergroupid").value_or(""), "G");
  EXPECT_EQ(u->option("timestamp").value_or(""), "1");
  EXPECT_FALSE(amqp::parse_username("c1|a=b"));
  EXPECT_FALSE(amqp::parse_username("c1|ab|"));
  EXPECT_FALSE(amqp::parse_username("nobars"));
}

TEST(AmqpCredentials, Endpoints) {
  auto e = amqp::parse_endpoint("amqps://1234.iot-amqp.cn-shanghai.aliyuncs.com");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "1234.iot-amqp.cn-shanghai.aliyuncs.com");
  EXPECT_EQ(e->port, 5671);
  EXPECT_TRUE(e->tls);
  e = amqp::parse_endpoint("amqp://localhost:15672/");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 15672);
  EXPECT_FALSE(e->tls);
  EXPECT_FALSE(amqp::parse_endpoint("https://x"));
  EXPECT_FALSE(amqp::parse_endpoint("amqps://x:99999"));
  EXPECT_FALSE(amqp::parse_endpoint("amqps://"));
}

TEST(AmqpCredentials, TopicFilters) {
  EXPECT_TRUE(topic::matches("/+/+/user/update", "/pk/dn/user/update"));
  EXPECT_TRUE(topic::matches("/pk/#", "/pk/dn/user/update"));
  EXPECT_TRUE(topic::matches("/pk/dn/#", "/pk/dn"));
  EXPECT_FALSE(topic::matches("/pk/+/user/get", "/pk/dn/user/update"));
  EXPECT_FALSE(topic::matches("/pk/+", "/pk/dn/user"));
}

TEST(AmqpCli, DryRunReproducesSetA) {
  for (const auto& v : amqp_vectors()) {
    const auto& in = v["inputs"];
    auto r = run_aliot({"cloud", "sub", "--dry-run", "-o", "json", "--access-key-id",
                        in["accessKeyId"], "--consumer-group", in["consumerGroupId"], "--client-id",
                        in["clientId"], "--instance", in["iotInstanceId"], "--sign-method",
                        v["signMethod"], "--timestamp", in["timestamp"]},
                       {.env = {{"ALIOT_ACCESS_KEY_SECRET", in["accessKeySecret"]}}});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["username"], v["username"]);
    EXPECT_EQ(j["password"], v["password"]);
    EXPECT_EQ(j["string_to_sign"], v["string_to_sign"]);
  }
}

TEST(AmqpCli, ExitCodes) {
  // Nothing listens: network (5). No endpoint: config (3). Bad idle timeout: usage (2).
  const Env e{{"ALIOT_ACCESS_KEY_ID", "AK"}, {"ALIOT_ACCESS_KEY_SECRET", "s"}};
  auto r = run_aliot({"cloud", "sub", "--consumer-group", "G", "-W", "5", "--amqp-endpoint",
                      "amqps://localhost:" + std::to_string(free_port())},
                     {.env = e});
  EXPECT_EQ(r.status, 5) << r.err;
  r = run_aliot({"cloud", "sub", "--consumer-group", "G", "-C", "1"}, {.env = e});
  EXPECT_EQ(r.status, 3) << r.err;
  r = run_aliot({"cloud", "sub", "--consumer-group", "G", "--idle-timeout", "10", "--amqp-endpoint",
                 "amqps://localhost:1"},
                {.env = e});
  EXPECT_EQ(r.status, 2) << r.err;
}

// ---- against the emulator ----

TEST_F(AmqpEmu, DevicePubReachesCloudSub) {
  for (int i = 0; i < 5; ++i) {
    publish("{\"n\":" + std::to_string(i) + "}");
  }
  publish("binary\xff\xfe");
  auto r =
      run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "6", "-W", "20", "-o", "json"},
                {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = after_ready(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& j = lines[i];
    EXPECT_EQ(j["topic"], std::string("/") + k_pk + "/" + k_dn + "/user/update");
    ids.insert(j["message_id"].get<std::string>());
    EXPECT_TRUE(j["generate_time"].is_number_integer());
    EXPECT_TRUE(j.contains("ts"));
    if (i < 5) {
      EXPECT_EQ(j["payload"], "{\"n\":" + std::to_string(i) + "}");
    } else {
      EXPECT_EQ(j["payload_base64"], "YmluYXJ5//4=");
    }
  }
  EXPECT_EQ(ids.size(), 6u);
  // Taken and accepted: nothing is left for the group.
  r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "2"},
                {.env = env(), .timeout_s = 30});
  EXPECT_EQ(r.status, 6) << r.out << r.err;
}

// cloud sub prints through sub's renderer: -F as mosquitto_sub -F, --pretty marks the message
// as the device's (↑) with the whole topic (the consumer is no device: nothing abbreviated).
TEST_F(AmqpEmu, CloudSubFormatAndPretty) {
  const std::string topic = std::string("/") + k_pk + "/" + k_dn + "/user/update";
  publish("{\"n\":1}");
  auto r = run_aliot(
      {"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "20", "-F", "%t|%q|%r|%l|%p|%x"},
      {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, topic + "|0|0|7|{\"n\":1}|7b226e223a317d\n");
  publish("{\"n\":2}");
  r = run_aliot(
      {"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "20", "--pretty", "--no-color"},
      {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(" ↑ q0 " + topic + "\n  {\n    \"n\": 2\n  }\n"), std::string::npos)
      << r.out;
}

TEST_F(AmqpEmu, TopicFilterAndUntil) {
  publish("one");
  publish("two");
  publish("three");
  auto r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "--until", "^two$", "-W", "20",
                      "--verbose-topic", "-t", std::string("/") + k_pk + "/+/user/update"},
                     {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string t = std::string("/") + k_pk + "/" + k_dn + "/user/update";
  EXPECT_EQ(r.out, t + " one\n" + t + " two\n");
  r = run_aliot({"cloud", "sub", "--consumer-group", "G2", "-C", "1", "-W", "3", "-t", "/other/#"},
                {.env = env(), .timeout_s = 30});
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  EXPECT_EQ(r.out, "");
}

// `cloud sub -t` on a shared group must never consume the group's other messages: what the
// filter does not match is released (never accepted), and the group's next consumer gets it.
TEST_F(AmqpEmu, TopicFilterReleasesWhatItDoesNotMatchToTheGroup) {
  const std::string dev_b = "amqpdevB";
  ASSERT_EQ(emu->add_device(k_pk, dev_b, k_dev_secret).status, 0);
  const std::string pk = k_pk;
  Background filtered({aliot_bin(), "-v", "cloud", "sub", "--consumer-group", "G1", "--client-id",
                       "filtered", "-t", "/" + pk + "/" + dev_b + "/#", "-C", "1", "-W", "60", "-o",
                       "json"},
                      {.env = env()});
  ASSERT_TRUE(attached(1)) << emu->log();
  for (int i = 0; i < 10; ++i) {
    publish("a" + std::to_string(i)); // device A (k_dn): not matched by the filter
  }
  ASSERT_TRUE(stderr_has(filtered, "released a message on /" + pk + "/" + k_dn + "/user/update", 10,
                         std::chrono::seconds(30)))
      << filtered.err();
  EXPECT_TRUE(after_ready(filtered.out()).empty()) << filtered.out(); // the ready line only
  EXPECT_EQ(occurrences(filtered.err(), "-t filters on this side"), 1) << filtered.err();

  // A second consumer of the group receives every one of device A's messages.
  auto second = run_aliot({"cloud", "sub", "--consumer-group", "G1", "--client-id", "second", "-C",
                           "10", "-W", "30", "-o", "json"},
                          {.env = env(), .timeout_s = 40});
  ASSERT_EQ(second.status, 0) << second.out << second.err;
  std::multiset<std::string> got;
  for (const auto& j : after_ready(second.out)) {
    EXPECT_EQ(j["topic"], "/" + pk + "/" + k_dn + "/user/update");
    EXPECT_FALSE(j.contains("delivery_count")) << "a release is not a failed delivery: " << j;
    got.insert(j["payload"].get<std::string>());
  }
  std::multiset<std::string> want;
  for (int i = 0; i < 10; ++i) {
    want.insert("a" + std::to_string(i));
  }
  EXPECT_EQ(got, want);

  // What the filter matches is still printed (and consumed) by the filtered consumer.
  auto b =
      run_aliot({"pub", "-k", k_pk, "-d", dev_b, "-t", "user/update", "-m", "b0"}, {.env = env()});
  ASSERT_EQ(b.status, 0) << b.err;
  ASSERT_EQ(filtered.wait(std::chrono::seconds(30)), 0) << filtered.err();
  const auto lines = after_ready(filtered.out());
  ASSERT_EQ(lines.size(), 1U) << filtered.out();
  EXPECT_EQ(lines[0]["payload"], "b0");
  EXPECT_EQ(lines[0]["topic"], "/" + pk + "/" + dev_b + "/user/update");
}

// A property post reaches the backend as the platform forwards thing-model data: on
// /PK/DN/thing/event/property/post with the items, the request id and the device's identity.
TEST_F(AmqpEmu, ThingModelPostIsForwardedInThePlatformsFormat) {
  publish(
      R"({"id":"7","version":"1.0","params":{"Temp":21.5},"method":"thing.event.property.post"})",
      std::string("/sys/") + k_pk + "/" + k_dn + "/thing/event/property/post");
  auto r =
      run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "20", "-o", "json"},
                {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = after_ready(r.out);
  ASSERT_EQ(lines.size(), 1U) << r.out;
  EXPECT_EQ(lines[0]["topic"], std::string("/") + k_pk + "/" + k_dn + "/thing/event/property/post");
  const json p = json::parse(lines[0]["payload"].get<std::string>());
  EXPECT_EQ(p["items"]["Temp"]["value"], 21.5) << p.dump();
  EXPECT_TRUE(p["items"]["Temp"]["time"].is_number_integer()) << p.dump();
  EXPECT_EQ(p["requestId"], "7");
  EXPECT_EQ(p["productKey"], k_pk);
  EXPECT_EQ(p["deviceName"], k_dn);
  EXPECT_FALSE(p["iotId"].get<std::string>().empty());
  EXPECT_EQ(p["checkFailedData"], json::object());
  EXPECT_TRUE(p["gmtCreate"].is_number_integer());
}

// A group added with --device-status also gets each device's online and offline status
// messages, in the platform's format, around what the device sent.
TEST_F(AmqpEmu, DeviceStatusMessagesGoToGroupsThatAskForThem) {
  auto r = run_aliot({"emulate", "cloud", "add-consumer-group", "--dir", emu->dir(), "-k", k_pk,
                      "--consumer-group", "G3", "--device-status"});
  ASSERT_EQ(r.status, 0) << r.err;
  publish("hello");
  r = run_aliot({"cloud", "sub", "--consumer-group", "G3", "-C", "3", "-W", "20", "-o", "json"},
                {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = after_ready(r.out);
  ASSERT_EQ(lines.size(), 3U) << r.out;
  const std::string status_topic = std::string("/as/mqtt/status/") + k_pk + "/" + k_dn;
  EXPECT_EQ(lines[0]["topic"], status_topic);
  EXPECT_EQ(lines[1]["payload"], "hello");
  EXPECT_EQ(lines[2]["topic"], status_topic);
  const json on = json::parse(lines[0]["payload"].get<std::string>());
  const json off = json::parse(lines[2]["payload"].get<std::string>());
  EXPECT_EQ(on["status"], "online") << on.dump();
  EXPECT_EQ(off["status"], "offline") << off.dump();
  for (const json* j : {&on, &off}) {
    EXPECT_EQ((*j)["productKey"], k_pk);
    EXPECT_EQ((*j)["deviceName"], k_dn);
    EXPECT_EQ((*j)["clientIp"], "127.0.0.1") << j->dump();
    for (const char* k : {"iotId", "time", "utcTime", "lastTime", "utcLastTime"}) {
      EXPECT_FALSE((*j)[k].get<std::string>().empty()) << k << " in " << j->dump();
    }
  }
  // G1 (without --device-status) got the message alone.
  r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "20", "-o", "json"},
                {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(after_ready(r.out).at(0)["payload"], "hello") << r.out;
}

TEST_F(AmqpEmu, RefusedLogins) {
  auto r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "10"},
                     {.env = env("wrong-secret")});
  EXPECT_EQ(r.status, 4) << r.err;
  r = run_aliot({"cloud", "sub", "--consumer-group", "NOGROUP", "-C", "1", "-W", "10"},
                {.env = env()});
  EXPECT_EQ(r.status, 4) << r.err;
  Env e = env();
  e["ALIOT_ACCESS_KEY_ID"] = "AKUNKNOWN";
  r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "10"}, {.env = e});
  EXPECT_EQ(r.status, 4) << r.err;
  // PLAIN without TLS is refused too.
  std::string plain = emu->env().at("ALIOT_AMQP_ENDPOINT");
  plain.replace(0, 5, "amqp");
  r = run_aliot(
      {"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "10", "--amqp-endpoint", plain},
      {.env = env()});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
}

TEST_F(AmqpEmu, PythonProtonPeerGetsTheSameMessages) {
  if (!have_program(k_py) || run({k_py, "-c", "import proton"}).status != 0) {
    GTEST_SKIP() << "python3-qpid-proton is not installed (scripts/install-deps.sh)";
  }
  for (int i = 0; i < 4; ++i) {
    publish("same " + std::to_string(i));
  }
  // G1 through aliot, G2 through python3-qpid-proton: both groups get every message.
  auto a =
      run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "4", "-W", "20", "-o", "json"},
                {.env = env(), .timeout_s = 30});
  ASSERT_EQ(a.status, 0) << a.err;
  auto p = run(py({"--group", "G2", "--count", "4", "--wait", "20"}), {.timeout_s = 30});
  ASSERT_EQ(p.status, 0) << p.err;
  const auto al = after_ready(a.out), pl = json_lines(p.out);
  ASSERT_EQ(al.size(), 4u);
  ASSERT_EQ(pl.size(), 4u);
  std::set<std::string> ai, pi;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(al[i]["payload"], pl[i]["payload"]);
    EXPECT_EQ(al[i]["topic"], pl[i]["topic"]);
    EXPECT_TRUE(pl[i]["generate_time"].is_number_integer());
    ai.insert(al[i]["message_id"].get<std::string>());
    pi.insert(pl[i]["message_id"].get<std::string>());
  }
  EXPECT_EQ(ai, pi);
  auto bad = run(py({"--group", "G2", "--count", "1", "--wait", "10", "--bad-signature"}),
                 {.timeout_s = 30});
  EXPECT_EQ(bad.status, 4) << bad.out << bad.err;
}

TEST_F(AmqpEmu, KilledConsumerMessagesAreRedelivered) {
  if (run({k_py, "-c", "import proton"}).status != 0) {
    GTEST_SKIP() << "python3-qpid-proton is not installed (scripts/install-deps.sh)";
  }
  publish("r0");
  publish("r1");
  publish("r2");
  {
    // Takes the messages and never accepts them; killed without a goodbye.
    Background holder(py({"--group", "G1", "--hold"}));
    ASSERT_TRUE(holder.wait_for("r2", std::chrono::seconds(20))) << holder.err();
    holder.signal(SIGKILL);
    holder.wait(std::chrono::seconds(5));
  }
  // aliot's own consumer cannot write its output (stdout closed): it must not accept either.
  auto closed = sh("exec 1>&-; \"" + aliot_bin() + "\" cloud sub --consumer-group G1 -C 1 -W 20",
                   {.env = env(), .timeout_s = 30});
  EXPECT_EQ(closed.status, 10) << closed.err;
  auto r =
      run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "3", "-W", "20", "-o", "json"},
                {.env = env(), .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = after_ready(r.out);
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i]["payload"], "r" + std::to_string(i));
    EXPECT_GE(lines[i].value("delivery_count", 0), 1) << lines[i].dump();
  }
  EXPECT_GE(lines[0].value("delivery_count", 0), 2) << "held by python, refused by aliot";
}

TEST_F(AmqpEmu, TwoConsumersInOneGroupSplitMessages) {
  const RunOptions ro{.env = env(), .timeout_s = 40};
  Background c1({aliot_bin(), "cloud", "sub", "--consumer-group", "G1", "--client-id", "c1", "-C",
                 "10", "-W", "30", "-o", "json"},
                ro);
  Background c2({aliot_bin(), "cloud", "sub", "--consumer-group", "G1", "--client-id", "c2", "-C",
                 "10", "-W", "30", "-o", "json"},
                ro);
  ASSERT_TRUE(attached(2)) << emu->log();
  for (int i = 0; i < 20; ++i) {
    publish("m" + std::to_string(i));
  }
  ASSERT_EQ(c1.wait(std::chrono::seconds(35)), 0) << c1.err();
  ASSERT_EQ(c2.wait(std::chrono::seconds(35)), 0) << c2.err();
  std::multiset<std::string> all;
  for (const auto* c : {&c1, &c2}) {
    const auto lines = after_ready(c->out());
    EXPECT_EQ(lines.size(), 10u);
    for (const auto& j : lines) {
      all.insert(j["payload"].get<std::string>());
    }
  }
  std::multiset<std::string> want;
  for (int i = 0; i < 20; ++i) {
    want.insert("m" + std::to_string(i));
  }
  EXPECT_EQ(all, want); // none lost, none doubled
}

TEST_F(AmqpEmu, ReadmeSmokeTestRecipe) {
  TempDir work;
  Env e = env();
  e["PK"] = k_pk;
  e["DN"] = k_dn;
  e["GROUP"] = "G1";
  const std::string bin = aliot_bin();
  e["PATH"] = bin.substr(0, bin.rfind('/')) + ":" + std::getenv("PATH");
  auto r = run({"bash", std::string(ALIOT_SOURCE_DIR) + "/tests/amqp/smoke.sh"},
               {.env = e, .timeout_s = 60, .cwd = work.path()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  // The README quotes the script exactly.
  std::ifstream readme(std::string(ALIOT_SOURCE_DIR) + "/README.md");
  std::stringstream rs;
  rs << readme.rdbuf();
  std::ifstream script(std::string(ALIOT_SOURCE_DIR) + "/tests/amqp/smoke.sh");
  std::stringstream ss;
  ss << script.rdbuf();
  EXPECT_NE(rs.str().find("```sh\n" + ss.str() + "```"), std::string::npos)
      << "README.md must quote tests/amqp/smoke.sh verbatim in a ```sh block";
}

// The ready line comes first, once the server attached the link; --from-now consumes the group's
// backlog without printing or counting it, so `-C 1` waits for a message published after the start.
TEST_F(AmqpEmu, CloudSubSaysReadyFirstAndFromNowSkipsTheBacklog) {
  publish("backlog-1"); // published while nobody consumed group G1: the group keeps it
  publish("backlog-2");
  Background c({aliot_bin(), "-v", "cloud", "sub", "--consumer-group", "G1", "--client-id", "fresh",
                "--from-now", "-C", "1", "-W", "30s", "-o", "json"},
               {.env = env()});
  const auto first = c.read_line(std::chrono::seconds(20));
  ASSERT_TRUE(first.has_value()) << c.err();
  const auto ready = json::parse(*first);
  EXPECT_EQ(ready["event"], "ready") << *first;
  EXPECT_EQ(ready["consumer_group"], "G1");
  EXPECT_EQ(ready["client_id"], "fresh");
  EXPECT_EQ(ready["from_now"], true);
  // Both backlog messages are taken (and skipped) before the new one is published.
  ASSERT_TRUE(stderr_has(c, "ms before the start", 2, std::chrono::seconds(20))) << c.err();
  publish("after-start");
  ASSERT_EQ(c.wait(std::chrono::seconds(30)), 0) << c.err();
  const auto lines = after_ready(c.out());
  ASSERT_EQ(lines.size(), 1U) << c.out();
  EXPECT_EQ(lines[0]["payload"], "after-start");
  // The backlog was consumed, not left for the next consumer of the group.
  auto r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "2s"},
                     {.env = env(), .timeout_s = 20});
  EXPECT_EQ(r.status, 6) << r.out << r.err;

  // Without --from-now the group's backlog is what `-C 1` prints (why the flag exists).
  publish("old");
  r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "20s"},
                {.env = env(), .timeout_s = 30});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "old\n");
  // In text mode the ready line is one stderr line, without -v; --quiet leaves it out.
  EXPECT_NE(r.err.find("aliot: ready: consuming group 'G1'"), std::string::npos) << r.err;
  r = run_aliot(
      {"--quiet", "cloud", "sub", "--consumer-group", "G2", "--from-now", "-C", "1", "-W", "1"},
      {.env = env(), .timeout_s = 20});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_EQ(r.err.find("ready"), std::string::npos) << r.err;
}

TEST_F(AmqpEmu, SigintStopsAnUnboundedConsumerCleanly) {
  Background c({aliot_bin(), "cloud", "sub", "--consumer-group", "G1", "-o", "json"},
               {.env = env()});
  ASSERT_TRUE(attached(1)) << emu->log();
  publish("before-sigint");
  ASSERT_TRUE(c.wait_for("before-sigint", std::chrono::seconds(10))) << c.err();
  c.signal(SIGINT);
  EXPECT_EQ(c.wait(std::chrono::seconds(5)), 0) << c.err();
  // It was accepted: nothing is left for the group.
  auto r = run_aliot({"cloud", "sub", "--consumer-group", "G1", "-C", "1", "-W", "2"},
                     {.env = env(), .timeout_s = 30});
  EXPECT_EQ(r.status, 6) << r.out << r.err;
}

TEST(AmqpEmulator, PrintsTheAmqpEndpointBeforeTheApiEndpoint) {
  TempDir d;
  Background emu({aliot_bin(), "emulate", "cloud", "--dir", d.file("state")});
  auto out = emu.wait_for("ALIOT_API_ENDPOINT=", std::chrono::seconds(20));
  ASSERT_TRUE(out) << emu.err();
  const auto amqp = out->find("export ALIOT_AMQP_ENDPOINT=amqps://localhost:");
  ASSERT_NE(amqp, std::string::npos) << *out;
  EXPECT_LT(amqp, out->find("export ALIOT_API_ENDPOINT="));
  emu.signal(SIGTERM);
  EXPECT_EQ(emu.wait(std::chrono::seconds(10)), 0) << emu.err();
}

// The emulator restarts on the same AMQP port: an unbounded consumer reconnects (backoff, a
// freshly signed user name) and goes on printing.
TEST(AmqpEmulator, ConsumerReconnectsAfterTheServerRestarts) {
  TempDir d;
  const std::string dir = d.file("state");
  const Env keys{{"ALIOT_ACCESS_KEY_SECRET", k_ak_secret}, {"ALIOT_DEVICE_SECRET", k_dev_secret}};
  auto ok_run = [&](const std::vector<std::string>& args, const Env& env) {
    auto r = run_aliot(args, {.env = env, .timeout_s = 30});
    EXPECT_EQ(r.status, 0) << r.err;
  };
  ok_run({"emulate", "cloud", "add-product", "--dir", dir, "-k", k_pk}, keys);
  ok_run({"emulate", "cloud", "add-device", "--dir", dir, "-k", k_pk, "-d", k_dn}, keys);
  ok_run({"emulate", "cloud", "add-access-key", "--dir", dir, "--access-key-id", k_ak}, keys);
  ok_run({"emulate", "cloud", "add-consumer-group", "--dir", dir, "-k", k_pk, "--consumer-group",
          "G1"},
         keys);
  const std::string port = std::to_string(free_port());
  auto start = [&] {
    auto emu = std::make_unique<Background>(std::vector<std::string>{
        aliot_bin(), "emulate", "cloud", "--dir", dir, "--amqp-port", port});
    auto out = emu->wait_for("ALIOT_API_ENDPOINT=", std::chrono::seconds(20));
    EXPECT_TRUE(out) << emu->err();
    Env env = keys;
    std::istringstream in(out.value_or(""));
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (line.rfind("export ", 0) == 0 && eq != std::string::npos) {
        std::string v = line.substr(eq + 1);
        if (v.size() > 1 && v.front() == '\'') {
          v = v.substr(1, v.size() - 2);
        }
        env[line.substr(7, eq - 7)] = v;
      }
    }
    env["ALIOT_ACCESS_KEY_ID"] = k_ak;
    return std::make_pair(std::move(emu), env);
  };
  auto [emu1, env1] = start();
  Background sub({aliot_bin(), "-v", "cloud", "sub", "--consumer-group", "G1"}, {.env = env1});
  ok_run({"pub", "-k", k_pk, "-d", k_dn, "-t", "user/update", "-m", "before-restart"}, env1);
  ASSERT_TRUE(sub.wait_for("before-restart", std::chrono::seconds(10))) << sub.err();
  emu1->signal(SIGTERM);
  ASSERT_EQ(emu1->wait(std::chrono::seconds(10)), 0) << emu1->err();
  auto [emu2, env2] = start();
  ok_run({"pub", "-k", k_pk, "-d", k_dn, "-t", "user/update", "-m", "after-restart"}, env2);
  ASSERT_TRUE(sub.wait_for("after-restart", std::chrono::seconds(20))) << sub.err();
  sub.signal(SIGINT);
  EXPECT_EQ(sub.wait(std::chrono::seconds(5)), 0) << sub.err();
  EXPECT_NE(sub.err().find("reconnecting"), std::string::npos) << sub.err();
}
