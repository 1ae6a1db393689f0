// kill -9 of the platform (`aliot emulate cloud`, launcher and broker at once) under the
// long-running device commands, then the platform started again on the same directory and ports:
// `sub`, `connect --hold` and `rrpc serve` come back by themselves, and every QoS 1 message the
// platform accepted while the device was online arrives exactly once (none lost, none doubled).
// The emulator, like a broker that crashed, keeps no session across the restart: what the cloud
// sends while the device is not yet subscribed again is counted, never required.
#include "faults_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

using namespace aliot::test;
using nlohmann::json;

namespace {

constexpr const char* k_pk = "a1FaultPK01";
constexpr const char* k_ds = "fa017e5ec7e7000000000000000000aa";
constexpr const char* k_akid = "LTAIfaultKey01";
constexpr const char* k_aks = "faultAkSecret0123456789";

struct Platform {
  KillableEmulator emu;
  Env env;
  explicit Platform(const std::vector<std::string>& devices) {
    EXPECT_EQ(
        emu.admin({"add-product", "-k", k_pk}, {{"ALIOT_PRODUCT_SECRET", "psFault0123456"}}).status,
        0);
    for (const auto& dn : devices) {
      EXPECT_EQ(
          emu.admin({"add-device", "-k", k_pk, "-d", dn}, {{"ALIOT_DEVICE_SECRET", k_ds}}).status,
          0);
    }
    EXPECT_EQ(emu.admin({"add-access-key", "--access-key-id", k_akid},
                        {{"ALIOT_ACCESS_KEY_SECRET", k_aks}})
                  .status,
              0);
    refresh();
  }
  void refresh() {
    env = emu.env();
    env["ALIOT_DEVICE_SECRET"] = k_ds;
    env["ALIOT_ACCESS_KEY_ID"] = k_akid;
    env["ALIOT_ACCESS_KEY_SECRET"] = k_aks;
  }
  void kill_and_restart(Background& device) {
    emu.kill9();
    // The device notices the loss and starts its backoff while the platform is down.
    EXPECT_TRUE(wait_err(device, "reconnecting to", std::chrono::seconds(60))) << device.err();
    emu.start();
    refresh();
  }
  ProcResult cloud_pub(const std::string& dn, const std::string& payload) const {
    return run_aliot({"cloud", "pub", "-k", k_pk, "-d", dn, "-q", "1", "-t", "user/get", "-m",
                      payload, "--timeout", "5s"},
                     {.env = env, .timeout_s = 30});
  }
};

Background device(const std::vector<std::string>& args, const Env& env) {
  return Background(cat({aliot_bin()}, args), {.env = env});
}

std::map<std::string, int> counts(const std::string& out) {
  std::map<std::string, int> n;
  for (const auto& l : lines_of(out)) {
    if (!l.empty()) {
      ++n[l];
    }
  }
  return n;
}

bool wait_lines(Background& p, std::size_t n, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (lines_of(p.out()).size() >= n) {
      return true;
    }
    p.wait_for("\x01never", std::chrono::milliseconds(50));
  }
  return false;
}

struct SubCase {
  const char* name;
  bool clean_session;
};

} // namespace

class KillNineUnderSub : public ::testing::TestWithParam<SubCase> {};

TEST_P(KillNineUnderSub, ComesBackAndLosesNoQos1MessageSentWhileOnline) {
  const std::string dn = std::string("sub-") + GetParam().name;
  Platform p({dn});
  auto sub = device({"sub", "-v", "--tcp", "-k", k_pk, "-d", dn, "-t", "user/get", "-q", "1",
                     "--clean-session", GetParam().clean_session ? "true" : "false"},
                    p.env);
  ASSERT_TRUE(wait_err(sub, "subscribed to", std::chrono::seconds(30))) << sub.err();
  std::set<std::string> must;  // accepted while the device was online
  std::set<std::string> maybe; // accepted after the restart, before it was subscribed again
  int seq = 0;
  auto send = [&](std::set<std::string>& into) {
    const std::string m = "m" + std::to_string(seq++);
    const auto r = p.cloud_pub(dn, m);
    if (r.status == 0) {
      into.insert(m);
    }
    return r;
  };
  for (int i = 0; i < 5; ++i) {
    const auto r = send(must);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  ASSERT_TRUE(wait_lines(sub, 5, std::chrono::seconds(30))) << sub.out() << sub.err();

  p.emu.kill9();
  ASSERT_TRUE(wait_err(sub, "reconnecting to", std::chrono::seconds(60))) << sub.err();
  // While the platform is down the cloud's publish fails (network), so nothing is accepted.
  const auto down = p.cloud_pub(dn, "while-down");
  EXPECT_EQ(down.status, 5) << down.err;
  p.emu.start();
  p.refresh();
  // The cloud keeps sending while the device reconnects on its own.
  while (!wait_err(sub, "reconnected to", std::chrono::milliseconds(10))) {
    ASSERT_LT(seq, 400) << "no reconnect: " << sub.err();
    send(maybe);
  }
  for (int i = 0; i < 5; ++i) {
    const auto r = send(must);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = counts(sub.out());
    if (std::all_of(must.begin(), must.end(), [&](const auto& m) { return got.count(m) > 0; })) {
      break;
    }
    sub.wait_for("\x01never", std::chrono::milliseconds(100));
  }
  sub.wait_for("\x01never", std::chrono::milliseconds(500)); // a late duplicate would show now
  const auto got = counts(sub.out());
  int lost = 0;
  for (const auto& m : must) {
    if (got.count(m) == 0) {
      ++lost;
      ADD_FAILURE() << "lost " << m;
    }
  }
  for (const auto& [m, n] : got) {
    EXPECT_EQ(n, 1) << m << " arrived " << n << " times";
    EXPECT_TRUE(must.count(m) + maybe.count(m) == 1) << "unexpected message " << m;
  }
  std::size_t window = 0;
  for (const auto& m : maybe) {
    window += got.count(m);
  }
  EXPECT_EQ(lost, 0);
  std::cerr << "[faults] kill -9 under sub (" << GetParam().name << "): " << must.size()
            << " QoS 1 messages sent while online, lost " << lost << "; " << window << " of "
            << maybe.size() << " sent during the reconnect arrived\n";
}

INSTANTIATE_TEST_SUITE_P(Faults,
                         KillNineUnderSub,
                         ::testing::Values(SubCase{"clean", true}, SubCase{"persistent", false}),
                         [](const auto& i) { return std::string(i.param.name); });

TEST(KillNine, ConnectHoldComesBackOnline) {
  Platform p({"hold-1"});
  auto hold = device({"connect", "--tcp", "-k", k_pk, "-d", "hold-1", "--hold"}, p.env);
  // Online: an RRPC to it reaches a device that does not answer (TIMEOUT, exit 6), not OFFLINE.
  const std::vector<std::string> probe{"rrpc",   "call", "-k",   k_pk,        "-d",
                                       "hold-1", "-m",   "ping", "--timeout", "1s"};
  for (int i = 0; i < 100; ++i) {
    if (run_aliot(probe, {.env = p.env}).status == 6) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(run_aliot(probe, {.env = p.env}).status, 6) << hold.err();
  p.kill_and_restart(hold);
  ASSERT_TRUE(wait_err(hold, "reconnected to", std::chrono::seconds(60))) << hold.err();
  const auto after = run_aliot(probe, {.env = p.env});
  EXPECT_EQ(after.status, 6) << after.err << hold.err();
  hold.signal(SIGINT);
  const auto st = hold.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << hold.err();
}

TEST(KillNine, RrpcServeComesBackAndAnswersEachCallOnce) {
  Platform p({"serve-1"});
  auto serve = device(
      {"rrpc", "serve", "-v", "--tcp", "-k", k_pk, "-d", "serve-1", "--echo", "-o", "json"}, p.env);
  ASSERT_TRUE(wait_err(serve, "serving RRPC", std::chrono::seconds(30))) << serve.err();
  auto call = [&](const std::string& m) {
    return run_aliot({"rrpc", "call", "-k", k_pk, "-d", "serve-1", "-m", m, "--timeout", "5s"},
                     {.env = p.env, .timeout_s = 30});
  };
  for (int i = 0; i < 3; ++i) {
    const auto r = call("before-" + std::to_string(i));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "before-" + std::to_string(i) + "\n");
  }
  p.kill_and_restart(serve);
  ASSERT_TRUE(wait_err(serve, "reconnected to", std::chrono::seconds(60))) << serve.err();
  for (int i = 0; i < 3; ++i) {
    const auto r = call("after-" + std::to_string(i));
    ASSERT_EQ(r.status, 0) << r.err << serve.err();
    EXPECT_EQ(r.out, "after-" + std::to_string(i) + "\n");
  }
  serve.signal(SIGINT);
  ASSERT_TRUE(serve.wait(std::chrono::seconds(10)).has_value());
  std::map<std::string, int> requests;
  for (const auto& l : lines_of(serve.out())) {
    const auto j = json::parse(l);
    if (j["event"] == "request") {
      ++requests[j["payload"].get<std::string>()];
    }
  }
  EXPECT_EQ(requests.size(), 6U) << serve.out();
  for (const auto& [m, n] : requests) {
    EXPECT_EQ(n, 1) << m;
  }
}
