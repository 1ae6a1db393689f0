// The cloud commands against the local platform emulator (`aliot emulate cloud`), with peers we
// did not write on the device side (mosquitto_pub/mosquitto_sub logged in with the credentials
// `aliot sign --for mosquitto-lines|-eval` prints) and curl on the cloud side.
#include "emulator.hpp"

#include "cloud_support.hpp"

#include <aliot/encoding.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <thread>

using namespace aliot::test;
using nlohmann::json;

namespace {

constexpr const char* k_dummy_ds = "0123456789abcdef0123456789abcdef";
constexpr const char* k_emu_aksecret = "EmuAkSecret000000000000000000001";

// The batch tests' size in percent: under ASan (scripts/test.sh) every process of the batches
// (one per pre-registered device, the emulator's registry) is several times slower, so the
// sanitizer run registers fewer devices with the same assertions.
#if defined(__SANITIZE_ADDRESS__)
constexpr int k_batch_scale = 30;
#else
constexpr int k_batch_scale = 100;
#endif

class OnEmulator : public SharedEmulator<OnEmulator> {
public:
  static void prepare(Emulator& emu) {
    emu.add_product(k_pk, k_ps, true);
    emu.add_product("a1NoDynReg1", k_ps, false);
    emu.add_access_key(k_akid, k_emu_aksecret);
  }

protected:
  static Env env() {
    Env e(s_emu->env().begin(), s_emu->env().end());
    e["ALIOT_PRODUCT_SECRET"] = k_ps;
    e["ALIOT_ACCESS_KEY_ID"] = k_akid;
    e["ALIOT_ACCESS_KEY_SECRET"] = k_emu_aksecret;
    return e;
  }

  // mosquitto client arguments that log in as the device of a triplet file.
  std::vector<std::string> mosquitto_args(const std::string& triplet) {
    const auto r =
        run_aliot({"sign", "--triplet", triplet, "--for", "mosquitto-lines"}, {.env = env()});
    EXPECT_EQ(r.status, 0) << r.err;
    // One argument per line, exactly as the client takes it.
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string a; std::getline(in, a);) {
      out.push_back(a);
    }
    return out;
  }

  // Registers dn over HTTPS and returns the path of its triplet file.
  std::string register_one(const std::string& dn) {
    const auto r = run_aliot({"register", "-k", k_pk, "-d", dn}, {.env = env()});
    EXPECT_EQ(r.status, 0) << r.err;
    return dir.write(dn + ".json", r.out);
  }

  // Logs in as the device with mosquitto_pub; true if the platform accepted the login.
  bool can_log_in(const std::string& triplet) {
    auto args = mosquitto_args(triplet);
    std::vector<std::string> argv{"mosquitto_pub"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ifstream f(triplet);
    const auto t = json::parse(f);
    const std::string topic = "/" + t["ProductKey"].get<std::string>() + "/"
                              + t["DeviceName"].get<std::string>() + "/user/update";
    argv.insert(argv.end(), {"-t", topic, "-m", "hi", "-q", "1"});
    const auto r = run(argv, {.timeout_s = 15});
    return r.status == 0;
  }

  // Pre-registers every DeviceName of `names` (one a line) through the emulator's registry
  // command, four at a time.
  void add_devices(const std::string& names) {
    const auto r =
        sh("xargs -P 4 -I{} '" + aliot_bin() + "' emulate cloud add-device --dir '" + s_emu->dir()
               + "' -k a1FakePK001 -d {} >/dev/null",
           {.input = names, .env = {{"ALIOT_DEVICE_SECRET", k_dummy_ds}}, .timeout_s = 120});
    ASSERT_EQ(r.status, 0) << r.err;
  }

  TempDir dir;
};

} // namespace

TEST_F(OnEmulator, RegisterThenLogInWithTheNewSecret) {
  s_emu->add_device(k_pk, "emu-dev-1", k_dummy_ds);
  const auto t = register_one("emu-dev-1");
  EXPECT_TRUE(can_log_in(t)) << s_emu->log();
  // Once activated, registering again is refused (exit 7) with what to do.
  const auto r = run_aliot({"register", "-k", k_pk, "-d", "emu-dev-1"}, {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("reset"), std::string::npos) << r.err;
}

TEST_F(OnEmulator, CurlSendingTheDryRunFormGetsTheSameKindOfReply) {
  s_emu->add_device(k_pk, "emu-curl-1", k_dummy_ds);
  const auto d = run_aliot({"register", "-k", k_pk, "-d", "emu-curl-1", "--dry-run", "-o", "json"},
                           {.env = env()});
  ASSERT_EQ(d.status, 0) << d.err;
  const auto j = json::parse(d.out);
  const auto c = run({"curl", "-sS", "--cacert", s_emu->ca_file(), "--data-binary",
                      j["body"].get<std::string>(), j["url"].get<std::string>()});
  ASSERT_EQ(c.status, 0) << c.err;
  const auto reply = json::parse(c.out);
  EXPECT_EQ(reply["code"], 200) << c.out;
  EXPECT_EQ(reply["data"]["deviceName"], "emu-curl-1");
  // And the triplet curl got logs in.
  const json t{{"ProductKey", k_pk},
               {"DeviceName", "emu-curl-1"},
               {"DeviceSecret", reply["data"]["deviceSecret"]}};
  EXPECT_TRUE(can_log_in(dir.write("curl.json", t.dump())));
}

TEST_F(OnEmulator, EachErrorReply) {
  s_emu->add_device("a1NoDynReg1", "emu-off-1", k_dummy_ds);
  auto r = run_aliot({"register", "-k", "a1NoDynReg1", "-d", "emu-off-1"}, {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("switch on dynamic registration"), std::string::npos) << r.err;

  r = run_aliot({"register", "-k", k_pk, "-d", "emu-nobody"}, {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.err.find("pre-register"), std::string::npos) << r.err;

  s_emu->add_device(k_pk, "emu-badsign", k_dummy_ds);
  r = run_aliot({"register", "-k", k_pk, "-d", "emu-badsign"},
                {.env = merge(env(), {{"ALIOT_PRODUCT_SECRET", "not-the-product-secret"}})});
  EXPECT_EQ(r.status, 4) << r.err;
}

TEST_F(OnEmulator, BatchOf200WithEightJobs) {
  const int n = k_batch_scale * 200 / 100;
  std::string names;
  for (int i = 0; i < n; ++i) {
    const std::string dn = "emu-batch-" + std::to_string(i);
    names += dn + "\n";
  }
  // Pre-register them through the emulator's registry command (one process each).
  add_devices(names);
  const auto file = dir.write("names.txt", names);
  const auto out = dir.file("batch.jsonl");
  const auto r = run_aliot(
      {"register", "-k", k_pk, "--names", file, "-j", "8", "--out", out, "--timeout", "60s"},
      {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = secrets_in(dir.read("batch.jsonl"));
  EXPECT_EQ(got.size(), static_cast<std::size_t>(n));
  EXPECT_NE(r.err.find("registered " + std::to_string(n) + ", failed 0"), std::string::npos)
      << r.err;
  // Spot-check that the secrets are the ones the emulator holds: they log in.
  for (const auto& dn : {std::string("emu-batch-0"), "emu-batch-" + std::to_string(n * 117 / 200),
                         "emu-batch-" + std::to_string(n - 1)}) {
    const json t{{"ProductKey", k_pk}, {"DeviceName", dn}, {"DeviceSecret", got.at(dn)}};
    EXPECT_TRUE(can_log_in(dir.write(dn + ".json", t.dump()))) << dn;
  }
}

TEST_F(OnEmulator, KillNineMidBatchThenRerunEveryDeviceHasItsLatestSecret) {
  const int n = k_batch_scale * 100 / 100;
  std::string names;
  for (int i = 0; i < n; ++i) {
    names += "emu-crash-" + std::to_string(i) + "\n";
  }
  add_devices(names);
  const auto file = dir.write("names.txt", names);
  const auto out = dir.file("crash.jsonl");
  const std::vector<std::string> args{"register", "-k",    k_pk, "--names",   file, "-j",
                                      "2",        "--out", out,  "--timeout", "60s"};
  std::vector<std::string> argv{aliot_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  {
    Background b(argv, {.env = env()});
    for (int i = 0; i < 500; ++i) {
      if (lines_of(dir.read("crash.jsonl")).size() >= 10) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    b.signal(SIGKILL);
    b.wait(std::chrono::seconds(5));
  }
  const auto partial = lines_of(dir.read("crash.jsonl")).size();
  EXPECT_GE(partial, 1u);
  const auto r = run_aliot(args, {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = secrets_in(dir.read("crash.jsonl"));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  // Every secret in the file is the one the emulator holds: each device logs in with it.
  int checked = 0;
  for (const auto& [dn, ds] : got) {
    if (checked++ % 10 != 0) {
      continue; // every tenth device (each login is a process pair)
    }
    const json t{{"ProductKey", k_pk}, {"DeviceName", dn}, {"DeviceSecret", ds}};
    EXPECT_TRUE(can_log_in(dir.write(dn + ".json", t.dump()))) << dn;
  }
}

TEST_F(OnEmulator, CloudPubIsSeenByMosquittoSubLoggedInAsTheDevice) {
  s_emu->add_device(k_pk, "emu-pub-1", k_dummy_ds);
  const json tj{{"ProductKey", k_pk}, {"DeviceName", "emu-pub-1"}, {"DeviceSecret", k_dummy_ds}};
  const auto t = dir.write("pub.json", tj.dump());
  auto args = mosquitto_args(t);
  std::vector<std::string> argv{"stdbuf", "-oL", "mosquitto_sub"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-t", "/a1FakePK001/emu-pub-1/user/get", "-C", "1", "-W", "20", "-d"});
  Background sub(argv);
  // Wait for the SUBACK (mosquitto_sub -d logs it on stdout).
  ASSERT_TRUE(sub.wait_for("SUBACK", std::chrono::seconds(15))) << sub.err();
  const auto r = run_aliot({"cloud", "pub", "-k", k_pk, "-d", "emu-pub-1", "-t", "user/get", "-m",
                            R"({"cmd":"ping"})", "-q", "1"},
                           {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  ASSERT_TRUE(sub.wait_for(R"({"cmd":"ping"})", std::chrono::seconds(10))) << sub.out();
}

TEST_F(OnEmulator, RrpcCallAnsweredByMosquittoClients) {
  s_emu->add_device(k_pk, "emu-rrpc-1", k_dummy_ds);
  const json tj{{"ProductKey", k_pk}, {"DeviceName", "emu-rrpc-1"}, {"DeviceSecret", k_dummy_ds}};
  const auto t = dir.write("rrpc.json", tj.dump());
  std::string creds =
      run_aliot({"sign", "--triplet", t, "--for", "mosquitto-eval"}, {.env = env()}).out;
  while (!creds.empty() && creds.back() == '\n') {
    creds.pop_back();
  }
  // The device: subscribe (say READY after the SUBACK), wait for one request, then answer on
  // the matching response topic.
  const std::string script =
      "stdbuf -oL mosquitto_sub " + creds
      + " -t '/sys/a1FakePK001/emu-rrpc-1/rrpc/request/+' -C 1 -W 20 -v -d |\n"
        "while IFS= read -r line; do\n"
        "  case \"$line\" in\n"
        "    *'received SUBACK'*) echo READY ;;\n"
        "    /sys/*) topic=${line%% *}; payload=${line#* }\n"
        "      mosquitto_pub "
      + creds
      + " -t \"${topic/request/response}\" -m \"pong:$payload\"; echo ANSWERED ;;\n"
        "  esac\n"
        "done\n";
  const auto sf = dir.write("device.sh", script, 0700);
  Background device({"bash", sf});
  ASSERT_TRUE(device.wait_for("READY", std::chrono::seconds(15))) << device.err();
  const auto r =
      run_aliot({"rrpc", "call", "-k", k_pk, "-d", "emu-rrpc-1", "-m", "ping", "--timeout", "8s"},
                {.env = env()});
  EXPECT_EQ(r.status, 0) << r.err << device.err();
  EXPECT_EQ(r.out, "pong:ping\n");
}

TEST_F(OnEmulator, RrpcTimeoutAndOffline) {
  s_emu->add_device(k_pk, "emu-rrpc-2", k_dummy_ds);
  // OFFLINE: nobody is connected as the device.
  auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "emu-rrpc-2", "-m", "x", "-o", "json"},
                     {.env = env()});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_NE(r.out.find("OFFLINE"), std::string::npos) << r.out;

  // TIMEOUT: the device is subscribed but never answers.
  const json tj{{"ProductKey", k_pk}, {"DeviceName", "emu-rrpc-2"}, {"DeviceSecret", k_dummy_ds}};
  auto args = mosquitto_args(dir.write("r2.json", tj.dump()));
  std::vector<std::string> argv{"stdbuf", "-oL", "mosquitto_sub"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-t", "/sys/a1FakePK001/emu-rrpc-2/rrpc/request/+", "-d"});
  Background sub(argv);
  ASSERT_TRUE(sub.wait_for("SUBACK", std::chrono::seconds(15))) << sub.err();
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "emu-rrpc-2", "-m", "x", "--timeout", "1s"},
                {.env = env()});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("TIMEOUT"), std::string::npos) << r.err;
}

TEST_F(OnEmulator, BadAccessKeySecretIsExit4AndCurlReplaysADryRun) {
  auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "emu-any", "-m", "x"},
                     {.env = merge(env(), {{"ALIOT_ACCESS_KEY_SECRET", "wrong-secret"}})});
  EXPECT_EQ(r.status, 4) << r.err;
  r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "emu-any", "-m", "x", "--timeout", "9s"},
                {.env = env()});
  EXPECT_EQ(r.status, 2) << r.err;

  // A peer on the wire: the request --dry-run prints, sent by curl, is accepted.
  const auto d = run_aliot(
      {"cloud", "pub", "-t", "/a1FakePK001/emu-any/user/get", "-m", "x", "--dry-run", "-o", "json"},
      {.env = env()});
  ASSERT_EQ(d.status, 0) << d.err;
  const auto j = json::parse(d.out);
  const auto c = run(
      {"curl", "-sS", "--data-binary", j["body"].get<std::string>(), j["url"].get<std::string>()});
  ASSERT_EQ(c.status, 0) << c.err;
  const auto reply = json::parse(c.out);
  EXPECT_EQ(reply["Success"], true) << c.out;
  EXPECT_TRUE(reply.contains("MessageId")) << c.out;
}

TEST_F(OnEmulator, RegisterOverMqttPreregisteredThenLogIn) {
  s_emu->add_device(k_pk, "emu-mq-1", k_dummy_ds);
  auto r = run_aliot({"register", "-k", k_pk, "-d", "emu-mq-1", "--via", "mqtt", "-o", "json"},
                     {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["DeviceName"], "emu-mq-1");
  EXPECT_NE(j["DeviceSecret"], k_dummy_ds);
  EXPECT_TRUE(can_log_in(dir.write("mq1.json", r.out)));
  // Unknown device or a wrong ProductSecret: the platform refuses the CONNECT (exit 4).
  r = run_aliot({"register", "-k", k_pk, "-d", "emu-mq-nobody", "--via", "mqtt"}, {.env = env()});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("aliot: hint:"), std::string::npos) << r.err;
}

TEST_F(OnEmulator, RegisterOverMqttWithoutPreregistrationYieldsAWorkingToken) {
  const auto r = run_aliot({"register", "-k", k_pk, "-d", "emu-nwl-1", "--via", "mqtt",
                            "--no-preregister", "-o", "json"},
                           {.env = env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  ASSERT_TRUE(j.contains("ClientId")) << r.out;
  ASSERT_TRUE(j.contains("DeviceToken")) << r.out;
  EXPECT_FALSE(j.contains("DeviceSecret"));
  // Log in in connwl mode with mosquitto_pub (spec 2.5): clientId|securemode=-2,authType=connwl|,
  // the token as password.
  const auto e = s_emu->env();
  const auto p = run({"mosquitto_pub",
                      "-h",
                      e.at("ALIOT_MQTT_HOST"),
                      "-p",
                      e.at("ALIOT_MQTT_PORT"),
                      "--cafile",
                      e.at("ALIOT_CA_FILE"),
                      "-V",
                      "mqttv311",
                      "-i",
                      j["ClientId"].get<std::string>() + "|securemode=-2,authType=connwl|",
                      "-u",
                      "emu-nwl-1&a1FakePK001",
                      "-P",
                      j["DeviceToken"].get<std::string>(),
                      "-t",
                      "/a1FakePK001/emu-nwl-1/user/update",
                      "-m",
                      "hi",
                      "-q",
                      "1"},
                     {.timeout_s = 15});
  EXPECT_EQ(p.status, 0) << p.err;
}

// 64 connections that send half a request header and then nothing must not block the OpenAPI:
// a cloud call through the real binary answers as it does on an idle emulator.
TEST_F(OnEmulator, SlowHeaderConnectionsDoNotBlockTheOpenApi) {
  s_emu->add_device(k_pk, "emu-slow-1", k_dummy_ds);
  const std::string api = s_emu->api_endpoint();
  const int port = std::stoi(api.substr(api.rfind(':') + 1));
  std::vector<int> socks;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string half = "GET /emu/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(half.size()));
    socks.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200)); // every one taken by the server
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_aliot(
      {"cloud", "pub", "-k", k_pk, "-d", "emu-slow-1", "-t", "user/get", "-m", "hi", "-q", "0"},
      {.env = env()});
  const auto took = std::chrono::steady_clock::now() - t0;
  for (const int fd : socks) {
    ::close(fd);
  }
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LT(took, std::chrono::seconds(3))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}
