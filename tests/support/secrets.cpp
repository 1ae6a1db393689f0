#include "secrets.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace aliot::test {

namespace {

// Printable context around a hit (control bytes as '.').
std::string context(const std::string& bytes, std::size_t pos, std::size_t len) {
  const std::size_t from = pos > 24 ? pos - 24 : 0;
  const std::string cut = bytes.substr(from, (pos - from) + len + 24);
  std::string out;
  for (const char c : cut) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '.');
  }
  return out;
}

} // namespace

Scanned text(std::string name, std::string bytes) {
  return {std::move(name), std::move(bytes), true};
}

Scanned file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return {path, {}, false};
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return {path, ss.str(), true};
}

std::vector<Scanned> files_under(const std::string& dir) {
  std::error_code ec;
  std::vector<Scanned> out;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  if (ec) {
    out.push_back({dir, {}, false});
    return out;
  }
  for (const auto& e : it) {
    if (e.is_regular_file()) {
      out.push_back(file_bytes(e.path().string()));
    }
  }
  return out;
}

::testing::AssertionResult no_secret_in(const std::vector<std::string>& secrets,
                                        const std::vector<Scanned>& places) {
  std::ostringstream failures;
  for (const auto& s : secrets) {
    if (s.empty()) {
      failures << "\n  an empty secret was given (it would match anywhere)";
    }
  }
  for (const auto& p : places) {
    if (!p.readable) {
      failures << "\n  cannot read " << p.name;
      continue;
    }
    for (const auto& s : secrets) {
      if (s.empty()) {
        continue;
      }
      for (auto pos = p.bytes.find(s); pos != std::string::npos; pos = p.bytes.find(s, pos + 1)) {
        failures << "\n  secret '" << s << "' in " << p.name << " at byte " << pos << ": "
                 << context(p.bytes, pos, s.size());
      }
    }
  }
  const std::string f = failures.str();
  if (f.empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "secrets found:" << f;
}

} // namespace aliot::test
