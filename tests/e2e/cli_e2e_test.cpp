// The command-line contract: usage errors, exit codes, config precedence, bad input.
#include "secrets.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace aliot::test;
using nlohmann::json;

TEST(Cli, VersionAndHelpExitZero) {
  auto v = run_aliot({"--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.out.rfind("aliot ", 0), 0U) << v.out;
  auto h = run_aliot({"--help"});
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("sign"), std::string::npos);
  auto sh = run_aliot({"sign", "--help"});
  EXPECT_EQ(sh.status, 0);
  EXPECT_NE(sh.out.find("Examples:"), std::string::npos);
}

// --version names the release (first line `aliot <version>`, which scripts match), the commit
// and the run-time versions of the libraries libaliot links; -o json, before or after it, gives
// the same facts as one object.
TEST(Cli, VersionNamesCommitAndLibrariesInTextAndJson) {
  auto v = run_aliot({"--version"});
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.err, "");
  std::istringstream lines(v.out);
  std::string first, commit, libs, extra;
  std::getline(lines, first);
  std::getline(lines, commit);
  std::getline(lines, libs);
  EXPECT_FALSE(std::getline(lines, extra)) << v.out;
  const std::regex version_re(R"(\d+\.\d+\.\d+)");
  const std::regex commit_re("[0-9a-f]{12}|unknown");
  ASSERT_EQ(first.rfind("aliot ", 0), 0U) << v.out;
  const std::string version = first.substr(6);
  EXPECT_TRUE(std::regex_match(version, version_re)) << first;
  ASSERT_EQ(commit.rfind("Commit: ", 0), 0U) << v.out;
  EXPECT_TRUE(std::regex_match(commit.substr(8), commit_re)) << commit;
  EXPECT_TRUE(std::regex_match(
      libs, std::regex(R"(Libraries: libmosquitto/\d+\.\d+\.\d+ OpenSSL/\d+\.\d+\.\d+\S* )"
                       R"(libcurl/\d+\.\d+\.\d+\S* SQLite/\d+\.\d+\.\d+\S*)")))
      << libs;

  for (const auto& args : std::vector<std::vector<std::string>>{{"--version", "-o", "json"},
                                                                {"-o", "json", "--version"},
                                                                {"--output=json", "--version"}}) {
    auto j = run_aliot(args);
    ASSERT_EQ(j.status, 0) << j.err;
    ASSERT_EQ(std::count(j.out.begin(), j.out.end(), '\n'), 1) << j.out;
    const auto o = nlohmann::ordered_json::parse(j.out); // keeps the order aliot wrote
    EXPECT_EQ(o.at("version"), version);
    EXPECT_EQ("Commit: " + o.at("commit").get<std::string>(), commit);
    std::string from_json = "Libraries:";
    for (const auto& [name, ver] : o.at("libraries").items()) {
      from_json += " " + name + "/" + ver.get<std::string>();
    }
    EXPECT_EQ(from_json, libs) << j.out;
  }
}

TEST(Cli, UnknownFlagIsUsageErrorWithExactMessage) {
  auto r = run_aliot({"sign", "--bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "aliot: error: sign: the following argument was not expected: --bogus\n"
                   "aliot: hint: run 'aliot sign --help' for usage\n");
  EXPECT_EQ(r.out, "");
}

TEST(Cli, UnknownCommandAndMissingCommandAreUsageErrors) {
  auto r = run_aliot({"frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("aliot: ", 0), 0U) << r.err;
  auto none = run_aliot({});
  EXPECT_EQ(none.status, 2);
  EXPECT_EQ(
      none.err,
      "aliot: error: a command is required\naliot: hint: run 'aliot --help' for the commands\n");
}

TEST(Cli, BadChoiceIsUsageError) {
  auto r = run_aliot({"sign", "--sign-method", "sha512", "-k", "pk1", "-d", "dev0001"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(
      r.err.find("aliot: error: sign: --sign-method: sha512 not in {hmacsha256,hmacsha1,hmacmd5}"),
      std::string::npos)
      << r.err;
}

TEST(Cli, InvalidDeviceNameAndKeepaliveAreUsageErrors) {
  TempDir dir;
  const std::string sf = dir.write("ds", "abc");
  auto r = run_aliot({"sign", "-k", "pk1", "-d", "ab", "--device-secret-file", sf});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "aliot: error: DeviceName 'ab' must be 4 to 32 characters long (it has 2)\n");
  auto k = run_aliot(
      {"sign", "-k", "pk1", "-d", "dev0001", "--device-secret-file", sf, "--keepalive", "10"});
  EXPECT_EQ(k.status, 2);
  EXPECT_NE(k.err.find("keepalive 10 s is outside the platform's 30-1200 s"), std::string::npos);
}

TEST(Cli, MissingSecretIsConfigErrorWithHint) {
  auto r = run_aliot({"sign", "-k", "pk1", "-d", "dev0001"});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("aliot: error: no DeviceSecret for pk1/dev0001"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("aliot: hint: "), std::string::npos);
}

TEST(Cli, JsonModeAddsMachineReadableErrorLine) {
  auto r = run_aliot({"sign", "-o", "json", "-k", "pk1", "-d", "dev0001"});
  EXPECT_EQ(r.status, 3);
  const auto last = r.err.substr(r.err.rfind('{', r.err.find("\"error\"")));
  const json j = json::parse(last);
  EXPECT_EQ(j["error"]["code"], "config");
  EXPECT_EQ(j["error"]["exit_status"], 3);
}

TEST(Cli, BadTripletFilesExitThreeNamingTheProblem) {
  TempDir dir;
  struct Case {
    std::string content;
    std::string needle;
  } cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"DeviceName":"FakeDevice01","DeviceSecret":"x"})", "field \"ProductKey\" is missing"},
      {R"({"ProductKey":"a1FakePK001","DeviceName":42,"DeviceSecret":"x"})",
       "field \"DeviceName\" must be a string"},
  };
  for (const auto& c : cases) {
    const std::string p = dir.write("t.json", c.content);
    auto r = run_aliot({"sign", "--triplet", p});
    EXPECT_EQ(r.status, 3) << c.content;
    EXPECT_NE(r.err.find("aliot: error: triplet file " + p + ": " + c.needle), std::string::npos)
        << r.err;
  }
  auto missing = run_aliot({"sign", "--triplet", dir.file("absent.json")});
  EXPECT_EQ(missing.status, 3);
  EXPECT_NE(missing.err.find("absent.json"), std::string::npos);
}

TEST(Cli, SecretOnCommandLineWarnsAndWorldReadableFileFailsUnderStrict) {
  TempDir dir;
  auto r = run_aliot({"sign", "-k", "pk1", "-d", "dev0001", "--device-secret", "abc"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.err.find("aliot: warning: --device-secret puts the secret in the process list"),
            std::string::npos);
  const std::string loose = dir.write("ds", "abc", 0644);
  auto w = run_aliot({"sign", "-k", "pk1", "-d", "dev0001", "--device-secret-file", loose});
  EXPECT_EQ(w.status, 0);
  EXPECT_NE(w.err.find("readable by other users"), std::string::npos);
  auto s =
      run_aliot({"--strict", "sign", "-k", "pk1", "-d", "dev0001", "--device-secret-file", loose});
  EXPECT_EQ(s.status, 3);
}

TEST(Cli, SecretFromStdin) {
  auto r = run_aliot({"sign", "-o", "json", "-k", "pk1", "-d", "dev0001", "--device-secret-file",
                      "-", "--no-timestamp"},
                     {.input = "S3cr3t\n"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto r2 = run_aliot({"sign", "-o", "json", "-k", "pk1", "-d", "dev0001", "--no-timestamp"},
                      {.env = {{"ALIOT_DEVICE_SECRET", "S3cr3t"}}});
  ASSERT_EQ(r2.status, 0);
  EXPECT_EQ(json::parse(r.out)["password"], json::parse(r2.out)["password"]);
}

TEST(Cli, ConfigShowHonoursTheTripletFile) {
  TempDir d;
  const std::string t = d.write(
      "t.json",
      R"({"ProductKey":"a1TripPK01","DeviceName":"tripDev01","DeviceSecret":"tripSecret0123456789abcdef012345"})");
  auto r = run_aliot({"config", "show", "-o", "json", "--triplet", t},
                     {.env = {{"ALIOT_DEVICE_NAME", "devEnv01"}}});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out)["settings"];
  EXPECT_EQ(j["product_key"]["value"], "a1TripPK01");
  EXPECT_EQ(j["product_key"]["origin"], "triplet " + t);
  EXPECT_EQ(j["device_secret"]["value"], "<redacted>");
  EXPECT_EQ(j["device_secret"]["origin"], "triplet " + t);
  // The triplet sits between flags and the environment, as for every other command.
  EXPECT_EQ(j["device_name"]["value"], "tripDev01");
  auto flag = run_aliot({"config", "show", "-o", "json", "--triplet", t, "-k", "a1FlagPK01"});
  ASSERT_EQ(flag.status, 0) << flag.err;
  EXPECT_EQ(json::parse(flag.out)["settings"]["product_key"]["origin"], "flag --product-key");
  auto text_form = run_aliot({"config", "show", "--triplet", t});
  ASSERT_EQ(text_form.status, 0) << text_form.err;
  EXPECT_NE(text_form.out.find("a1TripPK01"), std::string::npos) << text_form.out;
  EXPECT_TRUE(no_secret_in({"tripSecret0123456789abcdef012345"},
                           {text("stdout", text_form.out), text("stderr", text_form.err),
                            text("stdout", r.out), text("stderr", r.err)}));
}

TEST(Cli, ConfigPrecedenceFlagOverEnvOverProfile) {
  TempDir xdg;
  std::filesystem::create_directories(xdg.file("aliot"));
  xdg.write(
      "aliot/config.json",
      R"({"default_profile":"lab","profiles":{"lab":{"product_key":"pkProf","device_name":"devProf","region":"cn-beijing","device_secret":"profSecret"}}})");
  RunOptions o{.env = {{"XDG_CONFIG_HOME", xdg.path()}, {"ALIOT_DEVICE_NAME", "devEnv01"}}};
  auto r = run_aliot({"config", "show", "-o", "json", "--region", "us-east-1"}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out)["settings"];
  EXPECT_EQ(j["region"]["value"], "us-east-1");
  EXPECT_EQ(j["region"]["origin"], "flag --region");
  EXPECT_EQ(j["device_name"]["value"], "devEnv01");
  EXPECT_EQ(j["device_name"]["origin"], "env ALIOT_DEVICE_NAME");
  EXPECT_EQ(j["product_key"]["value"], "pkProf");
  EXPECT_EQ(j["device_secret"]["value"], "<redacted>");
  EXPECT_TRUE(no_secret_in({"profSecret"}, {text("stdout", r.out), text("stderr", r.err)}));
  // The same precedence drives what sign computes.
  auto s = run_aliot({"sign", "-o", "json"}, o);
  ASSERT_EQ(s.status, 0) << s.err;
  const json sj = json::parse(s.out);
  EXPECT_EQ(sj["username"], "devEnv01&pkProf");
  EXPECT_EQ(sj["host"], "pkProf.iot-as-mqtt.cn-beijing.aliyuncs.com");
  auto shown = run_aliot({"config", "show"}, o);
  EXPECT_EQ(shown.status, 0);
  EXPECT_TRUE(no_secret_in({"profSecret"}, {text("stdout", shown.out), text("stderr", shown.err)}));
  EXPECT_NE(shown.out.find("<redacted>"), std::string::npos);
}

TEST(Cli, UnknownProfileIsConfigError) {
  auto r = run_aliot({"--profile", "nope", "config", "show"});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("profile 'nope'"), std::string::npos) << r.err;
}

// Every file aliot reads is bounded: pointed at /dev/zero, a triplet, a secret file, the config
// and a payload file each fail at once with the limit named and the documented exit code (no
// memory blow-up, no bad_alloc).
TEST(Cli, FilesAreReadOnlyUpToTheirLimit) {
  auto r = run_aliot({"sign", "--triplet", "/dev/zero"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("triplet file /dev/zero is larger than 1 MiB"), std::string::npos) << r.err;

  r = run_aliot({"sign", "-k", "a1FakePK001", "-d", "dev-01", "--device-secret-file", "/dev/zero"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("larger than 1 MiB"), std::string::npos) << r.err;

  r = run_aliot({"--config", "/dev/zero", "config", "show"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("config file /dev/zero is larger than 1 MiB"), std::string::npos) << r.err;

  TempDir dir;
  const auto ds = dir.write("ds", "0123456789abcdef0123456789abcdef\n", 0600);
  for (const std::string f : {"/dev/zero", "-"}) {
    r = run_aliot({"pub", "-k", "a1FakePK001", "-d", "dev-01", "--device-secret-file", ds, "-t",
                   "user/update", "-f", f},
                  {.input = f == "-" ? std::string(300000, 'x') : std::string()});
    EXPECT_EQ(r.status, 2) << f << ": " << r.err;
    EXPECT_NE(r.err.find("over the platform's limit of 256 KB"), std::string::npos) << r.err;
  }
}

// "-" is standard input for file arguments: a triplet and a secret file.
TEST(Cli, DashReadsStandardInput) {
  auto r = run_aliot({"sign", "--triplet", "-", "-o", "json"},
                     {.input = R"({"ProductKey":"a1FakePK001","DeviceName":"dev-01",)"
                               R"("DeviceSecret":"0123456789abcdef0123456789abcdef"})"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("a1FakePK001.dev-01"), std::string::npos) << r.out;
  r = run_aliot({"sign", "-k", "a1FakePK001", "-d", "dev-01", "--device-secret-file", "-"},
                {.input = "0123456789abcdef0123456789abcdef\n"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// A result that reaches nobody is an error: stdout on a full disk is exit 10 with one line that
// says so, not a silent exit 0 (the printed password, or a new secret, would be lost).
TEST(Cli, OutputIntoAFullDiskIsAnIoError) {
  TempDir dir;
  const auto ds = dir.write("ds", "0123456789abcdef0123456789abcdef\n", 0600);
  const auto r = sh("'" + aliot_bin() + "' sign -k a1FakePK001 -d dev-01 --device-secret-file '"
                    + ds + "' > /dev/full");
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_NE(r.err.find("writing the result to standard output failed: No space left on device"),
            std::string::npos)
      << r.err;
  // The same command into a pipe whose reader stays is fine.
  const auto ok = sh("'" + aliot_bin() + "' sign -k a1FakePK001 -d dev-01 --device-secret-file '"
                     + ds + "' | cat >/dev/null; exit ${PIPESTATUS[0]}");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

// One rule for every file that holds a secret: readable by group or others is a warning, and
// under --strict an error, exit 3, before anything is sent or opened. Each kind of file in turn.
TEST(Cli, EveryFileHoldingASecretFollowsOneRule) {
  TempDir dir;
  const std::string triplet = R"({"ProductKey":"pk1","DeviceName":"dev0001","DeviceSecret":"abc"})";
  const Env unreachable = {{"ALIOT_PRODUCT_SECRET", "ps"},
                           {"ALIOT_AUTH_ENDPOINT", "https://127.0.0.1:1"}};
  struct Case {
    std::string what;
    std::vector<std::string> args; // after the global options
    Env env;
  };
  std::vector<Case> cases;
  for (const unsigned mode : {0644U, 0640U, 0604U}) {
    const std::string m = std::to_string(mode);
    const auto cfg =
        dir.write("config" + m + ".json",
                  R"({"default_profile":"a","profiles":{"a":{"device_secret":"abc"}}})", mode);
    const auto t = dir.write("t" + m + ".json", triplet, mode);
    const auto ds = dir.write("ds" + m, "abc\n", mode);
    const auto ps = dir.write("ps" + m, "ps\n", mode);
    const auto ak = dir.write("ak" + m, "aks\n", mode);
    const auto out = dir.write("out" + m + ".jsonl", "", mode);
    cases.push_back({"config file", {"--config", cfg, "sign", "-k", "pk1", "-d", "dev0001"}, {}});
    cases.push_back({"triplet file", {"sign", "--triplet", t}, {}});
    cases.push_back(
        {"triplet file",
         {"burn", "--port", dir.file("no-such-tty"), "--journal", dir.file("j.db"), "--triplet", t},
         {}});
    cases.push_back({"DeviceSecret file",
                     {"sign", "-k", "pk1", "-d", "dev0001", "--device-secret-file", ds},
                     {}});
    cases.push_back(
        {"ProductSecret file",
         {"register", "-k", "pk1", "-d", "dev0001", "--product-secret-file", ps, "--dry-run"},
         {}});
    cases.push_back({"AccessKey secret file",
                     {"rrpc", "call", "-k", "pk1", "-d", "dev0001", "-m", "x", "--access-key-id",
                      "AKID", "--access-key-secret-file", ak, "--dry-run"},
                     {}});
    cases.push_back(
        {"--out file", {"register", "-k", "pk1", "-d", "dev0001", "--out", out}, unreachable});
    // The file imported into the station's credential pool holds DeviceSecrets too.
    const auto line = [](const std::string& dn) {
      return R"({"ProductKey":"a1FakePK001","DeviceName":")" + dn
             + R"(","DeviceSecret":"0123456789abcdef0123456789abcdef"})" + "\n";
    };
    const auto loose = dir.write("loose" + m + ".jsonl", line("loose" + m), mode);
    const auto pool2 = dir.file("pool2-" + m + ".db");
    cases.push_back({"--csv file", {"pool", "import", "--pool", pool2, "--csv", loose}, {}});
  }
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    const auto loose = run_aliot(args, {.env = c.env});
    EXPECT_NE(loose.status, 3) << c.what << ": " << loose.err;
    EXPECT_NE(loose.err.find("readable by other users"), std::string::npos)
        << c.what << ": " << loose.err;
    EXPECT_NE(loose.err.find(c.what), std::string::npos) << c.what << ": " << loose.err;
    args.insert(args.begin(), "--strict");
    const auto strict = run_aliot(args, {.env = c.env});
    EXPECT_EQ(strict.status, 3) << c.what << ": " << strict.err;
    EXPECT_NE(strict.err.find("chmod 600"), std::string::npos) << c.what << ": " << strict.err;
  }
  // 0600 files say nothing, strict or not.
  const auto t = dir.write("t600.json", triplet, 0600);
  const auto r = run_aliot({"--strict", "sign", "--triplet", t});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("readable"), std::string::npos) << r.err;
}

// aliot holds secrets in memory: it writes no core file (RLIMIT_CORE 0, soft and hard) and is
// not dumpable, so no other process of its user can read its memory. The files under /proc/PID
// of a process that is not dumpable belong to root: run as an unprivileged user (setpriv), a
// long-running aliot (the switch simulator) shows it.
TEST(Cli, NoCoreDumpAndNotDumpable) {
  if (::geteuid() != 0 || !have_program("setpriv")) {
    GTEST_SKIP() << "needs root and setpriv to run aliot as another user";
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  Background sw({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", aliot_bin(),
                 "emulate", "switch", "--link", dir.file("dut")},
                {.env = {{"HOME", dir.path()}}});
  for (int i = 0; i < 200 && !std::filesystem::exists(dir.file("dut")); ++i) {
    sw.wait_for("\x01never", std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(std::filesystem::exists(dir.file("dut"))) << sw.err();
  const std::string proc = "/proc/" + std::to_string(sw.pid());
  struct stat st {};
  ASSERT_EQ(::stat((proc + "/status").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U) << "its /proc files belong to its user: it is dumpable";
  std::ifstream limits(proc + "/limits");
  bool seen = false;
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max core file size", 0) == 0) {
      std::istringstream in(line.substr(18));
      std::string soft, hard;
      in >> soft >> hard;
      EXPECT_EQ(soft, "0") << line;
      EXPECT_EQ(hard, "0") << line;
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

// --insecure says on stderr that the certificate is not verified, whatever the command.
TEST(Cli, InsecureWarnsOnEveryDeviceCommand) {
  const std::string port = std::to_string(free_port()); // nothing listens: exit 5 after the warning
  const std::vector<std::string> dev{"-k",        "a1FakePK001", "-d", "dev0001",   "--host",
                                     "127.0.0.1", "--port",      port, "--insecure"};
  for (std::vector<std::string> args :
       {std::vector<std::string>{"pub", "-t", "user/update", "-m", "x"},
        {"sub", "-t", "user/get", "-W", "1"},
        {"connect"}}) {
    args.insert(args.end(), dev.begin(), dev.end());
    const auto r = run_aliot(args, {.env = {{"ALIOT_DEVICE_SECRET", "abc"}}});
    EXPECT_NE(r.err.find("warning: --insecure: the server certificate is not verified"),
              std::string::npos)
        << args[0] << ": " << r.err;
  }
}
