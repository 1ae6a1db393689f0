// `aliot rrpc call` and `aliot cloud pub` over real HTTPS on loopback against an independent fake
// OpenAPI (Python verifies signature 1.0 itself): reply decoding, exit codes, envelopes.
#include "cloud_support.hpp"

#include <aliot/encoding.hpp>

using namespace aliot::test;
using nlohmann::json;

namespace {

class OpenApiCli : public OnFakePlatform {};

} // namespace

TEST_F(OpenApiCli, RrpcSuccessPrintsTheRawReply) {
  const auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "ping"},
                           {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "re:ping\n"); // the bytes as they came, then a newline
  const auto q = platform().state()["requests"].back()["params"];
  EXPECT_EQ(q["Action"], "RRpc");
  EXPECT_EQ(q["Timeout"], "5000");
  EXPECT_EQ(q["Format"], "JSON");
  EXPECT_EQ(q["Version"], "2018-01-20");
  EXPECT_EQ(q["RegionId"], "cn-shanghai");
}

TEST_F(OpenApiCli, RrpcBinaryPayloadsBothWays) {
  std::string bin("\x00\x01\xfe\xff\n", 5);
  const auto f = dir.write("req.bin", bin);
  auto r =
      run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "-f", f}, {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "re:" + bin + "\n");
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "-s", "-o", "json", "--timeout", "8s",
                 "--instance", "iot-06zfakeA001"},
                {.input = bin, .env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["rrpc_code"], "SUCCESS");
  EXPECT_EQ(j["message_id"], "889455942124347392");
  EXPECT_FALSE(j.contains("payload"));
  EXPECT_EQ(j["payload_base64"], aliot::enc::base64_encode("re:" + bin));
  EXPECT_FALSE(j["request_id"].get<std::string>().empty());
  const auto q = platform().state()["requests"].back()["params"];
  EXPECT_EQ(q["IotInstanceId"], "iot-06zfakeA001");
  EXPECT_EQ(q["Timeout"], "8000");
}

TEST_F(OpenApiCli, RrpcJsonTextPayloadAndCustomTopic) {
  const auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "--hex", "6869", "--topic",
                            "user/rrpc", "-o", "json", "--http-method", "GET"},
                           {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["payload"], "re:hi");
  const auto last = platform().state()["requests"].back();
  EXPECT_EQ(last["method"], "GET");
  EXPECT_EQ(last["params"]["Topic"], "/a1FakePK001/dev1/user/rrpc");
}

TEST_F(OpenApiCli, RrpcCodesMapToExitCodes) {
  const Env env = platform().env();
  auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "timeout-dev", "-m", "x"}, {.env = env});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("TIMEOUT"), std::string::npos);
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "offline-dev", "-m", "x", "-o", "json"},
                {.env = env});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_EQ(json::parse(r.out)["rrpc_code"], "OFFLINE");
  EXPECT_NE(r.err.find("offline"), std::string::npos);
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "halfconn-dev", "-m", "x"}, {.env = env});
  EXPECT_EQ(r.status, 7) << r.err;
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "nodev-1", "-m", "x"}, {.env = env});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("iot.device.NotExistedDevice"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("The specified device does not exist"), std::string::npos) << r.err;
}

TEST_F(OpenApiCli, RejectedAccessKeyIsAnAuthError) {
  auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "x"},
                     {.env = merge(platform().env(), {{"ALIOT_ACCESS_KEY_SECRET", "wrong"}})});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("SignatureDoesNotMatch"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("server string to sign"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("aliot: hint:"), std::string::npos) << r.err;
  r = run_aliot({"cloud", "pub", "-t", "/a1FakePK001/dev1/user/get", "-m", "x", "--access-key-id",
                 "NOSUCHKEY"},
                {.env = platform().env()});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("InvalidAccessKeyId.NotFound"), std::string::npos) << r.err;
}

TEST_F(OpenApiCli, AccessKeySecretFromAFile) {
  Env env = platform().env();
  env.erase("ALIOT_ACCESS_KEY_SECRET");
  const auto f = dir.write("ak.txt", std::string(k_aksecret) + "\n");
  const auto r = run_aliot(
      {"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "ping", "--access-key-secret-file", f},
      {.env = env});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(OpenApiCli, CloudPubPrintsTheMessageId) {
  auto r = run_aliot({"cloud", "pub", "-k", k_pk, "-d", "dev1", "-t", "user/get", "-m",
                      R"({"cmd":"ping"})", "-q", "1"},
                     {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1234567890123456789\n");
  const auto q = platform().state()["requests"].back()["params"];
  EXPECT_EQ(q["Action"], "Pub");
  EXPECT_EQ(q["TopicFullName"], "/a1FakePK001/dev1/user/get");
  EXPECT_EQ(q["ProductKey"], "a1FakePK001");
  EXPECT_EQ(q["Qos"], "1");
  EXPECT_EQ(q["MessageContent"], aliot::enc::base64_encode(R"({"cmd":"ping"})"));
  // The ProductKey is taken from a full topic; -o json.
  r = run_aliot({"cloud", "pub", "-t", "/a1FakePK001/dev2/user/get", "-m", "x", "-o", "json"},
                {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["message_id"], "1234567890123456789");
  EXPECT_EQ(j["topic"], "/a1FakePK001/dev2/user/get");
}

TEST_F(OpenApiCli, CurlSendingTheDryRunRequestIsAccepted) {
  const auto d = run_aliot(
      {"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "hello aliot", "--dry-run", "-o", "json"},
      {.env = platform().env()});
  ASSERT_EQ(d.status, 0) << d.err;
  const auto c = platform().curl_post(json::parse(d.out));
  ASSERT_EQ(c.status, 0) << c.err;
  const auto reply = json::parse(c.out);
  EXPECT_EQ(reply["RrpcCode"], "SUCCESS") << c.out;
  EXPECT_EQ(aliot::enc::base64_decode(reply["PayloadBase64Byte"].get<std::string>()).value(),
            "re:hello aliot");
}

TEST_F(OpenApiCli, UntrustedServerIsANetworkError) {
  Env env = platform().env();
  env.erase("ALIOT_CA_FILE");
  const auto r =
      run_aliot({"cloud", "pub", "-t", "/a1FakePK001/dev1/user/get", "-m", "x"}, {.env = env});
  EXPECT_EQ(r.status, 5) << r.err;
}
