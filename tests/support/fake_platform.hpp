// Test support: the fake platform (tests/cloud/fake_platform.py), an independent stand-in for the
// platform's HTTPS services (dynamic registration and the OpenAPI) over real TLS on loopback,
// with a certificate made by make_test_certs.
//
//   FakePlatform p;                                  // throws std::runtime_error if it cannot
//   start run_aliot({"register", "-k", k_pk, "-d", "dev1"}, {.env = p.env()});
//   p.state()["secrets"]["dev1"];
//
// A suite sharing one platform derives its fixture from OnFakePlatform (started once per suite).
#pragma once

#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace aliot::test {

// The credentials the fake platform is started with (and checks signatures against).
inline constexpr const char* k_pk = "a1FakePK001";
inline constexpr const char* k_ps = "PsFakeA0123456789";
inline constexpr const char* k_akid = "FAKEAKIDA0000001";
inline constexpr const char* k_aksecret = "FakeAkSecretA00000000000000001";

class FakePlatform {
public:
  // delay_ms: how long every registration takes (to interrupt a batch half-way).
  explicit FakePlatform(int delay_ms = 0);
  ~FakePlatform();
  FakePlatform(const FakePlatform&) = delete;
  FakePlatform& operator=(const FakePlatform&) = delete;

  std::string url() const; // https://127.0.0.1:PORT
  std::string ca() const;  // the CA that signed its certificate
  std::string other_ca() const;

  // The environment for aliot: both endpoints, the CA, the ProductSecret and the AccessKey.
  Env env() const;
  // GET /state: {"secrets": {dn: latest secret}, "requests": [...]}.
  nlohmann::json state() const;
  // How many dynamic registration requests it received.
  std::size_t register_requests() const;
  // Sends what `--dry-run -o json` printed ({"url","body"}) as a form POST with curl, which
  // verifies the platform with its CA.
  ProcResult curl_post(const nlohmann::json& dry_run) const;

private:
  TempDir m_dir;
  std::string m_ca;
  std::string m_other_ca;
  std::unique_ptr<Background> m_proc;
  int m_port = 0;
};

// Fixture: one fake platform for the whole suite, a fresh TempDir per test.
class OnFakePlatform : public ::testing::Test {
protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override; // fails the test (not the process) when the platform did not start
  static FakePlatform& platform() { return *s_platform; }
  TempDir dir;

private:
  static std::unique_ptr<FakePlatform> s_platform;
  static std::string s_error;
};

} // namespace aliot::test
