// A small HTTPS client for dynamic registration and the cloud OpenAPI: TLS verified against the
// system store or a CA file, proxies, TCP_NODELAY, timeouts. One Client reuses its connections:
// use one Client per thread.
//
// With ClientOptions::proxies given, a request no proxy applies to goes out over aliot's own
// HTTP/1.1 on OpenSSL, and a proxied one over libcurl (loaded on first use) with those proxies.
// Without it, every request goes over libcurl, which reads the proxies from the environment.
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aliot::http {

// Proxy URLs as libcurl reads them from the environment (empty: not set).
struct Proxies {
  std::string http;     // http_proxy
  std::string https;    // https_proxy, HTTPS_PROXY
  std::string all;      // all_proxy, ALL_PROXY
  std::string no_proxy; // no_proxy, NO_PROXY: hosts or domains reached directly, or "*"
};

// The proxies of a process environment (given as a map: the library never reads it itself),
// with libcurl's names and precedence (lower case first; HTTP_PROXY upper case is not read).
Proxies proxies_from(const std::map<std::string, std::string, std::less<>>& env);

struct ClientOptions {
  std::string ca_file;   // empty: the system trust store
  bool insecure = false; // skip certificate verification (tests only)
  long connect_timeout_ms = 10000;
  long timeout_ms = 30000; // whole request
  // The largest reply body taken: the platform's replies are small (an RRpc reply carries at
  // most 256 KB of payload, Base64-encoded), so anything past this is not the platform.
  std::size_t max_body_bytes = 1024 * 1024;
  std::string user_agent; // empty: "aliot/<version>"
  // When set and it becomes true (SIGINT/SIGTERM), a request in flight is abandoned within
  // about 50 ms with Errc::interrupted.
  const std::atomic<bool>* stop = nullptr;
  // Set: the proxies to use (and requests they do not apply to skip libcurl). Unset: libcurl's
  // defaults (the process environment) for every request.
  std::optional<Proxies> proxies;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "POST"; // GET or POST
  std::string url;
  Headers headers; // e.g. {"Content-Type", "application/x-www-form-urlencoded"}
  std::string body;
  long timeout_ms = 0; // 0: the client's default
};

struct Response {
  long status = 0;
  std::string content_type;
  std::string body;
};

// Errors: Errc::network (DNS, connect, TLS handshake, certificate verification, connection
// lost), Errc::timeout, or Errc::interrupted (the stop flag), with the cause (libcurl's message
// on the libcurl path); Errc::remote for a reply that is not HTTP or past max_body_bytes; never
// a secret (bodies are not logged).
class Client {
public:
  explicit Client(ClientOptions options = {}, Logger logger = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<Response> send(const Request& request);

  const ClientOptions& options() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// The host[:port] part of a URL (for messages).
std::string url_host(const std::string& url);

} // namespace aliot::http
