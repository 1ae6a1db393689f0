// Dynamic registration over MQTT (spec 4.4): one TLS session per device, whose only purpose is
// the reply the platform pushes right after CONNACK.
#include <aliot/dynreg.hpp>
#include <aliot/mqtt.hpp>

namespace aliot::dynreg {

Result<sign::MqttCredentials>
mqtt_credentials(const MqttOptions& o, const Request& r, const Secret& product_secret) {
  sign::DynregMqttParams p;
  p.product_key = r.product_key;
  p.device_name = r.device_name;
  p.random = r.random;
  p.method = r.method;
  p.preregistered = o.preregistered;
  p.instance_id = o.instance_id;
  p.client_id = o.client_id;
  p.securemode = o.securemode;
  return sign::dynreg_mqtt_credentials(p, product_secret);
}

Result<Triplet> register_mqtt(const MqttOptions& o,
                              const Request& r,
                              const Secret& product_secret,
                              const Logger& log) {
  const std::string what = "registering " + r.product_key + "/" + r.device_name + " over MQTT";
  auto signed_cred = mqtt_credentials(o, r, product_secret);
  if (!signed_cred) {
    return std::move(signed_cred).error().context(what);
  }
  const auto& cred = *signed_cred;
  mqtt::Session session(log);
  session.set_interrupt(o.interrupt);
  mqtt::ConnectParams cp;
  cp.endpoint = o.endpoint;
  cp.endpoint.tls = true;
  cp.client_id = cred.client_id;
  cp.username = cred.username;
  cp.password = cred.password;
  cp.keepalive = 60;
  cp.clean_session = true;
  const auto deadline = mqtt::after(o.timeout);
  if (auto c = session.connect(cp, deadline); !c) {
    Error e = std::move(c).error().context(what);
    if (e.code() == Errc::auth) {
      return std::move(e).with_hint(
          "the platform refused the registration: check the ProductSecret, that dynamic "
          "registration is on for the product"
          + std::string(!o.preregistered ? " (with registration without pre-registration allowed)"
                                         : ", and that the device is pre-registered and not yet "
                                           "activated"));
    }
    return e;
  }
  const std::string expected = o.preregistered ? "/ext/register" : "/ext/regnwl";
  while (true) {
    auto m = session.next_message(deadline);
    if (!m) {
      session.disconnect(mqtt::after(std::chrono::milliseconds(500)));
      Error e = std::move(m).error().context(what);
      if (e.code() == Errc::timeout) {
        return Error(Errc::timeout,
                     what + ": no reply on " + expected + " within "
                         + std::to_string(o.timeout.count()) + " ms",
                     "the platform accepted the connection but sent no registration reply");
      }
      return e;
    }
    if (m->topic == "/ext/register" || m->topic == "/ext/regnwl") {
      session.disconnect(mqtt::after(std::chrono::milliseconds(500)));
      auto t = parse_mqtt_reply(m->topic, m->payload, r);
      if (!t) { // it may hold what the platform issued: kept
        return keep_refused_reply(std::move(t).error(), o.quarantine_dir, r, m->payload);
      }
      return t;
    }
    log.debug("ignoring a message on " + m->topic + " while waiting for " + expected);
  }
}

} // namespace aliot::dynreg
