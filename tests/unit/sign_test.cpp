// The signing code against every Set A vector of the protocol spec (section 10,
// tests/data/vectors-a.json) and its negative checks (A.6).
#include "unwrap.hpp"

#include <aliot/sign.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace aliot;
using nlohmann::json;

namespace {

json vectors(const std::string& scheme) {
  std::ifstream f(std::string(ALIOT_TEST_DATA) + "/vectors-a.json");
  json all = json::parse(f);
  json out = json::array();
  for (const auto& v : all["vectors"]) {
    if (v["scheme"] == scheme) {
      out.push_back(v);
    }
  }
  return out;
}

// The CONNECT fields a vector records (their key names differ between reference SDKs).
json connect_of(const json& v) {
  const json& c = v.contains("sdk_mqtt_connect") ? v["sdk_mqtt_connect"] : v["mqtt_connect"];
  json out;
  out["clientId"] = c.contains("clientId") ? c["clientId"] : c["linksdk4_clientId"];
  out["username"] = c["username"];
  out["password"] = c.contains("password") ? c["password"] : c["sdk_password_as_sent"];
  return out;
}

sign::Method method_of(const json& v, const char* key) {
  return *sign::parse_method(v[key].get<std::string>());
}

} // namespace

TEST(SignVectors, EveryMqttPasswordVector) {
  const auto vs = vectors("mqtt_password");
  ASSERT_EQ(vs.size(), 7U);
  for (const auto& v : vs) {
    SCOPED_TRACE(v["sign_content"].get<std::string>());
    const auto& in = v["inputs"];
    std::optional<std::string> ts;
    if (!in["timestamp"].is_null()) {
      ts = in["timestamp"].get<std::string>();
    }
    const std::string pk = in["productKey"];
    const std::string dn = in["deviceName"];
    const std::string cid = in["clientId"];
    const auto content = sign::mqtt_sign_content(
        pk, dn, cid, ts ? std::optional<std::string_view>(*ts) : std::nullopt);
    EXPECT_EQ(content, v["sign_content"].get<std::string>());
    const Secret ds(in["deviceSecret"].get<std::string>());
    EXPECT_EQ(test::unwrap(sign::mqtt_password(method_of(v, "signmethod"), ds, content)),
              v["password"].get<std::string>());
    // The whole credential set, as the SDKs would send it.
    sign::MqttParams p;
    p.product_key = pk;
    p.device_name = dn;
    p.client_id = cid;
    p.method = method_of(v, "signmethod");
    p.timestamp = ts;
    const auto cred = test::unwrap(sign::mqtt_credentials(p, ds));
    EXPECT_EQ(cred.username, connect_of(v)["username"].get<std::string>());
    EXPECT_TRUE(
        sign::digest_equal(cred.password.reveal(), connect_of(v)["password"].get<std::string>()));
    // What the SDK sent parses back to the same id and sign inputs.
    auto parsed = sign::parse_client_id(connect_of(v)["clientId"].get<std::string>());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->client_id, cid);
    EXPECT_EQ(parsed->option("timestamp"), ts);
    EXPECT_EQ(parsed->option("SIGNMETHOD"), v["signmethod"].get<std::string>());
  }
}

TEST(SignVectors, NegativeChecks) {
  const Secret ds("S3cr3tFakeDeviceSecretA000000001");
  // A-MQTT-3 with the hex case flipped still matches; one digit changed does not.
  const std::string a3 = "49c6d69e030e699bba638d0aa59ec775567a5465cdd847be3d05219a5b7ba7df";
  EXPECT_TRUE(
      sign::digest_equal(a3, "49C6D69E030E699BBA638D0AA59EC775567A5465CDD847BE3D05219A5B7BA7DF"));
  EXPECT_FALSE(
      sign::digest_equal(a3, "59c6d69e030e699bba638d0aa59ec775567a5465cdd847be3d05219a5b7ba7df"));
  // A-MQTT-1's SHA-1 password is not the SHA-256 one (Node SDK quirk Q1).
  const auto content = sign::mqtt_sign_content("a1FakePK001", "FakeDevice01",
                                               "a1FakePK001&FakeDevice01", "1700000000000");
  EXPECT_NE(test::unwrap(sign::mqtt_password(sign::Method::hmacsha256, ds, content)),
            "1b687f2fca4ac220d1e3d740fbd8c2eb533ee457");
  // A-MQTT-6 with a timestamp added to the content no longer matches.
  const auto with_ts =
      sign::mqtt_sign_content("a1FakePK001", "FakeDevice01", "a1FakePK001&FakeDevice01", "1");
  EXPECT_NE(test::unwrap(sign::mqtt_password(sign::Method::hmacmd5, ds, with_ts)),
            "2c3137a737612723f99491f7cf1d2ea4");
}

TEST(SignVectors, EveryHttpsDynregVector) {
  const auto vs = vectors("dynreg_https_sign");
  ASSERT_EQ(vs.size(), 3U);
  for (const auto& v : vs) {
    const auto& in = v["inputs"];
    EXPECT_EQ(sign::dynreg_sign_content(in["productKey"].get<std::string>(),
                                        in["deviceName"].get<std::string>(),
                                        in["random"].get<std::string>()),
              v["sign_content"].get<std::string>());
    EXPECT_EQ(test::unwrap(sign::dynreg_sign(
                  method_of(v, "signmethod"), Secret(in["productSecret"].get<std::string>()),
                  in["productKey"].get<std::string>(), in["deviceName"].get<std::string>(),
                  in["random"].get<std::string>())),
              v["sign"].get<std::string>());
  }
}

TEST(SignVectors, MqttDynregVectorsReproduceTheConnectPacket) {
  const auto vs = vectors("dynreg_mqtt");
  ASSERT_EQ(vs.size(), 3U);
  for (const auto& v : vs) {
    SCOPED_TRACE(v.dump());
    const auto& in = v["inputs"];
    auto parsed = sign::parse_client_id(v["mqtt_connect"]["clientId"].get<std::string>());
    ASSERT_TRUE(parsed);
    const auto auth = parsed->option("authType");
    ASSERT_TRUE(auth);
    sign::DynregMqttParams p;
    p.product_key = in["productKey"];
    p.device_name = in["deviceName"];
    p.random = in["random"];
    p.method = *sign::parse_method(*parsed->option("signmethod"));
    p.preregistered = *auth == "register";
    p.instance_id = parsed->option("instanceId");
    p.client_id = parsed->client_id;
    p.securemode = std::stoi(*parsed->option("securemode"));
    const auto cred = test::unwrap(
        sign::dynreg_mqtt_credentials(p, Secret(in["productSecret"].get<std::string>())));
    EXPECT_EQ(cred.username, v["mqtt_connect"]["username"].get<std::string>());
    EXPECT_TRUE(sign::digest_equal(cred.password.reveal(),
                                   v["mqtt_connect"]["password"].get<std::string>()));
    if (parsed->client_id == p.device_name + "." + p.product_key && p.securemode == 2) {
      // The SDK's own option order: the whole string is identical.
      EXPECT_EQ(cred.client_id, v["mqtt_connect"]["clientId"].get<std::string>());
    }
  }
}

TEST(ClientId, ParsesOptionsAndToleratesEmptyItems) {
  auto p = sign::parse_client_id("a.b|timestamp=1,_ss=1,,securemode=2,ext=3,|");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->client_id, "a.b");
  EXPECT_EQ(p->options.size(), 4U);
  EXPECT_EQ(p->option("EXT"), "3");
  EXPECT_FALSE(p->option("random"));
}

TEST(ClientId, RejectsMalformedIdentifiers) {
  EXPECT_FALSE(sign::parse_client_id("nobars"));
  EXPECT_FALSE(sign::parse_client_id("one|bar"));
  EXPECT_FALSE(sign::parse_client_id("|securemode=2|"));
  EXPECT_FALSE(sign::parse_client_id("id|securemode|"));
  EXPECT_FALSE(sign::parse_client_id("id|a=1|b=2|"));
  EXPECT_FALSE(sign::parse_client_id("id|a=1|trailing"));
}

TEST(SignMethod, ParsesCaseInsensitivelyAndNamesChoices) {
  EXPECT_EQ(*sign::parse_method("HmacSha1"), sign::Method::hmacsha1);
  auto bad = sign::parse_method("sha512");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::usage);
  EXPECT_NE(bad.error().message().find("hmacsha256"), std::string::npos);
}

TEST(SignCredentials, TokenLoginUsesTheTokenVerbatim) {
  const auto c = sign::token_credentials("FakeCidA0001", "a1FakePK001", "FakeDevice01",
                                         Secret("TokFakeA0001"));
  EXPECT_EQ(c.client_id, "FakeCidA0001|securemode=-2,authType=connwl|");
  EXPECT_EQ(c.username, "FakeDevice01&a1FakePK001");
  EXPECT_EQ(c.password.reveal(), "TokFakeA0001");
}
