#include "fake_platform.hpp"

#include "certs.hpp"

#include <chrono>
#include <stdexcept>
#include <vector>

namespace aliot::test {

FakePlatform::FakePlatform(int delay_ms) {
  // ECDSA on purpose: the device suites run on RSA, so the HTTPS client sees both key types.
  const auto pki = make_test_certs(m_dir.path(), {.key = KeyType::ec_p256});
  m_ca = pki.ca;
  m_other_ca = pki.other_ca;
  m_proc = std::make_unique<Background>(std::vector<std::string>{
      "python3", std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/fake_platform.py", "--cert",
      pki.server, "--key", pki.server_key, "--product-key", k_pk, "--product-secret", k_ps,
      "--delay-ms", std::to_string(delay_ms)});
  const auto line = m_proc->read_line(std::chrono::seconds(20));
  if (!line || line->rfind("PORT ", 0) != 0) {
    throw std::runtime_error("the fake platform did not start: " + m_proc->err());
  }
  m_port = std::stoi(line->substr(5));
}

FakePlatform::~FakePlatform() = default;

std::string FakePlatform::url() const {
  return "https://127.0.0.1:" + std::to_string(m_port);
}

std::string FakePlatform::ca() const {
  return m_ca;
}

std::string FakePlatform::other_ca() const {
  return m_other_ca;
}

Env FakePlatform::env() const {
  return {{"ALIOT_AUTH_ENDPOINT", url()},  {"ALIOT_API_ENDPOINT", url()},
          {"ALIOT_CA_FILE", ca()},         {"ALIOT_PRODUCT_SECRET", k_ps},
          {"ALIOT_ACCESS_KEY_ID", k_akid}, {"ALIOT_ACCESS_KEY_SECRET", k_aksecret}};
}

nlohmann::json FakePlatform::state() const {
  const auto r = run({"curl", "-sS", "--cacert", ca(), url() + "/state"});
  return nlohmann::json::parse(r.out);
}

std::size_t FakePlatform::register_requests() const {
  std::size_t n = 0;
  const auto st = state();
  for (const auto& q : st["requests"]) {
    n += q["path"] == "/auth/register/device" ? 1 : 0;
  }
  return n;
}

ProcResult FakePlatform::curl_post(const nlohmann::json& dry_run) const {
  return run({"curl", "-sS", "--cacert", ca(), "-H",
              "Content-Type: application/x-www-form-urlencoded", "--data-binary",
              dry_run["body"].get<std::string>(), dry_run["url"].get<std::string>()});
}

std::unique_ptr<FakePlatform> OnFakePlatform::s_platform;
std::string OnFakePlatform::s_error;

void OnFakePlatform::SetUpTestSuite() {
  try {
    s_platform = std::make_unique<FakePlatform>();
  } catch (const std::exception& e) {
    s_error = e.what();
  }
}

void OnFakePlatform::SetUp() {
  if (!s_platform) {
    GTEST_FAIL() << s_error;
  }
}

void OnFakePlatform::TearDownTestSuite() {
  s_platform.reset();
}

} // namespace aliot::test
