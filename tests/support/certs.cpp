#include "certs.hpp"

#include "support.hpp"

#include <stdexcept>

namespace aliot::test {

TestCerts make_test_certs(const std::string& dir, const CertOptions& opts) {
  const std::string genkey = opts.key == KeyType::rsa2048
                                 ? "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"
                                 : "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256";
  const std::string days = std::to_string(opts.days);
  const std::string script =
      "set -e\n"
      "cd \"$DIR\"\n"
      "key() { "
      + genkey
      + " -out \"$1\" 2>/dev/null; }\n"
        "key ca.key; key server.key; key other-ca.key\n"
        "openssl req -x509 -new -sha256 -key ca.key -out ca.pem -days \"$DAYS\" -subj "
        "\"$CA_SUBJECT\"\n"
        "openssl req -x509 -new -sha256 -key other-ca.key -out other-ca.pem -days \"$DAYS\" "
        "-subj '/CN=some other CA'\n"
        "openssl req -new -sha256 -key server.key -out server.csr -subj /CN=localhost\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' "
        "> server.ext\n"
        "openssl x509 -req -sha256 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days \"$DAYS\" -extfile server.ext 2>/dev/null\n"
        "chmod 644 ca.pem ca.key server.pem server.key other-ca.pem\n";
  const auto r =
      sh(script, {.env = {{"DIR", dir}, {"DAYS", days}, {"CA_SUBJECT", opts.ca_subject}}});
  if (r.status != 0) {
    throw std::runtime_error("making test certificates failed: " + r.err);
  }
  return {dir + "/ca.pem", dir + "/ca.key", dir + "/server.pem", dir + "/server.key",
          dir + "/other-ca.pem"};
}

} // namespace aliot::test
