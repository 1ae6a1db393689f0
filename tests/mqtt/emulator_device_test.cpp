// `aliot connect`, `pub`, `sub` and `rrpc serve` against the local platform emulator
// (`aliot emulate cloud`): the operator view of what a device sent, messages the cloud sends
// (OpenAPI Pub via `aliot cloud pub`), RRPC through the OpenAPI (`aliot rrpc call`), and every
// failure stage of `connect` with its exit code.
#include "certs.hpp"
#include "emulator.hpp"
#include "secrets.hpp"
#include "support.hpp"

#include <aliot/time.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace aliot::test;
using nlohmann::json;

namespace {

constexpr const char* k_pk = "a1FakePK001";
constexpr const char* k_dn = "dev1";
constexpr const char* k_ds = "0123456789abcdef0123456789abcdef";

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Emu {
  Emulator emu;
  Env env;
  Emu() {
    EXPECT_EQ(emu.add_product(k_pk, "ps0123456789abcd").status, 0);
    EXPECT_EQ(emu.add_device(k_pk, k_dn, k_ds).status, 0);
    EXPECT_EQ(emu.add_device(k_pk, "disabled1", k_ds, true).status, 0);
    EXPECT_EQ(emu.add_access_key("LTAIfakeKey01", "akSecret0123456789").status, 0);
    env = emu.env();
    env["ALIOT_DEVICE_SECRET"] = k_ds;
    env["ALIOT_ACCESS_KEY_ID"] = "LTAIfakeKey01";
    env["ALIOT_ACCESS_KEY_SECRET"] = "akSecret0123456789";
  }
  std::vector<std::string> dev(const std::string& dn = k_dn) const {
    return {"-k", k_pk, "-d", dn};
  }
};

Background aliot_bg(const std::vector<std::string>& args, const Env& env) {
  std::vector<std::string> argv{aliot_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Background(argv, {.env = env});
}

void wait_err(Background& p, const std::string& needle) {
  for (int i = 0; i < 300; ++i) {
    if (p.err().find(needle) != std::string::npos) {
      return;
    }
    p.wait_for("\x01never", std::chrono::milliseconds(50));
  }
  FAIL() << "no '" << needle << "' on stderr: " << p.err();
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

// The JSON lines of a waiting command (sub, rrpc serve, cloud sub): the first must be its ready
// event; the rest (what arrived) are returned.
std::vector<json> after_ready(const std::string& text) {
  auto lines = json_lines(text);
  EXPECT_FALSE(lines.empty()) << "no ready line: " << text;
  if (lines.empty()) {
    return lines;
  }
  EXPECT_EQ(lines.front().value("event", ""), "ready") << text;
  lines.erase(lines.begin());
  return lines;
}

std::string big_payload() {
  std::string big(256 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) {
    big[i] = static_cast<char>('A' + (i / 997) % 26);
  }
  return big;
}

std::string b64(const std::string& s) {
  auto r = run({"base64", "-w0"}, {.input = s});
  return r.out;
}

} // namespace

TEST(EmulatorPub, OperatorViewSeesTextBinaryAnd256KBAtQos0And1) {
  Emu e;
  TempDir d;
  const std::string big = big_payload();
  const std::string bigf = d.write("big", big);
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"-m", "text qos0"}, {"-q", "1", "--hex", "00ff7f80"}, {"-q", "1", "-f", bigf}}) {
    auto r =
        run_aliot(cat(cat({"pub", "--tcp", "-t", "user/update"}, extra), e.dev()), {.env = e.env});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // and over TLS with the emulator's CA
  auto tls = run_aliot(cat({"pub", "-t", "user/update", "-q", "1", "-m", "over tls"}, e.dev()),
                       {.env = e.env});
  ASSERT_EQ(tls.status, 0) << tls.err;
  const json view =
      json::parse(e.emu.messages_json(std::string("/") + k_pk + "/" + k_dn + "/user/update"));
  const auto& msgs = view["messages"];
  ASSERT_EQ(msgs.size(), 4U) << view.dump().substr(0, 500);
  EXPECT_EQ(msgs[0]["payload_base64"], b64("text qos0"));
  EXPECT_EQ(msgs[0]["qos"], 0);
  EXPECT_EQ(msgs[1]["payload_base64"], "AP9/gA==");
  EXPECT_EQ(msgs[1]["qos"], 1);
  EXPECT_EQ(msgs[2]["payload_base64"], b64(big));
  EXPECT_EQ(msgs[3]["payload_base64"], b64("over tls"));
}

TEST(EmulatorSub, SeesWhatTheCloudSendsOnUserGetAndStopsAfterExactlyThree) {
  Emu e;
  auto sub = aliot_bg(
      cat({"sub", "-v", "-t", "user/get", "-q", "1", "-C", "3", "-W", "60", "-o", "json"}, e.dev()),
      e.env);
  wait_err(sub, "subscribed to");
  TempDir d;
  // The platform's largest payload, sent by the cloud through the OpenAPI Pub action.
  const std::string big = big_payload();
  const std::string bigf = d.write("big", big);
  for (const auto& extra : std::vector<std::vector<std::string>>{{"-m", "from the cloud"},
                                                                 {"-q", "1", "--hex", "fffe00"},
                                                                 {"-q", "1", "-f", bigf},
                                                                 {"-m", "fourth"}}) {
    auto r =
        run_aliot(cat(cat({"cloud", "pub", "-t", "user/get"}, extra), e.dev()), {.env = e.env});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  auto st = sub.wait(std::chrono::seconds(30));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << sub.err();
  const auto lines = after_ready(sub.out());
  ASSERT_EQ(lines.size(), 3U) << sub.out().substr(0, 300);
  const std::string topic = std::string("/") + k_pk + "/" + k_dn + "/user/get";
  EXPECT_EQ(lines[0]["topic"], topic);
  EXPECT_EQ(lines[0]["payload"], "from the cloud");
  EXPECT_EQ(lines[1]["payload_base64"], "//4A");
  EXPECT_EQ(lines[1]["qos"], 1);
  EXPECT_EQ(lines[2]["payload"], big);
}

TEST(EmulatorSub, WaitEndsWithExit6AndUntilStopsOnTheMatch) {
  Emu e;
  auto w = run_aliot(cat({"sub", "-t", "user/get", "-W", "1"}, e.dev()),
                     {.env = e.env, .timeout_s = 30});
  EXPECT_EQ(w.status, 6) << w.err;

  auto sub = aliot_bg(
      cat({"sub", "-v", "-t", "user/get", "--until", "^done$", "-W", "60"}, e.dev()), e.env);
  wait_err(sub, "subscribed to");
  for (const char* m : {"a", "done", "b"}) {
    auto r = run_aliot(cat({"cloud", "pub", "-q", "1", "-t", "user/get", "-m", m}, e.dev()),
                       {.env = e.env});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  auto st = sub.wait(std::chrono::seconds(30));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << sub.err();
  EXPECT_EQ(sub.out(), "a\ndone\n");
}

TEST(EmulatorSub, WaitWithoutCountIsNotAnErrorOnceAMessageArrived) {
  Emu e;
  auto sub = aliot_bg(cat({"sub", "-v", "-t", "user/get", "-W", "3"}, e.dev()), e.env);
  wait_err(sub, "subscribed to");
  auto r = run_aliot(cat({"cloud", "pub", "-q", "1", "-t", "user/get", "-m", "one"}, e.dev()),
                     {.env = e.env});
  ASSERT_EQ(r.status, 0) << r.err;
  auto st = sub.wait(std::chrono::seconds(15));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << sub.err();
  EXPECT_EQ(sub.out(), "one\n");
  EXPECT_EQ(sub.err().find("error"), std::string::npos) << sub.err();
}

TEST(EmulatorSub, StopsWithExit0WhenTheReaderOfItsPipeGoesAway) {
  // `aliot sub ... -o json | head -2`: a real pipe whose reader exits after the ready line and
  // the first message. The next write fails with EPIPE and sub ends (exit 0), as mosquitto_sub
  // does, instead of running on forever.
  Emu e;
  std::string cmd = "'" + aliot_bin() + "' sub -v -t user/get -o json";
  for (const auto& a : e.dev()) {
    cmd += " '" + a + "'";
  }
  Background pipeline({"bash", "-c", cmd + " | head -2; echo \"status=${PIPESTATUS[0]}\""},
                      {.env = e.env});
  wait_err(pipeline, "subscribed to");
  std::optional<int> st;
  for (int i = 0; i < 10 && !st; ++i) {
    auto r = run_aliot(
        cat({"cloud", "pub", "-q", "1", "-t", "user/get", "-m", "m" + std::to_string(i)}, e.dev()),
        {.env = e.env});
    ASSERT_EQ(r.status, 0) << r.err;
    st = pipeline.wait(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(st.has_value()) << "sub still running after its reader left: " << pipeline.err();
  EXPECT_EQ(*st, 0);
  const auto nl = pipeline.out().find('\n');
  ASSERT_NE(nl, std::string::npos) << pipeline.out();
  EXPECT_EQ(json::parse(pipeline.out().substr(0, nl))["event"], "ready");
  const auto nl2 = pipeline.out().find('\n', nl + 1);
  ASSERT_NE(nl2, std::string::npos) << pipeline.out();
  EXPECT_EQ(json::parse(pipeline.out().substr(nl + 1, nl2 - nl - 1))["payload"], "m0");
  EXPECT_NE(pipeline.out().find("status=0\n"), std::string::npos) << pipeline.out();
}

TEST(EmulatorSign, EveryForMosquittoFormLogsInWithRealMosquittoSub) {
  // The documented forms exactly as a shell runs them, against the emulator over TLS: the
  // clientId holds | , = and the username &, which must reach mosquitto_sub as they are.
  if (!have_program("mosquitto_sub")) {
    GTEST_SKIP() << "mosquitto-clients is needed";
  }
  Emu e;
  std::string sign = "'" + aliot_bin() + "' sign";
  for (const auto& a : e.dev()) {
    sign += " '" + a + "'";
  }
  const std::string topic = std::string(" -t /") + k_pk + "/" + k_dn + "/user/get -C 1 -W 20";
  const std::vector<std::pair<std::string, std::string>> forms{
      {"mosquitto", "mosquitto_sub $(" + sign + " --for mosquitto)" + topic},
      {"mosquitto-eval",
       "eval \"mosquitto_sub $(" + sign + " --for mosquitto-eval)" + topic + "\""},
      {"mosquitto-lines", "mapfile -t args < <(" + sign
                              + " --for mosquitto-lines) && mosquitto_sub \"${args[@]}\"" + topic},
  };
  for (const auto& [form, script] : forms) {
    SCOPED_TRACE(form);
    Background sub({"bash", "-c", script}, {.env = e.env});
    std::optional<int> st;
    // mosquitto_sub has no ready signal: publish until it has one message and exits.
    for (int i = 0; i < 40 && !st; ++i) {
      auto r = run_aliot(cat({"cloud", "pub", "-t", "user/get", "-m", "hi " + form}, e.dev()),
                         {.env = e.env});
      ASSERT_EQ(r.status, 0) << r.err;
      st = sub.wait(std::chrono::milliseconds(250));
    }
    ASSERT_TRUE(st.has_value()) << sub.err();
    EXPECT_EQ(*st, 0) << sub.err();
    EXPECT_EQ(sub.out(), "hi " + form + "\n") << sub.err();
  }
}

TEST(EmulatorConnect, EveryStagePassesAndJsonGivesTheStagesAsAnArray) {
  Emu e;
  auto r =
      run_aliot(cat({"connect", "--check-sub", "user/get", "-o", "json"}, e.dev()), {.env = e.env});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_TRUE(j["ok"].get<bool>());
  std::vector<std::string> names;
  for (const auto& s : j["stages"]) {
    names.push_back(s["stage"]);
    EXPECT_TRUE(s["ok"].get<bool>()) << s.dump();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dns", "tcp", "tls", "mqtt", "sub"}));
  const auto& tls = j["stages"][2];
  EXPECT_TRUE(tls["verified"].get<bool>());
  EXPECT_TRUE(tls["hostname_ok"].get<bool>());
  EXPECT_GT(tls["chain"][0]["days_left"].get<long>(), 0);
  // The certificate's validity in RFC 3339 UTC, around now, and days_left counted to its end.
  const auto not_before =
      aliot::parse_utc_iso8601(tls["chain"][0]["not_before"].get<std::string>());
  const auto not_after = aliot::parse_utc_iso8601(tls["chain"][0]["not_after"].get<std::string>());
  ASSERT_TRUE(not_before && not_after) << tls.dump();
  const auto now = std::chrono::system_clock::now();
  EXPECT_LT(*not_before, now);
  const auto days = std::chrono::duration_cast<std::chrono::hours>(*not_after - now).count() / 24;
  EXPECT_LE(std::abs(days - tls["chain"][0]["days_left"].get<long>()), 1) << tls.dump();
  // text: one line per stage
  auto t = run_aliot(cat({"connect", "--tcp"}, e.dev()), {.env = e.env});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(std::count(t.out.begin(), t.out.end(), '\n'), 3) << t.out; // dns, tcp, mqtt
  EXPECT_EQ(t.out.rfind("dns ", 0), 0U) << t.out;
}

TEST(EmulatorConnect, EachFailureStageHasItsExitCode) {
  Emu e;
  struct Case {
    std::string name;
    std::vector<std::string> args;
    Env env_change;
    int status;
    std::string failed_stage;
    std::string says;
  };
  TempDir d;
  const auto pki = make_test_certs(d.path());
  const std::vector<Case> cases{
      {"unresolvable host", {"--host", "no-such-host.invalid"}, {}, 5, "dns", "cannot resolve"},
      {"closed port", {"--tcp", "--port", std::to_string(free_port())}, {}, 5, "tcp", "refused"},
      {"wrong CA", {"--ca-file", pki.other_ca}, {}, 5, "tls", "does not verify"},
      {"wrong password",
       {},
       {{"ALIOT_DEVICE_SECRET", "ffffffffffffffffffffffffffffffff"}},
       4,
       "mqtt",
       "CONNACK 5"},
      {"disabled device", {}, {}, 4, "mqtt", "CONNACK 5"},
      {"SUBACK refusal", {"--check-sub", "user/update"}, {}, 4, "sub", "SUBACK 0x80"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Env env = e.env;
    for (const auto& [k, v] : c.env_change) {
      env[k] = v;
    }
    const bool disabled = c.name == "disabled device";
    auto args = cat({"connect", "-o", "json"}, e.dev(disabled ? "disabled1" : k_dn));
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run_aliot(args, {.env = env, .timeout_s = 40});
    EXPECT_EQ(r.status, c.status) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    ASSERT_FALSE(r.out.empty()) << r.err;
    const json j = json::parse(r.out);
    EXPECT_FALSE(j["ok"].get<bool>());
    EXPECT_EQ(j["stages"].back()["stage"], c.failed_stage) << r.out;
    EXPECT_FALSE(j["stages"].back()["ok"].get<bool>());
    EXPECT_TRUE(no_secret_in({k_ds}, {text("stderr", r.err), text("stdout", r.out)}));
  }
  // a keepalive outside 30-1200 s is refused before connecting
  auto ka = run_aliot(cat({"connect", "--keepalive", "10"}, e.dev()), {.env = e.env});
  EXPECT_EQ(ka.status, 2) << ka.err;
  EXPECT_NE(ka.err.find("30-1200"), std::string::npos) << ka.err;
}

TEST(EmulatorConnect, HoldStaysOnlineAndExitsZeroOnSigint) {
  Emu e;
  auto hold = aliot_bg(cat({"connect", "-v", "--hold"}, e.dev()), e.env);
  wait_err(hold, "holding");
  hold.signal(SIGINT);
  auto st = hold.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << hold.err();
  EXPECT_NE(hold.out().find("mqtt     ok"), std::string::npos) << hold.out();
}

TEST(EmulatorRrpcServe, AnswersRrpcCallWithReplyEchoAndExec) {
  Emu e;
  {
    auto serve =
        aliot_bg(cat({"rrpc", "serve", "-v", "--reply", "pong", "-C", "1"}, e.dev()), e.env);
    wait_err(serve, "serving RRPC");
    auto c = run_aliot(cat({"rrpc", "call", "-m", "ping"}, e.dev()), {.env = e.env});
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_EQ(c.out, "pong\n");
    auto st = serve.wait(std::chrono::seconds(10));
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, 0) << serve.err();
  }
  {
    auto serve =
        aliot_bg(cat({"rrpc", "serve", "-v", "--echo", "-C", "2", "-o", "json"}, e.dev()), e.env);
    wait_err(serve, "serving RRPC");
    auto c = run_aliot(cat({"rrpc", "call", "-m", "hello echo"}, e.dev()), {.env = e.env});
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_EQ(c.out, "hello echo\n");
    auto bin =
        run_aliot(cat({"rrpc", "call", "--hex", "00ff01", "-o", "json"}, e.dev()), {.env = e.env});
    EXPECT_EQ(bin.status, 0) << bin.err;
    EXPECT_EQ(json::parse(bin.out)["payload_base64"], "AP8B");
    ASSERT_TRUE(serve.wait(std::chrono::seconds(10)).has_value());
    const auto log = after_ready(serve.out());
    ASSERT_EQ(log.size(), 4U) << serve.out();
    EXPECT_EQ(log[0]["event"], "request");
    EXPECT_EQ(log[1]["event"], "reply");
    EXPECT_EQ(log[1]["topic"].get<std::string>().find(std::string("/sys/") + k_pk + "/" + k_dn
                                                      + "/rrpc/response/"),
              0U);
    EXPECT_EQ(log[0]["id"], log[1]["id"]);
    EXPECT_EQ(log[3]["payload_base64"], "AP8B");
  }
  {
    // the command sees the request on stdin and the id/topic in its environment; a failing
    // command is reported and the server keeps serving
    auto serve = aliot_bg(
        cat({"rrpc", "serve", "-v", "-C", "2", "--exec",
             "read x; if [ \"$x\" = fail ]; then exit 3; fi; "
             "printf '%s|%s|%s' \"$x\" \"$ALIOT_RRPC_ID\" \"${ALIOT_RRPC_TOPIC%%/request/*}\""},
            e.dev()),
        e.env);
    wait_err(serve, "serving RRPC");
    auto bad =
        run_aliot(cat({"rrpc", "call", "--timeout", "1s", "-m", "fail"}, e.dev()), {.env = e.env});
    EXPECT_EQ(bad.status, 6) << bad.err; // no reply: the platform says TIMEOUT
    auto good = run_aliot(cat({"rrpc", "call", "-m", "ok", "-o", "json"}, e.dev()), {.env = e.env});
    ASSERT_EQ(good.status, 0) << good.err;
    const json j = json::parse(good.out);
    EXPECT_EQ(j["payload"],
              "ok|" + j["message_id"].get<std::string>() + "|/sys/" + k_pk + "/" + k_dn + "/rrpc");
    ASSERT_TRUE(serve.wait(std::chrono::seconds(10)).has_value());
    EXPECT_NE(serve.err().find("exit status 3"), std::string::npos) << serve.err();
  }
}

TEST(EmulatorRrpcServe, AnswersCustomTopicRrpc) {
  Emu e;
  auto serve = aliot_bg(
      cat({"rrpc", "serve", "-v", "--echo", "--custom", "user/get", "-C", "1", "-o", "json"},
          e.dev()),
      e.env);
  wait_err(serve, "serving RRPC");
  auto c = run_aliot(cat({"rrpc", "call", "--topic", "user/get", "-m", "custom"}, e.dev()),
                     {.env = e.env});
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, "custom\n");
  ASSERT_TRUE(serve.wait(std::chrono::seconds(10)).has_value());
  const auto log = after_ready(serve.out());
  ASSERT_EQ(log.size(), 2U) << serve.out();
  EXPECT_EQ(log[1]["topic"].get<std::string>().find("/ext/rrpc/"), 0U);
  EXPECT_EQ(log[0]["topic"], log[1]["topic"]);
}

// `rrpc serve --exec` runs a command that answers requests; it is not the device: none of the
// secrets in aliot's environment reach it. And the running aliot holding secrets writes no core
// file (RLIMIT_CORE 0).
TEST(EmulatorRrpcServe, TheExecCommandGetsNoSecretsAndNoCoreIsDumped) {
  Emu e;
  Env env = e.env;
  env["ALIOT_PRODUCT_SECRET"] = "ps0123456789abcd";
  env["ALIOT_DEVICE_TOKEN"] = "tokenNeverForTheChild01";
  auto serve = aliot_bg(cat({"rrpc", "serve", "-v", "-C", "1", "--exec", "env"}, e.dev()), env);
  wait_err(serve, "serving RRPC");

  std::ifstream limits("/proc/" + std::to_string(serve.pid()) + "/limits");
  std::string line;
  bool seen = false;
  while (std::getline(limits, line)) {
    if (line.rfind("Max core file size", 0) == 0) {
      std::istringstream in(line.substr(std::string("Max core file size").size()));
      std::string soft, hard;
      in >> soft >> hard;
      EXPECT_EQ(soft, "0") << line;
      EXPECT_EQ(hard, "0") << line;
      seen = true;
    }
  }
  EXPECT_TRUE(seen);

  const auto r = run_aliot(cat({"rrpc", "call", "-m", "x", "-o", "json"}, e.dev()), {.env = env});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string child_env = json::parse(r.out)["payload"];
  EXPECT_NE(child_env.find("ALIOT_RRPC_ID="), std::string::npos) << child_env;
  EXPECT_NE(child_env.find("ALIOT_MQTT_HOST="), std::string::npos) << "non-secret settings stay";
  for (const char* secret :
       {k_ds, "ps0123456789abcd", "akSecret0123456789", "tokenNeverForTheChild01"}) {
    EXPECT_EQ(child_env.find(secret), std::string::npos) << secret << " in:\n" << child_env;
  }
  for (const char* name : {"ALIOT_DEVICE_SECRET", "ALIOT_PRODUCT_SECRET", "ALIOT_ACCESS_KEY_SECRET",
                           "ALIOT_DEVICE_TOKEN"}) {
    EXPECT_EQ(child_env.find(std::string(name) + "="), std::string::npos) << name;
  }
  ASSERT_TRUE(serve.wait(std::chrono::seconds(10)).has_value());
}
