// The stages of `aliot connect` that libmosquitto hides: name resolution, the TCP connect and
// the TLS handshake with the certificate chain, each on its own with its own error.
#include "hints.hpp"

#include <aliot/config.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/time.hpp>

#include <fmt/core.h>
#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace aliot::mqtt {

namespace {

int ms_left(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string name_text(X509_NAME* name) {
  if (name == nullptr) {
    return {};
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string time_text(const ASN1_TIME* t, long* days_left) {
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> epoch(ASN1_TIME_set(nullptr, 0),
                                                              ASN1_TIME_free);
  int since_day = 0;
  int since_sec = 0;
  if (t == nullptr || epoch == nullptr
      || ASN1_TIME_diff(&since_day, &since_sec, epoch.get(), t) != 1) {
    return {};
  }
  if (days_left != nullptr) {
    int day = 0;
    int sec = 0;
    if (ASN1_TIME_diff(&day, &sec, nullptr, t) == 1) {
      *days_left = day;
    }
  }
  return utc_iso8601(since_day * 86400LL + since_sec);
}

// "RSA 2048", "EC P-256" (the NIST name when there is one), "ED25519", else OpenSSL's key type.
std::string key_text(X509* c) {
  EVP_PKEY* key = X509_get0_pubkey(c);
  if (key == nullptr) {
    return "unknown";
  }
  const int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
  case EVP_PKEY_RSA: return fmt::format("RSA {}", bits);
  case EVP_PKEY_EC: {
    char group[80] = {0};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
      const char* nist = EC_curve_nid2nist(OBJ_sn2nid(group));
      return std::string("EC ") + (nist != nullptr ? nist : group);
    }
    return fmt::format("EC {}", bits);
  }
  default: {
    const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
    return fmt::format("{} {}", name != nullptr ? name : "unknown", bits);
  }
  }
}

CertInfo cert_info(X509* c) {
  CertInfo info;
  info.key = key_text(c);
  const char* sig = OBJ_nid2ln(X509_get_signature_nid(c));
  info.signature_algorithm = sig != nullptr ? sig : "unknown";
  info.subject = name_text(X509_get_subject_name(c));
  info.issuer = name_text(X509_get_issuer_name(c));
  info.not_before = time_text(X509_get0_notBefore(c), nullptr);
  info.not_after = time_text(X509_get0_notAfter(c), &info.days_left);
  return info;
}

std::string ssl_errors() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out;
}

bool is_ip(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

} // namespace

Result<DnsResult> probe_dns(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return Error(Errc::network, "cannot resolve " + host + ": " + gai_strerror(rc), hints::k_dns);
  }
  DnsResult out;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    char buf[NI_MAXHOST];
    if (getnameinfo(p->ai_addr, p->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) == 0) {
      if (std::find(out.addresses.begin(), out.addresses.end(), buf) == out.addresses.end()) {
        out.addresses.emplace_back(buf);
      }
    }
  }
  freeaddrinfo(res);
  return out;
}

Result<TcpResult> probe_tcp(const DnsResult& dns, int port, Deadline deadline, int* last_errno) {
  std::string last = "no address";
  bool timed_out = false;
  int last_err = 0;
  for (const auto& addr : dns.addresses) {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(addr.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) {
      continue;
    }
    const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      freeaddrinfo(res);
      return Error(Errc::network, std::string("socket: ") + std::strerror(errno));
    }
    int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, ms_left(deadline));
      if (rc == 0) {
        ::close(fd);
        timed_out = true;
        last = addr + ": no answer";
        last_err = 0;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        rc = -1;
      } else {
        rc = 0;
      }
    }
    if (rc != 0) {
      last_err = errno;
      last = addr + ": " + std::strerror(errno);
      ::close(fd);
      continue;
    }
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return TcpResult{fd, addr};
  }
  if (last_errno != nullptr) {
    *last_errno = last_err;
  }
  if (timed_out) {
    return Error(Errc::timeout, fmt::format("TCP connect to port {}: {}", port, last),
                 "a firewall may drop the packets; check --port (1883, 443 or 8883)");
  }
  return Error(Errc::network, fmt::format("TCP connect to port {}: {}", port, last),
               hints::k_broker_down);
}

Result<TlsResult> probe_tls(int fd,
                            const std::string& host,
                            const std::string& ca_file,
                            bool insecure,
                            Deadline deadline,
                            TlsResult* out) {
  TlsResult local;
  TlsResult& r = out != nullptr ? *out : local;
  r = TlsResult{};
  ALIOT_TRY(config::check_ca_file(ca_file));
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) {
    return Error(Errc::internal, "TLS: cannot create a context: " + ssl_errors());
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  const char* file = ca_file.empty() ? nullptr : ca_file.c_str();
  const char* dir = ca_file.empty() ? k_system_ca_path : nullptr;
  if (SSL_CTX_load_verify_locations(ctx.get(), file, dir) != 1) {
    return Error(Errc::config,
                 "TLS: cannot load the CA "
                     + (ca_file.empty() ? std::string(k_system_ca_path) : ca_file) + ": "
                     + ssl_errors(),
                 "give a PEM file with --ca-file");
  }
  // verify after the handshake, so the chain can be shown whatever the outcome
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  if (!is_ip(host)) {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  }
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  while (true) {
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) {
      break;
    }
    const int e = SSL_get_error(ssl.get(), rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      pollfd p{fd, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (::poll(&p, 1, ms_left(deadline)) == 0) {
        fcntl(fd, F_SETFL, flags);
        return Error(Errc::timeout, "TLS handshake with " + host + ": no answer in time",
                     "is this a TLS port? for plain MQTT add --tcp");
      }
      continue;
    }
    fcntl(fd, F_SETFL, flags);
    std::string why = ssl_errors();
    if (why.empty()) {
      why = e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN
                ? "the server closed the connection"
                : "handshake failed";
    }
    return Error(Errc::network, "TLS handshake with " + host + ": " + why,
                 "is this a TLS port? for plain MQTT add --tcp");
  }
  fcntl(fd, F_SETFL, flags);
  r.version = SSL_get_version(ssl.get());
  r.cipher = SSL_get_cipher_name(ssl.get());
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get())) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      r.chain.push_back(cert_info(sk_X509_value(chain, i)));
    }
  }
  const long vr = SSL_get_verify_result(ssl.get());
  r.verified = vr == X509_V_OK;
  if (!r.verified) {
    r.verify_error = X509_verify_cert_error_string(vr);
  }
  X509* leaf = SSL_get1_peer_certificate(ssl.get());
  if (leaf != nullptr) {
    if (is_ip(host)) {
      r.hostname_ok = X509_check_ip_asc(leaf, host.c_str(), 0) == 1;
    } else {
      r.hostname_ok = X509_check_host(leaf, host.c_str(), host.size(), 0, nullptr) == 1;
    }
    X509_free(leaf);
  }
  SSL_shutdown(ssl.get());
  if (insecure) {
    return r;
  }
  if (!r.verified) {
    const std::string top = r.chain.empty() ? std::string() : r.chain.back().issuer;
    std::string hint =
        ca_file.empty() ? "if the server uses a private CA, give it with --ca-file"
                        : "check that " + ca_file + " holds the CA that signed the server's chain";
    if (top.find("Aliyun IoT Root CA") != std::string::npos) {
      hint = "the chain is anchored at Aliyun IoT Root CA (port 8883), which "
             + std::string(ca_file.empty() ? "the system trust store lacks"
                                           : ca_file + " does not hold")
             + ": give its PEM with --ca-file, or use port 443/1883 (GlobalSign)";
    }
    return Error(Errc::network,
                 "TLS: the server certificate does not verify: " + r.verify_error
                     + (top.empty() ? "" : " (chain issued by " + top + ")"),
                 hint);
  }
  if (!r.hostname_ok) {
    return Error(Errc::network, "TLS: the server certificate is not valid for " + host,
                 "check --host; --insecure skips this check (testing only)");
  }
  return r;
}

} // namespace aliot::mqtt
