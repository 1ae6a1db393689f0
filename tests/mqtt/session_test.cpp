// The library's MQTT session (aliot::mqtt::Session) against a real mosquitto: messages queued
// from right after CONNACK (what dynamic registration over MQTT relies on), PUBACK tracking,
// SUBACK, deadlines, the interrupt flag, and the translation of CONNACK codes and backoff.
#include "broker.hpp"
#include "secrets.hpp"

#include <aliot/mqtt.hpp>

#include <gtest/gtest.h>

using namespace aliot;
using namespace aliot::test;
using namespace std::chrono_literals;

namespace {

mqtt::ConnectParams params_for(const Mosquitto& b, const std::string& dn, bool tls) {
  mqtt::ConnectParams p;
  p.endpoint.host = "127.0.0.1";
  p.endpoint.port = tls ? b.tls_port() : b.tcp_port();
  p.endpoint.tls = tls;
  p.endpoint.ca_file = tls ? b.ca() : "";
  p.client_id =
      std::string(k_pk) + "." + dn + "|securemode=3,signmethod=hmacsha256,timestamp=" + k_ts + "|";
  p.username = dn + "&" + k_pk;
  p.password = Secret(Mosquitto::password(dn, true));
  p.keepalive = 60;
  return p;
}

} // namespace

TEST(Session, QueuesMessagesAndTracksPubackOverTls) {
  Mosquitto b;
  mqtt::Session s;
  ASSERT_TRUE(s.connect(params_for(b, "devSub", true), mqtt::after(10s)));
  EXPECT_EQ(s.last_connack(), 0);
  auto g = s.subscribe({"/ext/t/#"}, 1, mqtt::after(10s));
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->at(0), 1);
  ASSERT_TRUE(s.publish("/ext/t/a", std::string("\x00\x01", 2), 1, mqtt::after(10s)));
  EXPECT_EQ(s.pending(), 0U);
  auto m = s.next_message(mqtt::after(10s));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->topic, "/ext/t/a");
  EXPECT_EQ(m->payload, std::string("\x00\x01", 2));
  EXPECT_EQ(m->qos, 1);
  // nothing more: the deadline gives Errc::timeout
  auto none = s.next_message(mqtt::after(200ms));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::timeout);
  s.disconnect(mqtt::after(2s));
  EXPECT_FALSE(s.connected());
}

TEST(Session, AMessageRightAfterConnackIsKeptForNextMessage) {
  // a persistent session gets its queued QoS 1 message delivered right after CONNACK, before
  // any SUBSCRIBE: the shape of /ext/register during dynamic registration
  Mosquitto b;
  auto p = params_for(b, "devSub", false);
  p.clean_session = false;
  {
    mqtt::Session s;
    ASSERT_TRUE(s.connect(p, mqtt::after(10s)));
    ASSERT_TRUE(s.subscribe({"/ext/register"}, 1, mqtt::after(10s)));
    s.disconnect(mqtt::after(2s));
  }
  auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                "operator", "-P", "operator-pass", "-t", "/ext/register", "-q", "1", "-m",
                "{\"deviceSecret\":\"x\"}"});
  ASSERT_EQ(r.status, 0) << r.err;
  mqtt::Session s;
  ASSERT_TRUE(s.connect(p, mqtt::after(10s)));
  auto m = s.next_message(mqtt::after(10s));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->topic, "/ext/register");
  EXPECT_EQ(m->payload, "{\"deviceSecret\":\"x\"}");
}

TEST(Session, RefusedLoginIsAuthAndClosedPortIsNetwork) {
  Mosquitto b;
  auto p = params_for(b, "devSub", false);
  p.password = Secret("pw-Zq9xK-not-it");
  mqtt::Session s;
  auto r = s.connect(p, mqtt::after(10s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::auth);
  EXPECT_EQ(s.last_connack(), 5);
  p.endpoint.port = free_port();
  auto c = s.connect(p, mqtt::after(10s));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::network) << c.error().message();
  EXPECT_TRUE(no_secret_in({"pw-Zq9xK-not-it"}, {text("error message", r.error().message()),
                                                 text("error hint", r.error().hint())}));
}

TEST(Session, InterruptFlagEndsRun) {
  Mosquitto b;
  std::atomic<bool> flag{true};
  mqtt::Session s;
  ASSERT_TRUE(s.connect(params_for(b, "devSub", false), mqtt::after(10s)));
  s.set_interrupt(&flag);
  auto r = s.run({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::interrupted);
}

TEST(Session, QosTwoIsAUsageError) {
  mqtt::Session s;
  auto r = s.publish_async("/ext/x", "p", 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
}

TEST(ConnackError, ExplainsInAliyunTerms) {
  EXPECT_EQ(mqtt::connack_error(2).code(), Errc::auth);
  EXPECT_NE(mqtt::connack_error(2).message().find("keepalive"), std::string::npos);
  EXPECT_EQ(mqtt::connack_error(4).code(), Errc::auth);
  EXPECT_EQ(mqtt::connack_error(5).code(), Errc::auth);
  EXPECT_NE(mqtt::connack_error(5).hint().find("clock is not the cause"), std::string::npos);
  EXPECT_EQ(mqtt::connack_error(3).code(), Errc::remote);
}

TEST(Backoff, DoublesUpToTheCap) {
  mqtt::Backoff b{500ms, 4000ms};
  EXPECT_EQ(b.delay(1), 500ms);
  EXPECT_EQ(b.delay(2), 1000ms);
  EXPECT_EQ(b.delay(3), 2000ms);
  EXPECT_EQ(b.delay(4), 4000ms);
  EXPECT_EQ(b.delay(10), 4000ms);
}
