// Test support: a throw-away PKI made with the openssl binary at test time, for every suite that
// runs a TLS server (mosquitto, the fake platform) and for "wrong CA" cases.
//
//   TempDir dir;
//   const auto pki = make_test_certs(dir.path());            // RSA 2048, SHA-256 signatures
//   ... "--cafile", pki.ca, "--cert", pki.server, "--key", pki.server_key ...
//   make_test_certs(dir.path(), {.key = KeyType::ec_p256});  // ECDSA P-256 instead
#pragma once

#include <string>

namespace aliot::test {

// RSA 2048 is the default: the TLS stacks of the devices aliot serves speak RSA only.
enum class KeyType { rsa2048, ec_p256 };

struct CertOptions {
  KeyType key = KeyType::rsa2048;
  std::string ca_subject = "/CN=aliot test CA";
  int days = 30;
};

// Paths of the PEM files make_test_certs wrote (all mode 0644, so a broker running as another
// user can read them).
struct TestCerts {
  std::string ca;         // ca.pem: self-signed CA (ca_subject)
  std::string ca_key;     // ca.key
  std::string server;     // server.pem: CN=localhost, SAN DNS:localhost and IP:127.0.0.1,
                          // extendedKeyUsage serverAuth, signed by ca.pem
  std::string server_key; // server.key
  std::string other_ca;   // other-ca.pem: an unrelated self-signed CA ("/CN=some other CA")
};

// Writes the files into `dir` (which must exist); throws std::runtime_error with openssl's
// stderr if anything fails.
TestCerts make_test_certs(const std::string& dir, const CertOptions& opts = {});

} // namespace aliot::test
