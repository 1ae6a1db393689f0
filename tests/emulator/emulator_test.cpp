// The local platform (`aliot emulate cloud`) against peers we did not write: mosquitto_pub /
// mosquitto_sub with passwords computed here by `openssl dgst -hmac`, curl with requests signed
// by a small python3 signer (pop_sign.py), and curl against HTTPS registration.
#include "emulator.hpp"

#include "support.hpp"

#include <aliot/emu/registry.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <csignal>
#include <thread>

using aliot::test::Background;
using aliot::test::Emulator;
using aliot::test::ProcResult;
using aliot::test::run;
using aliot::test::sh;
using nlohmann::json;

namespace {

const std::string k_pk = "a1EmuPK0001";
const std::string k_ps = "ProductSecret0001";
const std::string k_ds = "0123456789abcdef0123456789abcdef";
const std::string k_ak = "LTAIemuTest01";
const std::string k_aks = "AccessKeySecretForTests01";

// hex HMAC by the openssl binary: alg is md5, sha1 or sha256.
std::string openssl_hmac(const std::string& alg, const std::string& key, const std::string& msg) {
  auto r = sh("printf '%s' \"$MSG\" | openssl dgst -" + alg + " -hmac \"$KEY\" | sed 's/^.*= //'",
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

// The spec 2.3/2.4 credentials, computed independently of libaliot.
Login device_login(const std::string& pk,
                   const std::string& dn,
                   const std::string& ds,
                   const std::string& alg = "sha256",
                   bool with_ts = true,
                   const std::string& cid = "",
                   const std::string& extra = "") {
  const std::string id = cid.empty() ? pk + "." + dn : cid;
  const std::string ts = "1700000000000";
  std::string content = "clientId" + id + "deviceName" + dn + "productKey" + pk;
  std::string opts = "securemode=3,signmethod=hmac" + alg;
  if (with_ts) {
    content += "timestamp" + ts;
    opts += ",timestamp=" + ts;
  }
  opts += extra;
  return {id + "|" + opts + "|", dn + "&" + pk, openssl_hmac(alg, ds, content)};
}

class EmulatorTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (!aliot::test::have_program("mosquitto_pub") || !aliot::test::have_program("curl")) {
      GTEST_SKIP() << "mosquitto-clients and curl are needed";
    }
    emu = new Emulator();
    ASSERT_EQ(emu->add_product(k_pk, k_ps).status, 0);
    ASSERT_EQ(emu->add_device(k_pk, "dev1", k_ds).status, 0);
    ASSERT_EQ(emu->add_device(k_pk, "dev2", k_ds).status, 0);
    ASSERT_EQ(emu->add_device(k_pk, "devoff", k_ds, true).status, 0);
    ASSERT_EQ(emu->add_access_key(k_ak, k_aks).status, 0);
  }
  static void TearDownTestSuite() {
    delete emu;
    emu = nullptr;
  }

  static std::vector<std::string>
  mqtt_args(const std::string& tool, const Login& l, int keepalive = 60, bool tls = false) {
    std::vector<std::string> a{tool,
                               "-h",
                               emu->host(),
                               "-p",
                               std::to_string(tls ? emu->mqtt_tls_port() : emu->mqtt_tcp_port()),
                               "-i",
                               l.client_id,
                               "-u",
                               l.username,
                               "-P",
                               l.password,
                               "-k",
                               std::to_string(keepalive),
                               "-V",
                               "mqttv311"};
    if (tls) {
      a.insert(a.end(), {"--cafile", emu->ca_file()});
    }
    return a;
  }

  static ProcResult pub(const Login& l,
                        const std::string& topic,
                        const std::string& msg,
                        int keepalive = 60,
                        bool tls = false) {
    auto a = mqtt_args("mosquitto_pub", l, keepalive, tls);
    a.insert(a.end(), {"-t", topic, "-m", msg, "-q", "1"});
    return run(a, {.timeout_s = 20});
  }

  // Waits until /emu/messages lists a message on `topic` whose payload is `payload`.
  static bool seen(const std::string& topic, const std::string& payload) {
    for (int i = 0; i < 100; ++i) {
      auto j = json::parse(emu->messages_json(topic), nullptr, false);
      if (!j.is_discarded()) {
        for (const auto& m : j["messages"]) {
          if (m["topic"] == topic
              && m["payload_base64"]
                     == aliot::test::sh("printf '%s' \"$P\" | base64 -w0",
                                        {.env = {{"P", payload}}})
                            .out) {
            return true;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  static inline Emulator* emu = nullptr;
};

TEST_F(EmulatorTest, PrintsTheExportsOfCliMd) {
  for (const char* k : {"ALIOT_MQTT_HOST", "ALIOT_MQTT_PORT", "ALIOT_MQTT_TCP_PORT",
                        "ALIOT_CA_FILE", "ALIOT_AUTH_ENDPOINT", "ALIOT_API_ENDPOINT"}) {
    EXPECT_EQ(emu->env().count(k), 1U) << k;
  }
  EXPECT_EQ(emu->host(), "127.0.0.1");
  EXPECT_EQ(emu->api_endpoint().rfind("http://127.0.0.1:", 0), 0U);
  EXPECT_EQ(emu->auth_endpoint().rfind("https://127.0.0.1:", 0), 0U);
}

TEST_F(EmulatorTest, RegistryIsPrivate) {
  auto r = sh("stat -c %a \"$D/registry.db\"", {.env = {{"D", emu->dir()}}});
  EXPECT_EQ(r.out, "600\n");
}

TEST_F(EmulatorTest, MosquittoPubLogsInWithEachSignMethod) {
  int n = 0;
  for (const std::string& alg : std::vector<std::string>{"sha256", "sha1", "md5"}) {
    for (bool ts : {true, false}) {
      const std::string msg = "hello-" + alg + (ts ? "-ts" : "-nots");
      auto r = pub(device_login(k_pk, "dev1", k_ds, alg, ts, "c" + std::to_string(n++)),
                   "/" + k_pk + "/dev1/user/update", msg);
      EXPECT_EQ(r.status, 0) << alg << " ts=" << ts << ": " << r.err;
      EXPECT_TRUE(seen("/" + k_pk + "/dev1/user/update", msg)) << msg;
    }
  }
}

TEST_F(EmulatorTest, UpperCaseHexPasswordIsAccepted) {
  auto l = device_login(k_pk, "dev1", k_ds);
  for (auto& c : l.password) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  auto r = pub(l, "/" + k_pk + "/dev1/user/update", "upper");
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(EmulatorTest, MosquittoPubOverTlsWithTheGeneratedCa) {
  auto r =
      pub(device_login(k_pk, "dev1", k_ds), "/" + k_pk + "/dev1/user/update", "over-tls", 60, true);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(seen("/" + k_pk + "/dev1/user/update", "over-tls"));
}

TEST_F(EmulatorTest, WrongPasswordIsRefusedWithConnack5) {
  auto l = device_login(k_pk, "dev1", k_ds);
  l.password = openssl_hmac("sha256", "not-the-secret", "x");
  auto r = pub(l, "/" + k_pk + "/dev1/user/update", "x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(EmulatorTest, SignMethodMismatchIsRefused) {
  // sha1 password declared as hmacsha256.
  auto l = device_login(k_pk, "dev1", k_ds, "sha1");
  l.client_id = k_pk + ".dev1|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|";
  auto r = pub(l, "/" + k_pk + "/dev1/user/update", "x");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(EmulatorTest, UnknownAndDisabledDevicesAreRefused) {
  auto r = pub(device_login(k_pk, "devoff", k_ds), "/" + k_pk + "/devoff/user/update", "x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
  r = pub(device_login(k_pk, "nosuchdev", k_ds), "/" + k_pk + "/nosuchdev/user/update", "x");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
  r = pub(device_login("a1NoSuchPK0", "dev1", k_ds), "/a1NoSuchPK0/dev1/user/update", "x");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(EmulatorTest, KeepaliveOutside30To1200IsRefused) {
  for (int ka : {10, 29, 1201}) {
    auto r = pub(device_login(k_pk, "dev1", k_ds), "/" + k_pk + "/dev1/user/update", "x", ka);
    EXPECT_NE(r.err.find("not authorised"), std::string::npos) << ka << ": " << r.err;
  }
  for (int ka : {30, 1200}) {
    auto r = pub(device_login(k_pk, "dev1", k_ds), "/" + k_pk + "/dev1/user/update", "x", ka);
    EXPECT_EQ(r.status, 0) << ka << ": " << r.err;
  }
}

TEST_F(EmulatorTest, ClientIdOver64CharactersIsRefused) {
  const std::string id64(64, 'a');
  auto r = pub(device_login(k_pk, "dev1", k_ds, "sha256", true, id64),
               "/" + k_pk + "/dev1/user/update", "x");
  EXPECT_EQ(r.status, 0) << r.err;
  r = pub(device_login(k_pk, "dev1", k_ds, "sha256", true, id64 + "b"),
          "/" + k_pk + "/dev1/user/update", "x");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(EmulatorTest, MalformedClientIdIsRefused) {
  auto l = device_login(k_pk, "dev1", k_ds);
  l.client_id = k_pk + ".dev1"; // no option section
  auto r = pub(l, "/" + k_pk + "/dev1/user/update", "x");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(EmulatorTest, SubscribeOutsideTheRightsIsDenied) {
  // user/update is publish-only; another device's topic and '#' are never allowed.
  for (const std::string& t :
       std::vector<std::string>{"/" + k_pk + "/dev1/user/update", "/" + k_pk + "/dev2/user/get",
                                "#", "/" + k_pk + "/dev1/user/#"}) {
    auto a = mqtt_args("mosquitto_sub", device_login(k_pk, "dev1", k_ds, "sha256", true, "s1"));
    a.insert(a.end(), {"-t", t, "-W", "3"});
    auto r = run(a, {.timeout_s = 20});
    EXPECT_NE(r.err.find("All subscription requests were denied"), std::string::npos)
        << t << ": " << r.err;
  }
}

TEST_F(EmulatorTest, SubscribeWithinTheRightsIsGranted) {
  // -W 2: no message arrives, so it times out (rc 27) instead of being denied.
  for (const std::string& t : std::vector<std::string>{"/" + k_pk + "/dev1/user/get",
                                                       "/sys/" + k_pk + "/dev1/rrpc/request/+",
                                                       "/broadcast/" + k_pk + "/all"}) {
    auto a = mqtt_args("mosquitto_sub", device_login(k_pk, "dev1", k_ds, "sha256", true, "s2"));
    a.insert(a.end(), {"-t", t, "-W", "1"});
    auto r = run(a, {.timeout_s = 20});
    EXPECT_EQ(r.err.find("denied"), std::string::npos) << t << ": " << r.err;
    EXPECT_EQ(r.status, 27) << t << ": " << r.err;
  }
}

TEST_F(EmulatorTest, PublishOutsideTheRightsIsDropped) {
  const auto l = device_login(k_pk, "dev1", k_ds, "sha256", true, "p1");
  // user/get is subscribe-only; dev2's topic is not dev1's.
  EXPECT_EQ(pub(l, "/" + k_pk + "/dev1/user/get", "dropped-1").status, 0);
  EXPECT_EQ(pub(l, "/" + k_pk + "/dev2/user/update", "dropped-2").status, 0);
  EXPECT_EQ(pub(l, "/" + k_pk + "/dev1/user/update", "marker-after-drops").status, 0);
  ASSERT_TRUE(seen("/" + k_pk + "/dev1/user/update", "marker-after-drops"));
  auto all = emu->messages_json("#");
  EXPECT_EQ(all.find("/" + k_pk + "/dev1/user/get"), std::string::npos);
  EXPECT_EQ(all.find("/" + k_pk + "/dev2/user/update"), std::string::npos);
}

TEST_F(EmulatorTest, PayloadOver256KiBIsDropped) {
  aliot::test::TempDir tmp;
  const std::string big = tmp.write("big", std::string(256 * 1024 + 1, 'x'));
  const std::string ok = tmp.write("ok", std::string(256 * 1024, 'y'));
  const auto l = device_login(k_pk, "dev2", k_ds, "sha256", true, "big1");
  for (const auto& f : {big, ok}) {
    auto a = mqtt_args("mosquitto_pub", l);
    a.insert(a.end(), {"-t", "/" + k_pk + "/dev2/user/update/error", "-f", f, "-q", "1"});
    EXPECT_EQ(run(a, {.timeout_s = 20}).status, 0);
  }
  json j;
  for (int i = 0; i < 100; ++i) {
    j = json::parse(emu->messages_json("/" + k_pk + "/dev2/user/update/error"));
    if (!j["messages"].empty()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(j["messages"].size(), 1U) << j.dump().substr(0, 300);
  EXPECT_EQ(j["messages"][0]["payload_base64"].get<std::string>().size(), (256 * 1024 + 2) / 3 * 4);
}

TEST_F(EmulatorTest, NewerLoginKicksTheOlderOneEvenWithAnotherClientId) {
  auto a = mqtt_args("mosquitto_sub", device_login(k_pk, "dev2", k_ds, "sha256", true, "first"));
  a.insert(a.end(), {"-t", "/" + k_pk + "/dev2/user/get", "-d"});
  a.insert(a.begin(), {"stdbuf", "-oL"}); // its debug lines, unbuffered
  Background first(a);
  ASSERT_TRUE(first.wait_for("SUBACK", std::chrono::seconds(10))) << first.err();
  // The second login (another clientId) publishes and leaves; the first was closed meanwhile
  // and its client reconnects: a second CONNECT in its debug output.
  auto r = pub(device_login(k_pk, "dev2", k_ds, "sha256", true, "second"),
               "/" + k_pk + "/dev2/user/update", "takeover");
  ASSERT_EQ(r.status, 0) << r.err;
  auto out = first.wait_for("Client first|securemode=3,signmethod=hmacsha256,timestamp="
                            "1700000000000| sending CONNECT",
                            std::chrono::seconds(10));
  ASSERT_TRUE(out);
  std::size_t connects = 0;
  for (std::size_t pos = 0; (pos = first.out().find("sending CONNECT", pos)) != std::string::npos;
       ++pos) {
    ++connects;
  }
  // wait_for returned at the first CONNECT already; wait for the reconnect.
  for (int i = 0; i < 100 && connects < 2; ++i) {
    first.wait_for("__never__", std::chrono::milliseconds(50));
    connects = 0;
    for (std::size_t pos = 0; (pos = first.out().find("sending CONNECT", pos)) != std::string::npos;
         ++pos) {
      ++connects;
    }
  }
  EXPECT_GE(connects, 2U) << first.out();
}

// Device B logging in with device A's client id (its own user name, a password signed without
// the client id) is refused, CONNACK 5, and A stays connected: the session is bound to the
// device that authenticated it.
TEST_F(EmulatorTest, AnotherDevicesClientIdIsRefusedAndItsHolderStaysOnline) {
  const std::string shared = "held-by-dev1";
  auto a = mqtt_args("mosquitto_sub", device_login(k_pk, "dev1", k_ds, "sha256", true, shared));
  a.insert(a.end(), {"-t", "/" + k_pk + "/dev1/user/get", "-v", "-d"});
  a.insert(a.begin(), {"stdbuf", "-oL"});
  Background holder(a);
  ASSERT_TRUE(holder.wait_for("SUBACK", std::chrono::seconds(10))) << holder.err();

  const std::string ts = "1700000000000";
  const Login forged{
      shared + "|securemode=3,signmethod=hmacsha256,timestamp=" + ts + "|", "dev2&" + k_pk,
      openssl_hmac("sha256", k_ds,
                   "deviceName" + std::string("dev2") + "productKey" + k_pk + "timestamp" + ts)};
  // The same client id: mosquitto's own client-id takeover would otherwise disconnect dev1.
  ASSERT_EQ(forged.client_id, device_login(k_pk, "dev1", k_ds, "sha256", true, shared).client_id);
  auto r = pub(forged, "/" + k_pk + "/dev2/user/update", "forged");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
  // Nor may B take the client id that names A (as the SDKs form it), A online or not: B could
  // squat the session A opens.
  for (const std::string& names_a : {k_pk + ".dev1", "dev1." + k_pk, "dev1&" + k_pk}) {
    r = pub(device_login(k_pk, "dev2", k_ds, "sha256", true, names_a),
            "/" + k_pk + "/dev2/user/update", "squat");
    EXPECT_NE(r.status, 0) << names_a << ": " << r.err;
    EXPECT_NE(r.err.find("not authorised"), std::string::npos) << names_a << ": " << r.err;
  }
  // B with a client id of its own logs in: the refusal was about the client id only.
  r = pub(device_login(k_pk, "dev2", k_ds, "sha256", false, "dev2-own"),
          "/" + k_pk + "/dev2/user/update", "own");
  EXPECT_EQ(r.status, 0) << r.err;

  // A still receives, on its first connection.
  r = run({"mosquitto_pub", "-h", emu->host(), "-p", std::to_string(emu->mqtt_tcp_port()), "-i",
           "ops-held", "-u", "operator/" + k_ak, "-P", k_aks, "-t", "/" + k_pk + "/dev1/user/get",
           "-m", "still-here", "-q", "1"},
          {.timeout_s = 20});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto out =
      holder.wait_for("/" + k_pk + "/dev1/user/get still-here", std::chrono::seconds(10));
  ASSERT_TRUE(out) << holder.out();
  std::size_t connects = 0;
  for (std::size_t pos = 0; (pos = out->find("sending CONNECT", pos)) != std::string::npos; ++pos) {
    ++connects;
  }
  EXPECT_EQ(connects, 1U) << "dev1 was disconnected and came back: " << *out;
}

// A device may not publish on the topics only the platform sends on: an RRPC request or a
// property set to itself is dropped like any publish outside its rights.
TEST_F(EmulatorTest, ADeviceMayNotPublishOnItsDownlinkTopics) {
  const auto l = device_login(k_pk, "dev1", k_ds, "sha256", true, "down1");
  const std::string sys = "/sys/" + k_pk + "/dev1/";
  for (const std::string& t :
       {sys + "rrpc/request/889455942124347392", sys + "thing/service/property/set"}) {
    EXPECT_EQ(pub(l, t, "forged-downlink").status, 0) << t;
  }
  EXPECT_EQ(pub(l, sys + "rrpc/response/889455942124347392", "an-answer").status, 0);
  ASSERT_TRUE(seen(sys + "rrpc/response/889455942124347392", "an-answer"));
  const auto all = emu->messages_json("#");
  EXPECT_EQ(all.find(sys + "rrpc/request/"), std::string::npos) << all.substr(0, 400);
  EXPECT_EQ(all.find(sys + "thing/service/property/set"), std::string::npos);
}

// What devices sent is shown to an operator only: /emu/messages needs an AccessKey (HTTP Basic).
TEST_F(EmulatorTest, TheMessagesViewNeedsAnAccessKey) {
  const std::string url = emu->api_endpoint() + "/emu/messages?topic=%23";
  for (const std::vector<std::string>& creds :
       {std::vector<std::string>{}, {"-u", k_ak + ":wrong-secret"}, {"-u", "NoSuchKey:" + k_aks}}) {
    std::vector<std::string> a{"curl",      "-sS", "--max-time",   "10", "-o",
                               "/dev/null", "-w",  "%{http_code}", url};
    a.insert(a.end(), creds.begin(), creds.end());
    const auto r = run(a);
    EXPECT_EQ(r.out, "401") << r.err;
  }
  const auto r = run({"curl", "-sS", "--max-time", "10", "-u", k_ak + ":" + k_aks, url});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out).contains("messages")) << r.out;
  // The health check carries nothing and stays open.
  EXPECT_EQ(run({"curl", "-sS", "--max-time", "10", emu->api_endpoint() + "/emu/health"}).out,
            "ok\n");
}

TEST_F(EmulatorTest, OperatorLoginSeesEverything) {
  std::vector<std::string> a{"mosquitto_sub",
                             "-h",
                             emu->host(),
                             "-p",
                             std::to_string(emu->mqtt_tcp_port()),
                             "-i",
                             "ops1",
                             "-u",
                             "operator/" + k_ak,
                             "-P",
                             k_aks,
                             "-t",
                             "#",
                             "-v",
                             "-C",
                             "1",
                             "-d"};
  Background ops([&] {
    auto b = a;
    b.insert(b.begin(), {"stdbuf", "-oL"});
    return b;
  }());
  ASSERT_TRUE(ops.wait_for("SUBACK", std::chrono::seconds(10))) << ops.err();
  ASSERT_EQ(pub(device_login(k_pk, "dev1", k_ds, "sha256", true, "o1"),
                "/" + k_pk + "/dev1/user/update", "for-the-operator")
                .status,
            0);
  EXPECT_TRUE(
      ops.wait_for("/" + k_pk + "/dev1/user/update for-the-operator", std::chrono::seconds(10)))
      << ops.out();
  a[8] = "operator/NoSuchKey";
  a.resize(13);
  auto r = run(a, {.timeout_s = 20});
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(EmulatorTest, RegistryChangesApplyToARunningEmulator) {
  ASSERT_EQ(emu->add_device(k_pk, "latecomer", k_ds).status, 0);
  auto r = pub(device_login(k_pk, "latecomer", k_ds), "/" + k_pk + "/latecomer/user/update", "hi");
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu->add_device(k_pk, "latecomer", k_ds, true).status, 0);
  r = pub(device_login(k_pk, "latecomer", k_ds), "/" + k_pk + "/latecomer/user/update", "hi");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
  // A custom topic category with all rights.
  ASSERT_EQ(emu->add_topic(k_pk, "user/cmd", "all").status, 0);
  EXPECT_EQ(pub(device_login(k_pk, "dev1", k_ds), "/" + k_pk + "/dev1/user/cmd", "custom").status,
            0);
  EXPECT_TRUE(seen("/" + k_pk + "/dev1/user/cmd", "custom"));
}

// ---- OpenAPI (signed by pop_sign.py, sent by curl) and RRPC ----

const std::string k_test_dir = ALIOT_EMU_TEST_DIR;

std::string b64(const std::string& s) {
  return sh("printf '%s' \"$P\" | base64 -w0", {.env = {{"P", s}}}).out;
}

struct ApiReply {
  int http = 0;
  json body;
};

class OpenApiTest : public EmulatorTest {
protected:
  static ApiReply api(const std::vector<std::string>& params,
                      const std::string& method = "GET",
                      const std::string& secret = k_aks,
                      const std::string& akid = k_ak,
                      const std::vector<std::string>& signer_flags = {}) {
    std::vector<std::string> a{"python3", k_test_dir + "/pop_sign.py", method, akid, secret};
    a.insert(a.end(), signer_flags.begin(), signer_flags.end());
    a.insert(a.end(), params.begin(), params.end());
    auto q = run(a);
    EXPECT_EQ(q.status, 0) << q.err;
    std::string query = q.out.substr(0, q.out.find('\n'));
    std::vector<std::string> curl{"curl", "-sS", "--max-time", "20", "-w", "\n%{http_code}"};
    if (method == "GET") {
      curl.push_back(emu->api_endpoint() + "/?" + query);
    } else {
      curl.insert(curl.end(),
                  {"-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                   "--data-binary", query, emu->api_endpoint() + "/"});
    }
    auto r = run(curl, {.timeout_s = 30});
    EXPECT_EQ(r.status, 0) << r.err;
    ApiReply out;
    const auto nl = r.out.rfind('\n');
    if (nl != std::string::npos) {
      out.http = std::atoi(r.out.c_str() + nl + 1);
      out.body = json::parse(r.out.substr(0, nl), nullptr, false);
    }
    return out;
  }

  // A raw-socket device (rrpc_device.py) subscribed to `filter`, answering with `prefix`.
  static std::unique_ptr<Background> responder(const std::string& dn,
                                               const std::string& filter,
                                               const std::string& prefix,
                                               const std::string& extra = "") {
    auto l = device_login(k_pk, dn, k_ds, "sha256", true, "", extra);
    auto b = std::make_unique<Background>(std::vector<std::string>{
        "python3", k_test_dir + "/rrpc_device.py", emu->host(),
        std::to_string(emu->mqtt_tcp_port()), l.client_id, l.username, l.password, filter, prefix});
    auto line = b->read_line(std::chrono::seconds(10));
    EXPECT_TRUE(line && *line == "SUBACK 0") << (line ? *line : "no line") << b->err();
    return b;
  }
};

TEST_F(OpenApiTest, GetAndPostFormAreBothVerified) {
  ASSERT_EQ(emu->add_device(k_pk, "stat1", k_ds).status, 0);
  for (const std::string& m : {std::string("GET"), std::string("POST")}) {
    auto r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=stat1"}, m);
    EXPECT_EQ(r.http, 200) << m << " " << r.body.dump();
    EXPECT_EQ(r.body["Success"], true) << r.body.dump();
    EXPECT_EQ(r.body["Data"]["Status"], "UNACTIVE") << r.body.dump();
  }
  auto r = api({"Action=QueryDeviceDetail", "ProductKey=" + k_pk, "DeviceName=stat1"});
  EXPECT_EQ(r.body["Data"]["DeviceSecret"], k_ds) << r.body.dump();
  EXPECT_EQ(r.body["Data"]["Status"], "UNACTIVE");
  // By IotId as well.
  const std::string iot = r.body["Data"]["IotId"];
  r = api({"Action=GetDeviceStatus", "IotId=" + iot});
  EXPECT_EQ(r.body["Success"], true) << r.body.dump();
  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=devoff"});
  EXPECT_EQ(r.body["Data"]["Status"], "DISABLE") << r.body.dump();
}

TEST_F(OpenApiTest, BadSignatureUnknownKeyStaleTimestampAndReusedNonceAreRefused) {
  auto r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=dev1"}, "GET",
               "wrong-secret");
  EXPECT_EQ(r.http, 400);
  EXPECT_EQ(r.body["Code"], "SignatureDoesNotMatch") << r.body.dump();
  EXPECT_TRUE(r.body.contains("RequestId") && r.body.contains("HostId")
              && r.body.contains("Recommend"));
  EXPECT_NE(r.body["Message"].get<std::string>().find("GET&%2F&"), std::string::npos);
  // The same request as a POST form is accepted.
  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=dev1"}, "POST");
  EXPECT_EQ(r.body["Success"], true);

  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=dev1"}, "GET", k_aks,
          "LTAInoSuchKey");
  EXPECT_EQ(r.http, 404);
  EXPECT_EQ(r.body["Code"], "InvalidAccessKeyId.NotFound") << r.body.dump();

  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=dev1"}, "GET", k_aks, k_ak,
          {"--timestamp", "2020-01-01T00:00:00Z"});
  EXPECT_EQ(r.http, 400);
  EXPECT_EQ(r.body["Code"], "InvalidTimeStamp.Expired") << r.body.dump();

  const std::vector<std::string> nonce{"--nonce", "fixed-nonce-for-replay-test"};
  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=dev1"}, "GET", k_aks, k_ak,
          nonce);
  EXPECT_EQ(r.body["Success"], true) << r.body.dump();
  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=dev1"}, "GET", k_aks, k_ak,
          nonce);
  EXPECT_EQ(r.http, 400);
  EXPECT_EQ(r.body["Code"], "SignatureNonceUsed") << r.body.dump();

  r = api({"Action=RRpc", "DeviceName=dev1", "RequestBase64Byte=" + b64("x"), "Timeout=1000"});
  EXPECT_EQ(r.body["Code"], "MissingProductKey") << r.body.dump();
  r = api({"Action=NoSuchAction"});
  EXPECT_EQ(r.body["Code"], "InvalidAction.NotFound") << r.body.dump();
}

TEST_F(OpenApiTest, RrpcSuccessTimeoutAndOffline) {
  ASSERT_EQ(emu->add_device(k_pk, "rrpc1", k_ds).status, 0);
  ASSERT_EQ(emu->add_device(k_pk, "rrpc2", k_ds).status, 0);
  ASSERT_EQ(emu->add_device(k_pk, "rrpc3", k_ds).status, 0);
  auto answering = responder("rrpc1", "/sys/" + k_pk + "/rrpc1/rrpc/request/+", "pong:");
  auto r = api({"Action=RRpc", "ProductKey=" + k_pk, "DeviceName=rrpc1",
                "RequestBase64Byte=" + b64("ping"), "Timeout=5000"});
  EXPECT_EQ(r.body["Success"], true) << r.body.dump();
  EXPECT_EQ(r.body["RrpcCode"], "SUCCESS") << r.body.dump();
  EXPECT_EQ(r.body["PayloadBase64Byte"], b64("pong:ping")) << r.body.dump();
  EXPECT_TRUE(r.body["MessageId"].is_number()) << r.body.dump();
  // The request went out on the system topic with that message id.
  auto line = answering->read_line(std::chrono::seconds(5));
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "REQUEST /sys/" + k_pk + "/rrpc1/rrpc/request/"
                       + std::to_string(r.body["MessageId"].get<std::uint64_t>()) + " ping");

  auto mute = responder("rrpc2", "/sys/" + k_pk + "/rrpc2/rrpc/request/+", "-");
  r = api({"Action=RRpc", "ProductKey=" + k_pk, "DeviceName=rrpc2",
           "RequestBase64Byte=" + b64("anyone?"), "Timeout=1000"});
  EXPECT_EQ(r.body["Success"], true) << r.body.dump();
  EXPECT_EQ(r.body["RrpcCode"], "TIMEOUT") << r.body.dump();
  EXPECT_FALSE(r.body.contains("PayloadBase64Byte"));

  r = api({"Action=RRpc", "ProductKey=" + k_pk, "DeviceName=rrpc3",
           "RequestBase64Byte=" + b64("hello"), "Timeout=1000"});
  EXPECT_EQ(r.body["RrpcCode"], "OFFLINE") << r.body.dump();

  r = api({"Action=RRpc", "ProductKey=" + k_pk, "DeviceName=rrpc1", "RequestBase64Byte=" + b64("x"),
           "Timeout=500"});
  EXPECT_EQ(r.body["Success"], false);
  EXPECT_EQ(r.body["Code"], "iot.messagebroker.InvalidTimeoutValue") << r.body.dump();
  r = api({"Action=RRpc", "ProductKey=" + k_pk, "DeviceName=nosuch",
           "RequestBase64Byte=" + b64("x"), "Timeout=1000"});
  EXPECT_EQ(r.body["Code"], "iot.device.NotExistedDevice") << r.body.dump();
}

TEST_F(OpenApiTest, CustomTopicRrpcNeedsExtBit) {
  ASSERT_EQ(emu->add_device(k_pk, "rrpc4", k_ds).status, 0);
  const std::string topic = "/" + k_pk + "/rrpc4/user/get";
  auto dev = responder("rrpc4", "/ext/rrpc/+" + topic, "custom:", ",ext=1");
  auto r = api({"Action=RRpc", "ProductKey=" + k_pk, "DeviceName=rrpc4",
                "RequestBase64Byte=" + b64("q"), "Timeout=5000", "Topic=" + topic});
  EXPECT_EQ(r.body["RrpcCode"], "SUCCESS") << r.body.dump();
  EXPECT_EQ(r.body["PayloadBase64Byte"], b64("custom:q"));
  auto line = dev->read_line(std::chrono::seconds(5));
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("REQUEST /ext/rrpc/", 0), 0U) << *line;
  EXPECT_NE(line->find(topic + " q"), std::string::npos) << *line;
}

TEST_F(OpenApiTest, PubReachesASubscribedDevice) {
  ASSERT_EQ(emu->add_device(k_pk, "pub1", k_ds).status, 0);
  auto a = mqtt_args("mosquitto_sub", device_login(k_pk, "pub1", k_ds));
  a.insert(a.end(), {"-t", "/" + k_pk + "/pub1/user/get", "-C", "1", "-d"});
  a.insert(a.begin(), {"stdbuf", "-oL"});
  Background sub(a);
  ASSERT_TRUE(sub.wait_for("SUBACK", std::chrono::seconds(10))) << sub.err();
  auto r = api({"Action=Pub", "ProductKey=" + k_pk, "TopicFullName=/" + k_pk + "/pub1/user/get",
                "MessageContent=" + b64("from the cloud"), "Qos=1"});
  EXPECT_EQ(r.body["Success"], true) << r.body.dump();
  EXPECT_TRUE(r.body["MessageId"].is_string());
  EXPECT_TRUE(sub.wait_for("from the cloud", std::chrono::seconds(10))) << sub.out();
  // A topic outside the product is refused.
  r = api({"Action=Pub", "ProductKey=" + k_pk, "TopicFullName=/a1Other0001/x/user/get",
           "MessageContent=" + b64("x")});
  EXPECT_EQ(r.body["Code"], "iot.messagebroker.InvalidFormattedTopicName") << r.body.dump();
}

TEST_F(OpenApiTest, RegisterDeviceThenLogIn) {
  auto r = api({"Action=RegisterDevice", "ProductKey=" + k_pk, "DeviceName=viaapi1"});
  ASSERT_EQ(r.body["Success"], true) << r.body.dump();
  const std::string ds = r.body["Data"]["DeviceSecret"];
  EXPECT_EQ(r.body["Data"]["DeviceName"], "viaapi1");
  EXPECT_EQ(
      pub(device_login(k_pk, "viaapi1", ds), "/" + k_pk + "/viaapi1/user/update", "hi").status, 0);
  r = api({"Action=RegisterDevice", "ProductKey=" + k_pk, "DeviceName=viaapi1"});
  EXPECT_EQ(r.body["Code"], "iot.device.AlreadyExistedDeviceName") << r.body.dump();
  r = api({"Action=GetDeviceStatus", "ProductKey=" + k_pk, "DeviceName=viaapi1"});
  EXPECT_EQ(r.body["Data"]["Status"], "OFFLINE") << r.body.dump(); // activated, gone again
}

// ---- dynamic registration: HTTPS (curl) and MQTT (mosquitto_sub) ----

class DynregTest : public EmulatorTest {
protected:
  static std::string dynreg_sign(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& random,
                                 const std::string& ps = k_ps,
                                 const std::string& alg = "sha256") {
    return openssl_hmac(alg, ps, "deviceName" + dn + "productKey" + pk + "random" + random);
  }

  static json https_register(const std::string& form, bool trust = true) {
    std::vector<std::string> a{"curl",
                               "-sS",
                               "--max-time",
                               "20",
                               "-X",
                               "POST",
                               "-H",
                               "Content-Type: application/x-www-form-urlencoded",
                               "--data-binary",
                               form,
                               emu->auth_endpoint() + "/auth/register/device"};
    if (trust) {
      a.insert(a.begin() + 1, {"--cacert", emu->ca_file()});
    }
    auto r = run(a, {.timeout_s = 30});
    if (r.status != 0) {
      return {{"curl_status", r.status}};
    }
    return json::parse(r.out, nullptr, false);
  }

  static json register_device(const std::string& pk,
                              const std::string& dn,
                              const std::string& random = "R4nd0m") {
    return https_register("productKey=" + pk + "&deviceName=" + dn + "&random=" + random
                          + "&sign=" + dynreg_sign(pk, dn, random) + "&signMethod=hmacsha256");
  }

  // MQTT dynamic registration over TLS with mosquitto_sub; returns its stdout (the reply).
  static ProcResult mqtt_register(const std::string& dn,
                                  const std::string& auth_type,
                                  const std::string& ps = k_ps,
                                  bool tls = true) {
    const std::string random = "12345";
    std::vector<std::string> a{"mosquitto_sub",
                               "-h",
                               emu->host(),
                               "-p",
                               std::to_string(tls ? emu->mqtt_tls_port() : emu->mqtt_tcp_port()),
                               "-i",
                               dn + "." + k_pk + "|random=" + random + ",authType=" + auth_type
                                   + ",securemode=2,signmethod=hmacsha256|",
                               "-u",
                               dn + "&" + k_pk,
                               "-P",
                               dynreg_sign(k_pk, dn, random, ps),
                               "-t",
                               "/ext/" + auth_type,
                               "-C",
                               "1",
                               "-W",
                               "10",
                               "-V",
                               "mqttv311"};
    if (tls) {
      a.insert(a.end(), {"--cafile", emu->ca_file()});
    }
    return run(a, {.timeout_s = 30});
  }
};

TEST_F(DynregTest, HttpsRegistrationIssuesANewSecretUntilTheFirstLogin) {
  ASSERT_EQ(emu->add_device(k_pk, "reg1", k_ds).status, 0);
  auto j = register_device(k_pk, "reg1");
  ASSERT_EQ(j["code"], 200) << j.dump();
  EXPECT_EQ(j["message"], "success");
  EXPECT_EQ(j["data"]["productKey"], k_pk);
  EXPECT_EQ(j["data"]["deviceName"], "reg1");
  const std::string first = j["data"]["deviceSecret"];
  j = register_device(k_pk, "reg1", "another");
  ASSERT_EQ(j["code"], 200) << j.dump();
  const std::string second = j["data"]["deviceSecret"];
  EXPECT_NE(first, second);
  // Only the latest secret is valid; logging in with it activates the device.
  auto r = pub(device_login(k_pk, "reg1", first), "/" + k_pk + "/reg1/user/update", "x");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
  r = pub(device_login(k_pk, "reg1", second), "/" + k_pk + "/reg1/user/update", "x");
  EXPECT_EQ(r.status, 0) << r.err;
  j = register_device(k_pk, "reg1");
  EXPECT_EQ(j["code"], 409) << j.dump();
}

TEST_F(DynregTest, HttpsRegistrationErrors) {
  ASSERT_EQ(emu->add_device(k_pk, "reg2", k_ds).status, 0);
  auto j =
      https_register("productKey=" + k_pk + "&deviceName=reg2&random=abc&sign="
                     + dynreg_sign(k_pk, "reg2", "abc", "wrong-ps") + "&signMethod=hmacsha256");
  EXPECT_EQ(j["code"], 401) << j.dump();
  EXPECT_EQ(j["message"], "request auth error");
  j = https_register("productKey=" + k_pk + "&deviceName=reg2&random=abc&signMethod=hmacsha256");
  EXPECT_EQ(j["code"], 460) << j.dump();
  EXPECT_EQ(j["message"], "request parameter error");
  j = https_register("productKey=" + k_pk + "&deviceName=reg2&random=abc&sign=00&signMethod=rot13");
  EXPECT_EQ(j["code"], 460) << j.dump();
  j = register_device(k_pk, "notpreregistered");
  EXPECT_EQ(j["code"], 404) << j.dump();
  ASSERT_EQ(emu->add_product("a1NoDynReg1", k_ps, false).status, 0);
  ASSERT_EQ(emu->add_device("a1NoDynReg1", "reg3", k_ds).status, 0);
  j = register_device("a1NoDynReg1", "reg3");
  EXPECT_EQ(j["code"], 403) << j.dump();
  // md5 and sha1 signs work as well.
  for (const std::string& alg : {std::string("md5"), std::string("sha1")}) {
    j = https_register("productKey=" + k_pk + "&deviceName=reg2&random=r&sign="
                       + dynreg_sign(k_pk, "reg2", "r", k_ps, alg) + "&signMethod=hmac" + alg);
    EXPECT_EQ(j["code"], 200) << alg << " " << j.dump();
  }
  // curl does not trust the emulator without its CA (exit 60).
  j = https_register("productKey=x", false);
  EXPECT_EQ(j["curl_status"], 60) << j.dump();
}

TEST_F(DynregTest, MqttRegisterRepliesOnExtRegister) {
  ASSERT_EQ(emu->add_device(k_pk, "mreg1", k_ds).status, 0);
  auto r = mqtt_register("mreg1", "register");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["productKey"], k_pk);
  EXPECT_EQ(j["deviceName"], "mreg1");
  EXPECT_EQ(r.out.find(": "), std::string::npos) << "compact JSON (quirk Q2): " << r.out;
  const std::string ds = j["deviceSecret"];
  EXPECT_EQ(pub(device_login(k_pk, "mreg1", ds), "/" + k_pk + "/mreg1/user/update", "x").status, 0);
  // Activated: registration is refused now; so is a wrong ProductSecret.
  r = mqtt_register("mreg1", "register");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
  ASSERT_EQ(emu->add_device(k_pk, "mreg2", k_ds).status, 0);
  r = mqtt_register("mreg2", "register", "wrong-ps");
  EXPECT_NE(r.err.find("not authorised"), std::string::npos) << r.err;
}

TEST_F(DynregTest, MqttRegnwlGivesATokenForConnwlLogins) {
  auto r = mqtt_register("nwl1", "regnwl");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["productKey"], k_pk);
  EXPECT_EQ(j["deviceName"], "nwl1");
  const std::string cid = j["clientId"];
  const std::string token = j["deviceToken"];
  EXPECT_LE(cid.size(), 64U);
  Login l{cid + "|securemode=-2,authType=connwl|", "nwl1&" + k_pk, token};
  auto p = pub(l, "/" + k_pk + "/nwl1/user/update", "with-token");
  EXPECT_EQ(p.status, 0) << p.err;
  EXPECT_TRUE(seen("/" + k_pk + "/nwl1/user/update", "with-token"));
  l.password = "wrong-token";
  p = pub(l, "/" + k_pk + "/nwl1/user/update", "x");
  EXPECT_NE(p.err.find("not authorised"), std::string::npos) << p.err;
}

// The platform serves MQTT registration over TLS only; the emulator's plain listener refuses it
// (CONNACK 5, the only refusal a mosquitto 2.0.11 plugin can give) with correct credentials.
TEST_F(DynregTest, MqttRegistrationIsRefusedOnTheTcpPortAndAnsweredOnTheTlsPort) {
  ASSERT_EQ(emu->add_device(k_pk, "tcpreg1", k_ds).status, 0);
  for (const char* type : {"register", "regnwl"}) {
    auto r = mqtt_register("tcpreg1", type, k_ps, false);
    EXPECT_NE(r.status, 0) << type;
    EXPECT_NE(r.err.find("not authorised"), std::string::npos) << type << ": " << r.err;
    EXPECT_EQ(r.out, "") << type;
  }
  const auto log = sh("cat \"$D/mosquitto.log\"", {.env = {{"D", emu->dir()}}}).out;
  EXPECT_NE(log.find("dynamic registration needs the TLS port"), std::string::npos) << log;
  // Not consumed by the refused attempt: the same device registers over TLS.
  auto r = mqtt_register("tcpreg1", "register");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["deviceName"], "tcpreg1");
  EXPECT_EQ(j["deviceSecret"].get<std::string>().size(), 32U);
}

// A peer restricted the way small devices are (the LinkSDK's mbedtls: TLS 1.2, RSA signatures
// with SHA-256, no ECDHE) completes the handshake with both TLS endpoints and verifies the chain
// against the emulator's CA.
TEST_F(EmulatorTest, AnRsaOnlyTls12PeerVerifiesBothTlsEndpoints) {
  if (!aliot::test::have_program("openssl")) {
    GTEST_SKIP() << "openssl is needed";
  }
  const std::string https = emu->auth_endpoint().substr(emu->auth_endpoint().rfind(':') + 1);
  for (const std::string& port : {std::to_string(emu->mqtt_tls_port()), https}) {
    auto r = sh("openssl s_client -connect 127.0.0.1:" + port
                    + " -tls1_2 -sigalgs RSA+SHA256 -cipher AES128-SHA256 -CAfile \"$CA\""
                      " -verify_return_error -servername localhost </dev/null 2>&1",
                {.env = {{"CA", emu->ca_file()}}, .timeout_s = 20});
    EXPECT_EQ(r.status, 0) << port << ": " << r.out;
    EXPECT_NE(r.out.find("Verify return code: 0 (ok)"), std::string::npos) << port << ": " << r.out;
    EXPECT_NE(r.out.find("Cipher is AES128-SHA256"), std::string::npos) << port << ": " << r.out;
    EXPECT_NE(r.out.find("Protocol  : TLSv1.2"), std::string::npos) << port << ": " << r.out;
    EXPECT_NE(r.out.find("Server public key is 2048 bit"), std::string::npos)
        << port << ": " << r.out;
  }
}

// `aliot connect` names the server's key type and signature algorithm: what a device's TLS stack
// must support.
TEST_F(EmulatorTest, ConnectReportsTheServerKeyAndSignatureAlgorithm) {
  auto env = emu->env();
  env["ALIOT_DEVICE_SECRET"] = k_ds;
  auto r = aliot::test::run_aliot({"connect", "-k", k_pk, "-d", "dev1", "-o", "json"},
                                  {.env = env, .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  const json* tls = nullptr;
  for (const auto& s : j["stages"]) {
    if (s["stage"] == "tls") {
      tls = &s;
    }
  }
  ASSERT_NE(tls, nullptr) << r.out;
  EXPECT_EQ((*tls)["key"], "RSA 2048") << tls->dump();
  EXPECT_EQ((*tls)["signature_algorithm"], "sha256WithRSAEncryption") << tls->dump();
  ASSERT_FALSE((*tls)["chain"].empty()) << tls->dump();
  EXPECT_EQ((*tls)["chain"][0]["key"], "RSA 2048");
  auto t =
      aliot::test::run_aliot({"connect", "-k", k_pk, "-d", "dev1"}, {.env = env, .timeout_s = 30});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("RSA 2048 key, sha256WithRSAEncryption"), std::string::npos) << t.out;
}

// ---- the launcher and the registry verbs ----

using aliot::test::port_open;

std::string export_value(const std::string& out, const std::string& key) {
  const auto pos = out.find("export " + key + "=");
  if (pos == std::string::npos) {
    return {};
  }
  const auto start = pos + key.size() + 8;
  return out.substr(start, out.find('\n', start) - start);
}

TEST(EmulatorLauncher, MissingMosquittoIsOneClearError) {
  aliot::test::TempDir tmp;
  auto r = aliot::test::run_aliot(
      {"emulate", "cloud", "--dir", tmp.file("state")},
      {.env = {{"ALIOT_MOSQUITTO", "/nonexistent/mosquitto"}}, .timeout_s = 20});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("aliot: error: cannot start the emulator: the mosquitto broker is not "
                       "installed"),
            std::string::npos)
      << r.err;
}

TEST(EmulatorLauncher, BusyPortIsOneClearError) {
  aliot::test::TempDir tmp;
  // Hold a port with a listening socket of our own.
  Background holder({"python3", "-c",
                     "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\n"
                     "s.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"});
  auto port = holder.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port);
  auto r = aliot::test::run_aliot(
      {"emulate", "cloud", "--dir", tmp.file("state"), "--mqtt-port", *port}, {.timeout_s = 20});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("port " + *port + " (--mqtt-port) on 127.0.0.1 is busy"), std::string::npos)
      << r.err;
}

TEST(EmulatorLauncher, MissingDirIsAUsageError) {
  auto r = aliot::test::run_aliot({"emulate", "cloud", "add-product", "-k", "a1EmuPK0001"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--dir is required"), std::string::npos) << r.err;
}

// The add-* verbs make --dir owner-only at once, under umask 000 too (it holds registry.db).
TEST(EmulatorLauncher, AddVerbsMakeTheStateDirOwnerOnlyUnderUmask000) {
  aliot::test::TempDir tmp;
  const std::string dir = tmp.file("state");
  auto r = sh("umask 000 && \"$ALIOT\" emulate cloud add-product --dir \"$D\" -k a1EmuPK0001",
              {.env = {{"ALIOT", aliot::test::aliot_bin()}, {"D", dir}}});
  ASSERT_EQ(r.status, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
}

// kill -9 of the launcher alone: the broker goes too (the plugin asked for SIGTERM when its parent
// dies), so no broker is left holding the ports and the state directory.
TEST(EmulatorLauncher, TheBrokerDoesNotOutliveAKilledLauncher) {
  aliot::test::TempDir tmp;
  Background emu({aliot::test::aliot_bin(), "emulate", "cloud", "--dir", tmp.file("state")});
  auto out = emu.wait_for("ALIOT_API_ENDPOINT", std::chrono::seconds(20));
  ASSERT_TRUE(out) << emu.err();
  const int port = std::stoi(export_value(*out, "ALIOT_MQTT_TCP_PORT"));
  ASSERT_TRUE(port_open(port));
  ::kill(emu.pid(), SIGKILL);
  ASSERT_TRUE(emu.wait(std::chrono::seconds(10)));
  bool closed = false;
  for (int i = 0; i < 500 && !closed; ++i) {
    closed = !port_open(port);
    if (!closed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(closed) << "mosquitto still listens on " << port << " after its launcher died";
}

TEST(EmulatorLauncher, SigtermStopsCleanlyAndStateSurvivesARestart) {
  aliot::test::TempDir tmp;
  const std::string dir = tmp.file("state");
  std::string tcp_port;
  {
    Background emu({aliot::test::aliot_bin(), "emulate", "cloud", "--dir", dir});
    auto out = emu.wait_for("ALIOT_API_ENDPOINT", std::chrono::seconds(20));
    ASSERT_TRUE(out) << emu.err();
    tcp_port = export_value(*out, "ALIOT_MQTT_TCP_PORT");
    ASSERT_TRUE(port_open(std::stoi(tcp_port)));
    EXPECT_EQ(aliot::test::run_aliot({"emulate", "cloud", "add-product", "--dir", dir, "-k", k_pk},
                                     {.env = {{"ALIOT_PRODUCT_SECRET", k_ps}}})
                  .status,
              0);
    EXPECT_EQ(aliot::test::run_aliot(
                  {"emulate", "cloud", "add-device", "--dir", dir, "-k", k_pk, "-d", "keep1"},
                  {.env = {{"ALIOT_DEVICE_SECRET", k_ds}}})
                  .status,
              0);
    emu.signal(SIGTERM);
    auto st = emu.wait(std::chrono::seconds(10));
    ASSERT_TRUE(st);
    EXPECT_EQ(*st, 0) << emu.err();
  }
  EXPECT_FALSE(port_open(std::stoi(tcp_port))) << "mosquitto still listening";
  Background again({aliot::test::aliot_bin(), "emulate", "cloud", "--dir", dir});
  auto out = again.wait_for("ALIOT_API_ENDPOINT", std::chrono::seconds(20));
  ASSERT_TRUE(out) << again.err();
  const auto l = device_login(k_pk, "keep1", k_ds);
  auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", export_value(*out, "ALIOT_MQTT_PORT"),
                "--cafile", export_value(*out, "ALIOT_CA_FILE"), "-i", l.client_id, "-u",
                l.username, "-P", l.password, "-k", "60", "-t", "/" + k_pk + "/keep1/user/update",
                "-m", "after-restart"},
               {.timeout_s = 20});
  EXPECT_EQ(r.status, 0) << r.err;
  again.signal(SIGINT);
  auto st = again.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 0);
}

// A state directory made with EC P-256 certificates gets RSA ones on the next start.
TEST(EmulatorLauncher, EcCertificatesOfAnOlderStateDirAreReplacedByRsa) {
  aliot::test::TempDir tmp;
  const std::string dir = tmp.file("state");
  ASSERT_EQ(
      sh("mkdir -p \"$D\" && cd \"$D\" && openssl req -x509 -newkey ec -pkeyopt "
         "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=old"
         " && cp ca.pem server.pem && cp ca.key server.key",
         {.env = {{"D", dir}}, .timeout_s = 30})
          .status,
      0);
  Background emu({aliot::test::aliot_bin(), "emulate", "cloud", "--dir", dir});
  auto out = emu.wait_for("ALIOT_API_ENDPOINT", std::chrono::seconds(30));
  ASSERT_TRUE(out) << emu.err();
  for (const std::string f : {"ca.pem", "server.pem"}) {
    auto r = sh("openssl x509 -noout -text -in \"$F\"", {.env = {{"F", dir + "/" + f}}});
    EXPECT_NE(r.out.find("Public Key Algorithm: rsaEncryption"), std::string::npos) << f;
    EXPECT_NE(r.out.find("Public-Key: (2048 bit)"), std::string::npos) << f;
    EXPECT_NE(r.out.find("Signature Algorithm: sha256WithRSAEncryption"), std::string::npos) << f;
  }
  auto san = sh("openssl x509 -noout -ext subjectAltName -in \"$F\"",
                {.env = {{"F", dir + "/server.pem"}}});
  EXPECT_NE(san.out.find("DNS:localhost"), std::string::npos) << san.out;
  EXPECT_NE(san.out.find("IP Address:127.0.0.1"), std::string::npos) << san.out;
  auto verify = run({"openssl", "verify", "-CAfile", dir + "/ca.pem", dir + "/server.pem"});
  EXPECT_EQ(verify.status, 0) << verify.out << verify.err;
  emu.signal(SIGTERM);
  auto st = emu.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 0);
}

TEST(EmulatorRegistry, VerbsValidateAndRecord) {
  aliot::test::TempDir tmp;
  const std::string dir = tmp.file("state");
  auto run_v = [&](std::vector<std::string> args, aliot::test::Env env = {}) {
    args.insert(args.begin(), {"emulate", "cloud"});
    args.insert(args.begin() + 3, {"--dir", dir});
    return aliot::test::run_aliot(args, {.env = std::move(env)});
  };
  auto r = run_v({"add-device", "-k", k_pk, "-d", "dev1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("product " + k_pk + " is not in the emulator registry"), std::string::npos)
      << r.err;
  r = run_v({"add-product", "-k", k_pk});
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = json::parse(r.out); // generated secret printed
  EXPECT_EQ(j["ProductKey"], k_pk);
  EXPECT_FALSE(j["ProductSecret"].get<std::string>().empty());
  const std::string ps = j["ProductSecret"];
  r = run_v({"add-product", "-k", k_pk, "--dynamic-registration", "off"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "") << "an update prints no new secret";
  {
    aliot::emu::Registry reg(dir);
    auto before = reg.load();
    ASSERT_TRUE(before) << before.error().message();
    const auto* p = (*before)->product(k_pk);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->secret, ps) << "kept when none is given";
    EXPECT_FALSE(p->dynreg);
  }
  r = run_v({"add-device", "-k", k_pk, "-d", "dev1"});
  ASSERT_EQ(r.status, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["DeviceName"], "dev1");
  EXPECT_EQ(j["DeviceSecret"].get<std::string>().size(), 32U);
  r = run_v({"add-device", "-k", k_pk, "-d", "x"});
  EXPECT_EQ(r.status, 2) << "DeviceName too short";
  r = run_v({"add-access-key", "--access-key-id", "LTAIgen"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["AccessKeyId"], "LTAIgen");
  r = run_v({"add-topic", "-k", k_pk, "--topic", "user/+/data", "--access", "pub"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("wildcards are allowed only with --access sub"), std::string::npos);
  r = run_v({"add-topic", "-k", k_pk, "--topic", "user/bad-level", "--access", "sub"});
  EXPECT_EQ(r.status, 2);
  r = run_v({"add-topic", "-k", k_pk, "--topic", "user/+/data", "--access", "sub"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_v({"add-topic", "-k", k_pk, "--topic", "user/cmd", "--access", "rw"});
  EXPECT_EQ(r.status, 2);
  r = run_v({"add-consumer-group", "-k", k_pk, "--consumer-group", "DEFAULT_GROUP"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_v({"add-consumer-group", "-k", k_pk, "--consumer-group", "DEFAULT_GROUP"});
  EXPECT_EQ(r.status, 0) << r.err;
  aliot::emu::Registry reg(dir);
  auto view = reg.load();
  ASSERT_TRUE(view) << view.error().message();
  const auto* p = (*view)->product(k_pk);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->consumer_groups, std::vector<std::string>{"DEFAULT_GROUP"});
  EXPECT_EQ(p->cats.size(), 4U);
  const auto* d = (*view)->device(k_pk, "dev1");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->enabled);
  EXPECT_EQ((*view)->access_keys.at("LTAIgen").size(), 30U);
}

} // namespace

namespace {

TEST(EmulatorRegistry, NamesAddsABatchWholeOrNotAtAll) {
  aliot::test::TempDir tmp;
  const std::string dir = tmp.file("state");
  auto run_v = [&](std::vector<std::string> args, std::string input = {}) {
    args.insert(args.begin(), {"emulate", "cloud"});
    args.insert(args.begin() + 3, {"--dir", dir});
    return aliot::test::run_aliot(args, {.input = std::move(input)});
  };
  ASSERT_EQ(run_v({"add-product", "-k", k_pk}).status, 0);
  ASSERT_EQ(run_v({"add-device", "-k", k_pk, "-d", "taken1"}).status, 0);
  auto nothing_added = [&] {
    aliot::emu::Registry reg(dir);
    return reg.current()->device(k_pk, "batch1") == nullptr;
  };

  auto r = run_v({"add-device", "-k", k_pk, "--names", "-"}, "batch1\n# comment\n\nbatch2\nx\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--names - line 5: "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(nothing_added());
  r = run_v({"add-device", "-k", k_pk, "--names", "-"}, "batch1\nbatch2\nbatch1\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("line 3: DeviceName batch1 repeats line 1"), std::string::npos) << r.err;
  EXPECT_TRUE(nothing_added());
  r = run_v({"add-device", "-k", k_pk, "--names", "-"}, "batch1\ntaken1\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("line 2: device " + k_pk + "/taken1 is already in the emulator registry"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(nothing_added());
  r = run_v({"add-device", "-k", k_pk, "--names", "-"},
            "DeviceName,Note\nbatch1,the batch1 note\n# taken1\n\"taken1\",n\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--names - line 4: device " + k_pk + "/taken1"), std::string::npos)
      << "the line of the CSV row, not of a comment: " << r.err;
  EXPECT_TRUE(nothing_added());
  r = run_v({"add-device", "-k", k_pk, "-d", "dev9", "--names", "-"}, "batch1\n");
  EXPECT_EQ(r.status, 2) << "-d and --names exclude each other";
  r = run_v({"add-device", "-k", k_pk});
  EXPECT_EQ(r.status, 2) << "neither -d nor --names";

  // The console's CSV: a DeviceName column.
  std::string csv = "\xEF\xBB\xBF"
                    "DeviceName,Note\n";
  for (int i = 1; i <= 300; ++i) {
    csv += "batch" + std::to_string(i) + ",n\n";
  }
  tmp.write("devices.csv", csv);
  r = run_v({"add-device", "-k", k_pk, "--names", tmp.file("devices.csv"), "--disabled"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("300 devices added"), std::string::npos) << r.err;
  std::vector<json> lines;
  std::size_t start = 0;
  for (auto nl = r.out.find('\n'); nl != std::string::npos; nl = r.out.find('\n', start)) {
    lines.push_back(json::parse(r.out.substr(start, nl - start)));
    start = nl + 1;
  }
  ASSERT_EQ(lines.size(), 300U);
  aliot::emu::Registry reg(dir);
  auto view = reg.current();
  for (const auto& j : lines) {
    EXPECT_EQ(j["ProductKey"], k_pk);
    const auto* d = view->device(k_pk, j["DeviceName"].get<std::string>());
    ASSERT_NE(d, nullptr) << j.dump();
    EXPECT_EQ(j["DeviceSecret"].get<std::string>(), d->secret) << "the triplet printed works";
    EXPECT_EQ(d->secret.size(), 32U);
    EXPECT_FALSE(d->enabled);
  }
  EXPECT_EQ(lines.back()["DeviceName"], "batch300");
}

} // namespace
