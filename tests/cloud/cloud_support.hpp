// Shared helpers of the cloud tests: a fake platform over real HTTPS on loopback (Python, with a
// CA and server certificate made by openssl at test time) and small parsing helpers.
#pragma once

#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace aliot::test {

inline constexpr const char* k_pk = "a1FakePK001";
inline constexpr const char* k_ps = "PsFakeA0123456789";
inline constexpr const char* k_akid = "FAKEAKIDA0000001";
inline constexpr const char* k_aksecret = "FakeAkSecretA00000000000000001";

// A CA and a server certificate for 127.0.0.1/localhost, plus a second unrelated CA.
inline void make_certs(const TempDir& dir) {
  const std::string d = dir.path();
  const auto r =
      sh("set -e; cd '" + d
         + "'\n"
           "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "
           "$1 2>/dev/null; }\n"
           "key ca.key; key other.key; key srv.key\n"
           "openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj /CN=aliot-test-ca "
           "2>/dev/null\n"
           "openssl req -x509 -new -key other.key -out other-ca.pem -days 2 -subj "
           "/CN=other-ca 2>/dev/null\n"
           "openssl req -new -key srv.key -out srv.csr -subj /CN=localhost 2>/dev/null\n"
           "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage="
           "serverAuth\\n' > ext.cnf\n"
           "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out "
           "srv.pem -days 2 -extfile ext.cnf 2>/dev/null\n");
  if (r.status != 0) {
    throw std::runtime_error("making certificates failed: " + r.err);
  }
}

class FakePlatform {
public:
  explicit FakePlatform(int delay_ms = 0) {
    make_certs(m_dir);
    m_proc = std::make_unique<Background>(std::vector<std::string>{
        "python3", std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/fake_platform.py", "--cert",
        m_dir.file("srv.pem"), "--key", m_dir.file("srv.key"), "--product-key", k_pk,
        "--product-secret", k_ps, "--delay-ms", std::to_string(delay_ms)});
    auto line = m_proc->read_line(std::chrono::seconds(20));
    if (!line || line->rfind("PORT ", 0) != 0) {
      throw std::runtime_error("the fake platform did not start: " + m_proc->err());
    }
    m_port = std::stoi(line->substr(5));
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(m_port); }
  std::string ca() const { return m_dir.file("ca.pem"); }
  std::string other_ca() const { return m_dir.file("other-ca.pem"); }

  // The environment for aliot: both endpoints, the CA, the ProductSecret and AccessKey secret.
  Env env() const {
    return {{"ALIOT_AUTH_ENDPOINT", url()},  {"ALIOT_API_ENDPOINT", url()},
            {"ALIOT_CA_FILE", ca()},         {"ALIOT_PRODUCT_SECRET", k_ps},
            {"ALIOT_ACCESS_KEY_ID", k_akid}, {"ALIOT_ACCESS_KEY_SECRET", k_aksecret}};
  }

  nlohmann::json state() const {
    const auto r = run({"curl", "-sS", "--cacert", ca(), url() + "/state"});
    return nlohmann::json::parse(r.out);
  }

  std::size_t register_requests() const {
    std::size_t n = 0;
    const auto st = state();
    for (const auto& q : st["requests"]) {
      n += q["path"] == "/auth/register/device" ? 1 : 0;
    }
    return n;
  }

private:
  TempDir m_dir;
  std::unique_ptr<Background> m_proc;
  int m_port = 0;
};

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) {
      out.push_back(l);
    }
  }
  return out;
}

inline nlohmann::json vectors() {
  std::ifstream f(data_path("vectors-a.json"));
  return nlohmann::json::parse(f);
}

inline Env merge(Env a, const Env& b) {
  for (const auto& [k, v] : b) {
    a[k] = v;
  }
  return a;
}

} // namespace aliot::test
