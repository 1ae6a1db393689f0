// The registration batch over a real results file: every result durable before it is handed
// over, resume (skip what the file holds, repair a torn last line), failures, stop, workers; and
// the run's settings from the configuration. The registrar is a function standing in for the
// platform (the cloud suite runs the real HTTPS and MQTT flows).
#include "support.hpp"
#include "unwrap.hpp"

#include <aliot/dynreg_batch.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <variant>

using namespace aliot;
using Names = std::vector<std::string>;

namespace {

constexpr const char* k_pk = "a1FakePK001";

std::string line_for(const std::string& dn, const std::string& ds) {
  return std::string(R"({"ProductKey":")") + k_pk + R"(","DeviceName":")" + dn
         + R"(","DeviceSecret":")" + ds + "\"}";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// DeviceName -> DeviceSecret of every line of a results file (each device once).
std::map<std::string, std::string> records(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    const auto j = nlohmann::json::parse(l);
    EXPECT_EQ(out.count(j["DeviceName"]), 0u) << "two lines for " << j["DeviceName"];
    out[j["DeviceName"]] = j["DeviceSecret"];
  }
  return out;
}

// Stands in for the platform: issues "ds-<dn>-<n>" (n counts issues per device), refuses names
// starting with "bad", and answers Errc::interrupted for names starting with "int".
class Platform {
public:
  dynreg::RegistrarFactory factory() {
    return [this] {
      ++m_workers;
      return [this](std::string_view dn) -> Result<Triplet> {
        std::lock_guard lock(m_mu);
        const std::string name(dn);
        m_calls.push_back(name);
        if (name.starts_with("bad")) {
          return Error(Errc::remote, "registering " + name + ": refused");
        }
        if (name.starts_with("int")) {
          return Error(Errc::interrupted, "registering " + name + ": interrupted");
        }
        Triplet t;
        t.product_key = k_pk;
        t.device_name = name;
        t.device_secret = Secret("ds-" + name + "-" + std::to_string(++m_issued[name]));
        return t;
      };
    };
  }
  Names calls() const {
    std::lock_guard lock(m_mu);
    return m_calls;
  }
  int workers() const { return m_workers; }

private:
  mutable std::mutex m_mu;
  Names m_calls;
  std::map<std::string, int> m_issued;
  std::atomic<int> m_workers{0};
};

Names numbered(const std::string& prefix, int n) {
  Names out;
  for (int i = 0; i < n; ++i) {
    out.push_back(prefix + std::to_string(i));
  }
  return out;
}

} // namespace

TEST(DynregBatch, EachResultIsInTheFileBeforeItIsHandedOver) {
  test::TempDir dir;
  const auto out = dir.file("secrets.jsonl");
  auto b = dynreg::Batch::open(k_pk, {"dev-a1", "dev-a2", "dev-a3"}, out);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_FALSE(b->repaired());
  EXPECT_EQ(b->skipped(), 0u);
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Platform p;
  std::vector<std::string> handed;
  const auto s = b->run(p.factory(), {.jobs = 1},
                        [&](const dynreg::DeviceResult& r, const dynreg::BatchProgress& pr) {
                          EXPECT_TRUE(r.ok()) << r.error->message();
                          EXPECT_TRUE(r.saved);
                          if (!r.triplet) {
                            ADD_FAILURE() << "no triplet";
                            return false;
                          }
                          EXPECT_EQ(r.line, triplet_json(*r.triplet, false));
                          EXPECT_EQ(b->names()[r.index], r.device_name);
                          // Durable before it is shown: the file already holds the line.
                          EXPECT_NE(slurp(out).find(r.line + "\n"), std::string::npos);
                          handed.push_back(r.line);
                          EXPECT_EQ(pr.ok, handed.size());
                          EXPECT_EQ(pr.total, 3u);
                          return true;
                        });
  EXPECT_EQ(s.counts.ok, 3u);
  EXPECT_EQ(s.counts.failed, 0u);
  EXPECT_FALSE(s.first_error);
  EXPECT_EQ(p.calls(), (Names{"dev-a1", "dev-a2", "dev-a3"}));
  std::string expected;
  for (const auto& l : handed) {
    expected += l + "\n";
  }
  EXPECT_EQ(slurp(out), expected);
}

TEST(DynregBatch, ARerunSkipsWhatTheFileHoldsAndRegistersTheRest) {
  test::TempDir dir;
  const auto out = dir.write("secrets.jsonl", line_for("dev-b1", "old-1") + "\n"
                                                  + line_for("dev-b3", "old-3") + "\n");
  // A record of another product does not count for this one.
  const std::string other =
      R"({"ProductKey":"a1OtherPK01","DeviceName":"dev-b2","DeviceSecret":"x"})";
  dir.write("secrets.jsonl", slurp(out) + other + "\n");
  const std::string before = slurp(out);

  auto b = dynreg::Batch::open(k_pk, {"dev-b1", "dev-b2", "dev-b3", "dev-b4"}, out);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->skipped(), 2u);
  EXPECT_TRUE(b->is_skipped(0));
  EXPECT_FALSE(b->is_skipped(1));
  EXPECT_TRUE(b->is_skipped(2));
  Platform p;
  std::size_t handed = 0;
  const auto s = b->run(p.factory(), {.jobs = 3},
                        [&](const dynreg::DeviceResult&, const dynreg::BatchProgress& pr) {
                          ++handed;
                          EXPECT_EQ(pr.skipped, 2u);
                          return true;
                        });
  EXPECT_EQ(handed, 2u);
  EXPECT_EQ(s.counts.ok, 2u);
  EXPECT_EQ(s.counts.skipped, 2u);
  EXPECT_EQ(s.counts.total, 4u);
  const auto calls = p.calls();
  EXPECT_EQ(std::set<std::string>(calls.begin(), calls.end()),
            (std::set<std::string>{"dev-b2", "dev-b4"}));
  // Two devices left: two workers, not three.
  EXPECT_EQ(p.workers(), 2);
  const std::string now = slurp(out);
  EXPECT_EQ(now.rfind(before, 0), 0u) << "lines already there stay as they were";
  const auto got = records(now.substr(now.find(other) + other.size() + 1));
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at("dev-b2"), "ds-dev-b2-1");
}

TEST(DynregBatch, ATornLastLineIsCutAndItsDeviceRegisteredAgain) {
  test::TempDir dir;
  const std::string good = line_for("dev-c1", "ds-1") + "\n";
  const auto out =
      dir.write("torn.jsonl", good + R"({"ProductKey":"a1FakePK001","DeviceName":"dev-c2","Devi)");
  auto b = dynreg::Batch::open(k_pk, {"dev-c1", "dev-c2"}, out);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_TRUE(b->repaired());
  EXPECT_EQ(b->skipped(), 1u);
  EXPECT_EQ(slurp(out), good) << "the torn tail is cut off at once";
  Platform p;
  const auto s = b->run(p.factory(), {}, {});
  EXPECT_EQ(s.counts.ok, 1u);
  EXPECT_EQ(p.calls(), Names{"dev-c2"});
  EXPECT_EQ(slurp(out), good + line_for("dev-c2", "ds-dev-c2-1") + "\n");
}

TEST(DynregBatch, ACompleteRecordMissingItsNewlineIsKept) {
  test::TempDir dir;
  const std::string whole = line_for("dev-d1", "ds-1") + "\n" + line_for("dev-d2", "ds-2");
  const auto out = dir.write("nl.jsonl", whole);
  auto b = dynreg::Batch::open(k_pk, {"dev-d1", "dev-d2"}, out);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_TRUE(b->repaired());
  EXPECT_EQ(b->skipped(), 2u);
  EXPECT_EQ(slurp(out), whole + "\n");
  Platform p;
  const auto s = b->run(p.factory(), {.jobs = 4}, {});
  EXPECT_TRUE(p.calls().empty());
  EXPECT_EQ(p.workers(), 0) << "nothing to do: no worker needs a registrar";
  EXPECT_EQ(s.counts.ok + s.counts.failed, 0u);

  // A second open finds nothing to repair.
  auto again = dynreg::Batch::open(k_pk, {"dev-d1"}, out);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->repaired());
}

TEST(DynregBatch, FailuresDoNotStopTheBatchAndTheFirstInListOrderIsKept) {
  test::TempDir dir;
  const auto out = dir.file("mixed.jsonl");
  Names names = numbered("dev-e", 20);
  names[3] = "bad-e3";
  names[11] = "bad-e11";
  auto b = dynreg::Batch::open(k_pk, names, out);
  ASSERT_TRUE(b);
  Platform p;
  std::size_t failures_handed = 0;
  const auto s = b->run(p.factory(), {.jobs = 4},
                        [&](const dynreg::DeviceResult& r, const dynreg::BatchProgress&) {
                          if (!r.ok()) {
                            ++failures_handed;
                            EXPECT_FALSE(r.triplet);
                            EXPECT_TRUE(r.line.empty());
                          }
                          return true;
                        });
  EXPECT_EQ(failures_handed, 2u);
  EXPECT_EQ(s.counts.ok, 18u);
  EXPECT_EQ(s.counts.failed, 2u);
  ASSERT_TRUE(s.first_error);
  EXPECT_EQ(s.first_error->code(), Errc::remote);
  EXPECT_EQ(s.first_error->message(), "registering bad-e3: refused");
  EXPECT_EQ(p.calls().size(), 20u);
  const auto got = records(slurp(out));
  EXPECT_EQ(got.size(), 18u);
  EXPECT_EQ(got.count("bad-e3"), 0u);
}

TEST(DynregBatch, ManyWorkersRegisterEachDeviceExactlyOnce) {
  test::TempDir dir;
  const auto out = dir.file("many.jsonl");
  const Names names = numbered("dev-f", 200);
  auto b = dynreg::Batch::open(k_pk, names, out);
  ASSERT_TRUE(b);
  Platform p;
  std::set<std::size_t> indexes;
  const auto s = b->run(p.factory(), {.jobs = 8},
                        [&](const dynreg::DeviceResult& r, const dynreg::BatchProgress& pr) {
                          EXPECT_TRUE(indexes.insert(r.index).second);
                          EXPECT_EQ(pr.ok, indexes.size()); // serialized: counts match
                          return true;
                        });
  EXPECT_EQ(p.workers(), 8);
  EXPECT_EQ(s.counts.ok, 200u);
  EXPECT_EQ(p.calls().size(), 200u);
  const auto got = records(slurp(out));
  ASSERT_EQ(got.size(), 200u);
  for (const auto& n : names) {
    EXPECT_EQ(got.at(n), "ds-" + n + "-1");
  }
}

TEST(DynregBatch, AnInterruptedRegistrationStopsTheBatch) {
  test::TempDir dir;
  auto b = dynreg::Batch::open(k_pk, {"dev-g1", "int-g2", "dev-g3", "dev-g4"}, dir.file("i.jsonl"));
  ASSERT_TRUE(b);
  Platform p;
  const auto s = b->run(p.factory(), {.jobs = 1}, {});
  EXPECT_EQ(p.calls(), (Names{"dev-g1", "int-g2"}));
  EXPECT_EQ(s.counts.ok, 1u);
  EXPECT_EQ(s.counts.failed, 1u);
  ASSERT_TRUE(s.first_error);
  EXPECT_EQ(s.first_error->code(), Errc::interrupted);
  EXPECT_EQ(records(slurp(dir.file("i.jsonl"))).size(), 1u);
}

TEST(DynregBatch, TheStopFlagIsPolledBeforeEachDevice) {
  std::atomic<bool> stop{false};
  Platform p;
  auto b = dynreg::Batch::open(k_pk, numbered("dev-h", 10), std::nullopt);
  ASSERT_TRUE(b);
  const auto s = b->run(p.factory(), {.jobs = 1, .stop = &stop},
                        [&](const dynreg::DeviceResult& r, const dynreg::BatchProgress&) {
                          if (r.index == 2) {
                            stop = true; // SIGINT while device 2 was registering
                          }
                          return true;
                        });
  EXPECT_EQ(p.calls(), (Names{"dev-h0", "dev-h1", "dev-h2"}));
  EXPECT_EQ(s.counts.ok, 3u);
  EXPECT_FALSE(s.first_error);
}

TEST(DynregBatch, WithoutAResultsFileNothingIsSkippedOrWritten) {
  auto b = dynreg::Batch::open(k_pk, {"dev-i1", "dev-i2"}, std::nullopt);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->repaired());
  Platform p;
  std::vector<std::string> lines;
  const auto s = b->run(p.factory(), {.jobs = 2},
                        [&](const dynreg::DeviceResult& r, const dynreg::BatchProgress&) {
                          lines.push_back(r.line);
                          return true;
                        });
  EXPECT_EQ(s.counts.ok, 2u);
  EXPECT_EQ(lines.size(), 2u);
}

// A results file that cannot take the line (a full disk): the secret is still handed over, with
// the error, since the platform will not issue it again.
TEST(DynregBatch, ASecretThatCouldNotBeSavedIsStillHandedOver) {
  auto b = dynreg::Batch::open(k_pk, {"dev-j1"}, std::string("/dev/full"));
  ASSERT_TRUE(b) << b.error().message();
  Platform p;
  int handed = 0;
  const auto s =
      b->run(p.factory(), {}, [&](const dynreg::DeviceResult& r, const dynreg::BatchProgress& pr) {
        ++handed;
        EXPECT_FALSE(r.saved);
        if (!r.triplet || !r.error) {
          ADD_FAILURE() << "no triplet or no error";
          return false;
        }
        EXPECT_EQ(r.triplet->device_secret.reveal(), "ds-dev-j1-1");
        EXPECT_EQ(r.line, triplet_json(*r.triplet, false));
        EXPECT_EQ(r.error->code(), Errc::io);
        EXPECT_EQ(pr.failed, 1u);
        return true; // printed
      });
  EXPECT_EQ(handed, 1);
  EXPECT_EQ(s.counts.failed, 1u);
  ASSERT_TRUE(s.first_error);
  EXPECT_EQ(s.first_error->code(), Errc::io);
  EXPECT_EQ(s.issued, 1u);
  EXPECT_EQ(s.unsaved, 1u);
  EXPECT_TRUE(s.lost.empty());
}

TEST(DynregBatch, AResultsFileThatCannotBeOpenedIsAnIoError) {
  test::TempDir dir;
  auto b = dynreg::Batch::open(k_pk, {"dev-k1"}, dir.file("no/such/dir/out.jsonl"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), Errc::io);
}

// ---- settings_from ----

namespace {

Result<config::Settings> cfg_with(const test::TempDir& dir, config::Env env) {
  config::Sources s;
  env["XDG_CONFIG_HOME"] = dir.path(); // no profile file there
  s.env = std::move(env);
  return config::resolve(s);
}

} // namespace

TEST(DynregSettings, FromTheConfigurationAndTheChoices) {
  test::TempDir dir;
  auto cfg = cfg_with(dir, {{"ALIOT_PRODUCT_KEY", k_pk},
                            {"ALIOT_PRODUCT_SECRET", "ps-1"},
                            {"ALIOT_SIGN_METHOD", "hmacsha1"},
                            {"ALIOT_REGION", "cn-beijing"},
                            {"ALIOT_CA_FILE", "/tmp/ca.pem"}});
  ASSERT_TRUE(cfg) << cfg.error().message();
  dynreg::Choices c;
  c.random = "R4nd0m";
  c.timeout = std::chrono::milliseconds(25000);
  auto s = dynreg::settings_from(*cfg, c);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->product_key, k_pk);
  EXPECT_EQ(s->product_secret.reveal(), "ps-1");
  EXPECT_EQ(s->method, sign::Method::hmacsha1);
  EXPECT_EQ(s->via, dynreg::Via::https);
  EXPECT_EQ(s->auth_endpoint, "https://iot-auth.cn-beijing.aliyuncs.com");
  EXPECT_EQ(s->http.ca_file, "/tmp/ca.pem");
  EXPECT_EQ(s->http.timeout_ms, 25000);
  EXPECT_EQ(s->http.connect_timeout_ms, 10000);
  EXPECT_EQ(test::unwrap(dynreg::request_for(*s, "dev-s1")).random, "R4nd0m");
  EXPECT_EQ(test::unwrap(dynreg::request_for(*s, "dev-s1")).device_name, "dev-s1");

  c.via = dynreg::Via::mqtt;
  c.preregistered = false;
  c.random.reset();
  s = dynreg::settings_from(*cfg, c);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->mqtt.endpoint.host, std::string(k_pk) + ".iot-as-mqtt.cn-beijing.aliyuncs.com");
  EXPECT_EQ(s->mqtt.endpoint.port, 1883);
  EXPECT_EQ(s->mqtt.endpoint.ca_file, "/tmp/ca.pem");
  EXPECT_FALSE(s->mqtt.preregistered);
  EXPECT_EQ(s->mqtt.timeout, std::chrono::milliseconds(25000));
  const auto r1 = test::unwrap(dynreg::request_for(*s, "dev-s1"));
  EXPECT_EQ(r1.random.size(), 15u);
  EXPECT_NE(r1.random, test::unwrap(dynreg::request_for(*s, "dev-s1")).random)
      << "a fresh random each";
  const auto cred = test::unwrap(dynreg::mqtt_credentials(s->mqtt, r1, s->product_secret));
  EXPECT_NE(cred.client_id.find("authType=regnwl"), std::string::npos) << cred.client_id;
  EXPECT_EQ(cred.username, "dev-s1&" + std::string(k_pk));
}

TEST(DynregSettings, BadChoicesAreUsageErrorsAndMissingSecretsConfigErrors) {
  test::TempDir dir;
  auto cfg = cfg_with(dir, {{"ALIOT_PRODUCT_KEY", k_pk}, {"ALIOT_PRODUCT_SECRET", "ps-1"}});
  ASSERT_TRUE(cfg);
  auto code_of = [&](dynreg::Choices c) {
    auto s = dynreg::settings_from(*cfg, c);
    return s ? Errc{} : s.error().code();
  };
  dynreg::Choices c;
  c.preregistered = false; // regnwl over HTTPS
  EXPECT_EQ(code_of(c), Errc::usage);
  c = {};
  c.securemode = 3;
  EXPECT_EQ(code_of(c), Errc::usage);
  c = {};
  c.jobs = 65;
  EXPECT_EQ(code_of(c), Errc::usage);
  c = {};
  c.timeout = std::chrono::milliseconds(99);
  EXPECT_EQ(code_of(c), Errc::usage);
  c = {};
  c.random = "";
  EXPECT_EQ(code_of(c), Errc::usage);
  c = {};
  c.securemode = -2;
  c.jobs = 64;
  EXPECT_EQ(code_of(c), Errc{});

  auto no_secret = cfg_with(dir, {{"ALIOT_PRODUCT_KEY", k_pk}});
  ASSERT_TRUE(no_secret);
  auto s = dynreg::settings_from(*no_secret, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::config);
  EXPECT_EQ(s.error().message(), std::string("no ProductSecret for ") + k_pk);
  auto no_pk = cfg_with(dir, {{"ALIOT_PRODUCT_SECRET", "ps-1"}});
  ASSERT_TRUE(no_pk);
  s = dynreg::settings_from(*no_pk, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::config);
}

// ---- dry runs, failed devices' lines, how a batch ends ----

TEST(DynregUnsent, TheRequestOfEachTransportWithoutSendingIt) {
  test::TempDir dir;
  auto cfg = cfg_with(dir, {{"ALIOT_PRODUCT_KEY", k_pk},
                            {"ALIOT_PRODUCT_SECRET", "ps-1"},
                            {"ALIOT_SIGN_METHOD", "hmacsha1"}});
  ASSERT_TRUE(cfg) << cfg.error().message();
  dynreg::Choices c;
  c.random = "R4nd0m";
  auto s = test::unwrap(dynreg::settings_from(*cfg, c));
  const auto https = test::unwrap(dynreg::unsent_request(s, "dev-u1"));
  ASSERT_TRUE(std::holds_alternative<dynreg::HttpsRequest>(https));
  const auto& req = std::get<dynreg::HttpsRequest>(https);
  const auto expected = test::unwrap(dynreg::https_request(
      s.auth_endpoint, test::unwrap(dynreg::request_for(s, "dev-u1")), s.product_secret));
  EXPECT_EQ(req.url, "https://iot-auth.cn-shanghai.aliyuncs.com/auth/register/device");
  EXPECT_EQ(req.body, expected.body);
  EXPECT_NE(req.body.find("deviceName=dev-u1"), std::string::npos) << req.body;
  EXPECT_NE(req.body.find("random=R4nd0m"), std::string::npos) << req.body;
  EXPECT_NE(req.body.find("signMethod=hmacsha1"), std::string::npos) << req.body;

  c.via = dynreg::Via::mqtt;
  s = test::unwrap(dynreg::settings_from(*cfg, c));
  const auto mqtt = test::unwrap(dynreg::unsent_request(s, "dev-u1"));
  ASSERT_TRUE(std::holds_alternative<sign::MqttCredentials>(mqtt));
  const auto& cred = std::get<sign::MqttCredentials>(mqtt);
  EXPECT_NE(cred.client_id.find("authType=register"), std::string::npos) << cred.client_id;
  EXPECT_NE(cred.client_id.find("random=R4nd0m"), std::string::npos) << cred.client_id;
  EXPECT_EQ(cred.username, "dev-u1&" + std::string(k_pk));
  EXPECT_FALSE(cred.password.empty());
}

TEST(DynregBatch, AFailedDeviceIsAJsonLineWithItsErrorAndExitStatus) {
  const auto line = dynreg::failed_device_line(
      k_pk, "dev-f1", Error(Errc::remote, "registering dev-f1: refused", "check the switch"));
  EXPECT_TRUE(line.starts_with(R"({"ProductKey":"a1FakePK001","DeviceName":"dev-f1","ok":false,)"))
      << line;
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["error"]["code"], "remote");
  EXPECT_EQ(j["error"]["exit_status"], 7);
  EXPECT_EQ(j["error"]["message"], "registering dev-f1: refused");
  EXPECT_EQ(j["error"]["hint"], "check the switch");

  const auto bare = nlohmann::json::parse(
      dynreg::failed_device_line(k_pk, "dev-f\xff", Error(Errc::timeout, "no reply")));
  EXPECT_FALSE(bare["error"].contains("hint")) << "no hint, no key";
  EXPECT_EQ(bare["error"]["exit_status"], 6);
  EXPECT_EQ(bare["DeviceName"], "dev-f\xEF\xBF\xBD") << "bytes that are not UTF-8 are replaced";
}

TEST(DynregBatch, ABatchEndsWithItsMostImportantFailure) {
  test::TempDir dir;
  const auto out = dir.file("outcome.jsonl");
  Names names = numbered("dev-o", 5);
  names[1] = "bad-o1";
  names[4] = "bad-o4";
  auto b = dynreg::Batch::open(k_pk, names, out);
  ASSERT_TRUE(b);
  Platform p;
  auto s = b->run(p.factory(), {.jobs = 2}, {});
  ASSERT_EQ(s.counts.failed, 2u);

  // Of many devices, each reported as it came: the first failure's code, and how many failed.
  auto r = dynreg::batch_outcome(s, false, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::remote);
  EXPECT_EQ(r.error().message(),
            "register: 2 of 5 device(s) failed; the first: registering bad-o1: refused");

  // An interruption outranks failed devices; with a results file, re-running resumes.
  r = dynreg::batch_outcome(s, true, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::interrupted);
  EXPECT_EQ(r.error().hint(),
            "run the same command again: devices already in " + out + " are skipped");
  r = dynreg::batch_outcome(s, true, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().hint(), "");

  // Secrets that reached only the output outrank everything.
  s.unsaved = 2;
  s.save_error = Error(Errc::io, "writing " + out + ": No space left on device");
  r = dynreg::batch_outcome(s, true, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  EXPECT_EQ(r.error().message(), "register: 2 secret(s) reached only standard output: saving in "
                                 "--out "
                                     + out + " failed (writing " + out
                                     + ": No space left on device); the batch stopped taking "
                                       "new devices");
  EXPECT_NE(r.error().hint().find("the platform will not send them again"), std::string::npos);

  // One device: its own error, hint and all.
  auto one = dynreg::Batch::open(k_pk, {"bad-o9"}, std::nullopt);
  ASSERT_TRUE(one);
  r = dynreg::batch_outcome(one->run(p.factory(), {}, {}), false, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "registering bad-o9: refused");

  auto fine = dynreg::Batch::open(k_pk, numbered("dev-p", 3), std::nullopt);
  ASSERT_TRUE(fine);
  EXPECT_TRUE(dynreg::batch_outcome(
      fine->run(p.factory(), {}, [](const auto&, const auto&) { return true; }), false,
      std::nullopt));
}

// ---- where each secret lands: a failing output, both outputs failing ----

namespace {

// The output of a caller whose writes start failing at the `fail_from`-th secret (0-based).
struct FailingOutput {
  std::size_t fail_from;
  std::mutex mu;
  std::vector<std::string> shown;
  std::vector<std::string> refused;
  dynreg::Batch::OnResult on_result() {
    return [this](const dynreg::DeviceResult& r, const dynreg::BatchProgress&) {
      std::lock_guard lock(mu);
      if (!r.triplet) {
        return false;
      }
      if (shown.size() + refused.size() >= fail_from) {
        refused.push_back(r.device_name);
        return false;
      }
      shown.push_back(r.device_name);
      return true;
    };
  }
};

} // namespace

// Without a results file, standard output is the only place a secret goes: the first write that
// fails stops the batch, and the device is named as reached nowhere (never "printed above").
TEST(DynregBatch, WithoutAResultsFileAFailedWriteStopsTheBatchAndNamesTheDevice) {
  auto b = dynreg::Batch::open(k_pk, numbered("dev-w", 10), std::nullopt);
  ASSERT_TRUE(b);
  Platform p;
  FailingOutput out{.fail_from = 3};
  const auto s = b->run(p.factory(), {.jobs = 1}, out.on_result());
  EXPECT_EQ(p.calls(), (Names{"dev-w0", "dev-w1", "dev-w2", "dev-w3"}))
      << "no request after the failed write";
  EXPECT_EQ(s.issued, 4u);
  EXPECT_EQ(s.shown_only, 3u);
  EXPECT_EQ(s.lost, Names{"dev-w3"});
  EXPECT_EQ(s.not_started, 6u);
  const auto r = dynreg::batch_outcome(s, false, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  EXPECT_NE(r.error().message().find("1 secret(s) the platform issued reached no output"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find(": dev-w3;"), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().hint().find("printed above"), std::string::npos) << r.error().hint();
}

// With several workers, the devices already in flight when the write failed finish and are
// named; none starts after it.
TEST(DynregBatch, WithWorkersEveryDeviceInFlightAtTheFailureIsNamed) {
  auto b = dynreg::Batch::open(k_pk, numbered("dev-x", 300), std::nullopt);
  ASSERT_TRUE(b);
  Platform p;
  FailingOutput out{.fail_from = 5};
  const auto s = b->run(p.factory(), {.jobs = 4}, out.on_result());
  EXPECT_EQ(out.shown.size(), 5u);
  EXPECT_GE(s.lost.size(), 1u);
  EXPECT_LE(s.lost.size(), 4u) << "only those in flight at the failure";
  EXPECT_EQ(s.issued, p.calls().size());
  EXPECT_EQ(s.issued, out.shown.size() + s.lost.size()) << "every issued secret is accounted for";
  EXPECT_EQ(std::set<std::string>(s.lost.begin(), s.lost.end()),
            std::set<std::string>(out.refused.begin(), out.refused.end()));
}

// A working results file keeps the batch going when only the output fails.
TEST(DynregBatch, AFailingOutputWithAWorkingResultsFileKeepsEverySecretInTheFile) {
  test::TempDir dir;
  auto b = dynreg::Batch::open(k_pk, numbered("dev-y", 6), dir.file("y.jsonl"));
  ASSERT_TRUE(b);
  Platform p;
  FailingOutput out{.fail_from = 2};
  const auto s = b->run(p.factory(), {.jobs = 2}, out.on_result());
  EXPECT_EQ(s.issued, 6u);
  EXPECT_EQ(s.saved_and_shown, 2u);
  EXPECT_EQ(s.saved_only, 4u);
  EXPECT_TRUE(s.lost.empty());
  EXPECT_EQ(records(slurp(dir.file("y.jsonl"))).size(), 6u);
  EXPECT_TRUE(dynreg::batch_outcome(s, false, dir.file("y.jsonl")));
}

// Both the results file and the output failing: the secret is named as reached neither, and
// nothing says it was printed.
TEST(DynregBatch, BothOutputsFailingNamesTheDeviceAndNeverSaysPrinted) {
  const std::string out_path = "/dev/full";
  auto b = dynreg::Batch::open(k_pk, numbered("dev-z", 5), out_path);
  ASSERT_TRUE(b) << b.error().message();
  Platform p;
  FailingOutput out{.fail_from = 0};
  const auto s = b->run(p.factory(), {.jobs = 1}, out.on_result());
  EXPECT_EQ(p.calls(), Names{"dev-z0"});
  EXPECT_EQ(s.lost, Names{"dev-z0"});
  EXPECT_EQ(s.unsaved, 0u);
  const auto r = dynreg::batch_outcome(s, false, out_path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  EXPECT_NE(r.error().message().find("reached neither --out /dev/full nor standard output"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("dev-z0"), std::string::npos);
  EXPECT_EQ(r.error().message().find("only standard output"), std::string::npos);
  EXPECT_EQ(r.error().hint().find("printed above"), std::string::npos) << r.error().hint();
}

// ---- signals: the first finishes the requests in flight, the second abandons them ----

namespace {

// Registrars that wait at a gate (a request in flight) until it opens; the abandon flag makes
// them give up as the HTTP layer does (Errc::interrupted).
class GatedPlatform {
public:
  explicit GatedPlatform(const std::atomic<bool>* abandon)
      : m_abandon(abandon) {}
  dynreg::RegistrarFactory factory() {
    return [this] {
      return [this](std::string_view dn) -> Result<Triplet> {
        std::unique_lock lock(m_mu);
        ++m_entered;
        m_cv.notify_all();
        while (!m_open) {
          if (m_abandon != nullptr && m_abandon->load()) {
            return Error(Errc::interrupted, "registering " + std::string(dn) + ": interrupted");
          }
          m_cv.wait_for(lock, std::chrono::milliseconds(5));
        }
        Triplet t;
        t.product_key = k_pk;
        t.device_name = std::string(dn);
        t.device_secret = Secret("ds-" + std::string(dn));
        return t;
      };
    };
  }
  void wait_entered(int n) {
    std::unique_lock lock(m_mu);
    m_cv.wait(lock, [&] { return m_entered >= n; });
  }
  int entered() {
    std::lock_guard lock(m_mu);
    return m_entered;
  }
  void open() {
    std::lock_guard lock(m_mu);
    m_open = true;
    m_cv.notify_all();
  }

private:
  const std::atomic<bool>* m_abandon;
  std::mutex m_mu;
  std::condition_variable m_cv;
  int m_entered = 0;
  bool m_open = false;
};

} // namespace

TEST(DynregBatch, TheFirstStopFinishesTheRequestsInFlightAndSavesThem) {
  test::TempDir dir;
  const auto out = dir.file("stop.jsonl");
  auto b = dynreg::Batch::open(k_pk, numbered("dev-s", 10), out);
  ASSERT_TRUE(b);
  std::atomic<bool> stop{false};
  GatedPlatform p(nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::size_t> said;
  dynreg::BatchSummary s;
  std::thread runner([&] {
    s = b->run(p.factory(),
               {.jobs = 3,
                .stop = &stop,
                .on_stopping =
                    [&](std::size_t n) {
                      std::lock_guard lock(mu);
                      said = n;
                      cv.notify_all();
                    }},
               [](const auto&, const auto&) { return true; });
  });
  p.wait_entered(3);
  stop = true; // SIGINT with three requests sent
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return said.has_value(); });
  }
  p.open();
  runner.join();
  ASSERT_TRUE(said.has_value());
  EXPECT_EQ(*said, 3u);
  EXPECT_EQ(p.entered(), 3) << "no device started after the stop";
  EXPECT_EQ(s.counts.ok, 3u);
  EXPECT_EQ(s.saved_and_shown, 3u);
  EXPECT_EQ(s.not_started, 7u);
  EXPECT_TRUE(s.abandoned.empty());
  EXPECT_EQ(records(slurp(out)).size(), 3u) << "each secret in flight is saved";
  const auto r = dynreg::batch_outcome(s, true, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::interrupted);
  EXPECT_EQ(r.error().message(), "register: interrupted");
}

TEST(DynregBatch, TheSecondSignalAbandonsTheRequestsAndNamesThem) {
  test::TempDir dir;
  const auto out = dir.file("abandon.jsonl");
  auto b = dynreg::Batch::open(k_pk, numbered("dev-t", 10), out);
  ASSERT_TRUE(b);
  std::atomic<bool> stop{false};
  std::atomic<bool> abandon{false};      // the second signal
  std::atomic<bool> http_abandon{false}; // the registrars' flag: set after it was said
  GatedPlatform p(&http_abandon);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::size_t> stopping;
  std::optional<std::size_t> abandoning;
  dynreg::BatchSummary s;
  std::thread runner([&] {
    s = b->run(p.factory(),
               {.jobs = 2,
                .stop = &stop,
                .abandon = &abandon,
                .on_stopping =
                    [&](std::size_t n) {
                      std::lock_guard lock(mu);
                      stopping = n;
                      cv.notify_all();
                    },
                .on_abandoning =
                    [&](std::size_t n) {
                      std::lock_guard lock(mu);
                      abandoning = n;
                      cv.notify_all();
                    }},
               [](const auto&, const auto&) { return true; });
  });
  p.wait_entered(2);
  stop = true;
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stopping.has_value(); });
  }
  abandon = true;
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return abandoning.has_value(); });
  }
  http_abandon = true;
  runner.join();
  ASSERT_TRUE(stopping.has_value());
  EXPECT_EQ(*stopping, 2u);
  ASSERT_TRUE(abandoning.has_value());
  EXPECT_EQ(*abandoning, 2u);
  EXPECT_EQ(std::set<std::string>(s.abandoned.begin(), s.abandoned.end()),
            (std::set<std::string>{"dev-t0", "dev-t1"}));
  const auto r = dynreg::batch_outcome(s, true, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::interrupted);
  EXPECT_NE(r.error().message().find(
                "2 request(s) sent, answer not read — check these on the console: dev-t"),
            std::string::npos)
      << r.error().message();
}

// After a stop, a device whose request timed out is named with those abandoned: its answer, if
// one came, was not read.
TEST(DynregBatch, AfterAStopATimedOutRequestIsNamedAsUnread) {
  dynreg::BatchSummary s;
  s.counts.total = 4;
  s.counts.failed = 2;
  s.first_error = Error(Errc::timeout, "registering dev-u1: timed out");
  s.abandoned = {"dev-u2"};
  s.timed_out = {"dev-u1"};
  auto r = dynreg::batch_outcome(s, true, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::interrupted);
  EXPECT_NE(r.error().message().find(
                "2 request(s) sent, answer not read — check these on the console: dev-u2, dev-u1"),
            std::string::npos)
      << r.error().message();
  // Without a stop, a timeout is an ordinary failure of its device.
  s.abandoned.clear();
  r = dynreg::batch_outcome(s, false, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::timeout);
}

// ---- credentials from the platform that aliot would refuse later ----

TEST(DynregReply, ASecretThatIsNotAcceptedTextIsRefusedAtReceipt) {
  dynreg::Request req;
  req.product_key = k_pk;
  req.device_name = "dev-q1";
  auto reply = [](const std::string& ds) {
    return nlohmann::json{
        {"code", 200},
        {"data", {{"productKey", k_pk}, {"deviceName", "dev-q1"}, {"deviceSecret", ds}}}}
        .dump();
  };
  EXPECT_TRUE(dynreg::parse_https_reply(200, reply("0123456789abcdef0123456789abcdef"), req));
  for (const std::string& bad :
       {std::string("abc\ndef"), std::string("abc\0def", 7), std::string("ab\x1b[2Jcd"),
        std::string("ab\x7f"), std::string("a b"), std::string(65, 'a')}) {
    const auto body = reply(bad);
    const auto t = dynreg::parse_https_reply(200, body, req);
    ASSERT_FALSE(t) << body;
    EXPECT_EQ(t.error().code(), Errc::remote);
    EXPECT_NE(t.error().message().find("credentials aliot cannot use"), std::string::npos);
    EXPECT_EQ(t.error().message().find(bad), std::string::npos) << "the secret is not quoted";
    EXPECT_TRUE(dynreg::https_reply_may_hold_credentials(200, body));
  }
  // Over MQTT: the secret, and a regnwl token, by the same rules.
  const auto m = dynreg::parse_mqtt_reply(
      "/ext/register",
      nlohmann::json{{"productKey", k_pk}, {"deviceName", "dev-q1"}, {"deviceSecret", "a\tb"}}
          .dump(),
      req);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::remote);
  const auto n = dynreg::parse_mqtt_reply("/ext/regnwl",
                                          nlohmann::json{{"productKey", k_pk},
                                                         {"deviceName", "dev-q1"},
                                                         {"clientId", "c1"},
                                                         {"deviceToken", "t\x1b"}}
                                              .dump(),
                                          req);
  ASSERT_FALSE(n);
  // A refusal by the platform carries nothing issued; a 2xx that is not JSON may.
  EXPECT_FALSE(dynreg::https_reply_may_hold_credentials(200, R"({"code":6288,"message":"x"})"));
  EXPECT_FALSE(dynreg::https_reply_may_hold_credentials(503, "<html>"));
  EXPECT_TRUE(dynreg::https_reply_may_hold_credentials(
      200, "{\"code\":200,\"data\":{\"deviceSecret\":\"\xff\"}}"));
  EXPECT_FALSE(dynreg::https_reply_may_hold_credentials(200, "<html>\xff</html>"));
}

TEST(DynregReply, ARefusedReplyIsKeptByteForByteInAPrivateFile) {
  test::TempDir dir;
  dynreg::Request req;
  req.product_key = k_pk;
  req.device_name = "dev-q2";
  constexpr char raw_bytes[] = "{\"deviceSecret\":\"a\x1b\xff\0b\"}";
  const std::string raw(raw_bytes, sizeof raw_bytes - 1);
  const auto qdir = dir.file("state/aliot/quarantine");
  const auto e =
      dynreg::keep_refused_reply(Error(Errc::remote, "registering x: refused"), qdir, req, raw);
  EXPECT_EQ(e.code(), Errc::remote);
  const auto at = e.message().find("; the raw reply is kept in " + qdir + "/");
  ASSERT_NE(at, std::string::npos) << e.message();
  const std::string path =
      e.message().substr(at + std::string("; the raw reply is kept in ").size());
  EXPECT_EQ(path.rfind(qdir + "/" + k_pk + ".dev-q2.", 0), 0u) << path;
  EXPECT_EQ(slurp(path), raw);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(qdir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // Nowhere to keep it: an I/O error that says the credentials are lost.
  const auto lost = dynreg::keep_refused_reply(Error(Errc::remote, "registering x: refused"),
                                               "/dev/null/quarantine", req, raw);
  EXPECT_EQ(lost.code(), Errc::io);
  EXPECT_NE(lost.message().find("keeping the raw reply failed"), std::string::npos);
}
