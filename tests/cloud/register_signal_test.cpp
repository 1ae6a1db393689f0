// A secret the platform issued is never lost by `aliot register`: a standard output that stops
// taking lines (a closed pipe, `| head -n 5`), both outputs failing, SIGINT/SIGTERM at random
// points of a batch (the emulator's registry tells which secrets it issued), a second signal,
// and credentials that are not text aliot accepts (kept in a quarantine file).
//
// ALIOT_TEST_REGISTER_BIN runs another aliot build as the registering client (the emulator is
// always this build's): how the "before" numbers of a change are measured with these tests.
#include "cloud_support.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include <thread>

using namespace aliot::test;
using nlohmann::json;

namespace {

std::string client_bin() {
  const char* other = std::getenv("ALIOT_TEST_REGISTER_BIN");
  return other != nullptr && *other != '\0' ? other : aliot_bin();
}

std::string names_file(const TempDir& dir, const std::string& prefix, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += prefix + std::to_string(i) + "\n";
  }
  return dir.write(prefix + "names.txt", text);
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

std::string exports(const Env& env) {
  std::string out;
  for (const auto& [k, v] : env) {
    out += "export " + k + "=" + quoted(v) + "\n";
  }
  return out;
}

// The device names a message lists after `marker`, up to the next ';' or the end of the line.
std::set<std::string> named_after(const std::string& text, const std::string& marker) {
  std::set<std::string> out;
  const auto at = text.find(marker);
  if (at == std::string::npos) {
    return out;
  }
  const auto from = at + marker.size();
  const auto end = text.find_first_of(";\n", from);
  const std::string list = text.substr(from, end == std::string::npos ? end : end - from);
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const auto comma = list.find(", ", pos);
    const auto name = list.substr(pos, comma == std::string::npos ? comma : comma - pos);
    if (!name.empty()) {
      out.insert(name);
    }
    if (comma == std::string::npos) {
      break;
    }
    pos = comma + 2;
  }
  return out;
}

constexpr const char* k_lost_marker = "writing standard output failed): ";
constexpr const char* k_abandoned_marker = "answer not read — check these on the console: ";

// Runs argv with stdout on a pipe it reads until `n` lines came, then stops the process
// (SIGSTOP), takes every byte already in the pipe, closes it and lets the process go on: every
// line the process wrote before the close is read, every later write fails (EPIPE). Prints
// {"out": what was read, "status": exit status} on its stdout; the process's stderr is its own.
constexpr const char* k_closing_reader = R"(
import json, os, signal, subprocess, sys, fcntl
n = int(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE)
fd = p.stdout.fileno()
got = b""
while got.count(b"\n") < n:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    got += chunk
os.kill(p.pid, signal.SIGSTOP)
os.waitpid(p.pid, os.WUNTRACED)
fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)
while True:
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        break
    if not chunk:
        break
    got += chunk
p.stdout.close()
os.kill(p.pid, signal.SIGCONT)
status = p.wait()
print(json.dumps({"out": got.decode(), "status": status if status >= 0 else 128 - status}))
)";

} // namespace

// The reader of standard output goes away after 5 lines, and there is no --out: the batch stops
// at the first line that cannot be written, and every secret the platform issued was either read
// or is named on stderr (at most the devices in flight then).
TEST(RegisterOutput, AClosedStdoutStopsTheBatchAndEveryIssuedSecretIsReadOrNamed) {
  FakePlatform platform(20);
  TempDir dir;
  const auto names = names_file(dir, "pipe-", 300);
  const auto r = run({"python3", "-c", k_closing_reader, "5", client_bin(), "register", "-k", k_pk,
                      "--names", names, "-j", "4", "-o", "json"},
                     {.env = platform.env()});
  ASSERT_FALSE(r.out.empty()) << r.err;
  const auto res = json::parse(r.out);
  EXPECT_EQ(res["status"], 10) << r.err;
  const auto read = secrets_in(res["out"].get<std::string>());
  const auto issued = platform.state()["secrets"];
  const auto named = named_after(r.err, k_lost_marker);
  std::cerr << "[ issued " << issued.size() << ", read " << read.size() << ", named "
            << named.size() << " ]\n";
  EXPECT_GE(read.size(), 5u);
  EXPECT_GE(named.size(), 1u) << r.err;
  EXPECT_LE(named.size(), 4u) << "only the devices in flight (-j 4) at the failed write";
  for (const auto& [dn, ds] : issued.items()) {
    const bool was_read = read.count(dn) == 1;
    EXPECT_TRUE(was_read || named.count(dn) == 1) << dn << " issued, neither read nor named";
    if (was_read) {
      EXPECT_EQ(read.at(dn), ds) << dn;
      EXPECT_EQ(named.count(dn), 0u) << dn << " read and named";
    }
  }
  EXPECT_EQ(issued.size(), read.size() + named.size());
  EXPECT_EQ(r.err.find("registered 300"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("printed above"), std::string::npos) << r.err;
}

// The same through `| head -n 5`: a line head never read may have entered the pipe before head
// left (the write succeeded: aliot cannot know), but the batch stops, and the devices whose line
// could not be written are named.
TEST(RegisterOutput, PipedIntoHeadTheBatchStopsAndNamesWhatReachedNobody) {
  FakePlatform platform(50);
  TempDir dir;
  const auto names = names_file(dir, "head-", 300);
  const auto r =
      sh(exports(platform.env()) + quoted(client_bin()) + " register -k " + k_pk + " --names "
         + quoted(names) + " -j 4 -o json | head -n 5; exit ${PIPESTATUS[0]}");
  EXPECT_EQ(r.status, 10) << r.err;
  const auto shown = secrets_in(r.out);
  EXPECT_EQ(shown.size(), 5u);
  const auto issued = platform.state()["secrets"];
  const auto named = named_after(r.err, k_lost_marker);
  std::cerr << "[ issued " << issued.size() << ", through head " << shown.size() << ", named "
            << named.size() << " ]\n";
  EXPECT_GE(named.size(), 1u) << r.err;
  for (const auto& dn : named) {
    EXPECT_TRUE(issued.contains(dn)) << dn;
    EXPECT_EQ(shown.count(dn), 0u) << dn;
  }
  EXPECT_LT(issued.size(), 100u) << "the batch went on after standard output failed";
}

// Both --out and standard output fail: exit 10, every issued secret is named as reached
// neither, and nothing says the secrets are printed.
TEST(RegisterOutput, BothOutputsFailingNamesEveryIssuedSecret) {
  FakePlatform platform;
  TempDir dir;
  const auto names = names_file(dir, "both-", 20);
  const auto r = sh(exports(platform.env()) + quoted(client_bin()) + " register -k " + k_pk
                    + " --names " + quoted(names) + " -j 2 --out /dev/full > /dev/full");
  EXPECT_EQ(r.status, 10) << r.err;
  const auto issued = platform.state()["secrets"];
  const auto named = named_after(r.err, k_lost_marker);
  ASSERT_GE(issued.size(), 1u);
  EXPECT_LE(issued.size(), 2u) << "the batch stopped at the first";
  EXPECT_EQ(named.size(), issued.size()) << r.err;
  for (const auto& [dn, ds] : issued.items()) {
    EXPECT_EQ(named.count(dn), 1u) << dn << ": " << r.err;
  }
  EXPECT_NE(r.err.find("reached neither --out /dev/full nor standard output"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("printed above"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("is printed on standard output"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 only on standard output, " + std::to_string(issued.size()) + " nowhere"),
            std::string::npos)
      << r.err;
}

namespace {

// SIGINT and SIGTERM (alternately) at random points of a -j 4 batch of 1,500 with --out against
// the emulator, `rounds` times over `via`: every secret the emulator issued (a device whose secret
// in its registry changed) is in --out, and it is the one the registry holds.
void signal_rounds(const std::string& via, int rounds, std::size_t max_wait_lines) {
  Emulator emu;
  TempDir dir;
  constexpr const char* pk = "a1SigPK0001";
  constexpr const char* ps = "SigProductSecret01";
  ASSERT_EQ(emu.add_product(pk, ps).status, 0);
  const int devices = 1500;
  const auto names = names_file(dir, "sig-", devices);
  const auto added =
      run_aliot({"emulate", "cloud", "add-device", "--dir", emu.dir(), "-k", pk, "--names", names});
  ASSERT_EQ(added.status, 0) << added.err;
  Env env = emu.env();
  env["ALIOT_PRODUCT_SECRET"] = ps;
  const std::string registry = emu.dir() + "/registry.db";
  auto secrets = [&] {
    const auto q = run({"python3", "-c",
                        "import json,sqlite3,sys\n"
                        "c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro',uri=True)\n"
                        "print(json.dumps(dict(c.execute('select dn,secret from devices where "
                        "pk=?',(sys.argv[2],)).fetchall())))",
                        registry, pk});
    EXPECT_EQ(q.status, 0) << q.err;
    return json::parse(q.out).get<std::map<std::string, std::string>>();
  };

  const auto seed = std::random_device{}();
  std::cerr << "[ " << via << ", seed " << seed << " ]\n";
  std::mt19937 rng(seed);
  std::size_t issued_total = 0;
  std::size_t saved_total = 0;
  int rounds_with_loss = 0;
  int said_stopping = 0;
  for (int round = 0; round < rounds; ++round) {
    const int sig = round % 2 == 0 ? SIGINT : SIGTERM;
    const std::string name = "round" + std::to_string(round) + ".jsonl";
    const auto out = dir.file(name);
    const auto before = secrets();
    const std::size_t wait_lines =
        std::uniform_int_distribution<std::size_t>(1, max_wait_lines)(rng);
    const int extra_us = std::uniform_int_distribution<int>(0, 20000)(rng);
    Background p({"bash", "-c",
                  exports(env) + "exec " + quoted(client_bin()) + " register -k " + pk + " --names "
                      + quoted(names) + " --via " + via + " -j 4 --out " + quoted(out) + " > "
                      + quoted(out + ".stdout")});
    for (int i = 0; i < 10000 && lines_of(dir.read(name)).size() < wait_lines; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(extra_us));
    p.signal(sig);
    const auto st = p.wait(std::chrono::seconds(30));
    ASSERT_TRUE(st.has_value()) << "still running 30 s after the signal";
    const auto after = secrets();
    const auto saved = secrets_in(dir.read(name));
    ASSERT_LT(saved.size(), static_cast<std::size_t>(devices))
        << "the batch ended before the signal: the round proves nothing";
    std::size_t issued = 0;
    std::size_t kept = 0;
    for (const auto& [dn, ds] : after) {
      if (before.at(dn) == ds) {
        continue;
      }
      ++issued;
      const auto it = saved.find(dn);
      if (it != saved.end() && it->second == ds) {
        ++kept;
      } else {
        ADD_FAILURE() << "round " << round << ": " << dn << " was issued a secret not in --out";
      }
    }
    issued_total += issued;
    saved_total += kept;
    rounds_with_loss += issued != kept ? 1 : 0;
    said_stopping += p.err().find("stopping: finishing ") != std::string::npos ? 1 : 0;
    std::cerr << "[ round " << round << ": " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " after "
              << wait_lines << " lines: issued " << issued << ", in --out " << kept << ", exit "
              << *st << " ]\n";
    EXPECT_EQ(*st, 130) << p.err();
    EXPECT_EQ(saved.size(), kept) << "every line of --out is the registry's secret";
  }
  std::cerr << "[ " << via << ", " << rounds << " rounds: issued " << issued_total << ", in --out "
            << saved_total << ", rounds with a loss " << rounds_with_loss << ", 'stopping' said in "
            << said_stopping << " ]\n";
  EXPECT_EQ(issued_total, saved_total);
  EXPECT_GT(said_stopping, 0);
}

} // namespace

TEST(RegisterSignals, AtRandomPointsEverySecretIssuedIsInOut) {
  signal_rounds("https", 20, 600);
}

// The same rule over MQTT: a registration session already connected is finished after the
// first signal.
TEST(RegisterSignals, OverMqttAtRandomPointsEverySecretIssuedIsInOut) {
  signal_rounds("mqtt", 8, 60);
}

// A request sent to a server that never answers: the first SIGINT says it finishes it, the
// second abandons it and names the device to check on the console; exit 130.
TEST(RegisterSignals, TheSecondSignalAbandonsAndNamesTheRequestsInFlight) {
  Background server({"python3", "-c", k_stalled_tcp_server});
  const auto port = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << server.err();
  const Env env{{"ALIOT_AUTH_ENDPOINT", "http://127.0.0.1:" + *port},
                {"ALIOT_PRODUCT_SECRET", "ps0123456789abcd"}};
  Background p({client_bin(), "register", "-k", k_pk, "-d", "dev-stalled", "--timeout", "60s",
                "--allow-insecure-http"},
               {.env = env});
  ASSERT_EQ(server.read_line(std::chrono::seconds(10)), std::optional<std::string>("accepted"))
      << p.err();
  p.signal(SIGINT);
  bool said = false;
  for (int i = 0; i < 200 && !said; ++i) {
    ASSERT_FALSE(p.wait(std::chrono::milliseconds(50)).has_value())
        << "the first signal must not abandon the request: " << p.err();
    said = p.err().find("stopping: finishing 1 request(s) in flight") != std::string::npos;
  }
  ASSERT_TRUE(said) << p.err();
  p.signal(SIGINT);
  const auto st = p.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value()) << "still running 10 s after the second SIGINT";
  EXPECT_EQ(*st, 130) << p.err();
  EXPECT_EQ(named_after(p.err(), k_abandoned_marker), std::set<std::string>{"dev-stalled"})
      << p.err();
}

// A DeviceSecret with ESC, a newline and NUL (JSON-escaped), and one that is not UTF-8: refused
// at receipt (exit 7), nothing in --out or on stdout, and the platform's raw reply kept in a
// 0600 file under $XDG_STATE_HOME/aliot/quarantine that the error names.
TEST(RegisterQuarantine, ASecretThatIsNotTextIsRefusedAndItsReplyKept) {
  FakePlatform platform;
  TempDir dir;
  Env env = platform.env();
  env["XDG_STATE_HOME"] = dir.file("state");
  for (const std::string dn : {"ctlsecret-1", "rawsecret-1"}) {
    SCOPED_TRACE(dn);
    const auto out = dir.file(dn + ".jsonl");
    const auto r =
        run({client_bin(), "register", "-k", k_pk, "-d", dn, "--out", out}, {.env = env});
    EXPECT_EQ(r.status, 7) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(dir.read(dn + ".jsonl").empty());
    const std::string marker = "the raw reply is kept in ";
    const auto at = r.err.find(marker);
    ASSERT_NE(at, std::string::npos) << r.err;
    const auto end = r.err.find('\n', at);
    const std::string path = r.err.substr(at + marker.size(), end - at - marker.size());
    EXPECT_EQ(path.rfind(dir.file("state") + "/aliot/quarantine/" + k_pk + "." + dn + ".", 0), 0u)
        << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const std::string kept = dir.read(path.substr(dir.path().size() + 1));
    const std::string issued = platform.state()["secrets"][dn];
    if (dn.starts_with("ctl")) {
      EXPECT_EQ(json::parse(kept)["data"]["deviceSecret"], issued) << kept;
      EXPECT_NE(issued.find('\x1b'), std::string::npos);
    } else {
      EXPECT_NE(kept.find(issued + "\xff"), std::string::npos) << kept;
    }
    EXPECT_EQ(r.err.find(issued.substr(0, 8)), std::string::npos) << "the secret is not printed";
  }
}

// After the first signal a request already sent is given its --timeout; one that times out is
// named like an abandoned one: sent, answer not read.
TEST(RegisterSignals, AfterTheFirstSignalARequestThatTimesOutIsNamed) {
  Background server({"python3", "-c", k_stalled_tcp_server});
  const auto port = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << server.err();
  const Env env{{"ALIOT_AUTH_ENDPOINT", "http://127.0.0.1:" + *port},
                {"ALIOT_PRODUCT_SECRET", "ps0123456789abcd"}};
  Background p({client_bin(), "register", "-k", k_pk, "-d", "dev-slow", "--timeout", "1500ms",
                "--allow-insecure-http"},
               {.env = env});
  ASSERT_EQ(server.read_line(std::chrono::seconds(10)), std::optional<std::string>("accepted"))
      << p.err();
  p.signal(SIGINT);
  const auto st = p.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value()) << "still running 20 s after SIGINT";
  EXPECT_EQ(*st, 130) << p.err();
  EXPECT_NE(p.err().find("stopping: finishing 1 request(s) in flight"), std::string::npos)
      << p.err();
  EXPECT_EQ(named_after(p.err(), k_abandoned_marker), std::set<std::string>{"dev-slow"}) << p.err();
}
