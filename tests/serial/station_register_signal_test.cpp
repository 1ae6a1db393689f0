// `aliot burn --register` and a signal while the registration is in flight: the request already
// sent is finished (the platform issues a secret once) and its secret reaches the pool; only a
// second signal abandons it. The platform is the independent fake one, answering after 2 s.
#include "fake_platform.hpp"
#include "support.hpp"

#include <aliot/factory/pool.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

using namespace aliot;
using namespace aliot::test;
using namespace std::chrono_literals;

namespace {

struct Unit {
  std::unique_ptr<Background> proc;
  std::string link;
  Unit(const TempDir& dir, const std::string& name, std::vector<std::string> extra) {
    link = dir.file(name);
    std::vector<std::string> argv = {aliot_bin(), "emulate", "switch",      "--link", link,
                                     "--boot-ms", "30",      "--commit-ms", "10"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Background>(argv);
    EXPECT_TRUE(proc->wait_for("switch ready", 10s)) << proc->err();
  }
  ~Unit() {
    proc->signal(SIGTERM);
    proc->wait(5s);
  }
  Unit(const Unit&) = delete;
  Unit& operator=(const Unit&) = delete;
};

// Every row of the pool (any state): DeviceName -> DeviceSecret.
std::map<std::string, std::string> pool_secrets(const std::string& path) {
  std::map<std::string, std::string> out;
  auto pool = factory::Pool::open(path);
  EXPECT_TRUE(pool) << (pool ? "" : pool.error().message());
  if (!pool) {
    return out;
  }
  for (auto st : {factory::PoolState::available, factory::PoolState::reserved,
                  factory::PoolState::transmitted, factory::PoolState::bound,
                  factory::PoolState::failed, factory::PoolState::quarantined}) {
    auto rows = (*pool)->rows(st);
    EXPECT_TRUE(rows) << (rows ? "" : rows.error().message());
    if (rows) {
      for (auto& r : *rows) {
        out.emplace(r.device_name, r.device_secret.reveal());
      }
    }
  }
  return out;
}

} // namespace

TEST(StationRegisterSignal, ASigintDuringTheRegistrationKeepsTheIssuedSecretInThePool) {
  FakePlatform platform(2000);
  TempDir dir;
  const auto pool = dir.file("pool.db");
  Unit u(dir, "dut", {"--state", dir.file("u.json"), "--seed", "301"});
  Background b({aliot_bin(), "burn", "--port", u.link, "--register", "-k", k_pk, "--pool", pool,
                "--journal", dir.file("j.db"), "-o", "json"},
               {.env = platform.env()});
  for (int i = 0; i < 1000 && platform.register_requests() == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(platform.register_requests(), 1u) << b.err();
  b.signal(SIGINT); // the request is sent; its answer comes in about 2 s
  const auto st = b.wait(30s);
  ASSERT_TRUE(st.has_value()) << "still running 30 s after SIGINT";
  // The platform issues the secret when its answer is ready, whether or not aliot still waits.
  auto issued = platform.state()["secrets"];
  for (int i = 0; i < 500 && issued.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    issued = platform.state()["secrets"];
  }
  ASSERT_EQ(issued.size(), 1u) << b.err();
  const auto kept = pool_secrets(pool);
  for (const auto& [dn, ds] : issued.items()) {
    ASSERT_EQ(kept.count(dn), 1u) << dn
                                  << "'s secret was issued and is not in the pool: " << b.err();
    EXPECT_EQ(kept.at(dn), ds.get<std::string>());
  }
  std::cerr << "[ burn --register, SIGINT mid-registration: exit " << *st << ", issued "
            << issued.size() << ", in the pool " << kept.size() << " ]\n";
}
