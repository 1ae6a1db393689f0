#include "util/module.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace aliot::util {

namespace {

namespace fs = std::filesystem;

// The directory of the running program.
std::string self_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
  if (n <= 0) {
    return {};
  }
  return fs::path(std::string(buf, static_cast<std::size_t>(n))).parent_path().string();
}

} // namespace

ModuleSymbol open_module(std::string_view what,
                         std::string_view file,
                         const char* symbol,
                         const char* build_path,
                         const char* install_path) {
  std::vector<std::string> candidates;
  if (build_path != nullptr) {
    candidates.emplace_back(build_path);
  }
  if (const std::string here = self_dir(); !here.empty()) {
    for (const char* dir :
         {"/../lib/aliot/", "/../lib64/aliot/", "/../lib/x86_64-linux-gnu/aliot/"}) {
      candidates.push_back(here + dir + std::string(file));
    }
  }
  if (install_path != nullptr) {
    candidates.emplace_back(install_path);
  }
  ModuleSymbol m;
  std::string tried;
  for (const auto& path : candidates) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      m.error = "cannot load " + path + ": " + (why != nullptr ? why : "unknown error");
      return m;
    }
    m.symbol = ::dlsym(lib, symbol);
    if (m.symbol == nullptr) {
      m.error = path + " has no " + symbol + " (another aliot version?)";
    }
    return m;
  }
  m.error =
      std::string(what) + " " + std::string(file) + " was not found (looked in " + tried + ")";
  return m;
}

} // namespace aliot::util
