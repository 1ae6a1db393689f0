// The HTTP(S) client of registration and the OpenAPI, on libcurl (loaded on first use).
#include "curl_loader.hpp" // the curl_* names call libcurl, loaded on first use

#include <aliot/config.hpp>
#include <aliot/http.hpp>
#include <aliot/version.hpp>

#include <curl/curl.h>
#include <fmt/core.h>

#include <strings.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <mutex>

namespace aliot::http {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Where a reply's body goes: kept up to `limit` bytes; past that the transfer is stopped (the
// write callback returns a short count) and `over` says why.
// With a request's body_sink the bytes go there instead (the status and heads first).
struct BodySink {
  std::string* out;
  std::size_t limit;
  bool over = false;
  const Request* req = nullptr;
  Response* resp = nullptr;
  const Headers* heads = nullptr;
  CURL* curl = nullptr;
  bool started = false;
  bool refused = false; // the body_sink said stop
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (sink->req != nullptr && sink->req->body_sink) {
    if (!sink->started) {
      sink->started = true;
      curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &sink->resp->status);
      sink->resp->headers = *sink->heads;
    }
    if (!sink->req->body_sink(*sink->resp, std::string_view(data, size * n))) {
      sink->refused = true;
      return 0;
    }
    return size * n;
  }
  if (sink->out->size() + size * n > sink->limit) {
    sink->over = true;
    return 0;
  }
  sink->out->append(data, size * n);
  return size * n;
}

// Every head of a reply (the 1xx ones before the final one, and the trailers of a chunked body)
// together: no answer of the platform comes near it, and a server that sends header lines
// without end is refused here rather than read on until the timeout.
constexpr std::size_t k_max_head_bytes = 100 * 1024;

// Where the header lines go: only counted (libcurl gives the status and the Content-Type);
// past k_max_head_bytes the transfer is stopped (a short count) and `over` says why.
struct HeadSink {
  std::size_t bytes = 0;
  bool over = false;
  bool keep = false; // keep the lines of the latest head (requests with a body_sink)
  Headers lines;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<HeadSink*>(user);
  sink->bytes += size * n;
  if (sink->bytes > k_max_head_bytes) {
    sink->over = true;
    return 0;
  }
  if (sink->keep) {
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.starts_with("HTTP/")) {
      sink->lines.clear(); // a new head (after a 1xx one)
    } else if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      sink->lines.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
  }
  return size * n;
}

// Called by libcurl while a transfer runs: a non-zero answer abandons it (the stop flag).
int on_progress(void* user,
                curl_off_t /*dltotal*/,
                curl_off_t /*dlnow*/,
                curl_off_t /*ultotal*/,
                curl_off_t /*ulnow*/) {
  const auto* stop = static_cast<const std::atomic<bool>*>(user);
  return stop != nullptr && stop->load() ? 1 : 0;
}

bool is_tls_error(CURLcode rc) {
  switch (rc) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_INITFAILED: return true;
  default: return false;
  }
}

// Form and query keys whose values are secrets or signatures over secrets: a trace shows the key
// and "<redacted>" (compared case-insensitively; any key naming a secret, password or token).
bool secret_key(std::string key) {
  for (auto& ch : key) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return key == "signature" || key == "sign" || key.find("secret") != std::string::npos
         || key.find("password") != std::string::npos || key.find("token") != std::string::npos;
}

// "k=v k2=<redacted> ..." of an application/x-www-form-urlencoded string (values as sent, long
// ones cut: a trace is for reading).
std::string describe_pairs(std::string_view encoded) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= encoded.size()) {
    std::size_t amp = encoded.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = encoded.size();
    }
    const std::string_view pair = encoded.substr(pos, amp - pos);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      const std::string key(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
      if (secret_key(key)) {
        value = "<redacted>";
      } else if (value.size() > 64) {
        value = value.substr(0, 60) + "...(" + std::to_string(value.size()) + " bytes)";
      }
      out += (out.empty() ? "" : " ") + key + "=" + value;
    }
    pos = amp + 1;
  }
  return out;
}

// scheme://host:port/path of a URL (the default port written out, the query left off).
std::string url_without_query(const std::string& url) {
  const std::size_t q = url.find_first_of("?#");
  std::string base = url.substr(0, q);
  const std::size_t start = base.find("://");
  if (start == std::string::npos) {
    return base;
  }
  const std::size_t path = base.find('/', start + 3);
  std::string authority =
      base.substr(start + 3, path == std::string::npos ? std::string::npos : path - start - 3);
  const bool bracketed = !authority.empty() && authority.front() == '[';
  const std::size_t colon = authority.rfind(':');
  const bool has_port = colon != std::string::npos && (!bracketed || colon > authority.find(']'));
  if (!has_port) {
    authority += base.compare(0, start, "https") == 0 ? ":443" : ":80";
  }
  return base.substr(0, start + 3) + authority
         + (path == std::string::npos ? std::string("/") : base.substr(path));
}

bool is_form(const Headers& headers) {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), "Content-Type") == 0
        && v.find("application/x-www-form-urlencoded") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// libcurl's informational lines (never headers or data, which may carry secrets): the TLS
// version it negotiated, for the trace.
int on_debug(CURL* /*c*/, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type == CURLINFO_TEXT) {
    const std::string_view text(data, size);
    constexpr std::string_view k_tls = "SSL connection using ";
    if (text.substr(0, k_tls.size()) == k_tls) {
      std::string v(text.substr(k_tls.size()));
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) {
        v.pop_back();
      }
      *static_cast<std::string*>(user) = v;
    }
  }
  return 0;
}

std::string ms(curl_off_t us) {
  return fmt::format("{:.1f} ms", static_cast<double>(us) / 1000.0);
}

// What a failed request came to.
enum class Fail { network, dns, tls, timeout, interrupted, too_large, malformed, bad_url };

Error failure_error(Fail kind,
                    const std::string& what,
                    const std::string& why,
                    const ClientOptions& o) {
  switch (kind) {
  case Fail::interrupted: return Error(Errc::interrupted, what + ": interrupted");
  case Fail::too_large:
    return Error(Errc::remote,
                 what + ": the reply is larger than " + std::to_string(o.max_body_bytes / 1024)
                     + " KiB, which no answer of the platform is",
                 "check that the endpoint is the platform's (ALIOT_AUTH_ENDPOINT, "
                 "ALIOT_API_ENDPOINT) and not a proxy or another service");
  case Fail::malformed:
    // The request went out and what came back is not HTTP (random bytes, an HTTP/0.9-looking
    // reply, heads past the bound, a broken chunk): a malformed reply (remote), not a network
    // failure.
    return Error(Errc::remote, what + ": the reply is not well-formed HTTP (" + why + ")",
                 "check that the endpoint is the platform's (ALIOT_AUTH_ENDPOINT, "
                 "ALIOT_API_ENDPOINT) and not a proxy or another service");
  case Fail::timeout:
    return Error(Errc::timeout, what + ": " + why,
                 "the server did not answer in time; check the endpoint and the network");
  case Fail::tls:
    return Error(Errc::network, what + ": TLS: " + why,
                 o.ca_file.empty()
                     ? "the server certificate is not trusted by the system store; give "
                       "--ca-file FILE (or ALIOT_CA_FILE) with the right CA"
                     : "the server certificate does not verify against " + o.ca_file
                           + "; check --ca-file/ALIOT_CA_FILE and the host name");
  case Fail::dns: return Error(Errc::network, what + ": " + why, "check the host name and DNS");
  case Fail::bad_url:
    return Error(Errc::config, what + ": not an http(s) URL libcurl can use (" + why + ")",
                 "check the endpoint (ALIOT_AUTH_ENDPOINT, ALIOT_API_ENDPOINT): "
                 "https://HOST[:PORT] with a port of 1-65535");
  case Fail::network: break;
  }
  return Error(Errc::network, what + ": " + why);
}

// The kind of failure of a transfer libcurl ended with rc.
Fail failure_kind(
    CURLcode rc, bool sent, const BodySink& body, const HeadSink& head, const std::string& why) {
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return Fail::interrupted;
  }
  if (body.over || rc == CURLE_FILESIZE_EXCEEDED) {
    return Fail::too_large;
  }
  if (head.over) {
    return Fail::malformed;
  }
  if (rc == CURLE_URL_MALFORMAT || (!sent && rc == CURLE_UNSUPPORTED_PROTOCOL)) {
    return Fail::bad_url;
  }
  // libcurl 8.6+ (CURLE_TOO_LARGE, 100): a header line or a trailer past its own bounds.
  constexpr int k_curle_too_large = 100;
  if (sent
      && (rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_UNSUPPORTED_PROTOCOL
          || rc == CURLE_OUT_OF_MEMORY || rc == CURLE_BAD_CONTENT_ENCODING
          || static_cast<int>(rc) == k_curle_too_large
          // A broken chunked body ("... in chunked-encoding"): bad sizes, a trailer past 4 KiB.
          || (rc == CURLE_RECV_ERROR && why.find("chunked-encoding") != std::string::npos))) {
    return Fail::malformed;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Fail::timeout;
  }
  if (is_tls_error(rc)) {
    return Fail::tls;
  }
  if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY) {
    return Fail::dns;
  }
  return Fail::network;
}

void trace_request(const Logger& log, const Request& req) {
  // As curl -v shows a request: where it goes, what it carries (secret values redacted).
  log.trace("http: > " + req.method + " " + url_without_query(req.url));
  if (const std::size_t q = req.url.find('?'); q != std::string::npos) {
    log.trace("http: > query: " + describe_pairs(std::string_view(req.url).substr(q + 1)));
  }
  if (!req.body.empty() && is_form(req.headers)) {
    log.trace("http: > form: " + describe_pairs(req.body));
  }
  log.trace("http: > body " + std::to_string(req.body.size()) + " bytes");
}

void trace_reply(const Logger& log,
                 const Request& req,
                 const Response& resp,
                 const std::string& host,
                 CURL* c,
                 const std::string& tls_version) {
  curl_off_t connect = 0;
  curl_off_t tls = 0;
  curl_off_t first = 0;
  curl_off_t total = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &tls);
  curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &first);
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total);
  std::string tls_part;
  if (req.url.rfind("https:", 0) == 0) {
    tls_part = ", TLS " + (tls_version.empty() ? std::string("(connection reused)") : tls_version)
               + (tls > 0 ? " in " + ms(tls) : std::string());
  }
  log.trace("http: < " + std::to_string(resp.status) + " from " + host + ", "
            + std::to_string(resp.body.size()) + " bytes; connect " + ms(connect) + tls_part
            + ", first byte " + ms(first) + ", total " + ms(total));
}

} // namespace

std::string url_host(const std::string& url) {
  std::size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

struct Client::Impl {
  ClientOptions options;
  Logger logger;
  // libcurl, loaded and set up on the first request. The easy handle is reset between requests
  // but keeps what makes the next one cheap: the kept connection, DNS cache and TLS session.
  bool curl_tried = false;
  CURL* curl = nullptr;
  // Drives the transfer so that the stop flag is looked at every k_poll_ms (curl_easy_perform
  // would call the progress callback only about once a second while the server is silent). It
  // also holds the connection cache reused between requests.
  CURLM* multi = nullptr;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (multi != nullptr) {
      curl_multi_cleanup(multi);
    }
    if (curl != nullptr) {
      curl_easy_cleanup(curl);
    }
  }

  static constexpr int k_poll_ms = 50;

  void ensure_curl() {
    if (curl_tried) {
      return;
    }
    curl_tried = true;
    global_init();
    curl = curl_easy_init();
    multi = curl_multi_init();
  }

  bool stopped() const { return options.stop != nullptr && options.stop->load(); }

  // curl_easy_perform, but abandoned (false) as soon as the stop flag is set.
  bool perform(CURLcode& rc) {
    curl_multi_add_handle(multi, curl);
    rc = CURLE_OK;
    bool done = false;
    bool interrupted = false;
    while (!done) {
      if (stopped()) {
        interrupted = true;
        break;
      }
      int running = 0;
      if (const CURLMcode mc = curl_multi_perform(multi, &running); mc != CURLM_OK) {
        rc = CURLE_SEND_ERROR;
        break;
      }
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == curl) {
          rc = msg->data.result;
          done = true;
        }
      }
      if (!done && running == 0) {
        done = true; // finished without a message: cannot happen, but never spin
      }
      if (!done) {
        curl_multi_poll(multi, nullptr, 0, k_poll_ms, nullptr);
      }
    }
    curl_multi_remove_handle(multi, curl);
    return !interrupted && rc != CURLE_ABORTED_BY_CALLBACK;
  }
};

Client::Client(ClientOptions options, Logger logger)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->options = std::move(options);
  m_impl->logger = std::move(logger);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ClientOptions& Client::options() const {
  return m_impl->options;
}

Result<Response> Client::send(const Request& req) {
  const auto& o = m_impl->options;
  if (req.method != "POST" && req.method != "GET") {
    return Error(Errc::internal, "http: unsupported method " + req.method);
  }
  if (!o.ca_file.empty()) {
    ALIOT_TRY(config::check_ca_file(o.ca_file));
  }
  const std::string ua = o.user_agent.empty() ? std::string("aliot/") + k_version : o.user_agent;

  m_impl->ensure_curl();
  CURL* c = m_impl->curl;
  if (c == nullptr || m_impl->multi == nullptr) {
    const std::string why = curl_dl::load_error();
    return why.empty() ? Error(Errc::internal, "http: libcurl could not create a handle")
                       : Error(Errc::internal, "http: " + why, "install libcurl (libcurl4)");
  }
  // Reset per-request options but keep the connection cache, DNS cache and TLS sessions.
  curl_easy_reset(c);

  Response resp;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, ua.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms > 0 ? req.timeout_ms : o.timeout_ms);
  // TLS 1.2 or later, the peer's certificate verified against the CA file or the system store
  // and its name (or address) checked against the URL's host, which also goes out as SNI.
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o.insecure ? 0L : 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o.insecure ? 0L : 2L);
  if (!o.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
  }
  if (!o.proxy.empty()) {
    curl_easy_setopt(c, CURLOPT_PROXY, o.proxy.c_str());
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  HeadSink head;
  head.keep = static_cast<bool>(req.body_sink);
  BodySink sink{&resp.body, o.max_body_bytes};
  sink.req = &req;
  sink.resp = &resp;
  sink.heads = &head.lines;
  sink.curl = c;
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  if (!req.body_sink) {
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(o.max_body_bytes));
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
  // The stop flag, looked at by libcurl too (and by perform() between its waits).
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, static_cast<const void*>(o.stop));

  if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  // No "Expect: 100-continue" round trip for bigger bodies.
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  const std::string host = url_host(req.url);
  const auto& log = m_impl->logger;
  const bool tracing = log.enabled(LogLevel::trace);
  std::string tls_version;
  if (tracing) {
    trace_request(log, req);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &tls_version);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  }
  CURLcode rc = CURLE_OK;
  const bool finished = m_impl->perform(rc);
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  const std::string what = req.method + " " + host;
  if (!finished) {
    return failure_error(Fail::interrupted, what, "", o);
  }
  if (rc != CURLE_OK && sink.refused) {
    return Error(Errc::remote, what + ": stopped by the receiver");
  }
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
    while (!why.empty() && (why.back() == '\n' || why.back() == '.')) {
      why.pop_back();
    }
    if (head.over) {
      why = "its headers are larger than " + std::to_string(k_max_head_bytes / 1024) + " KiB";
    }
    long sent = 0;
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
    return failure_error(failure_kind(rc, sent > 0, sink, head, why), what, why, o);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  if (req.body_sink) {
    resp.headers = head.lines;
  }
  char* ct = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) {
    resp.content_type = ct;
  }
  if (tracing) {
    trace_reply(log, req, resp, host, c, tls_version);
  }
  return resp;
}

} // namespace aliot::http
