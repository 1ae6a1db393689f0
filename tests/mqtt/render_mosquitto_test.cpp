// What `aliot sub` prints, against the peer it imitates: the same messages from a plain Debian
// mosquitto reach `aliot sub` and `mosquitto_sub` (which we did not write), and the bytes are
// compared: `--verbose-topic` piped = `mosquitto_sub -v`, `-F FORMAT` = `mosquitto_sub -F FORMAT`.
// And the pretty form on a real terminal (a pty made by Python's pty module): chosen on a TTY,
// coloured unless NO_COLOR / --no-color, and `-o text` keeps mosquitto_sub's bytes there.
#include "broker.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

using namespace aliot::test;

namespace {

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string topic_of(const std::string& dn) {
  return std::string("/") + k_pk + "/" + dn + "/user/get";
}

void mosquitto_pub(const Mosquitto& b,
                   const std::string& dn,
                   const std::vector<std::string>& extra) {
  auto r = run(cat({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                    "operator", "-P", "operator-pass", "-t", topic_of(dn)},
                   extra));
  ASSERT_EQ(r.status, 0) << r.err;
}

// The messages both subscribers get: a retained one first (each subscriber shows it on
// subscribing, which is how the test knows both are listening), then text, JSON at QoS 1, binary
// with a NUL, an empty payload, a payload with a newline and a tab.
constexpr int k_messages = 6;
void publish_all(const Mosquitto& b,
                 const TempDir& d,
                 const std::vector<std::string>& devices,
                 bool with_nul = true) {
  const std::string bin = with_nul ? std::string("\xff\x00\x01\xfe\x1b[2J", 8)
                                   : std::string("\xff\x02\x01\xfe\x1b[2J", 8);
  for (const auto& dn : devices) {
    mosquitto_pub(b, dn, {"-q", "1", "-m", "{\"temp\": 21.5, \"on\": true, \"tags\": [1, 2e3]}"});
    mosquitto_pub(b, dn, {"-f", d.write("bin", bin)});
    mosquitto_pub(b, dn, {"-n"});
    mosquitto_pub(b, dn, {"-m", "two\nlines\tand \"quotes\" \\ here"});
    mosquitto_pub(b, dn, {"-q", "1", "-m", "中文 text"});
  }
}

void publish_retained(const Mosquitto& b, const std::vector<std::string>& devices) {
  for (const auto& dn : devices) {
    mosquitto_pub(b, dn, {"-r", "-m", "retained state"});
  }
}

struct Pair {
  std::unique_ptr<Background> aliot;
  std::unique_ptr<Background> mosq;
};

// aliot sub as device `dn` and mosquitto_sub as the operator on the same topic, with the same
// output arguments, both ending after k_messages messages.
Pair start_pair(const Mosquitto& b,
                const std::string& dn,
                const std::vector<std::string>& aliot_out,
                const std::vector<std::string>& mosq_out) {
  Pair p;
  std::vector<std::string> a{aliot_bin(), "sub", "-t", "user/get",
                             "-q",        "1",   "-C", std::to_string(k_messages),
                             "-W",        "30"};
  a = cat(cat(a, aliot_out), b.device_args(dn));
  p.aliot = std::make_unique<Background>(a, RunOptions{.env = b.env()});
  p.mosq = std::make_unique<Background>(
      cat({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u", "operator",
           "-P", "operator-pass", "-i", "mosq-" + dn, "-t", topic_of(dn), "-q", "1", "-C",
           std::to_string(k_messages), "-W", "30"},
          mosq_out));
  return p;
}

std::string finish(Background& p) {
  auto st = p.wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.has_value());
  EXPECT_EQ(st.value_or(-1), 0) << p.err();
  return p.out();
}

// The times of %I, %U, @-letters and %j's "tst" differ between two processes: masked.
std::string mask_times(const std::string& s) {
  static const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6}Z)?[+-]\d{4})");
  static const std::regex unix_ns(R"(\b\d{10}\.\d{9}\b)");
  // What an @-strftime format (@Y-@m-@dT@H:@M:@S) printed: each client reads its own clock when
  // the message arrives, so the two may straddle a second.
  static const std::regex local(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)");
  return std::regex_replace(
      std::regex_replace(std::regex_replace(s, iso, "<time>"), unix_ns, "<unix>"), local,
      "<local>");
}

class SubOutput : public ::testing::Test {
protected:
  // One device for each pair: the platform (and this broker's client ids) allow one session per
  // triplet.
  Mosquitto b{{"devSub", "devF1", "devF2", "devF3", "devF4", "devF5"}};
};

TEST_F(SubOutput, PipedBytesEqualMosquittoSubAndMosquittoSubVerbose) {
  TempDir d;
  publish_retained(b, {"devSub", "devF1"});
  auto plain = start_pair(b, "devSub", {}, {});
  auto verbose = start_pair(b, "devF1", {"--verbose-topic"}, {"-v"});
  for (auto* p : {plain.aliot.get(), plain.mosq.get(), verbose.aliot.get(), verbose.mosq.get()}) {
    ASSERT_TRUE(p->wait_for("retained state", std::chrono::seconds(20))) << p->err();
  }
  publish_all(b, d, {"devSub", "devF1"});
  const auto want_plain = finish(*plain.mosq);
  const auto want_verbose = finish(*verbose.mosq);
  EXPECT_EQ(finish(*plain.aliot), want_plain);
  EXPECT_EQ(finish(*verbose.aliot), want_verbose);
  // What was compared holds every case (so equal is not trivially equal).
  EXPECT_NE(want_verbose.find(topic_of("devF1") + " (null)\n"), std::string::npos) << want_verbose;
  EXPECT_NE(want_plain.find(std::string("\xff\x00\x01\xfe", 4)), std::string::npos);
  // -o text on the command line is the same bytes (a script that says so keeps them).
}

TEST_F(SubOutput, FormatEqualsMosquittoSubFormat) {
  TempDir d;
  const std::vector<std::string> devices = {"devF1", "devF2", "devF3", "devF4", "devF5"};
  publish_retained(b, devices);
  const std::vector<std::string> formats = {
      "%t|%p|%q|%r|%l",
      "%x %X\\t[%-40t][%5l][%05l][%-5l][%.8t][%12p][%-12p]\\\\ %% \\e",
      "%j",
      "%J",
      "%I %U @Y-@m-@dT@H:@M:@S @@ %A%P\\a",
  };
  std::vector<Pair> pairs;
  for (std::size_t k = 0; k < formats.size(); ++k) {
    pairs.push_back(start_pair(b, devices[k], {"-F", formats[k]}, {"-F", formats[k]}));
  }
  for (auto& p : pairs) {
    for (auto* bg : {p.aliot.get(), p.mosq.get()}) {
      ASSERT_TRUE(bg->wait_for("\n", std::chrono::seconds(20))) << bg->err(); // the retained one
    }
  }
  // No NUL in the payloads here: mosquitto_sub's %j (cJSON) ends the payload string at a NUL,
  // aliot escapes it as \u0000 (the one documented difference).
  publish_all(b, d, devices, false);
  for (std::size_t k = 0; k < formats.size(); ++k) {
    const auto want = finish(*pairs[k].mosq);
    const auto got = finish(*pairs[k].aliot);
    EXPECT_EQ(mask_times(got), mask_times(want)) << "-F " << formats[k];
    EXPECT_FALSE(want.empty());
  }
}

// aliot sub with its stdout on a pty of `cols` columns (tests/mqtt/pty_run.py).
ProcResult
sub_on_tty(const Mosquitto& b, const std::vector<std::string>& extra, Env env, int cols = 60) {
  std::vector<std::string> argv{"python3",
                                std::string(ALIOT_SOURCE_DIR) + "/tests/mqtt/pty_run.py",
                                std::to_string(cols),
                                aliot_bin(),
                                "sub",
                                "-t",
                                "user/get",
                                "-C",
                                "1",
                                "-W",
                                "20"};
  argv = cat(cat(argv, extra), b.device_args("devSub"));
  for (const auto& [k, v] : b.env()) {
    env[k] = v;
  }
  return run(argv, {.env = env, .timeout_s = 40});
}

TEST_F(SubOutput, OnATerminalThePrettyFormIsTheDefault) {
  const std::string payload =
      R"({"temp":21.5,"text":"a long value that is folded at the width of the terminal"})";
  mosquitto_pub(b, "devSub", {"-r", "-q", "1", "-m", payload});

  auto colour = sub_on_tty(b, {}, {});
  ASSERT_EQ(colour.status, 0) << colour.err;
  // Time, direction, QoS, the device part as …, retained; JSON indented and coloured.
  EXPECT_TRUE(std::regex_search(colour.out, std::regex(R"(\d\d:\d\d:\d\d\.\d{3})"))) << colour.out;
  EXPECT_NE(colour.out.find("\033[1;34m\"temp\"\033[0m: \033[36m21.5\033[0m,"), std::string::npos)
      << colour.out;
  EXPECT_NE(colour.out.find("/user/get"), std::string::npos) << colour.out;
  EXPECT_EQ(colour.out.find(k_pk), std::string::npos) << colour.out; // abbreviated

  auto plain = sub_on_tty(b, {}, {{"NO_COLOR", "1"}});
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.out.find('\033'), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("↓ q0 /…/user/get retained\n  {\n    \"temp\": 21.5,\n"),
            std::string::npos)
      << plain.out;
  // Folded at 60 columns: no line longer than that.
  std::size_t longest = 0;
  std::size_t start = 0;
  while (start < plain.out.size()) {
    auto nl = plain.out.find('\n', start);
    nl = nl == std::string::npos ? plain.out.size() : nl;
    std::size_t cols = 0;
    for (std::size_t i = start; i < nl; ++i) {
      cols += (static_cast<unsigned char>(plain.out[i]) & 0xC0) != 0x80 ? 1 : 0;
    }
    longest = std::max(longest, cols);
    start = nl + 1;
  }
  EXPECT_LE(longest, 60U) << plain.out;

  auto no_color_flag = sub_on_tty(b, {"--no-color"}, {});
  ASSERT_EQ(no_color_flag.status, 0) << no_color_flag.err;
  EXPECT_EQ(no_color_flag.out.find('\033'), std::string::npos) << no_color_flag.out;

  // -o text and --raw on a terminal: mosquitto_sub's bytes.
  for (const std::vector<std::string>& raw :
       {std::vector<std::string>{"-o", "text"}, std::vector<std::string>{"--raw"}}) {
    auto r = sub_on_tty(b, raw, {});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, payload + "\n") << raw[0];
  }
  // --pretty into a pipe.
  auto piped =
      run_aliot(cat({"sub", "-t", "user/get", "-C", "1", "-W", "20", "--pretty", "--no-color"},
                    b.device_args("devSub")),
                {.env = b.env(), .timeout_s = 40});
  ASSERT_EQ(piped.status, 0) << piped.err;
  EXPECT_NE(piped.out.find("  {\n    \"temp\": 21.5,\n"), std::string::npos) << piped.out;
}

// rrpc serve: each request and reply in the readable form with --pretty (the same renderer),
// the `request ID TOPIC PAYLOAD` lines piped without it.
TEST_F(SubOutput, RrpcServePrettyShowsRequestAndReply) {
  for (const bool pretty : {true, false}) {
    std::vector<std::string> argv{aliot_bin(), "rrpc", "serve", "--reply", "pong",
                                  "-C",        "1",    "-W",    "20",      "--no-color"};
    if (pretty) {
      argv.emplace_back("--pretty");
    }
    Background serve(cat(argv, b.device_args("devSub")), {.env = b.env()});
    ASSERT_TRUE(serve.wait_for_err("ready", std::chrono::seconds(20))) << serve.err();
    const std::string req = std::string("/sys/") + k_pk + "/devSub/rrpc/request/4711";
    auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                  "operator", "-P", "operator-pass", "-t", req, "-m", "{\"ping\":1}"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto out = finish(serve);
    if (pretty) {
      EXPECT_NE(
          out.find(" ↓ q0 /sys/…/rrpc/request/4711 request 4711\n  {\n    \"ping\": 1\n  }\n"),
          std::string::npos)
          << out;
      EXPECT_NE(out.find(" ↑ q0 /sys/…/rrpc/response/4711 reply 4711  pong\n"), std::string::npos)
          << out;
    } else {
      EXPECT_EQ(out, "request 4711 " + req + " {\"ping\":1}\nreply 4711 /sys/" + k_pk
                         + "/devSub/rrpc/response/4711 pong\n");
    }
  }
}

// thing serve: the property/set request (its params) and the reply in the readable form (80
// columns when piped: the request's note goes under a header it does not fit after).
TEST_F(SubOutput, ThingServePrettyShowsRequestAndReply) {
  Background serve(cat({aliot_bin(), "thing", "serve", "-C", "1", "-W", "20", "--no-echo",
                        "--pretty", "--no-color"},
                       b.device_args("devSub")),
                   {.env = b.env()});
  ASSERT_TRUE(serve.wait_for_err("ready", std::chrono::seconds(20))) << serve.err();
  const std::string base = std::string("/sys/") + k_pk + "/devSub/";
  auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                "operator", "-P", "operator-pass", "-t", base + "thing/service/property/set", "-m",
                R"({"method":"thing.service.property.set","id":"11","params":{"Temp":25}})"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto out = finish(serve);
  EXPECT_NE(out.find(" ↓ q0 /sys/…/thing/service/property/set\n  request property/set 11 async\n"
                     "  {\n    \"Temp\": 25\n  }\n"),
            std::string::npos)
      << out;
  EXPECT_NE(
      out.find(" ↑ q0 /sys/…/thing/service/property/set_reply reply\n  {\n    \"id\": \"11\""),
      std::string::npos)
      << out;
}

} // namespace
