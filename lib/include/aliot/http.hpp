// A small HTTPS client for dynamic registration and the cloud OpenAPI, on libcurl (loaded on the
// first request, not at start-up): TLS 1.2+ verified against the system store or a CA file, SNI,
// TCP_NODELAY, connect and whole-request timeouts, replies bounded (heads and bodies), the stop
// flag. Proxies are libcurl's, from the process environment (https_proxy, HTTPS_PROXY,
// http_proxy, all_proxy, ALL_PROXY, no_proxy, NO_PROXY). One Client keeps its connection for the
// next request to the same server: use one Client per thread (a batch: one per worker).
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
  // A proxy URL (http://HOST:PORT) for this client; empty: libcurl's from the environment.
  std::string proxy;
  // When set and it becomes true (SIGINT/SIGTERM), a request in flight is abandoned within
  // about 50 ms with Errc::interrupted.
  const std::atomic<bool>* stop = nullptr;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  long status = 0;
  std::string content_type;
  std::string body;
  Headers headers; // of the final reply, as sent (kept only for a request with a body_sink)
};

struct Request {
  std::string method = "POST"; // GET or POST
  std::string url;
  Headers headers; // e.g. {"Content-Type", "application/x-www-form-urlencoded"}
  std::string body;
  long timeout_ms = 0; // 0: the client's default
  // When set, the reply's body goes here in pieces instead of into Response::body, and
  // max_body_bytes does not apply (the sink bounds it): `head` carries the status and headers.
  // Returning false stops the transfer; send() then fails with Errc::remote "stopped by the
  // receiver" (the sink knows why).
  std::function<bool(const Response& head, std::string_view bytes)> body_sink;
};

// Errors: Errc::network (DNS, connect, TLS handshake, certificate verification, connection
// lost), Errc::timeout, or Errc::interrupted (the stop flag), with libcurl's message as the
// cause; Errc::remote for a reply that is not well-formed HTTP, whose heads pass 100 KiB or whose
// body passes max_body_bytes; Errc::config for a URL that is not one (a port past 65535, a
// scheme other than http/https); Errc::internal when libcurl cannot be loaded. Never a secret
// (bodies are not logged).
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
