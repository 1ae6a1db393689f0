// A small HTTPS client over libcurl for dynamic registration and the cloud OpenAPI: TLS verified
// against the system store or a CA file, proxies from the environment (libcurl's defaults),
// TCP_NODELAY, timeouts. One Client owns one connection handle and reuses its connections: use
// one Client per thread.
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace aliot::http {

struct ClientOptions {
  std::string ca_file;   // empty: the system trust store
  bool insecure = false; // skip certificate verification (tests only)
  long connect_timeout_ms = 10000;
  long timeout_ms = 30000; // whole request
  // The largest reply body taken: the platform's replies are small (an RRpc reply carries at
  // most 256 KB of payload, Base64-encoded), so anything past this is not the platform.
  std::size_t max_body_bytes = 1024 * 1024;
  std::string user_agent; // empty: "aliot/<version>"
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
// lost) or Errc::timeout, with libcurl's message; never a secret (bodies are not logged).
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
