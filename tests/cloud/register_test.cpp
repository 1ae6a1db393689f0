// `aliot register` over real HTTPS on loopback against an independent fake platform (Python,
// hmac-checked signs, certificates made by openssl): results, --out durability, batches, errors,
// TLS verification.
#include "cloud_support.hpp"
#include "secrets.hpp"

#include <aliot/identity.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

using namespace aliot::test;
using nlohmann::json;

namespace {

class Register : public OnFakePlatform {};

std::string fmt_device(const std::string& prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "-%03d", i);
  return prefix + buf;
}

} // namespace

TEST_F(Register, OneDevicePrintsTheConsoleTriplet) {
  const auto r = run_aliot({"register", "-k", k_pk, "-d", "dev-one"}, {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto t = aliot::parse_triplet_json(r.out, "stdout");
  ASSERT_TRUE(t) << r.out;
  EXPECT_EQ(t->product_key, k_pk);
  EXPECT_EQ(t->device_name, "dev-one");
  EXPECT_EQ(t->device_secret.reveal(), platform().state()["secrets"]["dev-one"]);
  // Pretty for one device in text mode; the secret never reaches stderr.
  EXPECT_NE(r.out.find('\n'), r.out.size() - 1);
  EXPECT_TRUE(no_secret_in({t->device_secret.reveal()}, {text("stderr", r.err)}));
  // The triplet is usable by --triplet of the other commands.
  const auto tf = dir.write("t.json", r.out);
  const auto s = run_aliot({"sign", "--triplet", tf, "-o", "json"});
  EXPECT_EQ(s.status, 0) << s.err;
}

TEST_F(Register, RequestIsTheFormTheDryRunPrints) {
  const Env env = platform().env();
  const auto d = run_aliot({"register", "-k", k_pk, "-d", "dev-form", "--random", "R4nd0m",
                            "--sign-method", "hmacmd5", "--dry-run", "-o", "json"},
                           {.env = env});
  ASSERT_EQ(d.status, 0) << d.err;
  const auto before = platform().register_requests();
  const auto r = run_aliot(
      {"register", "-k", k_pk, "-d", "dev-form", "--random", "R4nd0m", "--sign-method", "hmacmd5"},
      {.env = env});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto st = platform().state();
  ASSERT_EQ(platform().register_requests(), before + 1);
  const auto& last = st["requests"].back();
  EXPECT_EQ(last["body"], json::parse(d.out)["body"]);
  EXPECT_EQ(last["content_type"], "application/x-www-form-urlencoded");
}

TEST_F(Register, CurlSendingTheDryRunFormIsAccepted) {
  const Env env = platform().env();
  const auto d = run_aliot({"register", "-k", k_pk, "-d", "dev-curl", "--dry-run", "-o", "json"},
                           {.env = env});
  ASSERT_EQ(d.status, 0) << d.err;
  const auto c = platform().curl_post(json::parse(d.out));
  ASSERT_EQ(c.status, 0) << c.err;
  const auto reply = json::parse(c.out);
  EXPECT_EQ(reply["code"], 200);
  EXPECT_EQ(reply["data"]["deviceName"], "dev-curl");
}

TEST_F(Register, OutFileIsPrivateAndHoldsEachResultOnce) {
  const auto out = dir.file("secrets.jsonl");
  auto r =
      run_aliot({"register", "-k", k_pk, "-d", "out-a", "-d", "out-b", "-d", "out-a", "--out", out},
                {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto got = secrets_in(dir.read("secrets.jsonl"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got["out-a"], platform().state()["secrets"]["out-a"]);
  // With --out the secrets are in the file only: stdout names each device and where its secret
  // went, and holds none of them.
  const auto printed = lines_of(r.out);
  ASSERT_EQ(printed.size(), 2u) << r.out;
  for (const auto& l : printed) {
    const auto j = json::parse(l);
    EXPECT_FALSE(j.contains("DeviceSecret")) << l;
    EXPECT_TRUE(got.contains(j["DeviceName"].get<std::string>())) << l;
    EXPECT_EQ(j["ok"], true) << l;
    EXPECT_EQ(j["saved_in"], out) << l;
  }
  EXPECT_TRUE(
      no_secret_in({got["out-a"], got["out-b"]}, {text("stdout", r.out), text("stderr", r.err)}));
  EXPECT_NE(r.err.find("registered 2, failed 0"), std::string::npos) << r.err;

  // A re-run sends nothing for devices already there.
  const auto before = platform().register_requests();
  r = run_aliot({"register", "-k", k_pk, "-d", "out-a", "-d", "out-b", "-d", "out-c", "--out", out},
                {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(platform().register_requests(), before + 1);
  got = secrets_in(dir.read("secrets.jsonl"));
  EXPECT_EQ(got.size(), 3u);
}

// register --out in a CI job: the log (stdout) says what became of each device and where its
// secret is, never the secret; --show-secrets prints them as without --out.
TEST_F(Register, OutKeepsSecretsOffStdoutUnlessShowSecrets) {
  const auto out = dir.file("ci.jsonl");
  auto r =
      run_aliot({"register", "-k", k_pk, "-d", "ci-one", "--out", out}, {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string ds = platform().state()["secrets"]["ci-one"];
  EXPECT_EQ(secrets_in(dir.read("ci.jsonl")).at("ci-one"), ds);
  const auto shown = json::parse(r.out); // one device in text mode: one pretty object
  EXPECT_EQ(shown["ProductKey"], k_pk);
  EXPECT_EQ(shown["DeviceName"], "ci-one");
  EXPECT_EQ(shown["ok"], true);
  EXPECT_EQ(shown["saved_in"], out);
  EXPECT_FALSE(shown.contains("DeviceSecret")) << r.out;
  EXPECT_TRUE(no_secret_in({ds}, {text("stdout", r.out), text("stderr", r.err)}));

  // -o json, many devices: one line each, no secret.
  r = run_aliot(
      {"-o", "json", "register", "-k", k_pk, "-d", "ci-two", "-d", "ci-three", "--out", out},
      {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto saved = secrets_in(dir.read("ci.jsonl"));
  ASSERT_EQ(saved.size(), 3u);
  EXPECT_EQ(lines_of(r.out).size(), 2u) << r.out;
  EXPECT_TRUE(no_secret_in({saved.at("ci-two"), saved.at("ci-three")},
                           {text("stdout", r.out), text("stderr", r.err)}));

  // --show-secrets: stdout holds every secret, the same as the file.
  r = run_aliot(
      {"register", "-k", k_pk, "-d", "ci-four", "-d", "ci-five", "--out", out, "--show-secrets"},
      {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto all = secrets_in(dir.read("ci.jsonl"));
  const auto printed = secrets_in(r.out);
  ASSERT_EQ(printed.size(), 2u) << r.out;
  EXPECT_EQ(printed.at("ci-four"), all.at("ci-four"));
  EXPECT_EQ(printed.at("ci-five"), all.at("ci-five"));
  EXPECT_EQ(printed.at("ci-four"), platform().state()["secrets"]["ci-four"]);

  // Without --out stdout is the only place: the secret is printed, and --show-secrets needs --out.
  r = run_aliot({"register", "-k", k_pk, "-d", "ci-six"}, {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["DeviceSecret"], platform().state()["secrets"]["ci-six"]);
  r = run_aliot({"register", "-k", k_pk, "-d", "ci-seven", "--show-secrets"},
                {.env = platform().env()});
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(Register, TornLastLineIsRepairedAndEveryCompleteLineKept) {
  const auto out = dir.file("torn.jsonl");
  auto r = run_aliot({"register", "-k", k_pk, "-d", "torn-a", "-d", "torn-b", "--out", out},
                     {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string good = dir.read("torn.jsonl");
  // A crash in the middle of writing torn-c's line.
  dir.write("torn.jsonl", good + R"({"ProductKey":"a1FakePK001","DeviceName":"torn-c","Devi)");
  r = run_aliot(
      {"register", "-k", k_pk, "-d", "torn-a", "-d", "torn-b", "-d", "torn-c", "--out", out},
      {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("repaired"), std::string::npos) << r.err;
  const std::string now = dir.read("torn.jsonl");
  EXPECT_EQ(now.rfind(good, 0), 0u) << "complete lines must be kept as they were";
  const auto got = secrets_in(now);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.at("torn-c"), platform().state()["secrets"]["torn-c"]);

  // A complete record that only lost its newline is kept, not registered again.
  const std::string all = dir.read("torn.jsonl");
  dir.write("torn.jsonl", all.substr(0, all.size() - 1));
  const auto before = platform().register_requests();
  r = run_aliot({"register", "-k", k_pk, "-d", "torn-c", "--out", out}, {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(platform().register_requests(), before);
  EXPECT_EQ(dir.read("torn.jsonl"), all);
}

TEST_F(Register, BatchInParallelFromACsvWithJsonLines) {
  std::string csv = "\xEF\xBB\xBF"
                    "ProductKey,DeviceName,Note\n";
  std::set<std::string> names;
  for (int i = 0; i < 60; ++i) {
    const std::string n = "batch-" + std::to_string(i);
    names.insert(n);
    csv += std::string(k_pk) + "," + n + ",\"x, y\"\n";
  }
  const auto file = dir.write("names.csv", csv);
  const auto out = dir.file("batch.jsonl");
  const auto r =
      run_aliot({"register", "-k", k_pk, "--names", file, "-j", "8", "--out", out, "-o", "json"},
                {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto printed = lines_of(r.out);
  EXPECT_EQ(printed.size(), 60u);
  const auto got = secrets_in(dir.read("batch.jsonl"));
  ASSERT_EQ(got.size(), 60u);
  const auto st = platform().state()["secrets"];
  for (const auto& n : names) {
    ASSERT_EQ(got.count(n), 1u) << n;
    EXPECT_EQ(got.at(n), st[n]) << n;
  }
  // No progress bar without a terminal; a summary at the end.
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_NE(r.err.find("registered 60, failed 0, skipped 0"), std::string::npos) << r.err;
}

TEST_F(Register, PlainNamesFileWithCommentsAndBlankLines) {
  const auto file = dir.write("names.txt", "# devices of line 3\nplain-1\n\n  plain-2  \n");
  const auto r =
      run_aliot({"register", "-k", k_pk, "--names", file, "-o", "json"}, {.env = platform().env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = secrets_in(r.out);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count("plain-2"), 1u);
}

TEST_F(Register, EachErrorReplyHasItsExitCodeAndAHint) {
  const Env env = platform().env();
  auto r = run_aliot({"register", "-k", k_pk, "-d", "unknown-dev"}, {.env = env});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("6288"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("aliot: hint: pre-register"), std::string::npos) << r.err;

  r = run_aliot({"register", "-k", k_pk, "-d", "activated-dev"}, {.env = env});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("reset it"), std::string::npos) << r.err;

  r = run_aliot({"register", "-k", "a1NoDynReg", "-d", "dev-x"}, {.env = env});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("switch on dynamic registration"), std::string::npos) << r.err;

  r = run_aliot({"register", "-k", k_pk, "-d", "dev-x"},
                {.env = merge(env, {{"ALIOT_PRODUCT_SECRET", "wrong"}})});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("ProductSecret"), std::string::npos) << r.err;

  // A server that is not the registration service.
  r = run_aliot({"register", "-k", k_pk, "-d", "dev-x"},
                {.env = merge(env, {{"ALIOT_AUTH_ENDPOINT", platform().url() + "/nowhere"}})});
  EXPECT_EQ(r.status, 7) << r.err;
}

TEST_F(Register, AFailureDoesNotStopTheBatchAndSetsTheExitCode) {
  const auto out = dir.file("mixed.jsonl");
  const auto r = run_aliot({"register", "-k", k_pk, "-d", "mixed-1", "-d", "unknown-2", "-d",
                            "mixed-3", "-d", "activated-4", "-j", "2", "--out", out},
                           {.env = platform().env()});
  EXPECT_EQ(r.status, 7) << r.err;
  const auto got = secrets_in(dir.read("mixed.jsonl"));
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count("mixed-3"), 1u);
  EXPECT_NE(r.err.find("registered 2, failed 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown-2"), std::string::npos) << r.err;
}

TEST_F(Register, TlsIsVerified) {
  Env env = platform().env();
  env.erase("ALIOT_CA_FILE");
  auto r = run_aliot({"register", "-k", k_pk, "-d", "tls-x"}, {.env = env});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--ca-file"), std::string::npos) << r.err;

  r = run_aliot({"register", "-k", k_pk, "-d", "tls-x", "--ca-file", platform().other_ca()},
                {.env = env});
  EXPECT_EQ(r.status, 5) << r.err;

  // localhost is in the certificate, a different name is not.
  env["ALIOT_AUTH_ENDPOINT"] =
      "https://127.0.0.2:" + platform().url().substr(platform().url().rfind(':') + 1);
  r = run_aliot({"register", "-k", k_pk, "-d", "tls-x", "--ca-file", platform().ca()},
                {.env = env});
  EXPECT_EQ(r.status, 5) << r.err;

  // --insecure skips verification and warns.
  env.erase("ALIOT_AUTH_ENDPOINT");
  env["ALIOT_AUTH_ENDPOINT"] = platform().url();
  r = run_aliot({"register", "-k", k_pk, "-d", "tls-x", "--insecure"}, {.env = env});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("--insecure"), std::string::npos) << r.err;
}

TEST_F(Register, NetworkErrorsAndTimeouts) {
  Env env = platform().env();
  env["ALIOT_AUTH_ENDPOINT"] = "https://127.0.0.1:" + std::to_string(free_port());
  auto r = run_aliot({"register", "-k", k_pk, "-d", "net-x"}, {.env = env});
  EXPECT_EQ(r.status, 5) << r.err;
  r = run_aliot({"register", "-k", k_pk, "-d", "slow-x", "--timeout", "500ms"},
                {.env = platform().env()});
  EXPECT_EQ(r.status, 6) << r.err;
}

// A reply that is not UTF-8 (a proxy's 503 page cut mid-character) is an error of the peer, exit 7,
// with a readable message and, under -o json, a JSON error line for each failed device; never a
// crash, whatever the number of workers.
TEST_F(Register, AReplyThatIsNotUtf8IsARemoteErrorNotACrash) {
  for (const char* jobs : {"1", "2"}) {
    const auto r = run_aliot({"-o", "json", "register", "-k", k_pk, "-d", "garbled-1", "-d",
                              "garbled-2", "-d", "fine-3", "-j", jobs},
                             {.env = platform().env()});
    EXPECT_EQ(r.status, 7) << "-j " << jobs << ": " << r.err;
    EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
    bool error_line = false;
    std::istringstream lines(r.err);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("{\"error\"", 0) == 0) {
        const auto j = json::parse(line); // throws (fails the test) if it is not JSON
        EXPECT_EQ(j["error"]["exit_status"], 7) << line;
        error_line = true;
      }
    }
    EXPECT_TRUE(error_line) << r.err;
    EXPECT_NE(r.out.find("fine-3"), std::string::npos) << "-j " << jobs << ": " << r.out;
  }
}

// A server that streams without end is cut off at the reply limit (1 MiB): a remote error naming
// the limit, long before the timeout and without growing aliot's memory.
TEST_F(Register, AnEndlessReplyIsCutOffAtTheLimit) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_aliot({"register", "-k", k_pk, "-d", "endless-1", "--timeout", "20s"},
                           {.env = platform().env()});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("larger than 1024 KiB"), std::string::npos) << r.err;
  EXPECT_LT(took, std::chrono::seconds(15));
}

// register's stdout on a full disk: exit 10 naming the failure, and the secret the platform
// issued is in --out (written and fsync'ed before printing), so nothing is lost.
TEST_F(Register, StdoutIntoAFullDiskIsExit10AndTheSecretIsInOut) {
  const auto out = dir.file("full.jsonl");
  Env env = platform().env();
  std::string script;
  for (const auto& [k, v] : env) {
    script += "export " + k + "='" + v + "'\n";
  }
  script +=
      "'" + aliot_bin() + "' register -k " + k_pk + " -d full-1 --out '" + out + "' > /dev/full";
  const auto r = sh(script);
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_NE(r.err.find("standard output failed"), std::string::npos) << r.err;
  const auto got = secrets_in(dir.read("full.jsonl"));
  ASSERT_EQ(got.count("full-1"), 1u);
  EXPECT_EQ(got.at("full-1"), platform().state()["secrets"]["full-1"]);
}

// kill -9 in the middle of a batch, then a re-run: every device ends with exactly one secret in
// --out, and it is the one the platform holds (the latest it issued).
TEST(RegisterCrash, KillNineMidBatchThenRerunLosesNothing) {
  FakePlatform slow(15); // 15 ms per registration
  TempDir dir;
  std::string names;
  for (int i = 0; i < 120; ++i) {
    names += "crash-" + std::to_string(i) + "\n";
  }
  const auto file = dir.write("names.txt", names);
  const auto out = dir.file("crash.jsonl");
  const std::vector<std::string> args{aliot_bin(), "register", "-k", k_pk,    "--names",
                                      file,        "-j",       "4",  "--out", out};
  RunOptions opts;
  opts.env = slow.env();
  {
    Background b(args, opts);
    for (int i = 0; i < 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (lines_of(dir.read("crash.jsonl")).size() >= 30) {
        break;
      }
    }
    b.signal(SIGKILL);
    b.wait(std::chrono::seconds(5));
  }
  const auto partial = lines_of(dir.read("crash.jsonl")).size();
  EXPECT_GE(partial, 30u);
  EXPECT_LT(partial, 120u) << "the batch finished before the kill; the test proves nothing";
  const auto r = run_aliot(std::vector<std::string>(args.begin() + 1, args.end()), opts);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = secrets_in(dir.read("crash.jsonl"));
  ASSERT_EQ(got.size(), 120u);
  const auto st = slow.state()["secrets"];
  for (const auto& [dn, ds] : got) {
    EXPECT_EQ(st[dn], ds) << dn;
  }
}

namespace {

// A filesystem with room for about one page of --out: a 64 KiB tmpfs nearly filled (when mount
// is permitted), or else a file size limit of 4 KiB on aliot (ulimit -f; aliot ignores SIGXFSZ,
// so the write fails instead of killing it). Either way a line is torn mid-write.
class SmallDisk {
public:
  explicit SmallDisk(const TempDir& dir)
      : m_dir(dir.file("small")) {
    ::mkdir(m_dir.c_str(), 0700);
    m_mounted =
        run({"mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", m_dir}).status == 0;
    if (m_mounted) {
      std::ofstream(m_dir + "/filler") << std::string(64 * 1024 - 4096, 'x');
    }
  }
  ~SmallDisk() {
    if (m_mounted) {
      run({"umount", "-l", m_dir});
    }
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return m_mounted; }
  std::string file(const std::string& name) const { return m_dir + "/" + name; }
  // The shell line that runs aliot with this disk's limit.
  std::string limit() const { return m_mounted ? "" : "ulimit -f 4; "; }
  // Makes room: the re-run after a full disk.
  void make_room() const { std::remove((m_dir + "/filler").c_str()); }

private:
  std::string m_dir;
  bool m_mounted = false;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

} // namespace

// --out on a full disk: the failed append is cut back out of the file (no torn line for the
// next one to be glued onto), the batch starts no new device, the secrets already issued are
// printed, exit 10 says how many reached only stdout, and the re-run (with room made) registers
// exactly the devices without a complete line.
TEST_F(Register, OutOnAFullDiskIsRolledBackAndTheBatchStops) {
  const SmallDisk disk(dir);
  std::cerr << "[ full disk: " << (disk.mounted() ? "64 KiB tmpfs" : "ulimit -f 4 (no mount)")
            << " ]\n";
  std::string names;
  for (int i = 0; i < 100; ++i) {
    names += fmt_device("fill", i) + "\n";
  }
  const auto file = dir.write("names.txt", names);
  const auto out = disk.file("full.jsonl");
  std::string exports;
  for (const auto& [k, v] : platform().env()) {
    exports += "export " + k + "='" + v + "'\n";
  }
  const std::string command = "exec '" + aliot_bin() + "' register -k " + k_pk + " --names '" + file
                              + "' --out '" + out + "' -j 2";
  const auto before = platform().register_requests();
  auto r = sh(exports + disk.limit() + command);
  EXPECT_EQ(r.status, 10) << r.err;

  const std::string saved_text = read_file(out);
  ASSERT_FALSE(saved_text.empty());
  EXPECT_EQ(saved_text.back(), '\n') << "a torn line was left: " << saved_text;
  for (const auto& l : lines_of(saved_text)) {
    ASSERT_TRUE(json::accept(l)) << "not a whole record: " << l;
  }
  const auto saved = secrets_in(saved_text);
  // stdout: a saved device as its outcome without the secret (it is in --out), a device whose
  // secret could not be saved with the secret itself (it is nowhere else).
  std::map<std::string, std::string> printed; // DeviceName -> DeviceSecret, "" when not shown
  for (const auto& l : lines_of(r.out)) {
    const auto j = json::parse(l);
    printed[j["DeviceName"].get<std::string>()] = j.value("DeviceSecret", std::string());
  }
  const auto st = platform().state()["secrets"];
  for (const auto& [dn, ds] : saved) {
    ASSERT_EQ(printed.count(dn), 1u) << dn << " saved but not reported";
    EXPECT_EQ(printed[dn], "") << dn << ": saved, yet its secret is on stdout";
    EXPECT_EQ(st[dn], ds) << dn;
  }
  std::size_t only_stdout = 0;
  for (const auto& [dn, ds] : printed) {
    if (saved.count(dn) == 0) {
      EXPECT_EQ(st[dn], ds) << dn << ": not saved, so its secret must be on stdout";
      ++only_stdout;
    }
  }
  // The batch stopped: nothing registered but what was reported, and only the devices in flight
  // (-j 2) when the first append failed reached stdout alone.
  EXPECT_EQ(platform().register_requests() - before, printed.size());
  EXPECT_LT(printed.size(), 100u);
  EXPECT_GE(only_stdout, 1u);
  EXPECT_LE(only_stdout, 2u);
  EXPECT_NE(r.err.find(std::to_string(only_stdout) + " secret(s) reached only standard output"),
            std::string::npos)
      << r.err;

  // The re-run, with room: every device with a complete line is skipped.
  disk.make_room();
  const auto before_rerun = platform().register_requests();
  r = sh(exports + command);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(platform().register_requests() - before_rerun, 100u - saved.size());
  const auto all = secrets_in(read_file(out));
  EXPECT_EQ(all.size(), 100u);
  const auto st2 = platform().state()["secrets"];
  for (const auto& [dn, ds] : all) {
    EXPECT_EQ(st2[dn], ds) << dn;
  }
}

// -o json: a failed device of a batch is a JSON line on stdout beside the triplets, so one
// stream says what became of every device.
TEST_F(Register, UnderJsonEveryFailedDeviceIsALineOnStdout) {
  const auto r = run_aliot({"-o", "json", "register", "-k", k_pk, "-d", "jl-ok-1", "-d",
                            "unknown-jl-2", "-d", "activated-jl-3", "-d", "jl-ok-4", "-j", "2"},
                           {.env = platform().env()});
  EXPECT_EQ(r.status, 7) << r.err;
  std::map<std::string, json> by_name;
  for (const auto& l : lines_of(r.out)) {
    const auto j = json::parse(l);
    by_name[j["DeviceName"]] = j;
  }
  ASSERT_EQ(by_name.size(), 4u) << r.out;
  for (const char* ok : {"jl-ok-1", "jl-ok-4"}) {
    EXPECT_TRUE(by_name[ok].contains("DeviceSecret")) << by_name[ok];
    EXPECT_FALSE(by_name[ok].contains("ok")) << "a triplet line stays usable as --triplet";
  }
  for (const char* bad : {"unknown-jl-2", "activated-jl-3"}) {
    const auto& j = by_name[bad];
    EXPECT_EQ(j["ok"], false) << j;
    EXPECT_EQ(j["ProductKey"], k_pk) << j;
    EXPECT_EQ(j["error"]["exit_status"], 7) << j;
    EXPECT_EQ(j["error"]["code"], "remote") << j;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << j;
    EXPECT_FALSE(j.contains("DeviceSecret")) << j;
  }
}

// A plain http:// registration endpoint would carry the ProductSecret-signed request and the new
// DeviceSecret in clear text: refused (exit 2) before anything is sent, unless
// --allow-insecure-http, which warns.
TEST(RegisterHttp, PlainHttpEndpointNeedsAnExplicitFlag) {
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  const Env env{{"ALIOT_AUTH_ENDPOINT", url}, {"ALIOT_PRODUCT_SECRET", k_ps}};
  auto r = run_aliot({"register", "-k", k_pk, "-d", "dev-http"}, {.env = env});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("plain http://"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-insecure-http"), std::string::npos) << r.err;
  // With the flag it is sent (nothing listens there: a network error) after a warning.
  r = run_aliot({"register", "-k", k_pk, "-d", "dev-http", "--allow-insecure-http"}, {.env = env});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("warning: --allow-insecure-http"), std::string::npos) << r.err;
  // MQTT registration is always TLS: the HTTP endpoint does not matter there.
  r = run_aliot({"register", "-k", k_pk, "-d", "dev-http", "--via", "mqtt", "--dry-run"},
                {.env = env});
  EXPECT_EQ(r.status, 0) << r.err;
}
