// What an engineer at a terminal is told, end to end through the real binary: the emulator's
// terminal (stderr) says why it refused each login, without the secret or the password; `pub
// --topic-classes` warns about a topic the product has no topic class for, and the global
// --strict refuses it.
#include "emulator.hpp"
#include "secrets.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

using namespace aliot::test;
using nlohmann::json;

namespace {

const std::string k_pk = "a1DiagPK001";
const std::string k_ds = "DiagSecret0123456789abcdef012345";
const std::string k_wrong_ds = "WrongSecret123456789abcdef01234";
const std::string k_ak = "LTAIdiagTest01";
const std::string k_aks = "DiagAccessKeySecret000001";

std::string triplet(const TempDir& dir,
                    const std::string& name,
                    const std::string& pk,
                    const std::string& dn,
                    const std::string& ds) {
  return dir.write(name + ".json",
                   json{{"ProductKey", pk}, {"DeviceName", dn}, {"DeviceSecret", ds}}.dump());
}

// The lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.find(needle) != std::string::npos) {
      out.push_back(l);
    }
  }
  return out;
}

} // namespace

TEST(EmulatorRefusals, EachRefusedLoginIsOneLineOnTheEmulatorsStderrWithItsReason) {
  Emulator emu;
  TempDir dir;
  ASSERT_EQ(emu.add_product(k_pk, "DiagProductSecret01").status, 0);
  ASSERT_EQ(emu.add_device(k_pk, "dev1", k_ds).status, 0);
  ASSERT_EQ(emu.add_device(k_pk, "devoff", k_ds, true).status, 0);
  const RunOptions opts{.env = emu.env()};
  struct Case {
    std::string file, reason;
  };
  const std::vector<Case> cases = {
      {triplet(dir, "wrong-pk", "a1WrongPK01", "dev1", k_ds), "unknown product a1WrongPK01"},
      {triplet(dir, "wrong-dn", k_pk, "nosuchdev", k_ds), "unknown device nosuchdev in product"},
      {triplet(dir, "wrong-ds", k_pk, "dev1", k_wrong_ds), "wrong signature for " + k_pk + "/dev1"},
      {triplet(dir, "disabled", k_pk, "devoff", k_ds), "device " + k_pk + "/devoff is disabled"}};
  for (const auto& c : cases) {
    const auto r = run_aliot({"connect", "--triplet", c.file}, opts);
    EXPECT_EQ(r.status, 4) << c.file << ": " << r.err;
  }
  // A password given by hand (mosquitto_pub, a peer we did not write) with an unsupported sign
  // method: the reason names the method, the password never appears. (The broker itself refuses
  // a client id with control characters before the plugin sees it; ids are escaped all the same.)
  const std::string password = "NotAPasswordToShow0123456789abcd";
  if (have_program("mosquitto_pub")) {
    const auto r =
        run({"mosquitto_pub", "-h", emu.host(), "-p", std::to_string(emu.mqtt_tcp_port()), "-i",
             "by-hand|securemode=3,signmethod=hmacsha512|", "-u", "dev1&" + k_pk, "-P", password,
             "-t", "/" + k_pk + "/dev1/user/update", "-m", "x"});
    EXPECT_NE(r.status, 0) << r.err;
  }
  ASSERT_EQ(emu.stop(), 0) << emu.log();
  const std::string log = emu.log();
  for (const auto& c : cases) {
    const auto hits = lines_with(log, c.reason);
    ASSERT_EQ(hits.size(), 1u) << c.reason << " in:\n" << log;
    EXPECT_EQ(hits[0].rfind("aliot: emulator: login refused: client '", 0), 0u) << hits[0];
  }
  if (have_program("mosquitto_pub")) {
    const auto hits = lines_with(log, "client 'by-hand|");
    ASSERT_EQ(hits.size(), 1u) << log;
    EXPECT_NE(hits[0].find("unsupported sign method 'hmacsha512'"), std::string::npos) << hits[0];
  }
  EXPECT_TRUE(no_secret_in({k_ds, k_wrong_ds, password}, {text("emulator stderr", log)}));
}

class TopicClasses : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    emu = new Emulator();
    ASSERT_EQ(emu->add_product(k_pk, "DiagProductSecret01").status, 0);
    ASSERT_EQ(emu->add_device(k_pk, "dev1", k_ds).status, 0);
    ASSERT_EQ(emu->add_access_key(k_ak, k_aks).status, 0);
    ASSERT_EQ(emu->add_topic(k_pk, "user/alarm", "pub").status, 0);
  }
  static void TearDownTestSuite() {
    delete emu;
    emu = nullptr;
  }
  // QueryProductTopic's reply for the product (the shape of the OpenAPI's JSON).
  std::string query_product_topic_reply() const {
    json data = json::array();
    for (const auto& [t, op] : {std::pair{"user/update", "0"},
                                {"user/update/error", "0"},
                                {"user/get", "1"},
                                {"user/cmd/+", "2"}}) {
      data.push_back({{"TopicShortName", "/" + k_pk + "/${deviceName}/" + t},
                      {"Operation", op},
                      {"ProductKey", k_pk},
                      {"Id", "3679001"}});
    }
    return dir.write(
        "topics.json",
        json{{"RequestId", "310E4A1E"}, {"Success", true}, {"Data", {{"ProductTopicInfo", data}}}}
            .dump());
  }
  ProcResult pub(const std::vector<std::string>& head, const std::string& topic) const {
    std::vector<std::string> args = head;
    for (const auto& a :
         {std::string("pub"), std::string("--triplet"), device, std::string("-t"), topic,
          std::string("-q"), std::string("1"), std::string("-m"), std::string("x")}) {
      args.push_back(a);
    }
    return run_aliot(args, {.env = emu->env()});
  }

  static Emulator* emu;
  TempDir dir;
  std::string device = triplet(dir, "dev1", k_pk, "dev1", k_ds);
};
Emulator* TopicClasses::emu = nullptr;

TEST_F(TopicClasses, AMistypedTopicWarnsOnceAndStrictRefusesIt) {
  const auto classes = query_product_topic_reply();
  // Today's behaviour without the classes: acknowledged, exit 0, nothing said.
  auto r = pub({}, "user/updat");
  EXPECT_EQ(r.status, 0) << r.err;

  r = run_aliot({"pub", "--triplet", device, "--topic-classes", classes, "-t", "user/updat", "-q",
                 "1", "-m", "x"},
                {.env = emu->env()});
  EXPECT_EQ(r.status, 0) << r.err;
  const auto warned = lines_with(r.err, "matches none of the 4 topic classes");
  ASSERT_EQ(warned.size(), 1u) << r.err;
  EXPECT_EQ(warned[0].rfind("aliot: warning: topic /" + k_pk + "/dev1/user/updat ", 0), 0u)
      << warned[0];
  EXPECT_NE(warned[0].find("did you mean /" + k_pk + "/${deviceName}/user/update?"),
            std::string::npos)
      << warned[0];

  // A topic of a class, a wildcard class, and a system topic: no warning.
  for (const std::string& t : {std::string("user/update"), std::string("user/cmd/reboot"),
                               "/sys/" + k_pk + "/dev1/thing/event/property/post"}) {
    r = run_aliot(
        {"pub", "--triplet", device, "--topic-classes", classes, "-t", t, "-q", "1", "-m", "x"},
        {.env = emu->env()});
    EXPECT_EQ(r.status, 0) << t << ": " << r.err;
    EXPECT_EQ(r.err.find("topic class"), std::string::npos) << t << ": " << r.err;
  }

  // Under --strict: refused before connecting, exit 2, the nearest class named.
  r = run_aliot({"--strict", "pub", "--triplet", device, "--topic-classes", classes, "-t",
                 "user/updat", "-q", "1", "-m", "x"},
                {.env = emu->env()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("refused under --strict"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("user/update?"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("published"), std::string::npos) << r.err;
}

TEST_F(TopicClasses, APlainListOfTemplatesAndItsAccess) {
  const auto classes = dir.write("topics.txt", "# the product's classes\n"
                                               "user/update pub\n"
                                               "/${productKey}/${deviceName}/user/status all\n"
                                               "user/get sub\n");
  auto r = run_aliot({"--strict", "pub", "--triplet", device, "--topic-classes", classes, "-t",
                      "/" + k_pk + "/dev1/user/status", "-q", "1", "-m", "x"},
                     {.env = emu->env()});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_aliot({"--strict", "pub", "--triplet", device, "--topic-classes", classes, "-t",
                 "user/statsu", "-m", "x"},
                {.env = emu->env()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("matches none of the 3 topic classes"), std::string::npos) << r.err;

  // A file that is neither form: a configuration error naming the line.
  const auto bad = dir.write("bad.txt", "user/update publish-please\n");
  r = run_aliot(
      {"pub", "--triplet", device, "--topic-classes", bad, "-t", "user/update", "-m", "x"},
      {.env = emu->env()});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;
}

// The emulator answers QueryProductTopic from its registry (the defaults and add-topic), and
// that reply is what --topic-classes reads: the whole loop without a cloud account.
TEST_F(TopicClasses, TheEmulatorsQueryProductTopicReplyFeedsTopicClasses) {
  const auto q = run({"python3", std::string(ALIOT_EMU_TEST_DIR) + "/pop_sign.py", "GET", k_ak,
                      k_aks, "Action=QueryProductTopic", "ProductKey=" + k_pk});
  ASSERT_EQ(q.status, 0) << q.err;
  const auto reply =
      run({"curl", "-sS", "--max-time", "20", "-o", dir.file("qpt.json"), "-w", "%{http_code}",
           emu->api_endpoint() + "/?" + q.out.substr(0, q.out.find('\n'))});
  ASSERT_EQ(reply.out, "200") << reply.err;
  const auto body = json::parse(dir.read("qpt.json"));
  ASSERT_EQ(body["Success"], true) << body.dump();
  std::map<std::string, std::string> ops;
  for (const auto& e : body["Data"]["ProductTopicInfo"]) {
    ops[e["TopicShortName"]] = e["Operation"];
  }
  const std::string cls = "/" + k_pk + "/${deviceName}/";
  EXPECT_EQ(ops[cls + "user/get"], "1") << body.dump();
  EXPECT_EQ(ops[cls + "user/update"], "0") << body.dump();
  EXPECT_EQ(ops[cls + "user/alarm"], "0") << body.dump();

  auto r = run_aliot({"--strict", "pub", "--triplet", device, "--topic-classes",
                      dir.file("qpt.json"), "-t", "user/alarm", "-q", "1", "-m", "x"},
                     {.env = emu->env()});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_aliot({"--strict", "pub", "--triplet", device, "--topic-classes", dir.file("qpt.json"),
                 "-t", "user/alram", "-q", "1", "-m", "x"},
                {.env = emu->env()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("did you mean " + cls + "user/alarm?"), std::string::npos) << r.err;
}

TEST(PubHelp, SaysAPubackDoesNotProveDelivery) {
  const auto r = run_aliot({"pub", "--help"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("a PUBACK does not prove delivery"), std::string::npos) << r.out;
}
