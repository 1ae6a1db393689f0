// Firmware over the air end to end against the emulator (issue 26): the backend uploads a
// firmware and pushes it to three devices; two `ota watch --simulate` take it, one fails at a
// given step; `cloud ota status --wait` exits with the failure class and shows 2 SUCCEEDED and
// 1 FAILED; the backend sees the devices' progress over AMQP (`cloud sub`).
#include "emulator.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
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

// The download through a CONNECT proxy to the emulator's HTTPS server, of a firmware whose bytes
// changed after the upload: the device refuses it (exit 9) and the platform marks its task FAILED
// with the verify step -3.
TEST(OtaE2E, AlteredFirmwareThroughAProxyIsRefusedAndTheTaskFailsWithMinus3) {
  Emulator emu;
  ASSERT_EQ(emu.add_product(k_pk, "ps-secret-ota").status, 0);
  ASSERT_EQ(emu.add_device(k_pk, "otaDev9", k_secret).status, 0);
  ASSERT_EQ(emu.add_access_key(k_ak, k_ak_secret).status, 0);
  const Env env = env_of(emu);
  TempDir dir;
  ASSERT_EQ(sh("head -c 100000 /dev/urandom > '" + dir.file("fw.bin") + "'").status, 0);
  auto up = run_aliot({"cloud", "ota", "upload", "-k", k_pk, "--version", "2.0.0", "--file",
                       dir.file("fw.bin"), "--sign-method", "sha256", "-o", "json"},
                      {.env = env});
  ASSERT_EQ(up.status, 0) << up.err;
  const auto fw = json::parse(up.out);
  // The stored file changes behind the platform's back (same size, other bytes).
  const std::string url = fw["url"];
  const std::string stored = emu.dir() + "/ota/files/" + url.substr(url.rfind('/') + 1);
  ASSERT_EQ(sh("test -f '" + stored + "' && head -c 100000 /dev/urandom > '" + stored + "'").status,
            0);

  Background proxy({"python3", std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/http_proxy.py"});
  auto port = proxy.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port) << proxy.err();
  Background device({aliot_bin(), "ota", "watch", "-k", k_pk, "-d", "otaDev9", "--version", "1.0.0",
                     "--simulate", "--dir", dir.path(), "-W", "60s", "--proxy",
                     "http://127.0.0.1:" + *port},
                    {.env = env});
  ASSERT_TRUE(device.wait_for_err("ready", std::chrono::seconds(20))) << device.err();
  auto job = run_aliot(
      {"cloud", "ota", "push", "-k", k_pk, "-d", "otaDev9", "--firmware-id", fw["firmware_id"]},
      {.env = env});
  ASSERT_EQ(job.status, 0) << job.err;
  auto code = device.wait(std::chrono::seconds(60));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 9) << device.err();
  EXPECT_NE(device.err().find("SHA256 of the firmware is"), std::string::npos) << device.err();
  EXPECT_TRUE(proxy.wait_for("CONNECT 127.0.0.1:", std::chrono::seconds(5))) << proxy.out();
  auto status = run_aliot({"cloud", "ota", "status", trim(job.out), "--wait", "30s", "--interval",
                           "200ms", "-o", "json"},
                          {.env = env});
  EXPECT_EQ(status.status, 7) << status.err;
  EXPECT_NE(status.out.find("\"status\":\"FAILED\",\"progress\":\"-3\""), std::string::npos)
      << status.out;
  EXPECT_FALSE(std::ifstream(dir.file("firmware-2.0.0.bin")).good());
}
