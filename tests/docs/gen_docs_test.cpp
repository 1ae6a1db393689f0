// The real binary: `aliot completion` and the hidden `aliot __gen-docs`.
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using aliot::test::run_aliot;
using aliot::test::TempDir;

TEST(CompletionCommand, RejectsAnUnknownShellAsUsage) {
  auto r = run_aliot({"completion", "tcsh"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("tcsh"), std::string::npos) << r.err;
}

TEST(CompletionCommand, PrintsAScriptForEachShell) {
  EXPECT_EQ(run_aliot({"completion", "bash"}).out.rfind("# bash completion for aliot", 0), 0U);
  EXPECT_EQ(run_aliot({"completion", "zsh"}).out.rfind("#compdef aliot\n", 0), 0U);
  EXPECT_EQ(run_aliot({"completion", "fish"}).out.rfind("# fish completion for aliot", 0), 0U);
}

TEST(GenDocs, IsHiddenFromHelp) {
  auto r = run_aliot({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.find("__gen-docs"), std::string::npos);
  EXPECT_NE(r.out.find("completion"), std::string::npos);
}

TEST(GenDocs, WritesPagesRemovesStaleOnesAndKeepsOtherFiles) {
  TempDir dir;
  const fs::path man = fs::path(dir.path()) / "man";
  fs::create_directories(man);
  std::ofstream(man / "aliot-gone.1") << "stale\n";
  std::ofstream(man / "notes.txt") << "not ours\n";
  auto r = run_aliot({"__gen-docs", "--man-dir", man.string(), "--completion-dir",
                      (fs::path(dir.path()) / "completions").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(man / "aliot.1"));
  EXPECT_TRUE(fs::exists(man / "aliot-sign.1"));
  EXPECT_FALSE(fs::exists(man / "aliot-gone.1"));
  EXPECT_TRUE(fs::exists(man / "notes.txt"));
  for (const char* f : {"aliot.bash", "_aliot", "aliot.fish"}) {
    EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "completions" / f)) << f;
  }
  // A second run finds nothing to change.
  auto again = run_aliot({"__gen-docs", "--man-dir", man.string()});
  EXPECT_EQ(again.status, 0);
  EXPECT_EQ(again.out, "");
}

TEST(GenDocs, DumpsTheModelAsJson) {
  auto r = run_aliot({"__gen-docs", "--dump-json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["path"], "aliot");
  bool has_sign = false;
  for (const auto& c : j["commands"]) {
    has_sign = has_sign || c["path"] == "aliot sign";
  }
  EXPECT_TRUE(has_sign);
}

TEST(GenDocs, WithNothingToDoIsAUsageError) {
  auto r = run_aliot({"__gen-docs"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("nothing to do"), std::string::npos) << r.err;
}

} // namespace
