// OTA messages: the push parser (single file, multi-file, garbage), the device's payloads, the
// sign check of a file, the OpenAPI parameters and bodies.
#include "support.hpp"

#include <aliot/ota.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace aliot;

namespace {

// MD5("abc") and SHA-256("abc") (RFC 1321 and FIPS 180-2 test vectors).
const std::string k_md5_abc = "900150983cd24fb0d6963f7d28e17f72";
const std::string k_sha256_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string push(const nlohmann::json& data) {
  return nlohmann::json{
      {"code", "1000"}, {"data", data}, {"id", 1507707025}, {"message", "success"}}
      .dump();
}

nlohmann::json single() {
  return {{"size", 432945},
          {"version", "2.0.0"},
          {"url", "https://ota.example.com/fw.bin?Expires=1&Signature=x"},
          {"sign", "93230C3BDE425A9D7984A594AC55EA1E"},
          {"signMethod", "Md5"},
          {"md5", "93230c3bde425a9d7984a594ac55ea1e"},
          {"module", "MCU"},
          {"extData", {{"k", "v"}}},
          {"isDiff", 1}};
}

} // namespace

TEST(OtaPush, SingleFile) {
  auto u = ota::parse_upgrade(push(single()));
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->version, "2.0.0");
  EXPECT_EQ(u->module, "MCU");
  EXPECT_EQ(u->id, "1507707025");
  EXPECT_EQ(u->sign_method, ota::SignMethod::md5);
  EXPECT_TRUE(u->diff);
  ASSERT_EQ(u->files.size(), 1u);
  EXPECT_EQ(u->files[0].size, 432945u);
  EXPECT_EQ(u->files[0].sign, "93230c3bde425a9d7984a594ac55ea1e"); // lower-cased
  EXPECT_EQ(u->ext_data, R"({"k":"v"})");
  EXPECT_EQ(u->total_size(), 432945u);
}

TEST(OtaPush, SizeAsTextAndSha256) {
  auto d = single();
  d["size"] = "12";
  d["signMethod"] = "SHA256";
  d["sign"] = k_sha256_abc;
  auto u = ota::parse_upgrade(push(d));
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->sign_method, ota::SignMethod::sha256);
  EXPECT_EQ(u->files[0].size, 12u);
}

TEST(OtaPush, MultiFile) {
  nlohmann::json d = {{"version", "3.0"},
                      {"signMethod", "Md5"},
                      {"files",
                       {{{"fileName", "app.bin"},
                         {"fileSize", 10},
                         {"fileUrl", "https://h/app.bin"},
                         {"fileSign", k_md5_abc}},
                        {{"fileName", "res.bin"},
                         {"fileSize", "20"},
                         {"fileUrl", "http://h/res.bin"},
                         {"fileMd5", k_md5_abc}}}}};
  auto u = ota::parse_upgrade(push(d));
  ASSERT_TRUE(u) << u.error().message();
  ASSERT_EQ(u->files.size(), 2u);
  EXPECT_EQ(u->files[0].name, "app.bin");
  EXPECT_EQ(u->files[1].name, "res.bin");
  EXPECT_EQ(u->files[1].sign, k_md5_abc);
  EXPECT_EQ(u->total_size(), 30u);
}

TEST(OtaPush, RefusesGarbage) {
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[1,2]",
      std::string("{\"data\":\xff}"),
      R"({"code":"1000"})",
      push(nlohmann::json::array()),
      push({{"version", "1"}}),
      std::string(300 * 1024, ' '),
  };
  for (const auto& p : bad) {
    auto u = ota::parse_upgrade(p);
    ASSERT_FALSE(u) << p.substr(0, 40);
    EXPECT_EQ(u.error().code(), Errc::remote);
  }
  auto with = [](const char* key, nlohmann::json v) {
    auto d = single();
    if (v.is_null()) {
      d.erase(key);
    } else {
      d[key] = v;
    }
    return push(d);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {with("version", nullptr), "version"},
      {with("version", std::string(65, 'v')), "version"},
      {with("size", 0), "size"},
      {with("size", -5), "size"},
      {with("size", "12x"), "size"},
      {with("size", 2000.0 * 1024 * 1024), "size"},
      {with("url", "ftp://h/fw"), "url"},
      {with("url", "https://h/a b"), "url"},
      {with("sign", "abc"), "sign"},
      {with("sign", std::string(32, 'g')), "sign"},
      {with("signMethod", "CRC32"), "signMethod"},
  };
  for (const auto& [p, what] : cases) {
    auto u = ota::parse_upgrade(p);
    ASSERT_FALSE(u) << what;
    EXPECT_NE(u.error().message().find(what), std::string::npos) << u.error().message();
  }
  // Multi-file: a name with a path, no name, two of a name, too many files.
  nlohmann::json f = {
      {"fileName", "../x"}, {"fileSize", 1}, {"fileUrl", "https://h/x"}, {"fileSign", k_md5_abc}};
  nlohmann::json d = {{"version", "1"}, {"signMethod", "Md5"}, {"files", {f}}};
  EXPECT_FALSE(ota::parse_upgrade(push(d)));
  f.erase("fileName");
  d["files"] = {f};
  EXPECT_FALSE(ota::parse_upgrade(push(d)));
  f["fileName"] = "a";
  d["files"] = {f, f};
  EXPECT_FALSE(ota::parse_upgrade(push(d)));
  d["files"] = nlohmann::json::array();
  for (int i = 0; i < 21; ++i) {
    f["fileName"] = "f" + std::to_string(i);
    d["files"].push_back(f);
  }
  auto many = ota::parse_upgrade(push(d));
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().message().find("more than 20"), std::string::npos);
}

TEST(OtaPush, FirmwareGetReply) {
  auto none =
      ota::parse_firmware_get_reply(R"({"code":200,"data":{},"id":"1","message":"success"})");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto some = ota::parse_firmware_get_reply(
      nlohmann::json{{"code", 200}, {"data", single()}, {"id", "7"}}.dump());
  ASSERT_TRUE(some) << some.error().message();
  ASSERT_TRUE(*some);
  EXPECT_EQ((*some)->version, "2.0.0");
  auto refused = ota::parse_firmware_get_reply(R"({"code":9201,"message":"no"})");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::remote);
}

TEST(OtaDevice, TopicsAndPayloads) {
  EXPECT_EQ(ota::inform_topic("pk", "dn"), "/ota/device/inform/pk/dn");
  EXPECT_EQ(ota::progress_topic("pk", "dn"), "/ota/device/progress/pk/dn");
  EXPECT_EQ(ota::upgrade_topic("pk", "dn"), "/ota/device/upgrade/pk/dn");
  EXPECT_EQ(ota::firmware_get_topic("pk", "dn"), "/sys/pk/dn/thing/ota/firmware/get");
  EXPECT_EQ(ota::firmware_get_reply_topic("pk", "dn"), "/sys/pk/dn/thing/ota/firmware/get_reply");
  EXPECT_EQ(ota::inform_payload("5", "1.0.0", ""), R"({"id":"5","params":{"version":"1.0.0"}})");
  EXPECT_EQ(ota::inform_payload("5", "1.0.0", "MCU"),
            R"({"id":"5","params":{"version":"1.0.0","module":"MCU"}})");
  auto get = nlohmann::json::parse(ota::firmware_get_payload("9", "MCU"));
  EXPECT_EQ(get["method"], "thing.ota.firmware.get");
  EXPECT_EQ(get["params"]["module"], "MCU");
}

TEST(OtaDevice, ProgressEncoding) {
  auto p = ota::progress_payload("1", 40, "downloading", "");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, R"({"id":"1","params":{"step":"40","desc":"downloading"}})");
  for (int step : {-1, -2, -3, -4, 1, 100}) {
    EXPECT_TRUE(ota::progress_payload("1", step, "", "M")) << step;
  }
  for (int step : {0, 101, -5, -100}) {
    auto bad = ota::progress_payload("1", step, "", "");
    ASSERT_FALSE(bad) << step;
    EXPECT_EQ(bad.error().code(), Errc::usage);
  }
  // A long description is cut to 128 bytes, never inside a UTF-8 character.
  std::string desc;
  for (int i = 0; i < 100; ++i) {
    desc += "\xc3\xa9"; // é
  }
  auto cut = ota::progress_payload("1", -3, desc, "");
  ASSERT_TRUE(cut);
  auto j = nlohmann::json::parse(*cut);
  EXPECT_EQ(j["params"]["desc"].get<std::string>().size(), 128u);
  EXPECT_EQ(j["params"]["step"], "-3");
}

TEST(OtaDevice, VersionRule) {
  EXPECT_TRUE(ota::check_version("1.0.0-rc_1", "--version"));
  EXPECT_FALSE(ota::check_version("", "--version"));
  EXPECT_FALSE(ota::check_version("1 0", "--version"));
  EXPECT_FALSE(ota::check_version(std::string(65, '1'), "--version"));
}

TEST(OtaSign, FileDigestAndVerify) {
  test::TempDir dir;
  const std::string path = dir.write("fw.bin", "abc", 0644);
  auto md5 = ota::file_digest(path, ota::SignMethod::md5);
  ASSERT_TRUE(md5);
  EXPECT_EQ(*md5, k_md5_abc);
  auto sha = ota::file_digest(path, ota::SignMethod::sha256);
  ASSERT_TRUE(sha);
  EXPECT_EQ(*sha, k_sha256_abc);
  EXPECT_TRUE(ota::verify_file(path, {"", 3, "https://h/x", k_md5_abc}, ota::SignMethod::md5));
  auto wrong =
      ota::verify_file(path, {"", 3, "https://h/x", std::string(32, '0')}, ota::SignMethod::md5);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::verify);
  auto size = ota::verify_file(path, {"", 4, "https://h/x", k_md5_abc}, ota::SignMethod::md5);
  ASSERT_FALSE(size);
  EXPECT_EQ(size.error().code(), Errc::verify);
  EXPECT_NE(size.error().message().find("not the announced 4"), std::string::npos);
  auto gone = ota::file_digest(dir.file("none"), ota::SignMethod::md5);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Errc::io);
  auto mem = ota::cloud::digest("abc", ota::SignMethod::sha256);
  ASSERT_TRUE(mem);
  EXPECT_EQ(*mem, k_sha256_abc);
}

TEST(OtaCloud, JobParams) {
  ota::cloud::Job j;
  j.product_key = "pk";
  j.firmware_id = "fw1";
  EXPECT_FALSE(ota::cloud::static_job_params(j)); // neither devices nor versions
  j.device_names = {"a", "b"};
  auto p = ota::cloud::static_job_params(j);
  ASSERT_TRUE(p);
  openapi::Params want = {{"ProductKey", "pk"},
                          {"FirmwareId", "fw1"},
                          {"TargetSelection", "SPECIFIC"},
                          {"TargetDeviceName.1", "a"},
                          {"TargetDeviceName.2", "b"}};
  EXPECT_EQ(*p, want);
  j.src_versions = {"1.0"};
  EXPECT_FALSE(ota::cloud::static_job_params(j)); // both
  j.device_names.clear();
  auto v = ota::cloud::static_job_params(j);
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)[2], (std::pair<std::string, std::string>{"TargetSelection", "ALL"}));
  EXPECT_EQ((*v)[3], (std::pair<std::string, std::string>{"SrcVersion.1", "1.0"}));
}

TEST(OtaCloud, Bodies) {
  auto id = ota::cloud::parse_firmware_id(R"({"Success":true,"Data":{"FirmwareId":"f1"}})");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "f1");
  EXPECT_FALSE(ota::cloud::parse_firmware_id(R"({"Success":true,"Data":{}})"));
  auto job = ota::cloud::parse_job_id(R"({"Data":{"JobId":"j1","UtcCreate":"x"}})");
  ASSERT_TRUE(job);
  EXPECT_EQ(*job, "j1");
  auto tasks = ota::cloud::parse_tasks(
      R"({"Success":true,"Total":2,"PageCount":1,"CurrentPage":1,"Data":{"SimpleOTATaskInfo":[
      {"TaskId":"t1","DeviceName":"d1","TaskStatus":"SUCCEEDED","Progress":"100"},
      {"TaskId":"t2","DeviceName":"d2","TaskStatus":"FAILED","Progress":"40","TaskDesc":"-3"}]}})");
  ASSERT_TRUE(tasks);
  ASSERT_EQ(tasks->tasks.size(), 2u);
  EXPECT_EQ(tasks->total, 2);
  EXPECT_EQ(tasks->tasks[1].status, "FAILED");
  EXPECT_EQ(tasks->tasks[1].desc, "-3");
  auto one = ota::cloud::parse_tasks(
      R"({"Data":{"SimpleOTATaskInfo":{"DeviceName":"d1","TaskStatus":"QUEUED"}}})");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->tasks.size(), 1u);
  EXPECT_FALSE(ota::cloud::parse_tasks("nope"));
  EXPECT_TRUE(ota::cloud::final_status("TIMEOUT"));
  EXPECT_FALSE(ota::cloud::final_status("IN_PROGRESS"));
  auto url = ota::cloud::parse_upload_url(
      R"({"Data":{"Host":"https://oss","Key":"ota/k.bin","Policy":"p","OSSAccessKeyId":"a","Signature":"s","FirmwareUrl":"https://oss/ota/k.bin"}})");
  ASSERT_TRUE(url);
  auto form = ota::cloud::post_object_form(*url, "fw.bin", std::string("\0\x01", 2));
  ASSERT_TRUE(form);
  EXPECT_NE(form->content_type.find("multipart/form-data; boundary="), std::string::npos);
  EXPECT_NE(form->body.find("name=\"key\"\r\n\r\nota/k.bin\r\n"), std::string::npos);
  EXPECT_NE(form->body.find(std::string("filename=\"fw.bin\"")), std::string::npos);
  // The file comes last (OSS ignores fields after it).
  EXPECT_GT(form->body.find("name=\"file\""), form->body.find("name=\"policy\""));
}

TEST(OtaCloud, SummaryOfAJob) {
  using T = ota::cloud::Task;
  auto task = [](std::string dn, std::string status, std::string desc = "") {
    T t;
    t.device_name = std::move(dn);
    t.status = std::move(status);
    t.desc = std::move(desc);
    return t;
  };
  auto running = ota::cloud::summarize("j", {task("a", "SUCCEEDED"), task("b", "IN_PROGRESS")});
  EXPECT_FALSE(running.finished);
  EXPECT_EQ(running.counts, "1 IN_PROGRESS, 1 SUCCEEDED");
  EXPECT_FALSE(ota::cloud::summarize("j", {}).finished);
  auto good = ota::cloud::summarize("j", {task("a", "SUCCEEDED"), task("b", "SUCCEEDED")});
  EXPECT_TRUE(good.finished);
  EXPECT_TRUE(good.outcome);
  auto failed = ota::cloud::summarize(
      "j", {task("a", "SUCCEEDED"), task("b", "FAILED", "verify failed"), task("c", "TIMEOUT")});
  ASSERT_TRUE(failed.finished);
  ASSERT_FALSE(failed.outcome);
  EXPECT_EQ(failed.outcome.error().code(), Errc::remote);
  EXPECT_NE(failed.outcome.error().message().find("first: b FAILED (verify failed)"),
            std::string::npos)
      << failed.outcome.error().message();
  auto timeout = ota::cloud::summarize("j", {task("a", "SUCCEEDED"), task("c", "TIMEOUT")});
  ASSERT_FALSE(timeout.outcome);
  EXPECT_EQ(timeout.outcome.error().code(), Errc::timeout);
}
