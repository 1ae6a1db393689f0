#include "curl_loader.hpp"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

namespace aliot::http::curl_dl {

namespace {

struct Loaded {
  Api api{};
  bool ok = false;
  std::string error;
};

template <class F>
bool resolve(void* lib, const char* name, F& out, std::string& error) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) {
    error = std::string("libcurl.so.4 has no ") + name;
    return false;
  }
  out = reinterpret_cast<F>(sym); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  return true;
}

std::once_flag g_once;         // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
Loaded* g_loaded = nullptr;    // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<bool> g_ok{false}; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

void load() {
  // Never unloaded: libcurl keeps global state (curl_global_init) for the process's life.
  static Loaded l;
  g_loaded = &l;
  // The soname of libcurl 7.x and 8.x (Debian's libcurl4 package).
  void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    l.error = std::string("cannot load libcurl (the libcurl4 package): ")
              + (why != nullptr ? why : "libcurl.so.4 not found");
    return;
  }
  Api& a = l.api;
  std::string& e = l.error;
  l.ok = resolve(lib, "curl_global_init", a.global_init, e)
         && resolve(lib, "curl_easy_init", a.easy_init, e)
         && resolve(lib, "curl_easy_cleanup", a.easy_cleanup, e)
         && resolve(lib, "curl_easy_reset", a.easy_reset, e)
         && resolve(lib, "curl_easy_setopt", a.easy_setopt, e)
         && resolve(lib, "curl_easy_getinfo", a.easy_getinfo, e)
         && resolve(lib, "curl_easy_strerror", a.easy_strerror, e)
         && resolve(lib, "curl_multi_init", a.multi_init, e)
         && resolve(lib, "curl_multi_cleanup", a.multi_cleanup, e)
         && resolve(lib, "curl_multi_add_handle", a.multi_add_handle, e)
         && resolve(lib, "curl_multi_remove_handle", a.multi_remove_handle, e)
         && resolve(lib, "curl_multi_perform", a.multi_perform, e)
         && resolve(lib, "curl_multi_poll", a.multi_poll, e)
         && resolve(lib, "curl_multi_info_read", a.multi_info_read, e)
         && resolve(lib, "curl_slist_append", a.slist_append, e)
         && resolve(lib, "curl_slist_free_all", a.slist_free_all, e)
         && resolve(lib, "curl_version_info", a.version_info, e);
  g_ok.store(l.ok);
}

} // namespace

const Api* api() {
  std::call_once(g_once, load);
  return g_loaded->ok ? &g_loaded->api : nullptr;
}

std::string load_error() {
  return api() != nullptr ? std::string() : g_loaded->error;
}

bool loaded() {
  return g_ok.load();
}

} // namespace aliot::http::curl_dl
