// The station as its operator and its supervisor see it, end to end through the real binary:
// `aliot emulate switch` units on pseudo-terminals, a real SQLite pool and journal. A pool that
// runs low warns once; an empty one stops the line before another unit (exit 3, a pool_empty
// event); each unit's line is printed once; on a terminal (a real pty, Python's pty module) a
// status line is redrawn in place, PASS green and FAIL red unless colour is off; a --register run
// against a product without the unit's DeviceName says what the product needs.
#include "emulator.hpp"
#include "journal_support.hpp"
#include "support.hpp"

#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <regex>
#include <sstream>
#include <switch_sim.hpp>

using namespace aliot;
using namespace aliot::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_pk = "a1ScreenPK1";
constexpr const char* k_ps = "ScreenProductSecret0123456789abc";

std::string mac_of(std::uint64_t seed) {
  return switchsim::identity_from_seed(seed).mac;
}

std::string mac_hex(const std::string& mac) {
  std::string s;
  for (char c : mac) {
    if (c != ':') {
      s += c;
    }
  }
  return s;
}

// A pool of `n` triplets SW-SCR-000.. imported through lib.
std::string make_pool(const TempDir& dir, int n) {
  std::string csv = "ProductKey,DeviceName,DeviceSecret\n";
  for (int i = 0; i < n; ++i) {
    char row[128];
    std::snprintf(row, sizeof row, "%s,SW-SCR-%03d,scrsecret%03d0123456789abcdef01234\n", k_pk, i,
                  i);
    csv += row;
  }
  const auto path = dir.file("pool.db");
  auto pool = factory::Pool::open(path);
  EXPECT_TRUE(pool) << (pool ? "" : pool.error().message());
  if (pool) {
    auto r = (*pool)->import_text(csv, "test pool", {});
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
  }
  return path;
}

long long available(const std::string& pool) {
  auto p = factory::Pool::open(pool);
  EXPECT_TRUE(p);
  if (!p) {
    return -1;
  }
  auto st = (*p)->status();
  EXPECT_TRUE(st);
  return st && !st->empty() ? st->front().available : 0;
}

std::size_t jobs_in(const std::string& journal) {
  auto j = factory::Journal::open(journal);
  EXPECT_TRUE(j);
  if (!j) {
    return 0;
  }
  auto jobs = (*j)->jobs();
  EXPECT_TRUE(jobs);
  return jobs ? jobs->size() : 0;
}

// The DeviceName a simulated unit holds ("" when empty or never written).
std::string held_dn(const std::string& state_file) {
  if (!std::filesystem::exists(state_file)) {
    return "";
  }
  auto s = switchsim::load_state(state_file);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  const auto* slot = s ? switchsim::active_slot(*s) : nullptr;
  return slot == nullptr ? "" : slot->dn;
}

// A fixture fed the units of `seeds` (a seed with a plan: that unit refuses every commit).
struct Fixture {
  std::string link, flash;
  std::unique_ptr<Background> proc;
  Fixture(const TempDir& dir, const std::vector<std::pair<std::uint64_t, bool>>& seeds) {
    const auto plan =
        dir.write("flash_fail.json",
                  R"({"rules":[{"match":{"cmd":"IDMCOMMIT"},"action":{"flash_fail":true}}]})");
    std::string units;
    for (const auto& [seed, fails] : seeds) {
      json j = {{"seed", seed}};
      if (fails) {
        j["faults"] = plan;
      }
      units += j.dump() + "\n";
    }
    link = dir.file("fixture0");
    flash = dir.file("flash");
    proc = std::make_unique<Background>(
        std::vector<std::string>{aliot_bin(), "emulate", "switch", "--link", link, "--units",
                                 dir.write("units.jsonl", units), "--state-dir", flash, "--boot-ms",
                                 "30", "--commit-ms", "10", "--replug-ms", "100"});
    EXPECT_TRUE(proc->wait_for("arrived", 10s)) << proc->err();
  }
  std::string state(std::uint64_t seed) const {
    return flash + "/" + mac_hex(mac_of(seed)) + ".json";
  }
  ~Fixture() {
    proc->signal(SIGTERM);
    proc->wait(5s);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
};

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Runs argv[1:] on a new pseudo-terminal (its stdin, stdout and stderr) and copies everything the
// terminal got to stdout, byte for byte; exits with the program's status.
constexpr const char* k_on_a_pty = R"(
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.stdout.flush()
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
)";

} // namespace

// ---- the pool runs low, then runs out ----

TEST(StationScreen, LowWaterWarnsOnceThenAnEmptyPoolStopsTheLineBeforeTheNextUnit) {
  TempDir dir;
  const auto pool = make_pool(dir, 3);
  const auto journal = dir.file("j.db");
  // four units for three triplets: the fourth must never be taken
  Fixture fx(dir, {{701, false}, {702, false}, {703, false}, {704, false}});
  const auto r = run_aliot({"burn", "--port", fx.link, "--pool", pool, "--journal", journal,
                            "--loop", "--low-water", "2", "-o", "json"},
                           {.timeout_s = 120});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    lines.push_back(json::parse(l));
  }
  // PASS (2 left: low), PASS, PASS (none left), then the stop and the summary
  ASSERT_EQ(lines.size(), 6U) << r.out;
  EXPECT_EQ(lines[0]["result"], "PASS");
  EXPECT_EQ(lines[1]["event"], "low_water") << lines[1];
  EXPECT_EQ(lines[1]["left"], 2);
  EXPECT_EQ(lines[1]["low_water"], 2);
  EXPECT_EQ(lines[1]["product_key"], k_pk);
  EXPECT_EQ(lines[2]["result"], "PASS");
  EXPECT_EQ(lines[3]["result"], "PASS");
  EXPECT_EQ(lines[4]["event"], "pool_empty") << lines[4];
  EXPECT_EQ(lines[4]["left"], 0);
  EXPECT_EQ(lines[4]["pool"], pool);
  const auto& s = lines[5]["summary"];
  EXPECT_EQ(s["units"], 3);
  EXPECT_EQ(s["pass"], 3);
  EXPECT_EQ(s["pool_empty"], true);
  EXPECT_EQ(s["left"], 0);
  // one warning line for one crossing; the stop says why, with the documented exit class
  EXPECT_EQ(count_of(r.err, "warning: the pool " + pool + " has 2 free triplets of "), 1U) << r.err;
  EXPECT_EQ(count_of(r.err, "warning:"), 1U) << r.err;
  EXPECT_NE(r.err.find("aliot: station stopped: 3 units, 3 pass, 0 fail in "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("aliot: error: the pool " + pool + " has no free triplet of "
                       + std::string(k_pk)
                       + " left: the station stopped before taking another unit"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("\"code\":\"config\""), std::string::npos) << r.err;
  // no job for a fourth unit, and the unit that came next holds nothing
  EXPECT_EQ(jobs_in(journal), 3U);
  EXPECT_EQ(available(pool), 0);
  ASSERT_TRUE(fx.proc->wait_for("unit 4/4 arrived", 10s)) << fx.proc->out();
  EXPECT_EQ(held_dn(fx.state(704)), "");
  EXPECT_EQ(held_dn(fx.state(701)), "SW-SCR-000");

  // a station started on the empty pool stops at once, before it waits for any unit
  const auto again = run_aliot(
      {"burn", "--port", dir.file("nobody"), "--pool", pool, "--journal", journal, "--loop"},
      {.timeout_s = 60});
  EXPECT_EQ(again.status, 3) << again.err;
  EXPECT_EQ(again.out, "");
  EXPECT_NE(again.err.find("station stopped: 0 units, 0 pass, 0 fail"), std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("has no free triplet"), std::string::npos) << again.err;
  EXPECT_EQ(jobs_in(journal), 3U);
}

// ---- piped: each unit's line once, exactly as before; no colour, no status line ----

TEST(StationScreen, PipedAFailIsPrintedOnceAndTheLinesAreUnchanged) {
  TempDir dir;
  const auto pool = make_pool(dir, 2);
  const auto journal = dir.file("j.db");
  Fixture fx(dir, {{711, true}, {712, false}});
  const auto r = run_aliot({"burn", "--port", fx.link, "--pool", pool, "--journal", journal,
                            "--loop", "--low-water", "1"},
                           {.env = {{"TERM", "xterm-256color"}}, .timeout_s = 120});
  // FAIL (its triplet stays the unit's: 1 left, low), PASS (none left): the line stops
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  const std::regex lines("FAIL  SW-SCR-000  " + mac_of(711)
                         + "  (device|verify): [^\n]*commit[^\n]*\n"
                           "PASS  SW-SCR-001  "
                         + mac_of(712) + "  [0-9]+ ms  level 5\n");
  EXPECT_TRUE(std::regex_match(r.out, lines)) << r.out;
  // the cause once: on stdout, not again on stderr
  const auto cause = r.out.substr(r.out.find(": ") + 2, r.out.find('\n') - r.out.find(": ") - 2);
  EXPECT_EQ(r.err.find(cause), std::string::npos) << cause << "\n" << r.err;
  EXPECT_EQ(r.err.find(mac_of(711)), std::string::npos) << r.err;
  EXPECT_EQ(count_of(r.err, "warning: the pool"), 1U) << r.err;
  for (const auto& text : {r.out, r.err}) {
    EXPECT_EQ(text.find('\033'), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  }
}

// ---- on a terminal: the status line, PASS green, FAIL red ----

TEST(StationScreen, OnATerminalAStatusLineAndColourUnlessColourIsOff) {
  if (!have_program("python3")) {
    GTEST_SKIP() << "python3 is needed for the pty";
  }
  struct Variant {
    const char* name;
    Env env;
    std::vector<std::string> extra;
    bool colour;
  };
  const std::vector<Variant> variants = {
      {"colour", {{"TERM", "xterm-256color"}}, {}, true},
      {"NO_COLOR", {{"TERM", "xterm-256color"}, {"NO_COLOR", "1"}}, {}, false},
      {"--no-color", {{"TERM", "xterm-256color"}}, {"--no-color"}, false},
  };
  std::uint64_t seed = 720;
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    TempDir dir;
    const auto pool = make_pool(dir, 2);
    const std::uint64_t bad = ++seed, good = ++seed;
    Fixture fx(dir, {{bad, true}, {good, false}});
    std::vector<std::string> argv = {"python3", "-c",        k_on_a_pty,       aliot_bin(),
                                     "burn",    "--port",    fx.link,          "--pool",
                                     pool,      "--journal", dir.file("j.db"), "--loop"};
    argv.insert(argv.end(), v.extra.begin(), v.extra.end());
    const auto r = run(argv, {.env = v.env, .timeout_s = 120});
    EXPECT_EQ(r.status, 3) << r.out << r.err;
    const std::string& tty = r.out;
    // the status line: redrawn in place (\r, erase to the end), with what the station does and
    // the counts
    EXPECT_NE(tty.find("\rwaiting for a unit  |  0 done, 0 failed, 2 triplets left\033[K"),
              std::string::npos)
        << tty;
    EXPECT_NE(tty.find("\rburning: staged  |  0 done, 0 failed, 2 triplets left\033[K"),
              std::string::npos)
        << tty;
    EXPECT_NE(tty.find("\rdone: FAIL SW-SCR-000  |  0 done, 1 failed, 1 triplets left\033[K"),
              std::string::npos)
        << tty;
    EXPECT_NE(tty.find("\rdone: PASS SW-SCR-001  |  1 done, 1 failed, 0 triplets left\033[K"),
              std::string::npos)
        << tty;
    // each unit's line once, after the status line was cleared
    EXPECT_EQ(count_of(tty, "SW-SCR-000  " + mac_of(bad)), 1U) << tty;
    EXPECT_EQ(count_of(tty, "SW-SCR-001  " + mac_of(good)), 1U) << tty;
    if (v.colour) {
      EXPECT_NE(tty.find("\r\033[K\033[1;31mFAIL  SW-SCR-000  " + mac_of(bad)), std::string::npos)
          << tty;
      EXPECT_NE(tty.find("\r\033[K\033[1;32mPASS\033[0m  SW-SCR-001  " + mac_of(good)),
                std::string::npos)
          << tty;
    } else {
      EXPECT_NE(tty.find("\r\033[KFAIL  SW-SCR-000  " + mac_of(bad)), std::string::npos) << tty;
      EXPECT_NE(tty.find("\r\033[KPASS  SW-SCR-001  " + mac_of(good)), std::string::npos) << tty;
      EXPECT_EQ(tty.find("\033[1;3"), std::string::npos) << tty;
      EXPECT_EQ(tty.find("\033[0m"), std::string::npos) << tty;
    }
    EXPECT_NE(tty.find("has no free triplet of " + std::string(k_pk)), std::string::npos) << tty;
  }
}

// ---- --register against a product that does not hold the unit's DeviceName ----

TEST(StationScreen, RegisterWithoutThePreRegisteredNameSaysWhatTheProductNeeds) {
  Emulator emu;
  emu.add_product(k_pk, k_ps, true);
  TempDir dir;
  const auto state = dir.file("u.json");
  const auto link = dir.file("dut");
  Background unit({aliot_bin(), "emulate", "switch", "--link", link, "--state", state, "--seed",
                   "731", "--boot-ms", "30", "--commit-ms", "10"});
  ASSERT_TRUE(unit.wait_for("switch ready", 10s)) << unit.err();
  Env env(emu.env().begin(), emu.env().end());
  env["ALIOT_PRODUCT_SECRET"] = k_ps;
  const std::string dn = "SW-" + mac_hex(mac_of(731));
  const auto r = run_aliot({"burn", "--port", link, "--register", "-k", k_pk, "--pool",
                            dir.file("pool.db"), "--journal", dir.file("j.db")},
                           {.env = env, .timeout_s = 60});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("aliot: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the product " + std::string(k_pk) + " has no device " + dn
                       + " to register (--register needs every unit's DeviceName "
                         "pre-registered)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("aliot: hint: add the DeviceNames --name-template SW-{mac} makes to the "
                       "product "
                       + std::string(k_pk)),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("dynamic registration switched on"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--no-preregister"), std::string::npos) << r.err;
  EXPECT_EQ(held_dn(state), "");
  unit.signal(SIGTERM);
  unit.wait(5s);
}
