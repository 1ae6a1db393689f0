// Shared helpers of the cloud tests: the fake platform (tests/support/fake_platform.hpp) and
// small parsing helpers.
#pragma once

#include "emulator.hpp"
#include "fake_platform.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace aliot::test {

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) {
      out.push_back(l);
    }
  }
  return out;
}

// DeviceName -> DeviceSecret of `aliot register` JSON lines (stdout or --out); a device that
// appears twice fails the test.
inline std::map<std::string, std::string> secrets_in(const std::string& jsonl) {
  std::map<std::string, std::string> out;
  for (const auto& l : lines_of(jsonl)) {
    const auto j = nlohmann::json::parse(l);
    EXPECT_EQ(out.count(j["DeviceName"]), 0u) << "duplicate line for " << j["DeviceName"];
    out[j["DeviceName"]] = j["DeviceSecret"];
  }
  return out;
}

inline nlohmann::json vectors() {
  std::ifstream f(data_path("vectors-a.json"));
  return nlohmann::json::parse(f);
}

// The Set A vectors of one scheme (dynreg_https, dynreg_mqtt, openapi_rpc_signature, ...).
inline std::vector<nlohmann::json> vectors_of(const std::string& scheme) {
  const auto all = vectors();
  std::vector<nlohmann::json> out;
  for (const auto& v : all["vectors"]) {
    if (v["scheme"] == scheme) {
      out.push_back(v);
    }
  }
  return out;
}

// A suite that shares one emulator, started once; `Suite::prepare(emu)` adds what its tests need.
// A test of a suite whose emulator did not start fails with the reason.
template <class Suite>
class SharedEmulator : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    try {
      s_emu = new Emulator();
    } catch (const std::exception& e) {
      s_error = e.what();
      return;
    }
    Suite::prepare(*s_emu);
  }
  static void TearDownTestSuite() {
    delete s_emu;
    s_emu = nullptr;
  }
  void SetUp() override {
    if (s_emu == nullptr) {
      GTEST_FAIL() << "the emulator did not start: " << s_error;
    }
  }

  static inline Emulator* s_emu = nullptr;
  static inline std::string s_error;
};

inline Env merge(Env a, const Env& b) {
  for (const auto& [k, v] : b) {
    a[k] = v;
  }
  return a;
}

} // namespace aliot::test
