// The library's dynamic registration over MQTT (dynreg::register_mqtt, and a Batch of MQTT
// registrars) against the platform emulator, without the command line: typed results, the
// platform's refusals, the interrupt flag, and a login with what was issued.
#include "cloud_support.hpp"
#include "emulator.hpp"

#include <aliot/dynreg.hpp>
#include <aliot/dynreg_batch.hpp>
#include <aliot/mqtt.hpp>

#include <atomic>

using namespace aliot;
using namespace aliot::test;

namespace {

constexpr const char* k_dummy_ds = "0123456789abcdef0123456789abcdef";

class DynregLib : public SharedEmulator<DynregLib> {
public:
  static void prepare(Emulator& emu) { emu.add_product(k_pk, k_ps, true); }

protected:
  static dynreg::MqttOptions options(bool preregistered = true) {
    dynreg::MqttOptions o;
    o.endpoint.host = s_emu->host();
    o.endpoint.port = s_emu->mqtt_tls_port();
    o.endpoint.ca_file = s_emu->ca_file();
    o.preregistered = preregistered;
    o.timeout = std::chrono::milliseconds(10000);
    return o;
  }

  static dynreg::Request request(const std::string& dn) {
    dynreg::Request r;
    r.product_key = k_pk;
    r.device_name = dn;
    r.random = dynreg::new_random();
    return r;
  }

  // Whether the platform accepts a login with these credentials.
  static bool logs_in(const sign::MqttCredentials& cred) {
    mqtt::Session s;
    mqtt::ConnectParams p;
    p.endpoint.host = s_emu->host();
    p.endpoint.port = s_emu->mqtt_tls_port();
    p.endpoint.ca_file = s_emu->ca_file();
    p.client_id = cred.client_id;
    p.username = cred.username;
    p.password = cred.password;
    const bool ok = s.connect(p, mqtt::after(std::chrono::seconds(10))).has_value();
    s.disconnect(mqtt::after(std::chrono::seconds(1)));
    return ok;
  }
};

} // namespace

TEST_F(DynregLib, PreregisteredDeviceGetsASecretThatLogsIn) {
  ASSERT_EQ(s_emu->add_device(k_pk, "lib-mq-1", k_dummy_ds).status, 0);
  const auto t = dynreg::register_mqtt(options(), request("lib-mq-1"), Secret(k_ps));
  ASSERT_TRUE(t) << t.error().message() << "\n" << s_emu->log();
  EXPECT_EQ(t->product_key, k_pk);
  EXPECT_EQ(t->device_name, "lib-mq-1");
  EXPECT_FALSE(t->client_id);
  ASSERT_FALSE(t->device_secret.empty());
  EXPECT_NE(t->device_secret.reveal(), k_dummy_ds);
  sign::MqttParams p;
  p.product_key = k_pk;
  p.device_name = "lib-mq-1";
  p.timestamp = "1700000000000";
  EXPECT_TRUE(logs_in(sign::mqtt_credentials(p, t->device_secret)));
}

TEST_F(DynregLib, WithoutPreregistrationAClientIdAndTokenThatLogIn) {
  const auto t = dynreg::register_mqtt(options(false), request("lib-nwl-1"), Secret(k_ps));
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_TRUE(t->client_id);
  EXPECT_FALSE(t->client_id->empty());
  EXPECT_TRUE(t->device_secret.empty());
  ASSERT_FALSE(t->device_token.empty());
  EXPECT_TRUE(logs_in(sign::token_credentials(*t->client_id, k_pk, "lib-nwl-1", t->device_token)));
}

TEST_F(DynregLib, RefusalsAreAuthErrorsWithWhatToCheck) {
  auto t = dynreg::register_mqtt(options(), request("lib-nobody"), Secret(k_ps));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), Errc::auth);
  EXPECT_NE(t.error().message().find("registering a1FakePK001/lib-nobody over MQTT"),
            std::string::npos)
      << t.error().message();
  EXPECT_NE(t.error().hint().find("pre-registered"), std::string::npos) << t.error().hint();

  ASSERT_EQ(s_emu->add_device(k_pk, "lib-badps", k_dummy_ds).status, 0);
  t = dynreg::register_mqtt(options(), request("lib-badps"), Secret("wrong"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), Errc::auth);
  EXPECT_NE(t.error().hint().find("ProductSecret"), std::string::npos);

  t = dynreg::register_mqtt(options(false), request("lib-nwl-bad"), Secret("wrong"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), Errc::auth);
  EXPECT_NE(t.error().hint().find("without pre-registration"), std::string::npos);
}

TEST_F(DynregLib, TheInterruptFlagCutsItShort) {
  std::atomic<bool> stop{true};
  auto o = options(false);
  o.interrupt = &stop;
  const auto t = dynreg::register_mqtt(o, request("lib-int-1"), Secret(k_ps));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), Errc::interrupted);
}

TEST_F(DynregLib, ABatchOfMqttRegistrarsFillsTheResultsFile) {
  TempDir dir;
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) {
    names.push_back("lib-batch-" + std::to_string(i));
  }
  dynreg::Settings s;
  s.product_key = k_pk;
  s.product_secret = Secret(k_ps);
  s.via = dynreg::Via::mqtt;
  s.mqtt = options(false);
  const auto out = dir.file("out.jsonl");
  auto b = dynreg::Batch::open(k_pk, names, out);
  ASSERT_TRUE(b) << b.error().message();
  const auto sum = b->run([&] { return dynreg::make_registrar(s); }, {.jobs = 3}, {});
  EXPECT_EQ(sum.counts.ok, 8u);
  EXPECT_FALSE(sum.first_error) << sum.first_error->message();
  const auto lines = lines_of(dir.read("out.jsonl"));
  ASSERT_EQ(lines.size(), 8u);
  for (const auto& l : lines) {
    const auto t = parse_triplet_json(l, "out.jsonl");
    ASSERT_TRUE(t) << l;
    EXPECT_FALSE(t->device_token.empty());
  }
  // A re-run finds every device in the file and registers none.
  auto again = dynreg::Batch::open(k_pk, names, out);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->skipped(), 8u);
}
