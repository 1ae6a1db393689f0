#include "curl_loader.hpp" // the curl_* names call libcurl, loaded on first use

#include <aliot/http.hpp>
#include <aliot/version.hpp>

#include <curl/curl.h>

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
struct BodySink {
  std::string* out;
  std::size_t limit;
  bool over = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (sink->out->size() + size * n > sink->limit) {
    sink->over = true;
    return 0;
  }
  sink->out->append(data, size * n);
  return size * n;
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
  CURL* curl = nullptr;
  // Drives the transfer so that the stop flag is looked at every k_poll_ms (curl_easy_perform
  // would call a progress callback only about once a second while the server is silent). It
  // also holds the connection cache reused between requests.
  CURLM* multi = nullptr;

  ~Impl() {
    if (multi != nullptr) {
      curl_multi_cleanup(multi);
    }
    if (curl != nullptr) {
      curl_easy_cleanup(curl);
    }
  }

  static constexpr int k_poll_ms = 50;

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
    return !interrupted;
  }
};

Client::Client(ClientOptions options, Logger logger)
    : m_impl(std::make_unique<Impl>()) {
  global_init();
  m_impl->options = std::move(options);
  m_impl->logger = std::move(logger);
  m_impl->curl = curl_easy_init();
  m_impl->multi = curl_multi_init();
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ClientOptions& Client::options() const {
  return m_impl->options;
}

Result<Response> Client::send(const Request& req) {
  CURL* c = m_impl->curl;
  if (c == nullptr || m_impl->multi == nullptr) {
    const std::string why = curl_dl::load_error();
    return why.empty() ? Error(Errc::internal, "http: libcurl could not create a handle")
                       : Error(Errc::internal, "http: " + why, "install libcurl (libcurl4)");
  }
  const auto& o = m_impl->options;
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
  const std::string ua = o.user_agent.empty() ? std::string("aliot/") + k_version : o.user_agent;
  curl_easy_setopt(c, CURLOPT_USERAGENT, ua.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms > 0 ? req.timeout_ms : o.timeout_ms);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o.insecure ? 0L : 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o.insecure ? 0L : 2L);
  if (!o.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  BodySink sink{&resp.body, o.max_body_bytes};
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(o.max_body_bytes));

  if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    return Error(Errc::internal, "http: unsupported method " + req.method);
  }

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  // No "Expect: 100-continue" round trip for bigger bodies.
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  const std::string host = url_host(req.url);
  m_impl->logger.trace("http: " + req.method + " " + host);
  CURLcode rc = CURLE_OK;
  const bool finished = m_impl->perform(rc);
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (!finished) {
    return Error(Errc::interrupted, req.method + " " + host + ": interrupted");
  }

  if (rc != CURLE_OK) {
    std::string why = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
    while (!why.empty() && (why.back() == '\n' || why.back() == '.')) {
      why.pop_back();
    }
    const std::string what = req.method + " " + host;
    if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
      return Error(Errc::remote,
                   what + ": the reply is larger than " + std::to_string(o.max_body_bytes / 1024)
                       + " KiB, which no answer of the platform is",
                   "check that the endpoint is the platform's (ALIOT_AUTH_ENDPOINT, "
                   "ALIOT_API_ENDPOINT) and not a proxy or another service");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Error(Errc::timeout, what + ": " + why,
                   "the server did not answer in time; check the endpoint and the network");
    }
    if (is_tls_error(rc)) {
      return Error(Errc::network, what + ": TLS: " + why,
                   o.ca_file.empty()
                       ? "the server certificate is not trusted by the system store; give "
                         "--ca-file FILE (or ALIOT_CA_FILE) with the right CA"
                       : "the server certificate does not verify against " + o.ca_file
                             + "; check --ca-file/ALIOT_CA_FILE and the host name");
    }
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY) {
      return Error(Errc::network, what + ": " + why, "check the host name and DNS");
    }
    return Error(Errc::network, what + ": " + why);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* ct = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) {
    resp.content_type = ct;
  }
  m_impl->logger.trace("http: " + host + " answered " + std::to_string(resp.status) + " ("
                       + std::to_string(resp.body.size()) + " bytes)");
  return resp;
}

} // namespace aliot::http
