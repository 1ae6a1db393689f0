// Outputs that fail: a file size limit (ulimit -f, RLIMIT_FSIZE) under `register --out` with a
// batch, and stdout on a full device (/dev/full) for the commands whose result is printed.
#include "fake_platform.hpp"
#include "faults_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

using namespace aliot::test;
using nlohmann::json;

namespace {

std::string exports(const Env& env) {
  std::string s;
  for (const auto& [k, v] : env) {
    s += "export " + k + "='" + v + "'\n";
  }
  return s;
}

// DeviceName -> DeviceSecret of the complete JSON lines of `text`; the lines that are not
// complete JSON objects are counted in `torn`.
std::map<std::string, std::string> complete_lines(const std::string& text, int& torn) {
  std::map<std::string, std::string> out;
  const auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto j = json::parse(lines[i], nullptr, false);
    // A last line without its newline is not complete either.
    const bool unterminated = i + 1 == lines.size() && text.back() != '\n';
    // register --out's outcome of a saved device: complete, and without its secret.
    const bool outcome =
        !j.is_discarded() && j.is_object() && j.contains("saved_in") && !j.contains("DeviceSecret");
    if (outcome && !unterminated) {
      continue;
    }
    if (j.is_discarded() || !j.is_object() || !j.contains("DeviceSecret") || unterminated) {
      ++torn;
      continue;
    }
    out[j["DeviceName"].get<std::string>()] = j["DeviceSecret"].get<std::string>();
  }
  return out;
}

} // namespace

// ulimit -f 1 (1 KiB) with 12 devices: --out fills after a few lines. The write fails as an error
// (exit 10), not a SIGXFSZ death (exit 153), and every secret the platform issued reached the
// user: on stdout or in a complete --out line.
TEST(FileSizeLimit, RegisterOutPastUlimitIsExit10AndNoSecretIsLost) {
  FakePlatform platform;
  TempDir dir;
  std::string names;
  for (int i = 0; i < 12; ++i) {
    names += "fsize-" + std::to_string(i) + "\n";
  }
  const auto file = dir.write("names.txt", names);
  const auto out = dir.file("out.jsonl");
  const auto r =
      sh(exports(platform.env()) + "ulimit -f 1\nexec '" + aliot_bin() + "' -o json register -k "
         + k_pk + " --names '" + file + "' --out '" + out + "'");
  EXPECT_NE(r.status, 128 + SIGXFSZ) << "killed by SIGXFSZ: " << r.err;
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_NE(r.err.find("aliot: error:"), std::string::npos) << r.err;
  int torn_stdout = 0;
  const auto printed = complete_lines(r.out, torn_stdout);
  EXPECT_EQ(torn_stdout, 0) << r.out;
  int torn = 0;
  const auto saved = complete_lines(dir.read("out.jsonl"), torn);
  EXPECT_GE(saved.size(), 1U) << "the limit was hit before any line: the test proves little";
  EXPECT_LT(saved.size(), 12U) << "every line fit: the limit was not hit";
  const auto issued = platform.state()["secrets"];
  ASSERT_GE(issued.size(), 1U);
  for (const auto& [dn, ds] : issued.items()) {
    const bool on_stdout = printed.count(dn) > 0 && printed.at(dn) == ds.get<std::string>();
    const bool in_out = saved.count(dn) > 0 && saved.at(dn) == ds.get<std::string>();
    EXPECT_TRUE(on_stdout || in_out) << dn << "'s secret was issued but reached nobody";
    EXPECT_FALSE(on_stdout && in_out) << dn << ": saved in --out, yet its secret is on stdout";
  }
  std::cerr << "[faults] ulimit -f 1 under register --out: " << issued.size() << " issued, "
            << saved.size() << " in --out, " << printed.size() << " on stdout, exit " << r.status
            << "\n";
}

// The rollback expectation (issue 12, defect 1): a failed append leaves no partial line behind;
// the file ends at its last complete line.
TEST(FileSizeLimit, AFailedOutAppendLeavesNoPartialLine) {
  FakePlatform platform;
  TempDir dir;
  std::string names;
  for (int i = 0; i < 12; ++i) {
    names += "torn-" + std::to_string(i) + "\n";
  }
  const auto file = dir.write("names.txt", names);
  const auto r = sh(exports(platform.env()) + "ulimit -f 1\nexec '" + aliot_bin() + "' register -k "
                    + k_pk + " --names '" + file + "' --out '" + dir.file("out.jsonl") + "'");
  EXPECT_EQ(r.status, 10) << r.err;
  int torn = 0;
  complete_lines(dir.read("out.jsonl"), torn);
  EXPECT_EQ(torn, 0) << "a torn line is left in --out:\n" << dir.read("out.jsonl");
}

// A result printed into a full disk is exit 10 naming the failure, for every command whose
// result is its point (register and sign have their own tests in the cloud and e2e suites).
TEST(FullStdout, EveryPrintingCommandIsExit10) {
  FakePlatform platform;
  struct Case {
    const char* name;
    std::vector<std::string> args;
  };
  std::vector<Case> cases{
      {"cloud pub", {"cloud", "pub", "-k", k_pk, "-d", "dev-full", "-t", "user/get", "-m", "x"}},
      {"cloud pub -o json",
       {"-o", "json", "cloud", "pub", "-k", k_pk, "-d", "dev-full", "-t", "user/get", "-m", "x"}},
      {"rrpc call", {"rrpc", "call", "-k", k_pk, "-d", "dev-full", "-m", "ping"}},
      {"register --dry-run", {"register", "-k", k_pk, "-d", "dev-full", "--dry-run"}},
      {"config show", {"config", "show"}},
      {"--version", {"--version"}},
      {"--version -o json", {"--version", "-o", "json"}},
      {"--help", {"--help"}},
      {"pub --help", {"pub", "--help"}},
  };
  if (!run_aliot({"ports"}).out.empty()) {
    cases.push_back({"ports", {"ports"}});
    cases.push_back({"ports -o json", {"-o", "json", "ports"}});
  } else {
    std::cerr << "[faults] no serial port on this machine: `ports > /dev/full` not tried\n";
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // The same command into a pipe works and prints something (so /dev/full has a write to fail).
    const auto fine = run_aliot(c.args, {.env = platform.env()});
    ASSERT_EQ(fine.status, 0) << fine.err;
    ASSERT_FALSE(fine.out.empty());
    std::string cmd = exports(platform.env()) + "exec '" + aliot_bin() + "'";
    for (const auto& a : c.args) {
      cmd += " '" + a + "'";
    }
    const auto r = sh(cmd + " > /dev/full");
    EXPECT_EQ(r.status, 10) << r.err;
    EXPECT_NE(r.err.find("standard output failed"), std::string::npos) << r.err;
  }
}
