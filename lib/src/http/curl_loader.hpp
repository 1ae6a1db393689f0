// libcurl, loaded on first use. Only the commands that speak HTTP(S) (registration, the cloud
// OpenAPI, RRPC calls) need it, and linking it costs every start of aliot the loading of libcurl
// and the ~28 libraries it brings (gnutls, ldap, krb5, ssh2, ...). So libaliot does not link it:
// the first http::Client (or `aliot --version`, to name its version) dlopen()s libcurl.so.4 and
// resolves the functions below from it.
//
// Include this header instead of <curl/curl.h>: it maps the curl_* names a source file uses onto
// the loaded functions (macros), so such a file reads like plain libcurl code. A curl function
// missing from the table is a link error (libcurl is not linked).
#pragma once

#include <curl/curl.h>

#include <string>

namespace aliot::http::curl_dl {

// The loaded functions, or nullptr when libcurl.so.4 cannot be loaded (then load_error() says
// why). Loaded once per process, thread-safe.
struct Api {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  CURLM* (*multi_init)();
  CURLMcode (*multi_cleanup)(CURLM*);
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int*);
  CURLMcode (*multi_poll)(CURLM*, struct curl_waitfd[], unsigned int, int, int*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  curl_version_info_data* (*version_info)(CURLversion);
};
const Api* api();
// Why libcurl could not be loaded (empty when it was, or was not tried yet).
std::string load_error();
// Whether libcurl is loaded in this process (never loads it).
bool loaded();

// The entry points a Client calls first are safe without libcurl (an error or nullptr); the
// others are only reached with a handle, that is with libcurl loaded.
inline CURLcode global_init(long flags) {
  const Api* a = api();
  return a != nullptr ? a->global_init(flags) : CURLE_FAILED_INIT;
}
inline CURL* easy_init() {
  const Api* a = api();
  return a != nullptr ? a->easy_init() : nullptr;
}
inline CURLM* multi_init() {
  const Api* a = api();
  return a != nullptr ? a->multi_init() : nullptr;
}
inline void easy_cleanup(CURL* c) {
  api()->easy_cleanup(c);
}
inline void easy_reset(CURL* c) {
  api()->easy_reset(c);
}
template <class T>
CURLcode easy_setopt(CURL* c, CURLoption o, T v) {
  return api()->easy_setopt(c, o, v);
}
template <class T>
CURLcode easy_getinfo(CURL* c, CURLINFO i, T v) {
  return api()->easy_getinfo(c, i, v);
}
inline const char* easy_strerror(CURLcode rc) {
  return api()->easy_strerror(rc);
}
inline CURLMcode multi_cleanup(CURLM* m) {
  return api()->multi_cleanup(m);
}
inline CURLMcode multi_add_handle(CURLM* m, CURL* c) {
  return api()->multi_add_handle(m, c);
}
inline CURLMcode multi_remove_handle(CURLM* m, CURL* c) {
  return api()->multi_remove_handle(m, c);
}
inline CURLMcode multi_perform(CURLM* m, int* running) {
  return api()->multi_perform(m, running);
}
inline CURLMcode
multi_poll(CURLM* m, struct curl_waitfd fds[], unsigned int n, int timeout_ms, int* ret) {
  return api()->multi_poll(m, fds, n, timeout_ms, ret);
}
inline CURLMsg* multi_info_read(CURLM* m, int* left) {
  return api()->multi_info_read(m, left);
}
inline curl_slist* slist_append(curl_slist* l, const char* s) {
  return api()->slist_append(l, s);
}
inline void slist_free_all(curl_slist* l) {
  api()->slist_free_all(l);
}

} // namespace aliot::http::curl_dl

// NOLINTBEGIN(cppcoreguidelines-macro-usage)
// curl.h defines these two as macros calling themselves (its type checks, off in C++).
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init ::aliot::http::curl_dl::global_init
#define curl_easy_init ::aliot::http::curl_dl::easy_init
#define curl_easy_cleanup ::aliot::http::curl_dl::easy_cleanup
#define curl_easy_reset ::aliot::http::curl_dl::easy_reset
#define curl_easy_setopt ::aliot::http::curl_dl::easy_setopt
#define curl_easy_getinfo ::aliot::http::curl_dl::easy_getinfo
#define curl_easy_strerror ::aliot::http::curl_dl::easy_strerror
#define curl_multi_init ::aliot::http::curl_dl::multi_init
#define curl_multi_cleanup ::aliot::http::curl_dl::multi_cleanup
#define curl_multi_add_handle ::aliot::http::curl_dl::multi_add_handle
#define curl_multi_remove_handle ::aliot::http::curl_dl::multi_remove_handle
#define curl_multi_perform ::aliot::http::curl_dl::multi_perform
#define curl_multi_poll ::aliot::http::curl_dl::multi_poll
#define curl_multi_info_read ::aliot::http::curl_dl::multi_info_read
#define curl_slist_append ::aliot::http::curl_dl::slist_append
#define curl_slist_free_all ::aliot::http::curl_dl::slist_free_all
// NOLINTEND(cppcoreguidelines-macro-usage)
