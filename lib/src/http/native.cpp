#include "native.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

namespace aliot::http::native {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (auto& ch : s) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::int64_t us_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) {
    return {};
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// What waiting on a socket came to.
enum class Wait { ready, timeout, interrupted };

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string key; // scheme://host:port it is connected to

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    if (ssl != nullptr) {
      SSL_free(ssl); // no close_notify: the peer sees the TCP close, as with libcurl's cache
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

} // namespace

std::optional<Url> parse_url(const std::string& url) {
  Url u;
  std::string_view rest(url);
  if (rest.size() >= 8 && strncasecmp(url.c_str(), "https://", 8) == 0) {
    u.tls = true;
    rest.remove_prefix(8);
  } else if (rest.size() >= 7 && strncasecmp(url.c_str(), "http://", 7) == 0) {
    rest.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt; // credentials in the URL: left to libcurl
  }
  u.authority = std::string(authority);
  std::string_view port;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
  }
  if (u.host.empty() || (!port.empty() && !all_digits(port))) {
    return std::nullopt;
  }
  u.port = port.empty() ? (u.tls ? "443" : "80") : std::string(port);
  if (std::stol(u.port) < 1 || std::stol(u.port) > 65535) {
    return std::nullopt;
  }
  if (const std::size_t hash = tail.find('#'); hash != std::string_view::npos) {
    tail = tail.substr(0, hash);
  }
  u.target = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
  return u;
}

std::string proxy_for(const Url& url, const Proxies& proxies) {
  std::string proxy = url.tls ? proxies.https : proxies.http;
  if (proxy.empty()) {
    proxy = proxies.all;
  }
  if (proxy.empty()) {
    return {};
  }
  const std::string host = lower(url.host);
  std::string_view list(proxies.no_proxy);
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string entry = lower(trim(list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry == "*") {
      return {};
    }
    if (!entry.empty() && entry.front() == '.') {
      entry.erase(0, 1);
    }
    if (entry.empty() || entry.find('/') != std::string::npos) {
      continue; // a CIDR range: libcurl decides
    }
    if (entry.front() == '[' && entry.back() == ']') {
      entry = entry.substr(1, entry.size() - 2);
    }
    if (host == entry
        || (host.size() > entry.size()
            && host.compare(host.size() - entry.size(), entry.size(), entry) == 0
            && host[host.size() - entry.size() - 1] == '.' && !is_ip_literal(host))) {
      return {};
    }
  }
  return proxy;
}

struct Transport::Impl {
  ClientOptions options;
  SSL_CTX* ctx = nullptr;
  std::string ctx_error;
  std::unique_ptr<Conn> conn;
  SSL_SESSION* session = nullptr; // resumed on the next connection to session_key
  std::string session_key;

  ~Impl() {
    conn.reset();
    if (session != nullptr) {
      SSL_SESSION_free(session);
    }
    if (ctx != nullptr) {
      SSL_CTX_free(ctx);
    }
  }

  bool stopped() const { return options.stop != nullptr && options.stop->load(); }

  Wait wait(int fd, short events, Clock::time_point deadline) const {
    for (;;) {
      if (stopped()) {
        return Wait::interrupted;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return Wait::timeout;
      }
      pollfd p{fd, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50)));
      if (n > 0) {
        return Wait::ready;
      }
      if (n < 0 && errno != EINTR) {
        return Wait::ready; // let the next read or write report the error
      }
    }
  }

  static bool fail(Failure& f, Fail kind, std::string why) {
    f.kind = kind;
    f.why = std::move(why);
    return false;
  }

  static bool wait_failed(Wait w, Failure& f, const std::string& what, long ms) {
    if (w == Wait::interrupted) {
      return fail(f, Fail::interrupted, "interrupted");
    }
    return fail(f, Fail::timeout,
                what + " timed out after " + std::to_string(ms) + " milliseconds");
  }

  bool make_ctx(Failure& f) {
    if (ctx != nullptr) {
      return true;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) {
      return fail(f, Fail::tls, "cannot create a TLS context: " + openssl_error());
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (!options.insecure) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      const int ok = options.ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx)
                         : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
      if (ok != 1) {
        const std::string why = openssl_error();
        SSL_CTX_free(ctx);
        ctx = nullptr;
        return fail(
            f, Fail::tls,
            "error setting certificate verify locations: "
                + (options.ca_file.empty() ? std::string("the system store") : options.ca_file)
                + (why.empty() ? "" : " (" + why + ")"));
      }
    } else {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    return true;
  }

  // getaddrinfo on a thread of its own, so that a slow or hung DNS server neither outlasts the
  // connect timeout nor holds up the stop flag (a lookup given up on ends on its own and frees
  // its result).
  Wait resolve(const Url& url,
               const addrinfo& hints,
               Clock::time_point deadline,
               int& rc,
               addrinfo*& res) const {
    struct Lookup {
      std::mutex m;
      std::condition_variable cv;
      bool done = false;
      bool abandoned = false;
      int rc = 0;
      addrinfo* res = nullptr;
    };
    auto l = std::make_shared<Lookup>();
    try {
      std::thread([l, host = url.host, port = url.port, hints] {
        addrinfo* r = nullptr;
        const int code = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &r);
        const std::lock_guard<std::mutex> lock(l->m);
        if (l->abandoned) {
          if (r != nullptr) {
            freeaddrinfo(r);
          }
          return;
        }
        l->rc = code;
        l->res = r;
        l->done = true;
        l->cv.notify_one();
      }).detach();
    } catch (const std::system_error&) {
      rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res); // no thread to be had
      return Wait::ready;
    }
    std::unique_lock<std::mutex> lock(l->m);
    for (;;) {
      if (l->cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return l->done; })) {
        rc = l->rc;
        res = l->res;
        return Wait::ready;
      }
      if (stopped() || Clock::now() >= deadline) {
        l->abandoned = true;
        return stopped() ? Wait::interrupted : Wait::timeout;
      }
    }
  }

  bool
  connect_tcp(const Url& url, Clock::time_point deadline, long connect_ms, Conn& c, Failure& f) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    // An address as host (the emulator, a local gateway) needs no lookup: no NSS, no netlink.
    hints.ai_flags = AI_NUMERICSERV | (is_ip_literal(url.host) ? AI_NUMERICHOST : AI_ADDRCONFIG);
    addrinfo* res = nullptr;
    int rc = 0;
    if ((hints.ai_flags & AI_NUMERICHOST) != 0) {
      rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res);
    } else if (const Wait w = resolve(url, hints, deadline, rc, res); w != Wait::ready) {
      return wait_failed(w, f, "Resolving " + url.host, connect_ms);
    }
    if (rc != 0) {
      return fail(f, Fail::dns,
                  "Could not resolve host: " + url.host + " (" + gai_strerror(rc) + ")");
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      const int fd =
          ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        last = std::strerror(errno);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int err = 0;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
          const Wait w = wait(fd, POLLOUT, deadline);
          if (w != Wait::ready) {
            ::close(fd);
            return wait_failed(w, f, "Connection to " + url.host + " port " + url.port, connect_ms);
          }
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
      if (err == 0) {
        c.fd = fd;
        return true;
      }
      last = std::strerror(err);
      ::close(fd);
    }
    return fail(f, Fail::network,
                "Failed to connect to " + url.host + " port " + url.port + ": " + last);
  }

  bool handshake(const Url& url, Clock::time_point deadline, long ms, Conn& c, Failure& f) {
    if (!make_ctx(f)) {
      return false;
    }
    c.ssl = SSL_new(ctx);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1) {
      return fail(f, Fail::tls, "cannot create a TLS connection: " + openssl_error());
    }
    if (is_ip_literal(url.host)) {
      if (!options.insecure) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), url.host.c_str());
      }
    } else {
      SSL_set_tlsext_host_name(c.ssl, url.host.c_str());
      if (!options.insecure) {
        SSL_set_hostflags(c.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(c.ssl, url.host.c_str());
      }
    }
    if (session != nullptr && session_key == c.key) {
      SSL_set_session(c.ssl, session);
    }
    ERR_clear_error();
    for (;;) {
      const int rc = SSL_connect(c.ssl);
      if (rc == 1) {
        break;
      }
      const int e = SSL_get_error(c.ssl, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        const Wait w = wait(c.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (w != Wait::ready) {
          return wait_failed(w, f, "TLS handshake with " + url.host, ms);
        }
        continue;
      }
      const long verify = SSL_get_verify_result(c.ssl);
      if (verify != X509_V_OK) {
        return fail(f, Fail::tls,
                    std::string("the server certificate did not verify: ")
                        + X509_verify_cert_error_string(verify));
      }
      const std::string why = openssl_error();
      return fail(f, Fail::tls,
                  "handshake with " + url.host + " failed"
                      + (why.empty() ? std::string(" (the connection was closed)") : ": " + why));
    }
    return true;
  }

  // Keeps the connection's TLS session for the next connection to the same server (with TLS 1.3
  // the server sends it after the handshake: taken once a reply has been read).
  void keep_session(Conn& c) {
    if (c.ssl == nullptr || SSL_session_reused(c.ssl) == 1) {
      return;
    }
    SSL_SESSION* s = SSL_get1_session(c.ssl);
    if (s == nullptr) {
      return;
    }
    if (SSL_SESSION_is_resumable(s) != 1) {
      SSL_SESSION_free(s);
      return;
    }
    if (session != nullptr) {
      SSL_SESSION_free(session);
    }
    session = s;
    session_key = c.key;
  }

  // Writes all of data. Fail::network when the connection is gone.
  bool write_all(Conn& c, std::string_view data, Clock::time_point deadline, long ms, Failure& f) {
    while (!data.empty()) {
      long n = 0;
      if (c.ssl != nullptr) {
        ERR_clear_error();
        const int rc = SSL_write(c.ssl, data.data(), static_cast<int>(data.size()));
        if (rc <= 0) {
          const int e = SSL_get_error(c.ssl, rc);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            const Wait w = wait(c.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w != Wait::ready) {
              return wait_failed(w, f, "Sending the request", ms);
            }
            continue;
          }
          return fail(f, Fail::network, "Failed sending data to the peer");
        }
        n = rc;
      } else {
        n = ::send(c.fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) {
            const Wait w = wait(c.fd, POLLOUT, deadline);
            if (w != Wait::ready) {
              return wait_failed(w, f, "Sending the request", ms);
            }
            continue;
          }
          return fail(f, Fail::network,
                      std::string("Failed sending data to the peer: ") + std::strerror(errno));
        }
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads what is there (waiting for it): > 0 bytes appended to out, 0 at the end of the stream,
  // -1 on failure (f filled).
  long read_some(Conn& c, std::string& out, Clock::time_point deadline, long ms, Failure& f) {
    char buf[16384];
    for (;;) {
      if (c.ssl != nullptr) {
        ERR_clear_error();
        const int rc = SSL_read(c.ssl, buf, sizeof buf);
        if (rc > 0) {
          out.append(buf, static_cast<std::size_t>(rc));
          return rc;
        }
        const int e = SSL_get_error(c.ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          const Wait w = wait(c.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
          if (w != Wait::ready) {
            wait_failed(w, f, "Operation", ms);
            return -1;
          }
          continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            || ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
          ERR_clear_error();
          return 0; // closed, with or without close_notify (as libcurl accepts)
        }
        fail(f, Fail::network, "TLS read failed: " + openssl_error());
        return -1;
      }
      const long n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        return n;
      }
      if (n == 0) {
        return 0;
      }
      if (errno == EAGAIN || errno == EINTR) {
        const Wait w = wait(c.fd, POLLIN, deadline);
        if (w != Wait::ready) {
          wait_failed(w, f, "Operation", ms);
          return -1;
        }
        continue;
      }
      fail(f, Fail::network, std::string("Recv failure: ") + std::strerror(errno));
      return -1;
    }
  }

  // A kept connection is usable when the server has neither closed it nor sent anything since.
  static bool still_open(const Conn& c) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 0) {
      return false;
    }
    return c.ssl == nullptr || SSL_pending(c.ssl) == 0;
  }
};

Transport::Transport(const ClientOptions& options)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->options = options;
}

Transport::~Transport() = default;

namespace {

struct Reply {
  long status = 0;
  bool close = false;
  bool chunked = false;
  std::optional<std::size_t> length;
  std::string content_type;
};

// Parses the status line and headers in head (without the blank line). False when it is not
// HTTP/1.x.
bool parse_head(std::string_view head, Reply& r, bool& http10) {
  std::size_t eol = head.find("\r\n");
  std::string_view status = head.substr(0, eol);
  if (status.size() < 12 || status.substr(0, 7) != "HTTP/1." || status[8] != ' '
      || !all_digits(status.substr(9, 3)) || (status.size() > 12 && status[12] != ' ')) {
    return false;
  }
  http10 = status[7] == '0';
  r.status = std::stol(std::string(status.substr(9, 3)));
  r.close = http10;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const std::size_t colon = line.find(':');
    if (line.empty()) {
      continue;
    }
    if (colon == std::string_view::npos || colon == 0) {
      return false;
    }
    const std::string name = lower(std::string(line.substr(0, colon)));
    const std::string value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      if (!all_digits(value) || value.size() > 18) {
        return false;
      }
      r.length = static_cast<std::size_t>(std::stoull(value));
    } else if (name == "transfer-encoding") {
      r.chunked = lower(value).find("chunked") != std::string::npos;
    } else if (name == "connection") {
      const std::string v = lower(value);
      if (v.find("close") != std::string::npos) {
        r.close = true;
      } else if (v.find("keep-alive") != std::string::npos) {
        r.close = false;
      }
    } else if (name == "content-type") {
      r.content_type = value;
    }
  }
  return true;
}

constexpr std::size_t k_max_head = 100 * 1024;

} // namespace

bool Transport::send(const Request& req,
                     const Url& url,
                     const std::string& user_agent,
                     Response& resp,
                     Failure& f,
                     Timings& t) {
  Impl& m = *m_impl;
  const auto start = Clock::now();
  const long total_ms = req.timeout_ms > 0 ? req.timeout_ms : m.options.timeout_ms;
  const auto deadline = start + std::chrono::milliseconds(total_ms);
  const long connect_ms = std::min(m.options.connect_timeout_ms, total_ms);
  const auto connect_deadline = start + std::chrono::milliseconds(connect_ms);

  std::string head = req.method + " " + url.target + " HTTP/1.1\r\nHost: " + url.authority + "\r\n";
  bool has_accept = false;
  bool has_ua = false;
  for (const auto& [k, v] : req.headers) {
    has_accept = has_accept || strcasecmp(k.c_str(), "Accept") == 0;
    has_ua = has_ua || strcasecmp(k.c_str(), "User-Agent") == 0;
  }
  if (!has_ua) {
    head += "User-Agent: " + user_agent + "\r\n";
  }
  if (!has_accept) {
    head += "Accept: */*\r\n";
  }
  for (const auto& [k, v] : req.headers) {
    head += k + ": " + v + "\r\n";
  }
  if (req.method == "POST") {
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head += "\r\n";
  head += req.body;

  const std::string key = (url.tls ? "https://" : "http://") + lower(url.host) + ":" + url.port;
  for (int attempt = 0;; ++attempt) {
    // A kept connection to the same server, unless the server has closed it meanwhile.
    bool reused = false;
    if (m.conn && (m.conn->key != key || !Impl::still_open(*m.conn))) {
      m.conn.reset();
    }
    if (m.conn) {
      reused = true;
      t.connect_us = 0;
      t.tls_us = 0;
      t.tls_version.clear();
    } else {
      auto c = std::make_unique<Conn>();
      c->key = key;
      if (!m.connect_tcp(url, connect_deadline, connect_ms, *c, f)) {
        return false;
      }
      t.connect_us = us_since(start);
      if (url.tls) {
        if (!m.handshake(url, connect_deadline, connect_ms, *c, f)) {
          return false;
        }
        t.tls_us = us_since(start);
        t.tls_version = std::string(SSL_get_version(c->ssl)) + " / "
                        + SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl));
      }
      m.conn = std::move(c);
    }
    Conn& c = *m.conn;
    std::string in;
    bool ok = m.write_all(c, head, deadline, total_ms, f);
    long n = 0;
    std::size_t end_of_head = std::string::npos;
    while (ok) {
      n = m.read_some(c, in, deadline, total_ms, f);
      if (n <= 0) {
        break;
      }
      if (t.first_byte_us == 0) {
        t.first_byte_us = us_since(start);
      }
      end_of_head = in.find("\r\n\r\n");
      if (end_of_head != std::string::npos) {
        break;
      }
      if (in.size() > k_max_head) {
        m.conn.reset();
        return Impl::fail(f, Fail::malformed, "the reply's headers are larger than 100 KiB");
      }
    }
    if (end_of_head == std::string::npos) {
      const bool nothing = in.empty();
      const bool failed = !ok || n < 0;
      m.conn.reset();
      if (reused && nothing && attempt == 0 && (!failed || f.kind == Fail::network)) {
        continue; // the server closed the kept connection as we sent: once more on a new one
      }
      if (failed) {
        return false;
      }
      return Impl::fail(f, nothing ? Fail::network : Fail::malformed,
                        nothing ? "Empty reply from server" : "the reply ended inside its headers");
    }

    // Status line and headers; 1xx replies are skipped.
    Reply r;
    bool http10 = false;
    if (!parse_head(std::string_view(in).substr(0, end_of_head), r, http10)) {
      m.conn.reset();
      return Impl::fail(f, Fail::malformed, "the reply is not HTTP/1.x");
    }
    in.erase(0, end_of_head + 4);
    // Read on to the final reply past any 1xx (100 Continue sent unasked, 103 Early Hints), each
    // head bounded like the first.
    while (r.status >= 100 && r.status < 200) {
      while ((end_of_head = in.find("\r\n\r\n")) == std::string::npos) {
        if (in.size() > k_max_head) {
          m.conn.reset();
          return Impl::fail(f, Fail::malformed, "the reply's headers are larger than 100 KiB");
        }
        const long k = m.read_some(c, in, deadline, total_ms, f);
        if (k <= 0) {
          m.conn.reset();
          return k < 0 ? false : Impl::fail(f, Fail::malformed, "the reply ended after 1xx");
        }
      }
      r = Reply{};
      if (!parse_head(std::string_view(in).substr(0, end_of_head), r, http10)) {
        m.conn.reset();
        return Impl::fail(f, Fail::malformed, "the reply is not HTTP/1.x");
      }
      in.erase(0, end_of_head + 4);
    }

    resp.status = r.status;
    resp.content_type = r.content_type;
    resp.body.clear();
    const std::size_t limit = m.options.max_body_bytes;
    auto too_large = [&] {
      m.conn.reset();
      return Impl::fail(f, Fail::too_large, "the reply is too large");
    };
    bool delimited = true;
    if (r.status == 204 || r.status == 304) {
      // no body
    } else if (r.chunked) {
      // chunk-size [;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
      std::size_t pos = 0;
      for (;;) {
        std::size_t eol;
        while ((eol = in.find("\r\n", pos)) == std::string::npos) {
          if (in.size() - pos > 1024 || m.read_some(c, in, deadline, total_ms, f) <= 0) {
            m.conn.reset();
            return f.kind == Fail::timeout || f.kind == Fail::interrupted
                       ? false
                       : Impl::fail(f, Fail::malformed, "a bad chunk in the reply");
          }
        }
        const std::string size_text = trim(std::string_view(in).substr(pos, eol - pos));
        std::size_t size = 0;
        const std::string digits = size_text.substr(0, size_text.find(';'));
        if (digits.empty() || digits.size() > 15
            || !std::all_of(digits.begin(), digits.end(), [](char ch) {
                 return std::isxdigit(static_cast<unsigned char>(ch));
               })) {
          m.conn.reset();
          return Impl::fail(f, Fail::malformed, "a bad chunk size in the reply");
        }
        size = std::stoull(digits, nullptr, 16);
        pos = eol + 2;
        if (size == 0) {
          // Trailers up to the blank line.
          for (;;) {
            while ((eol = in.find("\r\n", pos)) == std::string::npos) {
              // Trailers are bounded like the head: an endless one is not read into memory.
              if (in.size() - pos > k_max_head || m.read_some(c, in, deadline, total_ms, f) <= 0) {
                m.conn.reset();
                return f.kind == Fail::timeout || f.kind == Fail::interrupted
                           ? false
                           : Impl::fail(f, Fail::malformed, "the reply ended in its trailers");
              }
            }
            const bool blank = eol == pos;
            pos = eol + 2;
            if (blank) {
              break;
            }
          }
          break;
        }
        if (resp.body.size() + size > limit) {
          return too_large();
        }
        while (in.size() < pos + size + 2) {
          if (m.read_some(c, in, deadline, total_ms, f) <= 0) {
            m.conn.reset();
            return f.kind == Fail::timeout || f.kind == Fail::interrupted
                       ? false
                       : Impl::fail(f, Fail::network, "the connection closed inside a chunk");
          }
        }
        resp.body.append(in, pos, size);
        if (in.compare(pos + size, 2, "\r\n") != 0) {
          m.conn.reset();
          return Impl::fail(f, Fail::malformed, "a chunk does not end with CRLF");
        }
        pos += size + 2;
        if (pos > 65536) {
          in.erase(0, pos);
          pos = 0;
        }
      }
      in.erase(0, pos);
    } else if (r.length) {
      if (*r.length > limit) {
        return too_large();
      }
      while (in.size() < *r.length) {
        const long k = m.read_some(c, in, deadline, total_ms, f);
        if (k <= 0) {
          m.conn.reset();
          return k < 0 ? false
                       : Impl::fail(f, Fail::network,
                                    "transfer closed with " + std::to_string(*r.length - in.size())
                                        + " bytes remaining to read");
        }
      }
      resp.body = in.substr(0, *r.length);
      in.erase(0, *r.length);
    } else {
      delimited = false; // to the end of the stream
      for (;;) {
        if (in.size() > limit) {
          return too_large();
        }
        const long k = m.read_some(c, in, deadline, total_ms, f);
        if (k < 0) {
          m.conn.reset();
          return false;
        }
        if (k == 0) {
          break;
        }
      }
      resp.body = std::move(in);
      in.clear();
    }
    t.total_us = us_since(start);
    m.keep_session(c);
    if (r.close || !delimited || !in.empty()) {
      m.conn.reset();
    }
    return true;
  }
}

} // namespace aliot::http::native
