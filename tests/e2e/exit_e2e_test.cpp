// What a script and a person at a terminal tell apart by the exit code and the one error line,
// through the real binary: a broker that is down (refused: exit 5 at once, the stage named) from
// one that accepts and never answers (exit 6); `-h HOST` (mosquitto's habit) refused with a
// pointer to --host, `-h` alone still help; `aliot help CMD` = `aliot CMD --help`; and a refused
// login (CONNACK 5) naming every cause the platform does not tell apart.
//
// No timed assertions: the waits below only bound a hang so that it fails instead of blocking.
#include "emulator.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace aliot::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_pk = "a1FakePK001";
constexpr const char* k_dn = "dev1";
constexpr const char* k_ds = "0123456789abcdef0123456789abcdef";

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

// A device identity on 127.0.0.1:port; TLS (the default) unless `tcp`.
std::vector<std::string> device_at(int port, bool tcp) {
  std::vector<std::string> a{"-k",     k_pk,        "-d",     k_dn,
                             "--host", "127.0.0.1", "--port", std::to_string(port)};
  if (tcp) {
    a.emplace_back("--tcp");
  }
  return a;
}

// Every device command that logs in over MQTT, as a script would run it with a bound.
std::vector<std::pair<std::string, std::vector<std::string>>> device_commands() {
  return {
      {"pub", {"pub", "-t", "user/update", "-m", "x", "--timeout", "20"}},
      {"sub -W 3", {"sub", "-t", "user/get", "-W", "3"}},
      {"rrpc serve", {"rrpc", "serve", "--echo", "-C", "1", "--timeout", "20"}},
  };
}

RunOptions with_secret() {
  RunOptions o;
  o.env = {{"ALIOT_DEVICE_SECRET", k_ds}};
  o.timeout_s = 60; // bounds a hang; a refused connect is answered at once
  return o;
}

} // namespace

// Nothing listens on the port (the emulator stopped): exit 5 and the TCP stage named, for TLS
// (where libmosquitto itself never reports the refusal) and plain MQTT, for every command.
TEST(ExitCodes, RefusedConnectIsANetworkErrorNamingTheStage) {
  const int port = free_port();
  for (const bool tcp : {false, true}) {
    for (const auto& [name, args] : device_commands()) {
      SCOPED_TRACE(name + (tcp ? " --tcp" : " over TLS"));
      auto r = run_aliot(cat(args, device_at(port, tcp)), with_secret());
      EXPECT_FALSE(r.timed_out);
      EXPECT_EQ(r.status, 5) << r.err;
      EXPECT_TRUE(
          has(r.err, "aliot: error: TCP connect to 127.0.0.1:" + std::to_string(port) + " refused"))
          << r.err;
      EXPECT_TRUE(has(r.err, "aliot: hint: is the broker (or the emulator) running?")) << r.err;
      EXPECT_TRUE(has(r.err, "ALIOT_MQTT_HOST")) << r.err;
      EXPECT_FALSE(has(r.err, "CONNACK")) << r.err;
      EXPECT_TRUE(r.out.empty()) << r.out;
    }
  }
}

// `connect` (and --hold) probes each stage itself: the same exit code and hint.
TEST(ExitCodes, RefusedConnectForConnectAndHold) {
  const int port = free_port();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"connect"}, std::vector<std::string>{"connect", "--hold"}}) {
    SCOPED_TRACE(args.back());
    auto r = run_aliot(cat(args, device_at(port, false)), with_secret());
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 5) << r.err;
    EXPECT_TRUE(has(r.err, "TCP connect")) << r.err;
    EXPECT_TRUE(has(r.err, "refused")) << r.err;
    EXPECT_TRUE(has(r.err, "aliot: hint: is the broker (or the emulator) running?")) << r.err;
  }
}

// Registration over MQTT logs in too (always TLS): the same answer.
TEST(ExitCodes, RefusedConnectWhenRegisteringOverMqtt) {
  const int port = free_port();
  auto o = with_secret();
  o.env = {{"ALIOT_PRODUCT_SECRET", "ps0123456789abcd"}};
  auto r = run_aliot({"register", "--via", "mqtt", "-k", k_pk, "-d", "devreg01", "--host",
                      "127.0.0.1", "--port", std::to_string(port)},
                     o);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_TRUE(has(r.err, "TCP connect to 127.0.0.1:" + std::to_string(port) + " refused")) << r.err;
}

// A name that does not resolve: exit 5, the DNS stage named.
TEST(ExitCodes, UnresolvableHostNamesTheDnsStage) {
  auto r = run_aliot({"pub", "-k", k_pk, "-d", k_dn, "--host", "no-such-host.invalid", "-t",
                      "user/update", "-m", "x"},
                     with_secret());
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_TRUE(has(r.err, "DNS: cannot resolve no-such-host.invalid")) << r.err;
}

// A server that accepts the connection and never answers is a timeout (6), not a network error:
// what the refused case must not be confused with.
TEST(ExitCodes, AcceptedButSilentServerIsATimeout) {
  Background stalled({"python3", "-c", k_stalled_tcp_server});
  const auto line = stalled.read_line(20s);
  ASSERT_TRUE(line.has_value()) << "the stalled server did not start";
  const int port = std::stoi(*line);
  for (const bool tcp : {false, true}) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> cmds{
        {"pub", {"pub", "-t", "user/update", "-m", "x", "--timeout", "2"}},
        {"sub -W 2", {"sub", "-t", "user/get", "-W", "2", "--timeout", "2"}},
        {"rrpc serve", {"rrpc", "serve", "--echo", "-C", "1", "--timeout", "2"}},
    };
    for (const auto& [name, args] : cmds) {
      SCOPED_TRACE(name + (tcp ? " --tcp" : " over TLS"));
      auto r = run_aliot(cat(args, device_at(port, tcp)), with_secret());
      EXPECT_FALSE(r.timed_out);
      EXPECT_EQ(r.status, 6) << r.err;
      if (name != "sub -W 2") { // sub words every timeout as its own -W ran out
        EXPECT_TRUE(has(r.err, "no CONNACK in time")) << r.err;
      }
      EXPECT_FALSE(has(r.err, "refused")) << r.err;
    }
  }
}

// mosquitto_pub's `-h HOST` typed by habit: refused (exit 2) pointing at --host, nothing sent.
TEST(HelpFlag, AmongOtherArgumentsIsAUsageErrorPointingAtHost) {
  auto r = run_aliot({"pub", "-h", "127.0.0.1", "-t", "user/update", "-m", "x"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out; // no help printed as if it had succeeded
  EXPECT_TRUE(has(r.err, "aliot: error: -h is help in aliot, not --host\n")) << r.err;
  EXPECT_TRUE(has(r.err, "aliot: hint: ")) << r.err;
  EXPECT_TRUE(has(r.err, "--host HOST")) << r.err;
  EXPECT_TRUE(has(r.err, "ALIOT_MQTT_HOST")) << r.err;

  // --help among other arguments too, anywhere on the line, with the JSON error line under -o json
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"sub", "-t", "user/get", "--help"},
        std::vector<std::string>{"-o", "json", "rrpc", "serve", "-h", "--echo"},
        std::vector<std::string>{"-h", "connect", "--tcp"}}) {
    auto e = run_aliot(args);
    EXPECT_EQ(e.status, 2) << e.err;
    EXPECT_TRUE(e.out.empty()) << e.out;
    EXPECT_TRUE(has(e.err, "--host HOST")) << e.err;
  }
  auto j = run_aliot({"-o", "json", "pub", "-h", "broker.local"});
  EXPECT_EQ(j.status, 2);
  EXPECT_TRUE(has(j.err, R"("exit_status":2)")) << j.err;

  // -h as the value of an option is that value, not help: `-m -h` publishes "-h" (here: to a
  // closed port, so the connect is what fails).
  auto v = run_aliot(cat({"pub", "-t", "user/update", "-m", "-h"}, device_at(free_port(), true)),
                     with_secret());
  EXPECT_EQ(v.status, 5) << v.err;
}

TEST(HelpFlag, AloneIsStillHelp) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-h"}, std::vector<std::string>{"--help"},
        std::vector<std::string>{"pub", "-h"}, std::vector<std::string>{"pub", "--help"},
        std::vector<std::string>{"rrpc", "serve", "-h"},
        std::vector<std::string>{"emulate", "cloud", "--help"},
        // the global options say how to print, not what to do
        std::vector<std::string>{"-o", "json", "pub", "-h"},
        std::vector<std::string>{"--no-color", "sub", "--help", "-v"}}) {
    SCOPED_TRACE(args.back());
    auto r = run_aliot(args);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(has(r.out, "Usage:")) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
  EXPECT_EQ(run_aliot({"pub", "-h"}).out, run_aliot({"pub", "--help"}).out);
}

// `aliot help CMD [SUB]` is `aliot CMD [SUB] --help`, as gh, git and az users type it.
TEST(HelpCommand, IsTheCommandsHelp) {
  const std::vector<std::vector<std::string>> cmds{
      {}, {"pub"}, {"rrpc", "serve"}, {"emulate", "cloud"}, {"completion"}};
  for (const auto& cmd : cmds) {
    SCOPED_TRACE(cmd.empty() ? "(top level)" : cmd.front());
    auto via_help = run_aliot(cat({"help"}, cmd));
    auto via_flag = run_aliot(cat(cmd, {"--help"}));
    EXPECT_EQ(via_help.status, 0) << via_help.err;
    EXPECT_EQ(via_flag.status, 0) << via_flag.err;
    EXPECT_FALSE(via_help.out.empty());
    EXPECT_EQ(via_help.out, via_flag.out);
  }
  // the top-level help lists it
  EXPECT_TRUE(has(run_aliot({"--help"}).out, "help")) << "help missing from aliot --help";
  // global options before it are kept (the word `help` asked for help: they are no mistake)
  EXPECT_EQ(run_aliot({"--no-color", "help", "sub"}).out, run_aliot({"sub", "--help"}).out);
  // and `help --help` is the help command's own help
  auto own = run_aliot({"help", "--help"});
  EXPECT_EQ(own.status, 0) << own.err;
  EXPECT_TRUE(has(own.out, "aliot help")) << own.out;
}

TEST(HelpCommand, UnknownCommandIsTheUsualUsageError) {
  auto r = run_aliot({"help", "nosuch"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(has(r.err, "aliot: error: unknown command 'nosuch'")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto near = run_aliot({"help", "pbu"});
  EXPECT_EQ(near.status, 2) << near.err;
  EXPECT_TRUE(has(near.err, "did you mean 'pub'")) << near.err;
  auto sub = run_aliot({"help", "emulate", "clod"});
  EXPECT_EQ(sub.status, 2) << sub.err;
  EXPECT_TRUE(has(sub.err, "unknown command 'emulate clod'")) << sub.err;
}

// A refused login (CONNACK 5): the platform does not say why, so the hint names every cause, the
// same for every device command.
TEST(LoginRefused, HintNamesEveryCause) {
  Emulator emu;
  ASSERT_EQ(emu.add_product(k_pk, "ps0123456789abcd").status, 0);
  ASSERT_EQ(emu.add_device(k_pk, k_dn, k_ds).status, 0);
  const std::vector<std::vector<std::string>> cmds{
      {"connect"},
      {"pub", "-t", "user/update", "-m", "x"},
      {"sub", "-t", "user/get", "-W", "3"},
  };
  for (const auto& cmd : cmds) {
    SCOPED_TRACE(cmd.front());
    // an unknown ProductKey: what the emulator and the platform answer is the generic CONNACK 5
    auto opts = with_secret();
    opts.env.insert(emu.env().begin(), emu.env().end());
    auto r = run_aliot(cat(cmd, {"-k", "a1NoSuchPK0", "-d", k_dn}), opts);
    EXPECT_EQ(r.status, 4) << r.err;
    EXPECT_TRUE(has(r.err, "CONNACK 5")) << r.err;
    for (const char* cause : {"unknown ProductKey", "unknown DeviceName", "wrong DeviceSecret",
                              "--sign-method", "disabled device", "client id"}) {
      EXPECT_TRUE(has(r.err, cause)) << cause << " missing from: " << r.err;
    }
    EXPECT_FALSE(has(r.err, k_ds)) << "the secret leaked into stderr";
  }
}
