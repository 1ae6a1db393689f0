// Firmware over the air end to end against the emulator (issue 26): the backend uploads a
// firmware and pushes it to three devices; two `ota watch --simulate` take it, one fails at a
// given step; `cloud ota status --wait` exits with the failure class and shows 2 SUCCEEDED and
// 1 FAILED; the backend sees the devices' progress over AMQP (`cloud sub`).
#include "emulator.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>

using namespace aliot::test;
using nlohmann::json;

namespace {

const char* const k_pk = "a1OtaE2E001";
const char* const k_secret = "0123456789abcdef0123456789abcdef";
const char* const k_ak = "LTAIotae2e";
const char* const k_ak_secret = "ak-secret-ota-e2e";

Env env_of(const Emulator& emu) {
  Env e = emu.env();
  e["ALIOT_ACCESS_KEY_ID"] = k_ak;
  e["ALIOT_ACCESS_KEY_SECRET"] = k_ak_secret;
  e["ALIOT_DEVICE_SECRET"] = k_secret;
  return e;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

} // namespace

TEST(OtaE2E, UploadPushToThreeTwoSucceedOneFailsStatusWaitAndAmqpProgress) {
  Emulator emu;
  ASSERT_EQ(emu.add_product(k_pk, "ps-secret-ota").status, 0);
  const std::vector<std::string> devices{"otaDev1", "otaDev2", "otaDev3"};
  for (const auto& dn : devices) {
    ASSERT_EQ(emu.add_device(k_pk, dn, k_secret).status, 0);
  }
  ASSERT_EQ(emu.add_access_key(k_ak, k_ak_secret).status, 0);
  auto g = run_aliot({"emulate", "cloud", "add-consumer-group", "--dir", emu.dir(), "-k", k_pk,
                      "--consumer-group", "OTA"});
  ASSERT_EQ(g.status, 0) << g.err;
  const Env env = env_of(emu);
  TempDir dir;
  ASSERT_EQ(sh("head -c 300000 /dev/urandom > '" + dir.file("fw.bin") + "'").status, 0);

  // The backend listens first: every progress message of the product over AMQP.
  std::unique_ptr<Background> backend;
  if (env.count("ALIOT_AMQP_ENDPOINT") != 0) {
    backend = std::make_unique<Background>(
        std::vector<std::string>{aliot_bin(), "cloud", "sub", "--consumer-group", "OTA", "-o",
                                 "json", "-W", "120", "--until", "\"step\":\"-1\""},
        RunOptions{.env = env});
    ASSERT_TRUE(backend->wait_for("\"event\":\"ready\"", std::chrono::seconds(20)))
        << backend->err();
  }

  auto up = run_aliot(
      {"cloud", "ota", "upload", "-k", k_pk, "--version", "1.1.0", "--file", dir.file("fw.bin")},
      {.env = env});
  ASSERT_EQ(up.status, 0) << up.err;
  const std::string firmware = trim(up.out);
  ASSERT_FALSE(firmware.empty());

  // Three devices wait for the push (the third fails at 50 %).
  std::vector<std::unique_ptr<Background>> watchers;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    std::vector<std::string> argv{
        aliot_bin(), "ota",        "watch", "-k",       k_pk, "-d",  devices[i], "--version",
        "1.0.0",     "--simulate", "--dir", dir.path(), "-W", "90s", "-o",       "json"};
    if (i == 2) {
      argv.insert(argv.end(), {"--fail-at", "50"});
    }
    watchers.push_back(std::make_unique<Background>(argv, RunOptions{.env = env}));
    ASSERT_TRUE(watchers.back()->wait_for("\"event\":\"ready\"", std::chrono::seconds(20)))
        << watchers.back()->err();
  }

  std::vector<std::string> push{"cloud", "ota", "push", "-k", k_pk, "--firmware-id", firmware};
  for (const auto& dn : devices) {
    push.insert(push.end(), {"-d", dn});
  }
  auto job = run_aliot(push, {.env = env});
  ASSERT_EQ(job.status, 0) << job.err;
  const std::string job_id = trim(job.out);

  auto status = run_aliot(
      {"cloud", "ota", "status", job_id, "--wait", "90s", "--interval", "500ms", "-o", "json"},
      {.env = env, .timeout_s = 120});
  EXPECT_EQ(status.status, 7) << status.out << status.err; // a task FAILED: the remote class
  EXPECT_NE(status.err.find("2 SUCCEEDED"), std::string::npos) << status.err;
  EXPECT_NE(status.err.find("1 FAILED"), std::string::npos) << status.err;
  EXPECT_NE(status.err.find("otaDev3 FAILED"), std::string::npos) << status.err;

  for (std::size_t i = 0; i < watchers.size(); ++i) {
    auto code = watchers[i]->wait(std::chrono::seconds(60));
    ASSERT_TRUE(code) << devices[i];
    EXPECT_EQ(*code, i == 2 ? 8 : 0) << devices[i] << ": " << watchers[i]->err();
  }
  // The last JSON line of each task in the status output names its final state.
  EXPECT_NE(status.out.find("\"device_name\":\"otaDev1\",\"status\":\"SUCCEEDED\""),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("\"device_name\":\"otaDev3\",\"status\":\"FAILED\""), std::string::npos)
      << status.out;

  ASSERT_TRUE(backend) << "the emulator exported no ALIOT_AMQP_ENDPOINT";
  auto got = backend->wait(std::chrono::seconds(60));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 0) << backend->out() << backend->err();
  EXPECT_NE(backend->out().find("/ota/device/progress/"), std::string::npos) << backend->out();
  EXPECT_NE(backend->out().find("\\\"step\\\":\\\"-1\\\""), std::string::npos) << backend->out();
}
