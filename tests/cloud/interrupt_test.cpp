// SIGINT while a command waits on an HTTP endpoint that accepted the connection and never
// answers (a stalled loopback socket): `cloud pub` and `rrpc call` end with exit 130 at once
// instead of waiting for their timeouts.
#include "support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

using namespace aliot::test;

namespace {

struct Case {
  const char* name;
  std::vector<std::string> args;
};

} // namespace

TEST(Interrupt, SigintDuringAStalledHttpCallExits130AtOnce) {
  Background server({"python3", "-c", k_stalled_tcp_server});
  const auto port = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << server.err();
  const std::string url = "http://127.0.0.1:" + *port;
  const Env env{{"ALIOT_AUTH_ENDPOINT", url},
                {"ALIOT_API_ENDPOINT", url},
                {"ALIOT_PRODUCT_SECRET", "ps0123456789abcd"},
                {"ALIOT_ACCESS_KEY_ID", "LTAIfakeKey01"},
                {"ALIOT_ACCESS_KEY_SECRET", "akSecret0123456789"}};
  const std::vector<Case> cases{
      {"cloud pub",
       {"cloud", "pub", "-k", "a1FakePK001", "-d", "dev1", "-t", "user/get", "-m", "x"}},
      {"rrpc call", {"rrpc", "call", "-k", "a1FakePK001", "-d", "dev1", "-m", "x"}},
      // `register` finishes a request already sent after the first signal (its answer brings a
      // secret the platform issues once) and abandons it at the second: register_signal_test.
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> argv{aliot_bin()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto start = std::chrono::steady_clock::now();
    Background p(argv, {.env = env});
    // The request is in flight once the server holds its connection.
    ASSERT_EQ(server.read_line(std::chrono::seconds(10)), std::optional<std::string>("accepted"))
        << p.err();
    std::this_thread::sleep_until(start + std::chrono::seconds(1));
    const auto signalled = std::chrono::steady_clock::now();
    p.signal(SIGINT);
    const auto st = p.wait(std::chrono::seconds(10));
    const auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(st.has_value()) << "still running 10 s after SIGINT";
    EXPECT_EQ(*st, 130) << p.err();
    EXPECT_LT(end - start, std::chrono::seconds(2));
    EXPECT_LT(end - signalled, std::chrono::milliseconds(500)) << p.err();
    EXPECT_NE(p.err().find("interrupted"), std::string::npos) << p.err();
  }
}

TEST(Interrupt, CloudPubTimeoutBoundsAStalledCall) {
  Background server({"python3", "-c", k_stalled_tcp_server});
  const auto port = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << server.err();
  const Env env{{"ALIOT_API_ENDPOINT", "http://127.0.0.1:" + *port},
                {"ALIOT_ACCESS_KEY_ID", "LTAIfakeKey01"},
                {"ALIOT_ACCESS_KEY_SECRET", "akSecret0123456789"}};
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_aliot({"cloud", "pub", "-k", "a1FakePK001", "-d", "dev1", "-t", "user/get",
                            "-m", "x", "--timeout", "500ms"},
                           {.env = env, .timeout_s = 20});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_GE(took, std::chrono::milliseconds(450));
  EXPECT_LT(took, std::chrono::seconds(3));
  const auto bad = run_aliot({"cloud", "pub", "-k", "a1FakePK001", "-d", "dev1", "-t", "user/get",
                              "-m", "x", "--timeout", "50ms"},
                             {.env = env});
  EXPECT_EQ(bad.status, 2) << bad.err;
}
