// The leak scan: every end-to-end flow at -vvv (register, sign, connect, pub, sub, cloud pub,
// rrpc serve and call, cloud sub, config show, burn, journal export) against the emulator and the
// switch simulator, and then every output (each stdout and stderr), the emulator's broker log, the
// factory journal (its SQLite files as bytes) and its exports, and any core file left in the
// working directory scanned for every secret the flows used: DeviceSecrets, the ProductSecret, the
// AccessKey secret and the MQTT passwords (signatures), each in plain, hex and base64 forms. What
// must hold a secret is left out: the --out file, the emulator's registry (it is the platform), and
// the result a command exists to print (register's new DeviceSecret, sign's password). The scan
// is shown finding a planted secret in each form.
#include "emulator.hpp"
#include "faults_support.hpp"
#include "secrets.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

using namespace aliot::test;
using nlohmann::json;

namespace {

constexpr const char* k_pk = "a1LeakPK001";
constexpr const char* k_ps = "psLeakScan0123456789";
constexpr const char* k_dn = "leak-dev1";
constexpr const char* k_ds = "1eaf5ec7e7d5000000000000000000ab";
constexpr const char* k_akid = "LTAIleakScan01";
constexpr const char* k_aks = "akLeakScanSecret0123456789";
constexpr const char* k_ts = "1700000000000"; // a fixed timestamp: the passwords are known
constexpr const char* k_sw_ds = "0123456789abcdefABCDEF0123456789";

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string base64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(s[i]) << 16)
                       | (static_cast<unsigned char>(s[i + 1]) << 8)
                       | static_cast<unsigned char>(s[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == s.size()) {
    const unsigned v = static_cast<unsigned char>(s[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    const unsigned v =
        (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string unhex(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// A secret in the forms it could leak in: as is, hex of its bytes, base64 of its bytes, and for a
// hex digest (a password) the base64 of the digest's bytes and its upper-case spelling.
std::vector<std::string> forms(const std::string& s) {
  std::vector<std::string> out{s, hex(s), base64(s)};
  if (s.find_first_not_of("0123456789abcdef") == std::string::npos && s.size() % 2 == 0) {
    out.push_back(base64(unhex(s)));
    std::string up = s;
    for (auto& c : up) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    out.push_back(up);
  }
  return out;
}

} // namespace

TEST(LeakScan, TheScanFindsAPlantedSecretInEachForm) {
  for (const auto& f : forms("8f34466276d6547c3aeec5ed75463fcd")) {
    EXPECT_FALSE(no_secret_in(forms("8f34466276d6547c3aeec5ed75463fcd"),
                              {text("planted", "aliot: debug: x=" + f + "\n")}))
        << f;
  }
  EXPECT_TRUE(no_secret_in(forms("8f34466276d6547c3aeec5ed75463fcd"),
                           {text("clean", "aliot: debug: nothing here\n")}));
}

TEST(LeakScan, NoSecretInAnyOutputLogJournalOrCoreFileAtVvv) {
  Emulator emu;
  ASSERT_EQ(emu.add_product(k_pk, k_ps).status, 0);
  ASSERT_EQ(emu.add_device(k_pk, k_dn, k_ds).status, 0);
  ASSERT_EQ(emu.add_device(k_pk, "leak-new1", "00000000000000000000000000000000").status, 0);
  ASSERT_EQ(emu.add_access_key(k_akid, k_aks).status, 0);
  ASSERT_EQ(run_aliot({"emulate", "cloud", "add-consumer-group", "--dir", emu.dir(), "-k", k_pk,
                       "--consumer-group", "LEAKG1"})
                .status,
            0);
  TempDir work; // every command runs here: a core file would land here
  Env env = emu.env();
  env["ALIOT_ACCESS_KEY_ID"] = k_akid;
  env["ALIOT_ACCESS_KEY_SECRET"] = k_aks;
  Env dev_env = env;
  dev_env["ALIOT_DEVICE_SECRET"] = k_ds;
  const RunOptions dev{.env = dev_env, .timeout_s = 60, .cwd = work.path()};
  const RunOptions cloud{.env = env, .timeout_s = 60, .cwd = work.path()};
  const std::vector<std::string> device{"-k", k_pk, "-d", k_dn, "--timestamp", k_ts};

  std::vector<std::string> secrets;
  for (const char* s : {k_ps, k_ds, k_aks, k_sw_ds}) {
    const auto f = forms(s);
    secrets.insert(secrets.end(), f.begin(), f.end());
  }
  std::vector<Scanned> places;
  std::vector<std::string> flows;
  auto keep = [&](const std::string& name, const ProcResult& r, int status = 0) {
    EXPECT_EQ(r.status, status) << name << ": "
                                << r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0);
    places.push_back(text(name + " stderr", r.err));
    places.push_back(text(name + " stdout", r.out));
    flows.push_back(name);
  };

  // sign: its stdout is the password (asked for); every method's password joins the secrets.
  for (const char* m : {"hmacsha256", "hmacsha1", "hmacmd5"}) {
    const auto s = run_aliot(cat({"-vvv", "sign", "-o", "json", "--sign-method", m}, device), dev);
    ASSERT_EQ(s.status, 0) << s.err;
    const auto pw = json::parse(s.out)["password"].get<std::string>();
    const auto f = forms(pw);
    secrets.insert(secrets.end(), f.begin(), f.end());
    places.push_back(text(std::string("sign ") + m + " stderr", s.err));
  }
  flows.emplace_back("sign");

  // register (dynamic registration with the ProductSecret); --out holds the new secret.
  Env reg_env = env;
  reg_env["ALIOT_PRODUCT_SECRET"] = k_ps;
  const auto reg = run_aliot({"-vvv", "register", "-k", k_pk, "-d", "leak-new1", "--out",
                              work.file("out.jsonl"), "-o", "json"},
                             {.env = reg_env, .timeout_s = 60, .cwd = work.path()});
  ASSERT_EQ(reg.status, 0) << reg.err;
  // With --out the new secret is in the file only; stdout says where it went.
  const auto new_ds = json::parse(work.read("out.jsonl"))["DeviceSecret"].get<std::string>();
  places.push_back(text("register stdout", reg.out));
  places.push_back(text("register stderr", reg.err));
  flows.emplace_back("register");

  keep("connect", run_aliot(cat({"-vvv", "connect"}, device), dev));
  keep("pub",
       run_aliot(cat({"-vvv", "pub", "-t", "user/update", "-q", "1", "-m", "hi"}, device), dev));
  keep("pub --tcp",
       run_aliot(cat({"-vvv", "pub", "--tcp", "-t", "user/update", "-q", "1", "-m", "hi"}, device),
                 dev));
  {
    Background sub(
        cat({aliot_bin(), "-vvv", "sub", "-t", "user/get", "-q", "1", "-C", "1", "-W", "30"},
            device),
        dev);
    ASSERT_TRUE(wait_err(sub, "subscribed to", std::chrono::seconds(30))) << sub.err();
    keep("cloud pub", run_aliot({"-vvv", "cloud", "pub", "-k", k_pk, "-d", k_dn, "-t", "user/get",
                                 "-q", "1", "-m", "down"},
                                cloud));
    const auto st = sub.wait(std::chrono::seconds(30));
    EXPECT_EQ(st.value_or(-1), 0) << sub.err();
    places.push_back(text("sub stderr", sub.err()));
    places.push_back(text("sub stdout", sub.out()));
    flows.emplace_back("sub");
  }
  {
    Background serve(cat({aliot_bin(), "-vvv", "rrpc", "serve", "--echo", "-C", "1"}, device), dev);
    ASSERT_TRUE(wait_err(serve, "serving RRPC", std::chrono::seconds(30))) << serve.err();
    keep("rrpc call",
         run_aliot({"-vvv", "rrpc", "call", "-k", k_pk, "-d", k_dn, "-m", "ping"}, cloud));
    EXPECT_EQ(serve.wait(std::chrono::seconds(30)).value_or(-1), 0) << serve.err();
    places.push_back(text("rrpc serve stderr", serve.err()));
    places.push_back(text("rrpc serve stdout", serve.out()));
    flows.emplace_back("rrpc serve");
  }
  {
    // cloud sub (AMQP, signed with the AccessKey secret) receiving what the device publishes.
    Background csub(
        {aliot_bin(), "-vvv", "cloud", "sub", "--consumer-group", "LEAKG1", "-C", "1", "-W", "30"},
        cloud);
    ASSERT_TRUE(wait_err(csub, "connected to", std::chrono::seconds(30))) << csub.err();
    keep("pub to cloud sub",
         run_aliot(cat({"-vvv", "pub", "-t", "user/update", "-q", "1", "-m", "up"}, device), dev));
    EXPECT_EQ(csub.wait(std::chrono::seconds(30)).value_or(-1), 0) << csub.err();
    EXPECT_FALSE(csub.out().empty()) << csub.err();
    places.push_back(text("cloud sub stderr", csub.err()));
    places.push_back(text("cloud sub stdout", csub.out()));
    flows.emplace_back("cloud sub");
  }
  keep("config show", run_aliot(cat({"-vvv", "config", "show"}, device), dev));

  // burn into the switch simulator, with its journal.
  {
    const auto triplet = work.write(
        "sw.json",
        std::string(
            R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-0C8B95A1F3E2","DeviceSecret":")")
            + k_sw_ds + "\"}");
    Background sw({aliot_bin(), "emulate", "switch", "--link", work.file("dut"), "--boot-ms", "30",
                   "--commit-ms", "10", "--state", work.file("unit.json")});
    ASSERT_TRUE(sw.wait_for("switch ready", std::chrono::seconds(10))) << sw.err();
    const auto b = run_aliot({"-vvv", "burn", "--port", work.file("dut"), "--triplet", triplet,
                              "--journal", work.file("journal.db"), "-o", "json"},
                             {.timeout_s = 60, .cwd = work.path()});
    EXPECT_EQ(b.status, 0) << b.err;
    keep("burn", b);
    // The journal's exports (jobs and events, JSON Lines and CSV) are meant to leave the station.
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {}, {"--events"}, {"--format", "csv"}, {"--events", "--format", "csv"}}) {
      std::string name = "journal export";
      for (const auto& e : extra) {
        name += " " + e;
      }
      keep(name, run_aliot(cat({"-vvv", "journal", "export", "--journal", work.file("journal.db")},
                               extra),
                           {.timeout_s = 60, .cwd = work.path()}));
      EXPECT_FALSE(places.back().bytes.empty()) << name << " exported nothing";
    }
  }

  // Every file aliot left in its working directory (journal files, core files, anything), but
  // the --out file, the triplet it was given and the simulator's unit state (the device's flash).
  const auto leftovers = files_under(work.path());
  bool journal_scanned = false;
  for (const auto& f : leftovers) {
    const auto name = std::filesystem::path(f.name).filename().string();
    if (name == "out.jsonl" || name == "sw.json" || name == "unit.json") {
      continue;
    }
    journal_scanned = journal_scanned || name == "journal.db";
    places.push_back(f);
  }
  EXPECT_TRUE(journal_scanned) << "the journal was not among the scanned files";
  places.push_back(file_bytes(emu.dir() + "/mosquitto.log"));
  const auto new_forms = forms(new_ds);
  secrets.insert(secrets.end(), new_forms.begin(), new_forms.end());

  EXPECT_TRUE(no_secret_in(secrets, places));
  std::cerr << "[faults] leak scan: " << flows.size() << " flows at -vvv, " << places.size()
            << " places, " << secrets.size() << " secret forms, 0 hits expected\n";
}
