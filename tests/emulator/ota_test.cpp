// The emulator's OTA service against peers we did not write: devices are mosquitto_pub /
// mosquitto_sub with passwords computed by `openssl dgst -hmac`, the backend is curl with
// requests signed by pop_sign.py, the firmware is uploaded and downloaded with curl (Range), and
// the digests are checked with sha256sum / md5sum.
#include "emulator.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <thread>

using aliot::test::Background;
using aliot::test::Emulator;
using aliot::test::ProcResult;
using aliot::test::run;
using aliot::test::run_aliot;
using aliot::test::sh;
using nlohmann::json;

namespace {

const std::string k_pk = "a1OtaTestPK";
const std::string k_ds = "0123456789abcdef0123456789abcdef";
const std::string k_ak = "LTAIotaTest001";
const std::string k_aks = "AccessKeySecretForOta01";
const std::string k_test_dir = ALIOT_EMU_TEST_DIR;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::string openssl_hmac(const std::string& key, const std::string& msg) {
  auto r = sh("printf '%s' \"$MSG\" | openssl dgst -sha256 -hmac \"$KEY\" | sed 's/^.*= //'",
              {.env = {{"MSG", msg}, {"KEY", key}}});
  EXPECT_EQ(r.status, 0) << r.err;
  return trim(r.out);
}

struct Login {
  std::string client_id, username, password;
};

Login device_login(const std::string& dn, const std::string& extra = "") {
  const std::string id = k_pk + "." + dn;
  const std::string ts = "1700000000000";
  return {id + "|securemode=3,signmethod=hmacsha256,timestamp=" + ts + extra + "|", dn + "&" + k_pk,
          openssl_hmac(k_ds, "clientId" + id + "deviceName" + dn + "productKey" + k_pk + "timestamp"
                                 + ts)};
}

Login operator_login(const std::string& cid) {
  return {cid, "operator/" + k_ak, k_aks};
}

class OtaTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    for (const char* p : {"mosquitto_pub", "curl", "sha256sum", "md5sum"}) {
      if (!aliot::test::have_program(p)) {
        GTEST_SKIP() << "mosquitto-clients, curl and coreutils are needed";
      }
    }
    // A minute of TimeoutInMinutes lasts 300 ms, so the timeout test takes a second.
    emu = new Emulator(aliot::test::Env{{"ALIOT_EMU_OTA_MINUTE_MS", "300"}});
    ASSERT_EQ(emu->add_product(k_pk, "ProductSecret0001").status, 0);
    for (int i = 1; i <= 12; ++i) {
      ASSERT_EQ(emu->add_device(k_pk, "dev" + std::to_string(i), k_ds).status, 0);
    }
    ASSERT_EQ(emu->add_access_key(k_ak, k_aks).status, 0);
    auto g = run_aliot({"emulate", "cloud", "add-consumer-group", "--dir", emu->dir(), "-k", k_pk,
                        "--consumer-group", "OTAG"});
    ASSERT_EQ(g.status, 0) << g.err;
    fw = emu->dir() + "/fw.bin";
    std::ofstream f(fw, std::ios::binary);
    for (int i = 0; i < 5000; ++i) {
      f.put(static_cast<char>((i * 7 + i / 256) & 0xff));
    }
  }
  static void TearDownTestSuite() {
    delete emu;
    emu = nullptr;
  }

  static std::vector<std::string> mqtt_args(const std::string& tool, const Login& l) {
    return {tool,       "-h",        emu->host(), "-p",       std::to_string(emu->mqtt_tcp_port()),
            "-i",       l.client_id, "-u",        l.username, "-P",
            l.password, "-k",        "60",        "-V",       "mqttv311"};
  }
  static ProcResult pub(const Login& l, const std::string& topic, const std::string& msg) {
    auto a = mqtt_args("mosquitto_pub", l);
    a.insert(a.end(), {"-t", topic, "-m", msg, "-q", "1"});
    return run(a, {.timeout_s = 20});
  }
  static std::unique_ptr<Background> sub(const Login& l, const std::string& filter) {
    auto a = mqtt_args("mosquitto_sub", l);
    a.insert(a.end(), {"-t", filter, "-v", "-d", "-W", "30"});
    a.insert(a.begin(), {"stdbuf", "-oL"});
    auto b = std::make_unique<Background>(a);
    EXPECT_TRUE(b->wait_for("received SUBACK", std::chrono::seconds(10))) << b->err();
    return b;
  }
  static std::optional<json> next_json(Background& b, const std::string& topic) {
    for (int i = 0; i < 200; ++i) {
      auto line = b.read_line(std::chrono::seconds(10));
      if (!line) {
        return std::nullopt;
      }
      if (line->starts_with(topic + " ")) {
        return json::parse(line->substr(topic.size() + 1), nullptr, false);
      }
    }
    return std::nullopt;
  }
  static json api(const std::vector<std::string>& params) {
    std::vector<std::string> a{"python3", k_test_dir + "/pop_sign.py", "GET", k_ak, k_aks};
    a.insert(a.end(), params.begin(), params.end());
    auto q = run(a);
    EXPECT_EQ(q.status, 0) << q.err;
    auto r = run({"curl", "-sS", "--max-time", "20",
                  emu->api_endpoint() + "/?" + q.out.substr(0, q.out.find('\n'))},
                 {.timeout_s = 30});
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  static std::string upgrade_topic(const std::string& dn) {
    return "/ota/device/upgrade/" + k_pk + "/" + dn;
  }
  static void inform(const std::string& dn, const std::string& version) {
    ASSERT_EQ(pub(device_login(dn), "/ota/device/inform/" + k_pk + "/" + dn,
                  json{{"id", "1"}, {"params", {{"version", version}}}}.dump())
                  .status,
              0);
  }
  static void
  progress(const std::string& dn, const std::string& step, const std::string& desc = "") {
    // LinkSDK's form: a numeric id, the step as a string.
    ASSERT_EQ(pub(device_login(dn), "/ota/device/progress/" + k_pk + "/" + dn,
                  R"({"id":7, "params":{"step":")" + step + R"(","desc":")" + desc + R"("}})")
                  .status,
              0);
  }
  static json task_of(const std::string& job, const std::string& dn) {
    auto r = api({"Action=ListOTATaskByJob", "JobId=" + job, "PageSize=100"});
    for (const auto& t : r["Data"]["SimpleOTATaskInfo"]) {
      if (t["DeviceName"] == dn) {
        return t;
      }
    }
    ADD_FAILURE() << "no task of " << dn << " in " << r.dump();
    return {};
  }
  static std::string add_firmware_cli(const std::string& version, const std::string& method) {
    auto r = run_aliot({"emulate", "cloud", "add-firmware", "--dir", emu->dir(), "-k", k_pk,
                        "--version", version, "--file", fw, "--sign-method", method});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("FirmwareId", "") : "";
  }
  static std::string static_job(const std::string& firmware,
                                const std::string& dn,
                                const std::vector<std::string>& extra = {}) {
    std::vector<std::string> p{"Action=CreateOTAStaticUpgradeJob", "FirmwareId=" + firmware,
                               "ProductKey=" + k_pk, "TargetSelection=SPECIFIC",
                               "TargetDeviceName.1=" + dn};
    p.insert(p.end(), extra.begin(), extra.end());
    auto r = api(p);
    EXPECT_EQ(r["Success"], true) << r.dump();
    return r["Data"].value("JobId", "");
  }
  static std::string digest(const std::string& tool, const std::string& file) {
    auto r = run({tool, file});
    return r.out.substr(0, r.out.find(' '));
  }

  static inline Emulator* emu = nullptr;
  static inline std::string fw;
};

TEST_F(OtaTest, UploadPushDownloadByRangeProgressAndSuccess) {
  // Upload as an OSS PostObject to the URL the platform hands out.
  auto u = api({"Action=GenerateOTAUploadURL", "FileSuffix=bin"});
  ASSERT_EQ(u["Success"], true) << u.dump();
  const auto& d = u["Data"];
  auto up =
      run({"curl", "-sS", "--cacert", emu->ca_file(), "-w", "%{http_code}", "-F",
           "key=" + d["Key"].get<std::string>(), "-F", "policy=" + d["Policy"].get<std::string>(),
           "-F", "OSSAccessKeyId=" + d["OSSAccessKeyId"].get<std::string>(), "-F",
           "Signature=" + d["Signature"].get<std::string>(), "-F", "file=@" + fw,
           d["Host"].get<std::string>()});
  ASSERT_EQ(up.out, "204") << up.out << up.err;
  // A second upload with the same key is refused (the key was used).
  auto again = run({"curl", "-sS", "--cacert", emu->ca_file(), "-o", "/dev/null", "-w",
                    "%{http_code}", "-F", "key=" + d["Key"].get<std::string>(), "-F",
                    "Signature=" + d["Signature"].get<std::string>(), "-F", "file=@" + fw,
                    d["Host"].get<std::string>()});
  EXPECT_EQ(again.out, "403");
  auto c = api({"Action=CreateOTAFirmware", "FirmwareName=fw110", "DestVersion=1.1.0",
                "ProductKey=" + k_pk, "FirmwareUrl=" + d["FirmwareUrl"].get<std::string>(),
                "SignMethod=SHA256"});
  ASSERT_EQ(c["Success"], true) << c.dump();
  const std::string fid = c["Data"]["FirmwareId"];
  auto q = api({"Action=QueryOTAFirmware", "FirmwareId=" + fid});
  EXPECT_EQ(q["FirmwareInfo"]["FirmwareSize"], 5000);
  EXPECT_EQ(q["FirmwareInfo"]["FirmwareSign"], digest("sha256sum", fw));
  EXPECT_EQ(q["FirmwareInfo"]["Md5"], digest("md5sum", fw));
  auto l = api({"Action=ListOTAFirmware", "CurrentPage=1", "PageSize=200"});
  bool listed = false;
  for (const auto& f : l["FirmwareInfo"]["SimpleFirmwareInfo"]) {
    listed = listed || f["FirmwareId"] == fid;
  }
  EXPECT_TRUE(listed) << l.dump();

  inform("dev1", "1.0.0");
  const std::string job = static_job(fid, "dev1", {"SrcVersion.1=1.0.0"});
  EXPECT_EQ(task_of(job, "dev1")["TaskStatus"], "QUEUED"); // dev1 was not online
  EXPECT_EQ(task_of(job, "dev1")["SrcVersion"], "1.0.0");
  auto op = sub(operator_login("op-upgrade"), upgrade_topic("dev1"));
  inform("dev1", "1.0.0"); // the device reports its version: it gets the notice
  auto n = next_json(*op, upgrade_topic("dev1"));
  ASSERT_TRUE(n) << op->out() << emu->log();
  EXPECT_EQ((*n)["code"], "1000");
  EXPECT_EQ((*n)["message"], "success");
  EXPECT_TRUE((*n)["id"].is_number());
  const auto& data = (*n)["data"];
  EXPECT_EQ(data["version"], "1.1.0");
  EXPECT_EQ(data["size"], 5000);
  EXPECT_EQ(data["signMethod"], "SHA256");
  EXPECT_EQ(data["sign"], digest("sha256sum", fw));
  EXPECT_EQ(data["md5"], digest("md5sum", fw));
  EXPECT_EQ(task_of(job, "dev1")["TaskStatus"], "NOTIFIED");

  // The download: a range (206 with its Content-Range), then the whole file.
  const std::string url = data["url"];
  const std::string part = emu->dir() + "/part.bin", whole = emu->dir() + "/whole.bin";
  auto r = run({"curl", "-sS", "--cacert", emu->ca_file(), "-r", "0-99", "-o", part, "-w",
                "%{http_code} %{size_download}", url});
  EXPECT_EQ(r.out, "206 100") << r.err;
  EXPECT_EQ(sh("cmp -n 100 \"$A\" \"$B\"", {.env = {{"A", part}, {"B", fw}}}).status, 0);
  r = run({"curl", "-sS", "--cacert", emu->ca_file(), "-r", "4900-", "-o", part, "-w",
           "%{http_code} %{size_download}", url});
  EXPECT_EQ(r.out, "206 100") << r.err;
  r = run({"curl", "-sS", "--cacert", emu->ca_file(), "-o", whole, "-w", "%{http_code}", url});
  EXPECT_EQ(r.out, "200") << r.err;
  EXPECT_EQ(digest("sha256sum", whole), digest("sha256sum", fw));

  progress("dev1", "50", "downloading");
  auto t = task_of(job, "dev1");
  EXPECT_EQ(t["TaskStatus"], "IN_PROGRESS") << t.dump();
  EXPECT_EQ(t["Progress"], "50");
  EXPECT_EQ(api({"Action=QueryOTAJob", "JobId=" + job})["Data"]["JobStatus"], "IN_PROGRESS");
  inform("dev1", "1.1.0"); // the new version: the upgrade succeeded
  t = task_of(job, "dev1");
  EXPECT_EQ(t["TaskStatus"], "SUCCEEDED") << t.dump();
  auto j = api({"Action=QueryOTAJob", "JobId=" + job});
  EXPECT_EQ(j["Data"]["JobStatus"], "COMPLETED") << j.dump();
  EXPECT_EQ(j["Data"]["SelectionType"], "STATIC");
  EXPECT_EQ(j["Data"]["DestVersion"], "1.1.0");
}

TEST_F(OtaTest, NegativeStepFailsTheTaskWithItsCode) {
  const std::string fid = add_firmware_cli("2.0.0", "md5");
  ASSERT_FALSE(fid.empty());
  const std::string job = static_job(fid, "dev2");
  auto op = sub(operator_login("op-fail"), upgrade_topic("dev2"));
  inform("dev2", "1.0.0");
  auto n = next_json(*op, upgrade_topic("dev2"));
  ASSERT_TRUE(n) << emu->log();
  EXPECT_EQ((*n)["data"]["signMethod"], "Md5"); // LinkSDK 4 takes exactly this spelling
  EXPECT_EQ((*n)["data"]["sign"], digest("md5sum", fw));
  progress("dev2", "-3", "digest mismatch");
  auto t = task_of(job, "dev2");
  EXPECT_EQ(t["TaskStatus"], "FAILED") << t.dump();
  EXPECT_EQ(t["Progress"], "-3");
  EXPECT_NE(t["TaskDesc"].get<std::string>().find("-3"), std::string::npos) << t.dump();
  EXPECT_NE(t["TaskDesc"].get<std::string>().find("digest mismatch"), std::string::npos);
  // Failed stays failed: a later version report does not push again.
  inform("dev2", "1.0.0");
  EXPECT_EQ(task_of(job, "dev2")["TaskStatus"], "FAILED");
  auto f = api({"Action=ListOTATaskByJob", "JobId=" + job, "TaskStatus=FAILED"});
  EXPECT_EQ(f["Total"], 1) << f.dump();
}

TEST_F(OtaTest, FirmwareGetAnswersWithTheTaskOrNothing) {
  const std::string fid = add_firmware_cli("3.0.0", "SHA256");
  const std::string topic = "/sys/" + k_pk + "/dev3/thing/ota/firmware/get";
  auto op = sub(operator_login("op-get"), topic + "_reply");
  ASSERT_EQ(pub(device_login("dev3"), topic, R"({"id":11,"params":{}})").status, 0);
  auto r = next_json(*op, topic + "_reply");
  ASSERT_TRUE(r) << emu->log();
  EXPECT_EQ((*r)["code"], 200);
  EXPECT_EQ((*r)["id"], 11);
  EXPECT_EQ((*r)["data"], json::object()) << r->dump();
  const std::string job = static_job(fid, "dev3");
  ASSERT_EQ(pub(device_login("dev3"), topic,
                R"({"id":"12","version":"1.0","params":{},"method":"thing.ota.firmware.get"})")
                .status,
            0);
  r = next_json(*op, topic + "_reply");
  ASSERT_TRUE(r) << emu->log();
  EXPECT_EQ((*r)["id"], "12");
  EXPECT_EQ((*r)["method"], "thing.ota.firmware.get");
  EXPECT_EQ((*r)["data"]["version"], "3.0.0");
  EXPECT_EQ((*r)["data"]["signMethod"], "SHA256");
  EXPECT_EQ(task_of(job, "dev3")["TaskStatus"], "NOTIFIED");
}

TEST_F(OtaTest, DynamicJobTakesDevicesThatReportASourceVersionLater) {
  const std::string fid = add_firmware_cli("4.0.0", "MD5");
  auto c = api({"Action=CreateOTADynamicUpgradeJob", "FirmwareId=" + fid, "ProductKey=" + k_pk,
                "SrcVersion.1=0.9", "DynamicMode=2"});
  ASSERT_EQ(c["Success"], true) << c.dump();
  const std::string job = c["Data"]["JobId"];
  auto op = sub(operator_login("op-dyn"), "/ota/device/upgrade/" + k_pk + "/+");
  inform("dev5", "0.8"); // not a source version: no task
  inform("dev4", "0.9");
  auto n = next_json(*op, upgrade_topic("dev4"));
  ASSERT_TRUE(n) << op->out() << emu->log();
  EXPECT_EQ((*n)["data"]["version"], "4.0.0");
  auto tasks = api({"Action=ListOTATaskByJob", "JobId=" + job});
  ASSERT_EQ(tasks["Total"], 1) << tasks.dump();
  EXPECT_EQ(tasks["Data"]["SimpleOTATaskInfo"][0]["DeviceName"], "dev4");
  EXPECT_EQ(tasks["Data"]["SimpleOTATaskInfo"][0]["SrcVersion"], "0.9");
  auto q = api({"Action=QueryOTAJob", "JobId=" + job});
  EXPECT_EQ(q["Data"]["SelectionType"], "DYNAMIC");
  EXPECT_EQ(q["Data"]["JobStatus"], "IN_PROGRESS");
}

TEST_F(OtaTest, CancelAndTimeout) {
  const std::string fid = add_firmware_cli("5.0.0", "MD5");
  const std::string cancel_job = static_job(fid, "dev6");
  auto k = api({"Action=CancelOTATaskByJob", "JobId=" + cancel_job, "CancelQueuedTask=true"});
  EXPECT_EQ(k["Success"], true) << k.dump();
  EXPECT_EQ(task_of(cancel_job, "dev6")["TaskStatus"], "CANCELED");
  EXPECT_EQ(api({"Action=QueryOTAJob", "JobId=" + cancel_job})["Data"]["JobStatus"], "CANCELED");
  inform("dev6", "1.0.0"); // a canceled task is not pushed
  EXPECT_EQ(task_of(cancel_job, "dev6")["TaskStatus"], "CANCELED");

  // dev10 is notified but never reports progress: its timeout never starts.
  const std::string idle = static_job(fid, "dev10", {"TimeoutInMinutes=1"});
  inform("dev10", "1.0.0");
  ASSERT_EQ(task_of(idle, "dev10")["TaskStatus"], "NOTIFIED");
  const std::string job = static_job(fid, "dev7", {"TimeoutInMinutes=1"});
  inform("dev7", "1.0.0");
  progress("dev7", "10"); // the timeout counts from here
  std::string status;
  for (int i = 0; i < 100 && status != "TIMEOUT"; ++i) { // one emulated minute is 300 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = task_of(job, "dev7")["TaskStatus"];
  }
  EXPECT_EQ(status, "TIMEOUT");
  EXPECT_NE(task_of(job, "dev7")["TaskDesc"].get<std::string>().find("1 minutes"),
            std::string::npos);
  EXPECT_EQ(task_of(idle, "dev10")["TaskStatus"], "NOTIFIED");
  // A late success does not undo a timeout.
  inform("dev7", "5.0.0");
  EXPECT_EQ(task_of(job, "dev7")["TaskStatus"], "TIMEOUT");
}

TEST_F(OtaTest, AutomaticSubscriptionGetsTheNoticeWithoutSubscribing) {
  const std::string fid = add_firmware_cli("6.0.0", "MD5");
  inform("dev8", "1.0.0");
  // Online with _ss=1, subscribed to something else: the job's creation pushes to it.
  auto dev = sub(device_login("dev8", ",_ss=1"), "/" + k_pk + "/dev8/user/get");
  const std::string job = static_job(fid, "dev8");
  auto n = next_json(*dev, upgrade_topic("dev8"));
  ASSERT_TRUE(n) << dev->out() << emu->log();
  EXPECT_EQ((*n)["data"]["version"], "6.0.0");
  EXPECT_EQ(task_of(job, "dev8")["TaskStatus"], "NOTIFIED");
}

TEST_F(OtaTest, BadRequestsAreRefused) {
  auto r = api({"Action=CreateOTAFirmware", "FirmwareName=x", "DestVersion=1.0",
                "ProductKey=" + k_pk, "FirmwareUrl=https://example.com/fw.bin"});
  EXPECT_EQ(r["Success"], false) << r.dump();
  r = api({"Action=CreateOTAStaticUpgradeJob", "FirmwareId=nope", "ProductKey=" + k_pk,
           "TargetSelection=SPECIFIC", "TargetDeviceName.1=dev1"});
  EXPECT_EQ(r["Success"], false) << r.dump();
  r = api({"Action=QueryOTAJob", "JobId=nope"});
  EXPECT_EQ(r["Success"], false) << r.dump();
  r = api({"Action=ListOTATaskByJob", "JobId=nope"});
  EXPECT_EQ(r["Success"], false) << r.dump();
  auto u = api({"Action=GenerateOTAUploadURL"});
  auto up = run({"curl", "-sS", "--cacert", emu->ca_file(), "-o", "/dev/null", "-w", "%{http_code}",
                 "-F", "key=" + u["Data"]["Key"].get<std::string>(), "-F", "Signature=wrong", "-F",
                 "file=@" + fw, u["Data"]["Host"].get<std::string>()});
  EXPECT_EQ(up.out, "403");
  auto cli = run_aliot({"emulate", "cloud", "add-firmware", "--dir", emu->dir(), "-k", k_pk,
                        "--version", "1.0", "--file", fw, "--sign-method", "crc32"});
  EXPECT_EQ(cli.status, 2) << cli.err;
  cli = run_aliot({"emulate", "cloud", "add-firmware", "--dir", emu->dir(), "-k", "a1NoSuchPK1",
                   "--version", "1.0", "--file", fw});
  EXPECT_EQ(cli.status, 2) << cli.err;
}

TEST_F(OtaTest, GarbageFromDevicesChangesNothingAndCrashesNothing) {
  const std::string fid = add_firmware_cli("7.0.0", "MD5");
  const std::string job = static_job(fid, "dev9");
  const std::string tail = k_pk + "/dev9";
  const std::vector<std::string> garbage{"not json",
                                         "{",
                                         "[]",
                                         "{\"params\":[]}",
                                         "{\"params\":{\"step\":1e400}}",
                                         "{\"params\":{\"step\":\"99999999999\"}}",
                                         "{\"params\":{\"step\":\"-\"}}",
                                         "{\"params\":{\"step\":{}}}",
                                         "{\"params\":{\"version\":12}}",
                                         "{\"params\":{\"version\":\"\xff\xfe\"}}",
                                         std::string(300, '[') + std::string(300, ']'),
                                         "{\"params\":{\"version\":\"" + std::string(500, 'v')
                                             + "\"}}"};
  for (const auto& g : garbage) {
    for (const std::string& topic : {"/ota/device/inform/" + tail, "/ota/device/progress/" + tail,
                                     "/sys/" + tail + "/thing/ota/firmware/get"}) {
      if (topic.ends_with("/get") && json::parse(g, nullptr, false).is_object()) {
        continue; // a JSON object on firmware/get is a request: answered (and NOTIFIED)
      }
      ASSERT_EQ(pub(device_login("dev9"), topic, g).status, 0) << emu->log();
    }
  }
  // Still QUEUED (nothing valid arrived), and the emulator still works.
  EXPECT_EQ(task_of(job, "dev9")["TaskStatus"], "QUEUED");
  inform("dev9", "1.0.0");
  EXPECT_EQ(task_of(job, "dev9")["TaskStatus"], "NOTIFIED");
  progress("dev9", "-2");
  EXPECT_EQ(task_of(job, "dev9")["TaskStatus"], "FAILED");
}

// What the backend sees: the device's version reports and progress reach the product's consumer
// groups (read with `aliot cloud sub`), as the device sent them.
TEST_F(OtaTest, VersionReportsAndProgressReachTheConsumerGroup) {
  if (emu->env().count("ALIOT_AMQP_ENDPOINT") == 0) {
    GTEST_SKIP() << "built without the AMQP endpoint";
  }
  inform("dev11", "1.0.0");
  progress("dev11", "30", "half way");
  auto e = emu->env();
  e["ALIOT_ACCESS_KEY_ID"] = k_ak;
  e["ALIOT_ACCESS_KEY_SECRET"] = k_aks;
  auto r = run_aliot({"cloud", "sub", "--consumer-group", "OTAG", "-C", "2", "-W", "20", "-o",
                      "json", "-t", "/ota/device/+/" + k_pk + "/dev11"},
                     {.env = e, .timeout_s = 30});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<json> got;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("topic")) {
      got.push_back(j);
    }
  }
  ASSERT_EQ(got.size(), 2U) << r.out;
  EXPECT_EQ(got[0]["topic"], "/ota/device/inform/" + k_pk + "/dev11");
  EXPECT_EQ(json::parse(got[0]["payload"].get<std::string>())["params"]["version"], "1.0.0");
  EXPECT_EQ(got[1]["topic"], "/ota/device/progress/" + k_pk + "/dev11");
  EXPECT_EQ(json::parse(got[1]["payload"].get<std::string>())["params"]["step"], "30");
}

} // namespace
