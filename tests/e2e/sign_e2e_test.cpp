// `aliot sign` from the command line against every Set A password, and against a password
// computed independently by `openssl dgst -hmac` in the test.
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace aliot::test;
using nlohmann::json;

namespace {

std::string openssl_hmac(const std::string& alg, const std::string& key, const std::string& msg) {
  auto r = run({"openssl", "dgst", "-" + alg, "-hmac", key, "-r"}, {.input = msg});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out.substr(0, r.out.find(' '));
}

} // namespace

TEST(SignCli, ReproducesEverySetAPasswordFromTheCommandLine) {
  std::ifstream f(std::string(ALIOT_TEST_DATA) + "/vectors-a.json");
  const json all = json::parse(f);
  TempDir dir;
  int n = 0;
  for (const auto& v : all["vectors"]) {
    if (v["scheme"] != "mqtt_password") {
      continue;
    }
    SCOPED_TRACE(v["sign_content"].dump());
    const auto& in = v["inputs"];
    const std::string secret_file = dir.write("ds", in["deviceSecret"].get<std::string>() + "\n");
    std::vector<std::string> args{
        "sign",           "-o",          "json",           "-k",
        in["productKey"], "-d",          in["deviceName"], "--device-secret-file",
        secret_file,      "--client-id", in["clientId"],   "--sign-method",
        v["signmethod"]};
    if (in["timestamp"].is_null()) {
      args.emplace_back("--no-timestamp");
    } else {
      args.emplace_back("--timestamp");
      args.push_back(in["timestamp"]);
    }
    auto r = run_aliot(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["password"], v["password"]);
    EXPECT_EQ(out["username"], "FakeDevice01&a1FakePK001");
    EXPECT_EQ(out["host"], "a1FakePK001.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_EQ(out["port"], 1883);
    EXPECT_EQ(out["tls"], true);
    // Exactly the documented keys.
    EXPECT_EQ(out.size(), 6U);
    ++n;
  }
  EXPECT_EQ(n, 7);
}

TEST(SignCli, PasswordMatchesOpensslForEveryMethod) {
  TempDir dir;
  const std::string secret = "e2eSecretValue0123456789abcdefAB";
  const std::string sf = dir.write("ds", secret);
  for (const auto& [method, alg] :
       {std::pair{"hmacsha256", "sha256"}, {"hmacsha1", "sha1"}, {"hmacmd5", "md5"}}) {
    auto r =
        run_aliot({"sign", "-o", "json", "-k", "pkE2E", "-d", "devE2E01", "--device-secret-file",
                   sf, "--sign-method", method, "--timestamp", "1234567890123"});
    ASSERT_EQ(r.status, 0) << r.err;
    const json out = json::parse(r.out);
    const std::string content =
        "clientIdpkE2E.devE2E01deviceNamedevE2E01productKeypkE2Etimestamp1234567890123";
    EXPECT_EQ(out["password"], lower(openssl_hmac(alg, secret, content))) << method;
    EXPECT_EQ(out["clientId"], std::string("pkE2E.devE2E01|securemode=2,signmethod=") + method
                                   + ",timestamp=1234567890123|");
  }
}

TEST(SignCli, ForMosquittoPrintsClientArguments) {
  TempDir dir;
  const std::string sf = dir.write("ds", "abc");
  auto r = run_aliot({"sign", "--for", "mosquitto", "-k", "pk1", "-d", "dev0001",
                      "--device-secret-file", sf, "--host", "127.0.0.1", "--port", "8883",
                      "--ca-file", "/tmp/ca.pem", "--no-timestamp"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("-h 127.0.0.1 -p 8883 -i 'pk1.dev0001|securemode=2,signmethod=hmacsha256|' "
                       "-u 'dev0001&pk1' -P "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--cafile /tmp/ca.pem"), std::string::npos);
}

TEST(SignCli, TripletFileAndEnvironmentOverrides) {
  TempDir dir;
  const std::string t = dir.write(
      "t.json",
      R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","DeviceSecret":"S3cr3tFakeDeviceSecretA000000001"})");
  auto r = run_aliot({"sign", "-o", "json", "--triplet", t, "--tcp", "--sign-method", "hmacmd5",
                      "--no-timestamp", "--client-id", "a1FakePK001&FakeDevice01"},
                     {.env = {{"ALIOT_MQTT_HOST", "127.0.0.1"},
                              {"ALIOT_MQTT_TCP_PORT", "18830"},
                              {"ALIOT_MQTT_PORT", "18831"}}});
  ASSERT_EQ(r.status, 0) << r.err;
  const json out = json::parse(r.out);
  EXPECT_EQ(out["password"], "2c3137a737612723f99491f7cf1d2ea4"); // A-MQTT-6
  EXPECT_EQ(out["host"], "127.0.0.1");
  EXPECT_EQ(out["port"], 18830);
  EXPECT_EQ(out["tls"], false);
  EXPECT_EQ(out["clientId"], "a1FakePK001&FakeDevice01|securemode=3,signmethod=hmacmd5|");
}

TEST(SignCli, InstanceHostAndRegionHost) {
  TempDir dir;
  const std::string sf = dir.write("ds", "abc");
  auto r = run_aliot({"sign", "-o", "json", "-k", "pk1", "-d", "dev0001", "--device-secret-file",
                      sf, "--instance", "iot-06zfakeA001"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["host"], "iot-06zfakeA001.mqtt.iothub.aliyuncs.com");
  r = run_aliot({"sign", "-o", "json", "-k", "pk1", "-d", "dev0001", "--device-secret-file", sf,
                 "--region", "ap-southeast-1"});
  EXPECT_EQ(json::parse(r.out)["host"], "pk1.iot-as-mqtt.ap-southeast-1.aliyuncs.com");
}
