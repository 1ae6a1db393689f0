// The scripting contract through the real binary: one error form (parse errors too, with the
// JSON error line under -o json wherever -o sits), unknown commands with a suggestion, one exit
// code per cause (an unreadable CA file is 3 for every command that reads one), the hints people
// need (a session taken over by a second login, the wrong serial dialect, a subscribe-only
// topic, a pace over the platform's limit, a curl -v-like HTTP trace without secrets), and one
// emulator per --dir / --link.
#include "emulator.hpp"
#include "secrets.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <thread>

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

// The JSON error object on the last line of stderr.
json json_error(const std::string& err) {
  std::string last;
  std::istringstream in(err);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) {
      last = l;
    }
  }
  return json::parse(last, nullptr, false);
}

Background aliot_bg(const std::vector<std::string>& args, const Env& env = {}) {
  std::vector<std::string> argv{aliot_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Background(argv, {.env = env});
}

// Waits (<= 15 s) until the process's stderr holds `needle`.
bool wait_err(Background& p, const std::string& needle, std::chrono::seconds limit = 15s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (p.err().find(needle) != std::string::npos) {
      return true;
    }
    p.wait_for("\x01never", 50ms);
  }
  return p.err().find(needle) != std::string::npos;
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
  std::size_t messages_on(const std::string& topic) const {
    const auto j = json::parse(emu.messages_json(topic), nullptr, false);
    return j.is_object() ? j["messages"].size() : 0;
  }
};

} // namespace

// --- one error form ---------------------------------------------------------------------------

TEST(Contract, ParseErrorsTakeTheOneErrorFormAndJsonWhereverOutputSits) {
  struct Case {
    std::vector<std::string> args;
    std::string first_line;
  };
  const std::vector<Case> cases = {
      {{"pub", "-q", "2", "-o", "json", "-t", "x", "-m", "y"},
       "aliot: error: pub: --qos: QoS 2 is not supported: the platform has QoS 0 and 1 only"},
      {{"sign", "--bogus", "--output", "json"},
       "aliot: error: sign: the following argument was not expected: --bogus"},
      {{"--output=json", "pub", "-m", "x"}, "aliot: error: pub: --topic is required"},
      // a misspelt flag is named rather than the required option it hides
      {{"pub", "--bogus", "-o", "json"},
       "aliot: error: pub: the following argument was not expected: --bogus"},
      {{"sign", "-ojson", "--sign-method", "sha512"},
       "aliot: error: sign: --sign-method: sha512 not in {hmacsha256,hmacsha1,hmacmd5}"},
  };
  for (const auto& c : cases) {
    auto r = run_aliot(c.args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.substr(0, r.err.find('\n')), c.first_line) << r.err;
    EXPECT_NE(r.err.find("\naliot: hint: run 'aliot "), std::string::npos) << r.err;
    const auto j = json_error(r.err);
    ASSERT_TRUE(j.is_object()) << r.err;
    EXPECT_EQ(j["error"]["code"], "usage");
    EXPECT_EQ(j["error"]["exit_status"], 2);
    EXPECT_EQ("aliot: error: " + j["error"]["message"].get<std::string>(), c.first_line);
  }
  // text mode: no JSON line
  auto t = run_aliot({"sign", "--bogus"});
  EXPECT_EQ(t.status, 2);
  EXPECT_EQ(t.err.find('{'), std::string::npos) << t.err;
}

// --- unknown commands -------------------------------------------------------------------------

TEST(Contract, UnknownCommandsAreNamedWithTheNearestCommandsAtEveryLevel) {
  auto r = run_aliot({"pubb"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "aliot: error: unknown command 'pubb'\naliot: hint: did you mean 'pub'?\n");
  auto nested = run_aliot({"emulate", "clod"});
  EXPECT_EQ(nested.status, 2);
  EXPECT_EQ(nested.err, "aliot: error: unknown command 'emulate clod'\n"
                        "aliot: hint: did you mean 'emulate cloud'?\n");
  auto two = run_aliot({"xub"});
  EXPECT_EQ(two.status, 2);
  EXPECT_NE(two.err.find("did you mean 'pub' or 'sub'?"), std::string::npos) << two.err;
  auto far = run_aliot({"frobnicate"});
  EXPECT_EQ(far.status, 2);
  EXPECT_EQ(far.err, "aliot: error: unknown command 'frobnicate'\n"
                     "aliot: hint: run 'aliot --help' for the commands\n");
  // global options before the command, with their values, are skipped
  auto j = run_aliot({"-o", "json", "--profile", "pub", "rrpc", "serf"});
  EXPECT_EQ(j.status, 2);
  EXPECT_NE(j.err.find("unknown command 'rrpc serf'"), std::string::npos) << j.err;
  EXPECT_EQ(json_error(j.err)["error"]["message"], "unknown command 'rrpc serf'");
}

TEST(Contract, HelpOfAnUnknownCommandIsAnErrorAndNestedHelpIsTheCommandsOwn) {
  auto r = run_aliot({"nosuchcmd", "--help"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("aliot: error: unknown command 'nosuchcmd'"), std::string::npos) << r.err;
  auto p = run_aliot({"pool", "--help"}); // a command only when it exists
  auto top = run_aliot({"--help"});
  EXPECT_NE(p.out, top.out) << "'aliot pool --help' printed the top-level help";
  if (p.status == 0) {
    EXPECT_NE(p.out.find("pool"), std::string::npos) << p.out;
  } else {
    EXPECT_EQ(p.status, 2);
    EXPECT_NE(p.err.find("unknown command 'pool'"), std::string::npos) << p.err;
  }
  struct Nested {
    std::vector<std::string> args;
    std::string own; // something only that command's help says
  };
  for (const auto& n :
       std::vector<Nested>{{{"emulate", "cloud", "--help"}, "add-device"},
                           {{"rrpc", "serve", "--help"}, "--reply"},
                           {{"emulate", "cloud", "add-device", "--help"}, "--disabled"},
                           {{"-o", "json", "cloud", "pub", "--help"}, "--timeout"}}) {
    auto h = run_aliot(n.args);
    EXPECT_EQ(h.status, 0) << h.err;
    EXPECT_NE(h.out.find(n.own), std::string::npos) << n.args[n.args.size() - 2] << ": " << h.out;
    EXPECT_NE(h.out, top.out);
  }
  // a word a command takes is not a command
  auto c = run_aliot({"completion", "bash"});
  EXPECT_EQ(c.status, 0) << c.err;
}

// --- one exit code per cause ------------------------------------------------------------------

TEST(Contract, AnUnreadableCaFileIsAConfigErrorForEveryCommandThatReadsOne) {
  Emu e;
  TempDir dir;
  const std::string missing = dir.file("no-such-ca.pem");
  const std::string empty = dir.write("empty-ca.pem", "");
  const std::vector<std::vector<std::string>> commands = {
      cat({"connect"}, e.dev()),
      cat({"pub", "-t", "user/update", "-m", "x"}, e.dev()),
      cat({"sub", "-t", "user/get", "-W", "1"}, e.dev()),
      cat({"rrpc", "serve", "--reply", "x", "-C", "1"}, e.dev()),
      cat({"rrpc", "call", "-m", "x"}, e.dev()),
      cat({"cloud", "pub", "-t", "user/get", "-m", "x"}, e.dev()),
      {"cloud", "sub", "--consumer-group", "g1", "-W", "1"},
      {"register", "-k", k_pk, "-d", "devreg01"},
  };
  for (const auto& ca : {missing, empty}) {
    for (const auto& args : commands) {
      Env env = e.env;
      env["ALIOT_CA_FILE"] = ca;
      env["ALIOT_PRODUCT_SECRET"] = k_ps;
      auto r = run_aliot(cat(args, {"-o", "json"}), {.env = env, .timeout_s = 30});
      EXPECT_EQ(r.status, 3) << args[0] << " " << args[1] << ": " << r.err;
      EXPECT_NE(r.err.find("CA file " + ca), std::string::npos) << args[0] << ": " << r.err;
      EXPECT_EQ(json_error(r.err)["error"]["code"], "config") << r.err;
    }
  }
  // the flag form too
  auto f = run_aliot(cat({"connect", "--ca-file", missing}, e.dev()), {.env = e.env});
  EXPECT_EQ(f.status, 3) << f.err;
}

// --- hints ------------------------------------------------------------------------------------

TEST(Contract, ASessionTakenOverBySecondLoginSaysSo) {
  Emu e;
  auto first = aliot_bg(cat({"connect", "--hold", "20"}, e.dev()), e.env);
  ASSERT_TRUE(first.wait_for("mqtt     ok", 15s)) << first.err();
  auto second = run_aliot(cat({"connect", "--hold", "1"}, e.dev()), {.env = e.env});
  EXPECT_EQ(second.status, 0) << second.err;
  EXPECT_TRUE(wait_err(first, "connection lost: another client logged in as this device "
                              "(a1FakePK001/dev1); two processes share this triplet?"))
      << first.err();
  first.signal(SIGINT);
  EXPECT_TRUE(first.wait(10s));
  // a one-shot command kicked the same way fails with that message (exit 5)
  auto sub = aliot_bg(cat({"sub", "-v", "-t", "user/get", "-C", "1", "-W", "20"}, e.dev()), e.env);
  ASSERT_TRUE(wait_err(sub, "subscribed to")) << sub.err();
  auto kick = run_aliot(cat({"connect"}, e.dev()), {.env = e.env});
  EXPECT_EQ(kick.status, 0) << kick.err;
  auto st = sub.wait(15s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 5) << sub.err();
  EXPECT_NE(sub.err().find("another client logged in as this device (a1FakePK001/dev1)"),
            std::string::npos)
      << sub.err();
  EXPECT_NE(sub.err().find("aliot: hint: the platform keeps one connection per device"),
            std::string::npos)
      << sub.err();
}

TEST(Contract, BurnWithTheWrongDialectNamesTheOneTheUnitSpeaks) {
  TempDir dir;
  const auto triplet = dir.write(
      "t.json",
      R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-0C8B95A1F3E2","DeviceSecret":"0123456789abcdefABCDEF0123456789"})");
  struct Case {
    std::string unit, asked, hint;
  };
  for (const auto& c :
       std::vector<Case>{{"smartliving", "alsw1", "answers AT+WMAC? as smartliving firmware does"},
                         {"alsw1", "smartliving", "answers AT+PROTO? as alsw1 firmware does"}}) {
    const auto link = dir.file("dut-" + c.unit);
    auto sw = aliot_bg({"emulate", "switch", "--link", link, "--dialect", c.unit});
    ASSERT_TRUE(sw.wait_for("switch ready", 10s)) << sw.err();
    auto r = run_aliot({"burn", "--port", link, "--dialect", c.asked, "--triplet", triplet,
                        "--journal", dir.file("j-" + c.unit + ".db")});
    EXPECT_EQ(r.status, 8) << r.err;
    EXPECT_NE(r.err.find("aliot: hint: the unit " + c.hint + ", not " + c.asked + ": try --dialect "
                         + c.unit),
              std::string::npos)
        << r.err;
    // and with the right dialect it burns
    auto ok = run_aliot({"burn", "--port", link, "--dialect", c.unit, "--triplet", triplet,
                         "--journal", dir.file("j-" + c.unit + ".db")});
    EXPECT_EQ(ok.status, 0) << ok.err;
  }
}

TEST(Contract, PubWarnsOnSubscribeOnlyTopicsAndPacesWithRate) {
  Emu e;
  ASSERT_EQ(e.emu.add_topic(k_pk, "user/paced", "pub").status, 0);
  ASSERT_EQ(e.emu.add_topic(k_pk, "user/lines", "pub").status, 0);
  auto get = run_aliot(cat({"pub", "-t", "user/get", "-m", "x"}, e.dev()), {.env = e.env});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_NE(get.err.find("aliot: warning: /a1FakePK001/dev1/user/get is subscribe-only for "
                         "devices"),
            std::string::npos)
      << get.err;
  auto upd = run_aliot(cat({"pub", "-t", "user/update", "-m", "x"}, e.dev()), {.env = e.env});
  EXPECT_EQ(upd.status, 0) << upd.err;
  EXPECT_EQ(upd.err, "");

  auto fast = run_aliot(cat({"pub", "-t", "user/update", "--repeat", "40", "-m", "burst"}, e.dev()),
                        {.env = e.env});
  EXPECT_EQ(fast.status, 0) << fast.err;
  EXPECT_NE(fast.err.find("faster than 30 messages/s, the platform's limit per device"),
            std::string::npos)
      << fast.err;
  EXPECT_NE(fast.err.find("--rate 30"), std::string::npos) << fast.err;
  auto q1 = run_aliot(
      cat({"pub", "-t", "user/update", "-q", "1", "--repeat", "11", "-m", "burst"}, e.dev()),
      {.env = e.env});
  EXPECT_EQ(q1.status, 0) << q1.err;
  EXPECT_NE(q1.err.find("faster than 10 messages/s"), std::string::npos) << q1.err;

  const auto t0 = std::chrono::steady_clock::now();
  auto paced = run_aliot(
      cat({"pub", "-t", "user/paced", "--repeat", "10", "--rate", "20", "-m", "p"}, e.dev()),
      {.env = e.env});
  const double repeat_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(paced.status, 0) << paced.err;
  EXPECT_EQ(paced.err.find("warning"), std::string::npos) << paced.err;
  EXPECT_GE(repeat_s, 0.45);

  const auto t1 = std::chrono::steady_clock::now();
  auto lines = run_aliot(cat({"pub", "-t", "user/lines", "-l", "--rate", "20"}, e.dev()),
                         {.input = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", .env = e.env});
  const double lines_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  EXPECT_EQ(lines.status, 0) << lines.err;
  EXPECT_GE(lines_s, 0.45);
  // every paced message arrived (the emulator's log of what devices sent)
  for (int i = 0; i < 50
                  && (e.messages_on("/a1FakePK001/dev1/user/paced") < 10
                      || e.messages_on("/a1FakePK001/dev1/user/lines") < 10);
       ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(e.messages_on("/a1FakePK001/dev1/user/paced"), 10U);
  EXPECT_EQ(e.messages_on("/a1FakePK001/dev1/user/lines"), 10U);

  auto both = run_aliot(cat({"pub", "-t", "user/update", "--repeat", "2", "--rate", "5",
                             "--interval", "100", "-m", "x"},
                            e.dev()),
                        {.env = e.env});
  EXPECT_EQ(both.status, 2) << both.err;
}

TEST(Contract, HttpTraceShowsTheExchangeLikeCurlWithoutSecrets) {
  Emu e;
  ASSERT_EQ(e.emu.add_device(k_pk, "devreg01", "fedcba9876543210fedcba9876543210").status, 0);
  Env env = e.env;
  env["ALIOT_PRODUCT_SECRET"] = k_ps;
  auto reg = run_aliot({"-vvv", "register", "-k", k_pk, "-d", "devreg01"}, {.env = env});
  ASSERT_EQ(reg.status, 0) << reg.err;
  const std::string auth_port = e.emu.auth_endpoint().substr(e.emu.auth_endpoint().rfind(':') + 1);
  for (const std::string& needle :
       {"http: > POST https://127.0.0.1:" + auth_port + "/auth/register/device",
        std::string("http: > form: productKey=a1FakePK001 deviceName=devreg01 random="),
        std::string("sign=<redacted>"), std::string("signMethod=hmacsha256"),
        std::string("http: > body "), std::string("http: < 200 from 127.0.0.1:" + auth_port),
        std::string("; connect "), std::string(", TLS TLSv1."), std::string(", first byte "),
        std::string(", total ")}) {
    EXPECT_NE(reg.err.find(needle), std::string::npos) << needle << "\n" << reg.err;
  }
  const auto triplet = json::parse(reg.out);
  const std::string ds = triplet["DeviceSecret"];
  EXPECT_TRUE(no_secret_in({k_ps, ds}, {text("stderr", reg.err)}));

  auto pub =
      run_aliot({"cloud", "pub", "-vvv", "-k", k_pk, "-d", k_dn, "-t", "user/get", "-m", "hello"},
                {.env = e.env});
  ASSERT_EQ(pub.status, 0) << pub.err;
  for (const std::string& needle :
       {std::string("http: > POST ") + e.emu.api_endpoint() + "/",
        std::string("AccessKeyId=") + k_ak, std::string("Action=Pub"),
        std::string("Signature=<redacted>"), std::string("SignatureMethod=HMAC-SHA1"),
        std::string("http: < 200 from ")}) {
    EXPECT_NE(pub.err.find(needle), std::string::npos) << needle << "\n" << pub.err;
  }
  EXPECT_TRUE(no_secret_in({k_aks, k_ds}, {text("stderr", pub.err)}));
}

// --- one emulator per resource ----------------------------------------------------------------

TEST(Contract, ASecondSwitchOnALinkInUseRefusesAndLeavesTheFirstOne) {
  TempDir dir;
  const auto link = dir.file("dut0");
  auto first = aliot_bg({"emulate", "switch", "--link", link});
  ASSERT_TRUE(first.wait_for("switch ready", 10s)) << first.err();
  const auto target = std::filesystem::read_symlink(link);
  auto second = run_aliot({"emulate", "switch", "--link", link}, {.timeout_s = 10});
  EXPECT_EQ(second.status, 2) << second.err;
  EXPECT_NE(second.err.find("aliot: error: --link " + link
                            + " is in use by another running instance (pid "
                            + std::to_string(first.pid()) + ")"),
            std::string::npos)
      << second.err;
  EXPECT_EQ(second.out, "");
  // the first one's link is intact and it still answers
  ASSERT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(std::filesystem::read_symlink(link), target);
  auto ports = run_aliot(
      {"burn", "--port", link, "--triplet",
       dir.write(
           "t.json",
           R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-0C8B95A1F3E2","DeviceSecret":"0123456789abcdefABCDEF0123456789"})"),
       "--journal", dir.file("j.db")});
  EXPECT_EQ(ports.status, 0) << ports.err;
  // a crashed holder does not block the next one
  first.signal(SIGKILL);
  ASSERT_TRUE(first.wait(5s));
  auto third = aliot_bg({"emulate", "switch", "--link", link});
  EXPECT_TRUE(third.wait_for("switch ready", 10s)) << third.err();
  third.signal(SIGTERM);
  EXPECT_TRUE(third.wait(5s));
  EXPECT_FALSE(std::filesystem::exists(link)) << "the link outlived its switch";
}

TEST(Contract, ASecondCloudEmulatorOnADirInUseRefuses) {
  TempDir dir;
  const auto state = dir.file("emu");
  auto first = aliot_bg({"emulate", "cloud", "--dir", state});
  ASSERT_TRUE(first.wait_for("ALIOT_API_ENDPOINT", 20s)) << first.err();
  auto second = run_aliot({"emulate", "cloud", "--dir", state, "-o", "json"}, {.timeout_s = 20});
  EXPECT_EQ(second.status, 2) << second.err;
  EXPECT_NE(second.err.find(" is in use by another running instance (pid "
                            + std::to_string(first.pid()) + ")"),
            std::string::npos)
      << second.err;
  EXPECT_EQ(json_error(second.err)["error"]["code"], "usage");
  EXPECT_EQ(second.out, "");
  // the registry verbs still work beside the running one
  auto add = run_aliot({"emulate", "cloud", "add-product", "--dir", state, "-k", k_pk},
                       {.env = {{"ALIOT_PRODUCT_SECRET", k_ps}}});
  EXPECT_EQ(add.status, 0) << add.err;
  // kill -9: the next one starts on the same dir
  first.signal(SIGKILL);
  ASSERT_TRUE(first.wait(5s));
  auto again = aliot_bg({"emulate", "cloud", "--dir", state});
  EXPECT_TRUE(again.wait_for("ALIOT_API_ENDPOINT", 20s)) << again.err();
  again.signal(SIGTERM);
  auto st = again.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << again.err();
}

// One cause, one code: a unit that already has another triplet is a device-state refusal
// (exit 8) whether the unit says so (its flash) or the station's journal does (a unit whose
// flash was wiped comes back with the same MAC); a triplet the journal already gave to another
// unit is a refused input (exit 2).
TEST(Contract, AUnitWithAnotherTripletIsExit8WhoeverTellsIt) {
  TempDir dir;
  const auto a = dir.write(
      "a.json",
      R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-0C8B95A1F3E2","DeviceSecret":"0123456789abcdefABCDEF0123456789"})");
  const auto b = dir.write(
      "b.json",
      R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-OTHER-01","DeviceSecret":"ffffffffffffffffffffffffffffffff"})");
  const auto link = dir.file("dut");
  const auto journal = dir.file("station.db");
  auto burn = [&](const std::string& triplet, const std::string& j) {
    return run_aliot({"burn", "--port", link, "--triplet", triplet, "--journal", j});
  };
  {
    auto sw = aliot_bg({"emulate", "switch", "--link", link});
    ASSERT_TRUE(sw.wait_for("switch ready", 10s)) << sw.err();
    auto first = burn(a, journal);
    ASSERT_EQ(first.status, 0) << first.err;
    // the unit says it: another journal, the unit's flash holds triplet a
    auto by_unit = burn(b, dir.file("other-station.db"));
    EXPECT_EQ(by_unit.status, 8) << by_unit.err;
    EXPECT_NE(by_unit.err.find("already holds other credentials"), std::string::npos)
        << by_unit.err;
    sw.signal(SIGTERM);
    ASSERT_TRUE(sw.wait(5s));
  }
  // the same unit (same MAC), its flash wiped: the journal says it
  auto sw = aliot_bg({"emulate", "switch", "--link", link});
  ASSERT_TRUE(sw.wait_for("switch ready", 10s)) << sw.err();
  auto by_journal = burn(b, journal);
  EXPECT_EQ(by_journal.status, 8) << by_journal.err;
  EXPECT_NE(by_journal.err.find("already got the triplet SW-0C8B95A1F3E2"), std::string::npos)
      << by_journal.err;
}
