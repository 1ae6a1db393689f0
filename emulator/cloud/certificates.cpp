// The emulator's CA and server certificate, made with OpenSSL's API (see aliot/emu/launcher.hpp).
#include <aliot/config.hpp>
#include <aliot/emu/launcher.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace aliot::emu {

namespace {

namespace fs = std::filesystem;

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Ext = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using Name = std::unique_ptr<X509_NAME, Free<X509_NAME, X509_NAME_free>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;

// OpenSSL's reason for the last failure (its error queue emptied), for an error line.
std::string openssl_reason() {
  char buf[256] = "unknown reason";
  if (const unsigned long e = ERR_peek_last_error(); e != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
  }
  ERR_clear_error();
  return buf;
}

Error failed(const std::string& dir, const std::string& what) {
  return Error(Errc::io, "cannot make the emulator's certificates in " + dir + ": " + what + ": "
                             + openssl_reason());
}

// Whether `pem` holds an RSA certificate signed with SHA-256 (what the platform's chains are).
bool rsa_sha256_cert(const std::string& pem) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(pem.c_str(), "re"), &std::fclose);
  if (!f) {
    return false;
  }
  Cert cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  return key != nullptr && EVP_PKEY_base_id(key) == EVP_PKEY_RSA
         && X509_get_signature_nid(cert.get()) == NID_sha256WithRSAEncryption;
}

Name name_of(const char* org, const char* cn) {
  Name n(X509_NAME_new());
  if (!n
      || X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(org), -1, -1, 0)
             != 1
      || X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn), -1, -1, 0)
             != 1) {
    return nullptr;
  }
  return n;
}

// A certificate of `key` for `subject`, signed by `issuer_key` (itself when `issuer` is null),
// valid from now for `days`, with the given v3 extensions (name, value as in openssl.cnf).
Cert make_cert(EVP_PKEY* key,
               const X509_NAME* subject,
               X509* issuer,
               EVP_PKEY* issuer_key,
               long days,
               std::initializer_list<std::pair<int, const char*>> exts) {
  Cert c(X509_new());
  Bn serial(BN_new());
  if (!c || !serial || X509_set_version(c.get(), 2) != 1
      || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1
      || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c.get())) == nullptr
      || X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600) == nullptr
      || X509_gmtime_adj(X509_getm_notAfter(c.get()), days * 24 * 3600) == nullptr
      || X509_set_subject_name(c.get(), subject) != 1
      || X509_set_issuer_name(c.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject)
             != 1
      || X509_set_pubkey(c.get(), key) != 1) {
    return nullptr;
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : c.get(), c.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) {
    Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(c.get(), ext.get(), -1) != 1) {
      return nullptr;
    }
  }
  if (X509_sign(c.get(), issuer_key, EVP_sha256()) <= 0) {
    return nullptr;
  }
  return c;
}

// PEM text of a certificate, or of a private key (unencrypted PKCS#8).
std::string pem_of(X509* cert, EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) {
    return {};
  }
  const int ok = cert != nullptr ? PEM_write_bio_X509(bio.get(), cert)
                                 : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                                            nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  if (ok != 1 || n <= 0) {
    return {};
  }
  return std::string(data, static_cast<std::size_t>(n));
}

// Written 0600 and atomically; a private key's text is wiped from memory afterwards.
Result<void> write_pem(const std::string& dir, const std::string& path, std::string pem) {
  if (pem.empty()) {
    return failed(dir, "cannot encode " + path);
  }
  auto r = config::write_file_atomic(path, pem, 0600);
  OPENSSL_cleanse(pem.data(), pem.size());
  return r;
}

} // namespace

Result<void> ensure_certificates(const std::string& dir) {
  const std::string ca_pem = dir + "/ca.pem", server_pem = dir + "/server.pem";
  if (fs::exists(dir + "/server.key") && rsa_sha256_cert(ca_pem) && rsa_sha256_cert(server_pem)) {
    return ok();
  }
  Key ca_key(EVP_RSA_gen(2048));
  Key server_key(EVP_RSA_gen(2048));
  if (!ca_key || !server_key) {
    return failed(dir, "cannot generate an RSA 2048 key");
  }
  Name ca_name = name_of("aliot emulator", "aliot emulator CA");
  Name server_name = name_of("aliot emulator", "localhost");
  if (!ca_name || !server_name) {
    return failed(dir, "cannot make a certificate name");
  }
  Cert ca = make_cert(ca_key.get(), ca_name.get(), nullptr, ca_key.get(), 3650,
                      {{NID_basic_constraints, "critical,CA:TRUE"},
                       {NID_key_usage, "critical,keyCertSign,cRLSign"},
                       {NID_subject_key_identifier, "hash"},
                       {NID_authority_key_identifier, "keyid:always"}});
  if (!ca) {
    return failed(dir, "cannot make the CA certificate");
  }
  Cert server = make_cert(server_key.get(), server_name.get(), ca.get(), ca_key.get(), 825,
                          {{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                           {NID_ext_key_usage, "serverAuth"},
                           {NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                           {NID_subject_key_identifier, "hash"},
                           {NID_authority_key_identifier, "keyid"}});
  if (!server) {
    return failed(dir, "cannot make the server certificate");
  }
  // The server certificate last: a directory left half-written by a crash fails the check above
  // and is made again whole.
  ALIOT_TRY(write_pem(dir, dir + "/ca.key", pem_of(nullptr, ca_key.get())));
  ALIOT_TRY(write_pem(dir, ca_pem, pem_of(ca.get(), nullptr)));
  ALIOT_TRY(write_pem(dir, dir + "/server.key", pem_of(nullptr, server_key.get())));
  ALIOT_TRY(write_pem(dir, server_pem, pem_of(server.get(), nullptr)));
  return ok();
}

} // namespace aliot::emu
