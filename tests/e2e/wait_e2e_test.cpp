// What a script needs from the commands that wait, through the real binary against the emulator:
// a ready line before anything else (sub, rrpc serve; cloud sub is in tests/amqp), a bound on
// every wait (rrpc serve -W), and one duration syntax for every flag that takes a time
// (500ms, 2s, a bare number is seconds; a bare number that can only have meant milliseconds is
// refused with the fix).
#include "emulator.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <sstream>

using namespace aliot::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_pk = "a1FakePK001";
constexpr const char* k_dn = "dev1";
constexpr const char* k_ds = "0123456789abcdef0123456789abcdef";
constexpr const char* k_ps = "ps0123456789abcd";
constexpr const char* k_ak = "LTAIfakeKey01";
constexpr const char* k_aks = "akSecret0123456789";

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) {
      out.push_back(json::parse(l));
    }
  }
  return out;
}

struct Emu {
  Emulator emu;
  Env env;
  Emu() {
    EXPECT_EQ(emu.add_product(k_pk, k_ps).status, 0);
    EXPECT_EQ(emu.add_device(k_pk, k_dn, k_ds).status, 0);
    EXPECT_EQ(emu.add_access_key(k_ak, k_aks).status, 0);
    env = emu.env();
    env["ALIOT_DEVICE_SECRET"] = k_ds;
    env["ALIOT_ACCESS_KEY_ID"] = k_ak;
    env["ALIOT_ACCESS_KEY_SECRET"] = k_aks;
  }
  std::vector<std::string> dev() const { return {"-k", k_pk, "-d", k_dn}; }
  Background bg(const std::vector<std::string>& args) const {
    return Background(cat({aliot_bin()}, args), {.env = env});
  }
  ProcResult run(const std::vector<std::string>& args) const {
    return run_aliot(args, {.env = env, .timeout_s = 60});
  }
};

const std::string k_get = std::string("/") + k_pk + "/" + k_dn + "/user/get";

} // namespace

// ---- readiness ----

TEST(Ready, SubSaysReadyAsItsFirstJsonLineAndGetsWhatIsPublishedAfterIt) {
  Emu e;
  auto sub = e.bg(
      cat({"sub", "-t", "user/get", "-q", "1", "-C", "1", "-W", "30s", "-o", "json"}, e.dev()));
  const auto first = sub.read_line(30s);
  ASSERT_TRUE(first.has_value()) << sub.err();
  const auto ready = json::parse(*first);
  EXPECT_EQ(ready["event"], "ready") << *first;
  EXPECT_EQ(ready["product_key"], k_pk);
  EXPECT_EQ(ready["device_name"], k_dn);
  EXPECT_EQ(ready["topics"], json::array({k_get}));
  EXPECT_EQ(ready["qos"], 1);
  EXPECT_TRUE(ready.contains("ts"));
  // Published the moment the line was read: it must arrive (the subscription is in place).
  auto p = e.run(cat({"cloud", "pub", "-t", "user/get", "-q", "1", "-m", "after ready"}, e.dev()));
  ASSERT_EQ(p.status, 0) << p.err;
  ASSERT_EQ(sub.wait(30s), 0) << sub.err();
  const auto lines = json_lines(sub.out());
  ASSERT_EQ(lines.size(), 2U) << sub.out();
  EXPECT_EQ(lines[0]["event"], "ready");
  EXPECT_EQ(lines[1]["payload"], "after ready");
}

TEST(Ready, SubSaysReadyOnStderrInTextModeWithoutVerboseAndNotUnderQuiet) {
  Emu e;
  auto sub = e.bg(cat({"sub", "-t", "user/get", "-C", "1", "-W", "30"}, e.dev()));
  const std::string line =
      std::string("aliot: ready: ") + k_pk + "/" + k_dn + " subscribed to " + k_get + " (QoS 0)";
  ASSERT_TRUE(sub.wait_for_err(line, 30s)) << sub.err();
  auto p = e.run(cat({"cloud", "pub", "-t", "user/get", "-m", "text mode"}, e.dev()));
  ASSERT_EQ(p.status, 0) << p.err;
  ASSERT_EQ(sub.wait(30s), 0) << sub.err();
  EXPECT_EQ(sub.out(), "text mode\n"); // stdout holds the results only
  EXPECT_EQ(sub.err().find("subscribed to", sub.err().find(line) + line.size()), std::string::npos)
      << "said once: " << sub.err();

  const auto quiet = e.run(cat({"--quiet", "sub", "-t", "user/get", "-W", "1"}, e.dev()));
  EXPECT_EQ(quiet.status, 6) << quiet.err;
  EXPECT_EQ(quiet.err.find("ready"), std::string::npos) << quiet.err;
}

TEST(Ready, RrpcServeSaysReadyFirstThenLogsTheRequestItAnswers) {
  Emu e;
  auto serve =
      e.bg(cat({"rrpc", "serve", "--echo", "-C", "1", "-W", "60s", "-o", "json"}, e.dev()));
  const auto first = serve.read_line(30s);
  ASSERT_TRUE(first.has_value()) << serve.err();
  const auto ready = json::parse(*first);
  EXPECT_EQ(ready["event"], "ready") << *first;
  EXPECT_EQ(ready["product_key"], k_pk);
  EXPECT_EQ(ready["device_name"], k_dn);
  EXPECT_EQ(ready["topics"],
            json::array({std::string("/sys/") + k_pk + "/" + k_dn + "/rrpc/request/+"}));
  auto c = e.run(cat({"rrpc", "call", "-m", "ping", "--timeout", "5s"}, e.dev()));
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, "ping\n"); // the reply is a line
  ASSERT_EQ(serve.wait(30s), 0) << serve.err();
  const auto lines = json_lines(serve.out());
  ASSERT_EQ(lines.size(), 3U) << serve.out();
  EXPECT_EQ(lines[0]["event"], "ready");
  EXPECT_EQ(lines[1]["event"], "request");
  EXPECT_EQ(lines[2]["event"], "reply");
}

TEST(Ready, RrpcServeWithNoRequestWithinWaitIsExit6) {
  Emu e;
  auto r = e.run(cat({"rrpc", "serve", "--reply", "x", "-W", "1500ms"}, e.dev()));
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("no request arrived within 1.5s"), std::string::npos) << r.err;
  // It had been ready (text mode: one stderr line) before it gave up.
  EXPECT_NE(r.err.find("aliot: ready: a1FakePK001/dev1 serving RRPC on"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  // -C 2 with one request served within -W is not done either.
  r = e.run(cat({"rrpc", "serve", "--reply", "x", "-C", "2", "-W", "1"}, e.dev()));
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("served 0 of 2 request(s) within 1s"), std::string::npos) << r.err;
}

TEST(Ready, ConnectHoldSaysReadyOnceOnlineAfterItsStageReport) {
  Emu e;
  auto r =
      e.run(cat({"connect", "--check-sub", "user/get", "--hold", "1500ms", "-o", "json"}, e.dev()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2U) << r.out;
  EXPECT_EQ(lines[0]["ok"], true) << r.out; // the stage report
  EXPECT_EQ(lines[1]["event"], "ready");
  EXPECT_EQ(lines[1]["product_key"], k_pk);
  EXPECT_EQ(lines[1]["device_name"], k_dn);
  EXPECT_EQ(lines[1]["topics"], json::array({k_get}));
  EXPECT_EQ(lines[1]["hold"], "1.5s");
  // --hold without a value holds until SIGINT; text mode says it on stderr.
  auto hold = e.bg(cat({"connect", "--hold"}, e.dev()));
  ASSERT_TRUE(hold.wait_for_err(std::string("aliot: ready: ") + k_pk + "/" + k_dn
                                    + " online; holding until interrupted",
                                30s))
      << hold.err();
  hold.signal(SIGINT);
  EXPECT_EQ(hold.wait(10s), 0) << hold.err();
}

// ---- durations ----

TEST(Durations, UnitsAndBareSecondsMeanWhatTheySay) {
  Emu e;
  // -W with each form: the message says the bound it was given.
  for (const auto& [arg, said] : std::vector<std::pair<std::string, std::string>>{
           {"500ms", "within 500ms"}, {"2s", "within 2s"}, {"1", "within 1s"}}) {
    const auto r = e.run(cat({"sub", "-t", "user/get", "-W", arg}, e.dev()));
    EXPECT_EQ(r.status, 6) << arg << ": " << r.err;
    EXPECT_NE(r.err.find("arrived " + said), std::string::npos) << arg << ": " << r.err;
  }
  // What the platform is asked to wait: rrpc call's Timeout parameter, in milliseconds.
  for (const auto& [arg, ms] : std::vector<std::pair<std::string, std::string>>{
           {"2500ms", "2500"}, {"8", "8000"}, {"3s", "3000"}, {"1.5s", "1500"}}) {
    const auto r = e.run(cat({"rrpc", "call", "-m", "x", "--timeout", arg, "--dry-run"}, e.dev()));
    ASSERT_EQ(r.status, 0) << arg << ": " << r.err;
    EXPECT_NE(r.out.find("Timeout=" + ms + "&"), std::string::npos)
        << arg << ": " << r.out.substr(0, 400);
  }
}

TEST(Durations, ABareNumberThatCanOnlyBeMillisecondsIsRefusedWithTheFix) {
  Emu e;
  auto r = e.run(cat({"rrpc", "call", "-m", "x", "--timeout", "5000", "--dry-run"}, e.dev()));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("--timeout 5000 means 5000 seconds (a bare number is seconds)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("aliot: hint: for milliseconds write --timeout 5000ms"), std::string::npos)
      << r.err;
  r = e.run(cat({"cloud", "pub", "-t", "user/get", "-m", "x", "--timeout", "3000", "--dry-run"},
                e.dev()));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("aliot: hint: for milliseconds write --timeout 3000ms"), std::string::npos)
      << r.err;
  // Written with the unit it is accepted.
  r = e.run(cat({"cloud", "pub", "-t", "user/get", "-m", "x", "--timeout", "3000ms", "--dry-run"},
                e.dev()));
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(Durations, BadSyntaxIsAUsageErrorNamingTheFlag) {
  Emu e;
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {cat({"sub", "-t", "user/get", "-W", "5x"}, e.dev()), "--wait"},
      {cat({"sub", "-t", "user/get", "--timeout=-1s"}, e.dev()), "--timeout"},
      {cat({"sub", "-t", "user/get", "--timeout="}, e.dev()), "--timeout"},
      {cat({"rrpc", "serve", "--echo", "-W", "1.2.3s"}, e.dev()), "--wait"},
      {cat({"rrpc", "call", "-m", "x", "--timeout", "ms"}, e.dev()), "--timeout"},
      {cat({"pub", "-t", "user/update", "-m", "x", "--timeout", "10 s"}, e.dev()), "--timeout"},
      {cat({"connect", "--hold", "forever"}, e.dev()), "--hold"},
      {{"cloud", "sub", "--consumer-group", "G", "-W", "1d"}, "--wait"},
  };
  for (const auto& c : cases) {
    const auto r = e.run(c.args);
    EXPECT_EQ(r.status, 2) << c.args[0] << " " << c.flag << ": " << r.err;
    EXPECT_NE(r.err.find("aliot: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.flag + ": "), std::string::npos) << r.err;
    if (c.args.back().back() != '=') { // an empty value is CLI11's "1 required DURATION missing"
      EXPECT_NE(r.err.find("500ms, 8s, 2m"), std::string::npos) << "says the form: " << r.err;
    }
    EXPECT_EQ(r.out, "");
  }
}
