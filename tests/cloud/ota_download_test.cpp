// Firmware download and the device's upgrade flow over loopback, against peers we did not write:
// a python http.server with Range that drops connections or sends too much or too little, a
// python CONNECT/forward proxy, curl and md5sum/sha256sum for the bytes and their sign, and
// (for `aliot ota watch|report`) a plain mosquitto broker with mosquitto_pub/sub as the platform.
#include "../mqtt/broker.hpp"
#include "support.hpp"

#include <aliot/ota.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace aliot;
using namespace aliot::test;
using nlohmann::json;

namespace {

const std::string k_server = std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/ota_http_server.py";
const std::string k_proxy = std::string(ALIOT_SOURCE_DIR) + "/tests/cloud/http_proxy.py";

// A firmware of `n` random bytes in `dir`, and its sign by md5sum / sha256sum.
struct Firmware {
  std::string path;
  std::uint64_t size = 0;
  std::string md5;
  std::string sha256;
};

Firmware make_firmware(const TempDir& dir, std::size_t n) {
  Firmware f;
  f.path = dir.file("source.bin");
  auto r = sh("head -c " + std::to_string(n) + " /dev/urandom > '" + f.path + "'");
  EXPECT_EQ(r.status, 0) << r.err;
  f.size = n;
  f.md5 = sh("md5sum '" + f.path + "' | cut -d' ' -f1").out.substr(0, 32);
  f.sha256 = sh("sha256sum '" + f.path + "' | cut -d' ' -f1").out.substr(0, 64);
  return f;
}

struct Server {
  std::unique_ptr<Background> proc;
  int port = 0;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/fw.bin"; }
};

Server serve(const Firmware& fw, const std::string& mode, std::size_t drop = 0) {
  Server s;
  std::vector<std::string> argv{"python3", k_server, fw.path, mode};
  if (drop > 0) {
    argv.push_back(std::to_string(drop));
  }
  s.proc = std::make_unique<Background>(argv);
  auto line = s.proc->read_line(std::chrono::seconds(10));
  EXPECT_TRUE(line) << s.proc->err();
  s.port = line ? std::stoi(*line) : 0;
  return s;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Whether `dir` holds a partial download of `name` (`name`.XXXXXX) or the file itself.
bool leftover(const TempDir& dir, const std::string& name) {
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string n = e.path().filename().string();
    if (n == name || n.rfind(name + ".", 0) == 0) {
      return true;
    }
  }
  return false;
}

ota::File file_of(const Firmware& fw, const Server& s) {
  return {"", fw.size, s.url(), fw.md5};
}

} // namespace

TEST(OtaDownload, ResumesByRangeAfterADroppedConnectionAndMatchesCurl) {
  TempDir dir;
  const auto fw = make_firmware(dir, 1024 * 1024);
  auto s = serve(fw, "drop", 300000);
  ota::DownloadOptions o;
  o.retry_delay = std::chrono::milliseconds(10);
  std::uint64_t last = 0;
  o.progress = [&](std::uint64_t got, std::uint64_t) {
    last = got;
  };
  auto r = ota::download(file_of(fw, s), ota::SignMethod::md5, dir.file("fw.bin"), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->bytes, fw.size);
  EXPECT_EQ(r->resumes, 1);
  EXPECT_EQ(last, fw.size);
  ASSERT_TRUE(s.proc->wait_for("GET bytes=300000-", std::chrono::seconds(5))) << s.proc->out();
  // The bytes are the ones curl fetches from a server that does not drop (a peer we did not
  // write), and their sha256sum is the file's.
  auto plain = serve(fw, "normal");
  auto c = run({"curl", "-sS", "-o", dir.file("curl.bin"), plain.url()});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(read_all(dir.file("fw.bin")), read_all(dir.file("curl.bin")));
  EXPECT_EQ(sh("sha256sum '" + dir.file("fw.bin") + "' | cut -d' ' -f1").out.substr(0, 64),
            fw.sha256);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            3); // source.bin, fw.bin, curl.bin: no partial file left
}

TEST(OtaDownload, GivesUpAfterTheRetriesAsANetworkError) {
  TempDir dir;
  const auto fw = make_firmware(dir, 200000);
  auto s = serve(fw, "drop", 1000);
  ota::DownloadOptions o;
  o.max_retries = 0;
  auto r = ota::download(file_of(fw, s), ota::SignMethod::md5, dir.file("fw.bin"), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::network) << r.error().message();
  EXPECT_NE(r.error().message().find("1000 of 200000 bytes"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(leftover(dir, "fw.bin"));
}

TEST(OtaDownload, ThroughAProxy) {
  TempDir dir;
  const auto fw = make_firmware(dir, 300000);
  auto s = serve(fw, "normal");
  Background proxy({"python3", k_proxy});
  auto port = proxy.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port) << proxy.err();
  ota::DownloadOptions o;
  o.http.proxy = "http://127.0.0.1:" + *port;
  auto r = ota::download({"", fw.size, s.url(), fw.sha256}, ota::SignMethod::sha256,
                         dir.file("fw.bin"), o);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(proxy.wait_for("FORWARD " + s.url(), std::chrono::seconds(5))) << proxy.out();
  EXPECT_EQ(read_all(dir.file("fw.bin")), read_all(fw.path));
}

TEST(OtaDownload, RefusesOversizedTruncatedAndWronglySignedFiles) {
  TempDir dir;
  const auto fw = make_firmware(dir, 100000);
  for (const std::string mode : {"oversize", "short"}) {
    auto s = serve(fw, mode);
    auto r = ota::download(file_of(fw, s), ota::SignMethod::md5, dir.file("fw.bin"), {});
    ASSERT_FALSE(r) << mode;
    EXPECT_EQ(r.error().code(), Errc::verify) << mode << ": " << r.error().message();
    EXPECT_FALSE(leftover(dir, "fw.bin")) << mode;
  }
  auto s = serve(fw, "normal");
  auto wrong = file_of(fw, s);
  wrong.sign = std::string(32, 'a');
  auto r = ota::download(wrong, ota::SignMethod::md5, dir.file("fw.bin"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::verify);
  EXPECT_NE(r.error().message().find(fw.md5), std::string::npos) << r.error().message();
  EXPECT_FALSE(leftover(dir, "fw.bin"));
}

// ---- `aliot ota watch|report` with mosquitto as the platform ----

namespace {

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string push_payload(const std::string& version, const ota::File& f) {
  return json{{"code", "1000"},
              {"id", 42},
              {"message", "success"},
              {"data",
               {{"version", version},
                {"size", f.size},
                {"url", f.url},
                {"sign", f.sign},
                {"signMethod", "Md5"},
                {"md5", f.sign}}}}
      .dump();
}

struct Platform {
  const Mosquitto& broker;
  std::unique_ptr<Background> watch; // mosquitto_sub on the device's OTA uplinks

  explicit Platform(const Mosquitto& b)
      : broker(b) {
    watch = std::make_unique<Background>(std::vector<std::string>{
        "stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()),
        "-u", "operator", "-P", "operator-pass", "-v", "-t", "/ota/device/#", "-t",
        "/sys/+/+/thing/ota/firmware/get", "-d"});
    EXPECT_TRUE(watch->wait_for("SUBACK", std::chrono::seconds(15))) << watch->err();
  }
  void push(const std::string& dn, const std::string& payload) const {
    auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.tcp_port()), "-u",
                  "operator", "-P", "operator-pass", "-q", "1", "-t",
                  std::string("/ota/device/upgrade/") + k_pk + "/" + dn, "-m", payload});
    EXPECT_EQ(r.status, 0) << r.err;
  }
};

// Starts `aliot ota watch` as devSub and waits for its ready line.
std::unique_ptr<Background>
start_watch(const Mosquitto& b, std::vector<std::string> extra, const std::string& wait = "60s") {
  auto w = std::make_unique<Background>(
      cat(cat({aliot_bin(), "ota", "watch", "-o", "json", "--version", "1.0.0", "-W", wait}, extra),
          b.device_args("devSub")),
      RunOptions{.env = b.env()});
  EXPECT_TRUE(w->wait_for("\"event\":\"ready\"", std::chrono::seconds(15))) << w->err();
  return w;
}

} // namespace

TEST(OtaWatch, DownloadsVerifiesAppliesAndReportsTheNewVersion) {
  Mosquitto b;
  Platform p(b);
  TempDir dir;
  const auto fw = make_firmware(dir, 500000);
  auto s = serve(fw, "drop", 200000);
  run({"mkdir", dir.file("applied")});
  auto w = start_watch(b, {"--dir", dir.path(), "--exec", "cp -t " + dir.file("applied")});
  // The device announced its version and asked for a firmware before any push.
  ASSERT_TRUE(p.watch->wait_for("thing/ota/firmware/get", std::chrono::seconds(10)));
  ASSERT_TRUE(p.watch->wait_for("\"version\":\"1.0.0\"", std::chrono::seconds(10)));
  p.push("devSub", push_payload("1.1.0", file_of(fw, s)));
  auto status = w->wait(std::chrono::seconds(60));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << w->err();
  EXPECT_NE(w->out().find("\"event\":\"downloaded\""), std::string::npos) << w->out();
  EXPECT_NE(w->out().find("\"resumes\":1"), std::string::npos) << w->out();
  EXPECT_EQ(read_all(dir.file("applied/firmware-1.1.0.bin")), read_all(fw.path));
  ASSERT_TRUE(p.watch->wait_for(std::string("/ota/device/inform/") + k_pk + "/devSub {\"id\":",
                                std::chrono::seconds(10)));
  ASSERT_TRUE(p.watch->wait_for("\"version\":\"1.1.0\"", std::chrono::seconds(10)))
      << p.watch->out();
  const std::string seen = p.watch->out();
  EXPECT_NE(seen.find("\"step\":\"100\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"step\":\"40\""), std::string::npos) << seen;
}

TEST(OtaWatch, SignatureMismatchIsReportedAsMinus3AndExit9) {
  Mosquitto b;
  Platform p(b);
  TempDir dir;
  const auto fw = make_firmware(dir, 100000);
  auto s = serve(fw, "normal");
  auto w = start_watch(b, {"--dir", dir.path(), "--simulate"});
  auto f = file_of(fw, s);
  f.sign = std::string(32, 'e');
  p.push("devSub", push_payload("1.1.0", f));
  auto status = w->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 9) << w->err();
  ASSERT_TRUE(p.watch->wait_for("\"step\":\"-3\"", std::chrono::seconds(10))) << p.watch->out();
  EXPECT_FALSE(std::ifstream(dir.file("firmware-1.1.0.bin")).good());
}

TEST(OtaWatch, FailuresOfApplyAndSimulationAreExit8WithTheirSteps) {
  Mosquitto b;
  Platform p(b);
  TempDir dir;
  const auto fw = make_firmware(dir, 100000);
  auto s = serve(fw, "normal");
  auto w = start_watch(b, {"--dir", dir.path(), "--exec", "false"});
  p.push("devSub", push_payload("1.1.0", file_of(fw, s)));
  auto status = w->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 8) << w->err();
  ASSERT_TRUE(p.watch->wait_for("\"step\":\"-4\"", std::chrono::seconds(10))) << p.watch->out();

  auto sim = start_watch(b, {"--dir", dir.path(), "--simulate", "--fail-at", "50"});
  p.push("devSub", push_payload("1.2.0", file_of(fw, s)));
  status = sim->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 8) << sim->err();
  ASSERT_TRUE(p.watch->wait_for("\"step\":\"-1\"", std::chrono::seconds(10))) << p.watch->out();
}

TEST(OtaWatch, GarbagePushesAreSkippedAndNoPushIsExit6) {
  Mosquitto b;
  Platform p(b);
  auto w = start_watch(b, {"--simulate"}, "3s");
  p.push("devSub", "{\"data\":{\"version\":\"9\"}}");
  p.push("devSub", std::string("\xff\xfe", 2));
  auto status = w->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 6) << w->err();
  EXPECT_NE(w->out().find("\"event\":\"skipped\""), std::string::npos) << w->out();
}

TEST(OtaReport, PublishesTheVersionAtQos1) {
  Mosquitto b;
  Platform p(b);
  auto r = run_aliot(cat({"ota", "report", "--version", "2.0.1", "--module", "MCU", "-o", "json"},
                         b.device_args("devPub")),
                     {.env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"version\":\"2.0.1\""), std::string::npos);
  ASSERT_TRUE(p.watch->wait_for(std::string("/ota/device/inform/") + k_pk + "/devPub {\"id\":",
                                std::chrono::seconds(10)));
  ASSERT_TRUE(p.watch->wait_for("\"params\":{\"version\":\"2.0.1\",\"module\":\"MCU\"}",
                                std::chrono::seconds(10)))
      << p.watch->out();
  auto bad = run_aliot(cat({"ota", "report", "--version", "1 0"}, b.device_args("devPub")),
                       {.env = b.env()});
  EXPECT_EQ(bad.status, 2) << bad.err;
}
