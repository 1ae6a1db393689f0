// HTTP/1.1 over the OpenSSL aliot already links: the path of a request that goes to its server
// directly (no proxy applies). It spares a one-shot command such as `aliot rrpc call` the loading
// of libcurl and the ~28 libraries it brings, which cost more than the whole request on loopback.
// Requests through a proxy stay with libcurl (client.cpp), which knows every kind of proxy.
//
// What it does as libcurl did: TLS 1.2+ with the peer verified against the system store or a CA
// file and the host name (or IP address) checked, SNI, TCP_NODELAY, Content-Length or chunked
// replies, keep-alive (one connection kept per Client and checked before reuse; a request on a
// kept connection the server closed meanwhile is sent again once on a fresh one), the connect and
// whole-request timeouts, and the stop flag looked at every 50 ms.
#pragma once

#include <aliot/http.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace aliot::http::native {

struct Url {
  bool tls = false;
  std::string host;      // without brackets for IPv6
  std::string port;      // digits
  std::string authority; // the Host header: host[:port] as written in the URL
  std::string target;    // path and query ("/" when the URL has no path)
};

// http:// and https:// URLs only (anything else: nullopt, left to libcurl).
std::optional<Url> parse_url(const std::string& url);

// The proxy libcurl would send a request to `url` through under these settings ("" for none):
// https_proxy for https, http_proxy for http, else all_proxy, unless no_proxy names the host.
// When unsure (an entry it does not read such as a CIDR range) it answers the proxy, so a request
// this path takes is one libcurl would have sent directly.
std::string proxy_for(const Url& url, const Proxies& proxies);

enum class Fail { network, dns, tls, timeout, interrupted, too_large, malformed };

struct Failure {
  Fail kind = Fail::network;
  std::string why;
};

struct Timings {
  std::int64_t connect_us = 0; // 0 on a reused connection
  std::int64_t tls_us = 0;
  std::int64_t first_byte_us = 0;
  std::int64_t total_us = 0;
  std::string tls_version; // "TLSv1.3 / TLS_AES_256_GCM_SHA384"; empty when reused or plain
};

class Transport {
public:
  explicit Transport(const ClientOptions& options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Sends `req` (headers as given plus Host, User-Agent, Accept, Content-Length) and reads the
  // reply into `resp`. On failure returns false and fills `failure`.
  bool send(const Request& req,
            const Url& url,
            const std::string& user_agent,
            Response& resp,
            Failure& failure,
            Timings& timings);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace aliot::http::native
