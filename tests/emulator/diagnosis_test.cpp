// What an engineer at a terminal is told, end to end through the real binary: the emulator's
// terminal (stderr) says why it refused each login, without the secret or the password.
#include "emulator.hpp"
#include "secrets.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

using namespace aliot::test;
using nlohmann::json;

namespace {

const std::string k_pk = "a1DiagPK001";
const std::string k_ds = "DiagSecret0123456789abcdef012345";
const std::string k_wrong_ds = "WrongSecret123456789abcdef01234";

std::string triplet(const TempDir& dir,
                    const std::string& name,
                    const std::string& pk,
                    const std::string& dn,
                    const std::string& ds) {
  return dir.write(name + ".json",
                   json{{"ProductKey", pk}, {"DeviceName", dn}, {"DeviceSecret", ds}}.dump());
}

// The lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.find(needle) != std::string::npos) {
      out.push_back(l);
    }
  }
  return out;
}

} // namespace

TEST(EmulatorRefusals, EachRefusedLoginIsOneLineOnTheEmulatorsStderrWithItsReason) {
  Emulator emu;
  TempDir dir;
  ASSERT_EQ(emu.add_product(k_pk, "DiagProductSecret01").status, 0);
  ASSERT_EQ(emu.add_device(k_pk, "dev1", k_ds).status, 0);
  ASSERT_EQ(emu.add_device(k_pk, "devoff", k_ds, true).status, 0);
  const RunOptions opts{.env = emu.env()};
  struct Case {
    std::string file, reason;
  };
  const std::vector<Case> cases = {
      {triplet(dir, "wrong-pk", "a1WrongPK01", "dev1", k_ds), "unknown product a1WrongPK01"},
      {triplet(dir, "wrong-dn", k_pk, "nosuchdev", k_ds), "unknown device nosuchdev in product"},
      {triplet(dir, "wrong-ds", k_pk, "dev1", k_wrong_ds), "wrong signature for " + k_pk + "/dev1"},
      {triplet(dir, "disabled", k_pk, "devoff", k_ds), "device " + k_pk + "/devoff is disabled"}};
  for (const auto& c : cases) {
    const auto r = run_aliot({"connect", "--triplet", c.file}, opts);
    EXPECT_EQ(r.status, 4) << c.file << ": " << r.err;
  }
  // A password given by hand (mosquitto_pub, a peer we did not write) with an unsupported sign
  // method: the reason names the method, the password never appears. (The broker itself refuses
  // a client id with control characters before the plugin sees it; ids are escaped all the same.)
  const std::string password = "NotAPasswordToShow0123456789abcd";
  if (have_program("mosquitto_pub")) {
    const auto r =
        run({"mosquitto_pub", "-h", emu.host(), "-p", std::to_string(emu.mqtt_tcp_port()), "-i",
             "by-hand|securemode=3,signmethod=hmacsha512|", "-u", "dev1&" + k_pk, "-P", password,
             "-t", "/" + k_pk + "/dev1/user/update", "-m", "x"});
    EXPECT_NE(r.status, 0) << r.err;
  }
  ASSERT_EQ(emu.stop(), 0) << emu.log();
  const std::string log = emu.log();
  for (const auto& c : cases) {
    const auto hits = lines_with(log, c.reason);
    ASSERT_EQ(hits.size(), 1u) << c.reason << " in:\n" << log;
    EXPECT_EQ(hits[0].rfind("aliot: emulator: login refused: client '", 0), 0u) << hits[0];
  }
  if (have_program("mosquitto_pub")) {
    const auto hits = lines_with(log, "client 'by-hand|");
    ASSERT_EQ(hits.size(), 1u) << log;
    EXPECT_NE(hits[0].find("unsupported sign method 'hmacsha512'"), std::string::npos) << hits[0];
  }
  EXPECT_TRUE(no_secret_in({k_ds, k_wrong_ds, password}, {text("emulator stderr", log)}));
}
