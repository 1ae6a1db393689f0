// Every Set A dynamic-registration and OpenAPI vector reproduced by the CLI's --dry-run (and the
// OpenAPI request builder of the library), with no network.
#include "cloud_support.hpp"
#include "unwrap.hpp"

#include <aliot/encoding.hpp>
#include <aliot/openapi_client.hpp>
#include <aliot/sign.hpp>

using namespace aliot::test;
using nlohmann::json;

namespace {

// The form body with the sign lower-cased (the SDKs differ in hex case; the platform does not
// care).
std::string normalize_body(const std::string& body) {
  const auto pos = body.find("sign=");
  if (pos == std::string::npos) {
    return body;
  }
  const auto end = body.find('&', pos);
  return body.substr(0, pos) + lower(body.substr(pos, end - pos)) + body.substr(end);
}

} // namespace

TEST(RegisterDryRun, EveryHttpsVector) {
  const auto set = vectors_of("dynreg_https_sign");
  ASSERT_EQ(set.size(), 3u);
  for (const auto& v : set) {
    SCOPED_TRACE(v["sign"].get<std::string>());
    const auto& in = v["inputs"];
    const auto r =
        run_aliot({"register", "-k", in["productKey"], "-d", in["deviceName"], "--random",
                   in["random"], "--sign-method", v["signmethod"], "--dry-run", "-o", "json"},
                  {.env = {{"ALIOT_PRODUCT_SECRET", in["productSecret"]}}});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["method"], "POST");
    EXPECT_EQ(j["url"], "https://iot-auth.cn-shanghai.aliyuncs.com/auth/register/device");
    EXPECT_EQ(j["content_type"], "application/x-www-form-urlencoded");
    std::string body;
    if (v.contains("sdk_request")) {
      body = v["sdk_request"]["body"];
    } else {
      body = v["request_body"];
    }
    EXPECT_EQ(j["body"], normalize_body(body));
    EXPECT_NE(j["body"].get<std::string>().find("sign=" + v["sign"].get<std::string>()),
              std::string::npos);
  }
}

TEST(RegisterDryRun, TextFormIsUrlThenBody) {
  const auto r = run_aliot(
      {"register", "-k", k_pk, "-d", "FakeDevice01", "--random", "RandA1234567890", "--sign-method",
       "hmacsha1", "--dry-run"},
      {.env = {{"ALIOT_PRODUCT_SECRET", k_ps}, {"ALIOT_AUTH_ENDPOINT", "https://127.0.0.1:9/"}}});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 3u) << r.out;
  EXPECT_EQ(l[0], "POST https://127.0.0.1:9/auth/register/device");
  EXPECT_EQ(l[1], "Content-Type: application/x-www-form-urlencoded");
  EXPECT_EQ(l[2], "productKey=a1FakePK001&deviceName=FakeDevice01&random=RandA1234567890&sign="
                  "dae108bd61a943a5aee010e7c44d339efc37cbff&signMethod=hmacsha1");
}

TEST(RegisterDryRun, EveryMqttVector) {
  const auto set = vectors_of("dynreg_mqtt");
  ASSERT_EQ(set.size(), 3u);
  for (const auto& v : set) {
    const auto& in = v["inputs"];
    const auto& want = v["mqtt_connect"];
    SCOPED_TRACE(want["clientId"].get<std::string>());
    const std::string want_cid = want["clientId"];
    auto parts = aliot::sign::parse_client_id(want_cid);
    ASSERT_TRUE(parts);
    std::vector<std::string> args{"register",
                                  "-k",
                                  in["productKey"],
                                  "-d",
                                  in["deviceName"],
                                  "--random",
                                  in["random"],
                                  "--sign-method",
                                  v["signmethod"],
                                  "--via",
                                  "mqtt",
                                  "--dry-run",
                                  "-o",
                                  "json"};
    if (v["authType"] == "regnwl") {
      args.emplace_back("--no-preregister");
    }
    if (in.contains("instanceId")) {
      args.emplace_back("--instance");
      args.push_back(in["instanceId"]);
    }
    if (parts->client_id != std::string(in["deviceName"]) + "." + std::string(in["productKey"])) {
      args.emplace_back("--client-id");
      args.push_back(parts->client_id);
    }
    if (auto sm = parts->option("securemode"); sm && *sm != "2") {
      args.emplace_back("--securemode");
      args.push_back(*sm);
    }
    const auto r = run_aliot(args, {.env = {{"ALIOT_PRODUCT_SECRET", in["productSecret"]}}});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["username"], want["username"]);
    EXPECT_EQ(lower(j["password"]), lower(want["password"]));
    EXPECT_EQ(j["tls"], true);
    // The option order of the SDK's clientId is reproduced exactly where aliot sends the same
    // order (LinkSDK); the documented order of A-DM-3 is compared as a set.
    auto got = aliot::sign::parse_client_id(j["clientId"].get<std::string>());
    ASSERT_TRUE(got);
    EXPECT_EQ(got->client_id, parts->client_id);
    auto sorted = [](aliot::sign::Options o) {
      std::sort(o.begin(), o.end());
      return o;
    };
    EXPECT_EQ(sorted(got->options), sorted(parts->options));
    if (parts->client_id.find('.') != std::string::npos) {
      EXPECT_EQ(j["clientId"], want_cid);
    }
  }
}

namespace {

// The args of `rrpc call` / `cloud pub` that reproduce an OpenAPI vector.
std::vector<std::string> api_args(const json& v) {
  const auto& p = v["params"];
  std::vector<std::string> a;
  if (v["action"] == "RRpc") {
    a = {"rrpc",      "call",
         "-k",        p["ProductKey"],
         "-d",        p["DeviceName"],
         "--base64",  p["RequestBase64Byte"],
         "--timeout", p["Timeout"].get<std::string>() + "ms"};
    if (p.contains("Topic")) {
      a.emplace_back("--topic");
      a.push_back(p["Topic"]);
    }
  } else {
    a = {"cloud", "pub", "-t", p["TopicFullName"], "--base64", p["MessageContent"], "-q", p["Qos"]};
  }
  if (p.contains("IotInstanceId")) {
    a.emplace_back("--instance");
    a.push_back(p["IotInstanceId"]);
  }
  a.insert(a.end(), {"--access-key-id", p["AccessKeyId"], "--region", p["RegionId"], "--nonce",
                     p["SignatureNonce"], "--timestamp", p["Timestamp"], "--http-method",
                     v["http_method"], "--dry-run"});
  return a;
}

} // namespace

TEST(OpenApiDryRun, EveryRRpcAndPubVector) {
  int n = 0;
  for (const auto& v : vectors_of("openapi_rpc_signature")) {
    if (v["action"] == "RegisterDevice") {
      continue;
    }
    SCOPED_TRACE(v["signature"].get<std::string>());
    const Env env{{"ALIOT_ACCESS_KEY_SECRET", v["accessKeySecret"]}};
    auto args = api_args(v);
    // text: METHOD URL (+ content type and body for POST)
    const auto t = run_aliot(args, {.env = env});
    ASSERT_EQ(t.status, 0) << t.err;
    const auto l = lines_of(t.out);
    const auto& sdk = v["sdk_request"];
    ASSERT_GE(l.size(), 1u);
    EXPECT_EQ(l[0], v["http_method"].get<std::string>() + " " + sdk["url"].get<std::string>());
    if (v["http_method"] == "POST") {
      ASSERT_EQ(l.size(), 3u) << t.out;
      EXPECT_EQ(l[1], "Content-Type: application/x-www-form-urlencoded");
      EXPECT_EQ(l[2], sdk["body"].get<std::string>());
    } else {
      EXPECT_EQ(l.size(), 1u) << t.out;
    }
    // json: the string to sign and the signature as well
    args.insert(args.end(), {"-o", "json"});
    const auto r = run_aliot(args, {.env = env});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["string_to_sign"], v["string_to_sign"]);
    EXPECT_EQ(j["signature"], v["signature"]);
    EXPECT_EQ(j["url"], sdk["url"]);
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(OpenApiDryRun, LibraryBuildsEveryVectorIncludingRegisterDevice) {
  const auto set = vectors_of("openapi_rpc_signature");
  ASSERT_EQ(set.size(), 4u);
  for (const auto& v : set) {
    const auto& p = v["params"];
    aliot::openapi::ClientConfig c;
    c.endpoint = "https://iot.cn-shanghai.aliyuncs.com";
    c.region = p["RegionId"];
    c.access_key_id = p["AccessKeyId"];
    c.access_key_secret = aliot::Secret(v["accessKeySecret"].get<std::string>());
    c.http_method = v["http_method"];
    aliot::openapi::Params action;
    static const std::set<std::string> common{
        "AccessKeyId",    "Action",           "Format",    "RegionId", "SignatureMethod",
        "SignatureNonce", "SignatureVersion", "Timestamp", "Version"};
    for (const auto& [k, val] : p.items()) {
      if (k == "IotInstanceId") {
        c.instance_id = val.get<std::string>();
      } else if (common.count(k) == 0) {
        action.emplace_back(k, val.get<std::string>());
      }
    }
    const auto req = unwrap(aliot::openapi::sign_request(c, p["Action"].get<std::string>(), action,
                                                         p["SignatureNonce"].get<std::string>(),
                                                         p["Timestamp"].get<std::string>()));
    EXPECT_EQ(req.string_to_sign, v["string_to_sign"]);
    EXPECT_EQ(req.signature, v["signature"]);
    EXPECT_EQ(req.url, v["sdk_request"]["url"]);
    if (v["http_method"] == "POST") {
      EXPECT_EQ(req.body, v["sdk_request"]["body"]);
    }
  }
}

TEST(OpenApiDryRun, FreshNonceAndTimestampByDefault) {
  const Env env{{"ALIOT_ACCESS_KEY_SECRET", k_aksecret}};
  const std::vector<std::string> args{
      "rrpc", "call",      "-k", k_pk,  "-d", "FakeDevice01", "-m", "x", "--access-key-id",
      k_akid, "--dry-run", "-o", "json"};
  const auto a = run_aliot(args, {.env = env});
  const auto b = run_aliot(args, {.env = env});
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(json::parse(a.out)["signature"], json::parse(b.out)["signature"]);
  EXPECT_NE(a.out.find("SignatureNonce%3D"), std::string::npos);
  EXPECT_NE(a.out.find("Timestamp%3D20"), std::string::npos);
}

TEST(OpenApiDryRun, BadInputsAreUsageErrors) {
  const Env env{{"ALIOT_ACCESS_KEY_SECRET", k_aksecret}, {"ALIOT_ACCESS_KEY_ID", k_akid}};
  for (const char* t : {"999ms", "8001ms", "0", "9s"}) {
    const auto r =
        run_aliot({"rrpc", "call", "-k", k_pk, "-d", "FakeDevice01", "-m", "x", "--timeout", t},
                  {.env = env});
    EXPECT_EQ(r.status, 2) << t;
    EXPECT_NE(r.err.find("outside 1s to 8s"), std::string::npos) << r.err;
  }
  // The Timestamp is signed as given: exactly YYYY-MM-DDTHH:MM:SSZ, and a date that exists.
  for (const char* t : {"yesterday", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
                        "2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00+08:00"}) {
    const auto bad = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "FakeDevice01", "-m", "x",
                                "--timestamp", t, "--dry-run"},
                               {.env = env});
    EXPECT_EQ(bad.status, 2) << t << ": " << bad.err;
    EXPECT_NE(bad.err.find("is not ISO 8601 UTC"), std::string::npos) << bad.err;
  }
  auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "FakeDevice01", "-m", "x", "--timestamp",
                      "2024-02-29T23:59:59Z", "--dry-run"},
                     {.env = env});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_aliot({"cloud", "pub", "-t", "user/get", "-m", "x", "--dry-run"}, {.env = env});
  EXPECT_EQ(r.status, 2) << r.err; // relative topic without -k/-d
  r = run_aliot({"cloud", "pub", "-k", k_pk, "-d", "FakeDevice01", "-t", "user/get", "-m", "x",
                 "-q", "2", "--dry-run"},
                {.env = env});
  EXPECT_EQ(r.status, 2) << r.err;
  // No AccessKey secret at all: a configuration error.
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "FakeDevice01", "-m", "x", "--access-key-id",
                 k_akid, "--dry-run"});
  EXPECT_EQ(r.status, 3) << r.err;
}

TEST(RegisterDryRun, MissingProductSecretOrBadNameFailsClearly) {
  auto r = run_aliot({"register", "-k", k_pk, "-d", "FakeDevice01", "--dry-run"});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("ProductSecret"), std::string::npos) << r.err;
  r = run_aliot({"register", "-k", k_pk, "-d", "no", "--dry-run"},
                {.env = {{"ALIOT_PRODUCT_SECRET", k_ps}}});
  EXPECT_EQ(r.status, 2) << r.err;
  r = run_aliot({"register", "-k", k_pk, "-d", "FakeDevice01", "--no-preregister", "--dry-run"},
                {.env = {{"ALIOT_PRODUCT_SECRET", k_ps}}});
  EXPECT_EQ(r.status, 2) << r.err;
}
