// A plain Debian mosquitto broker for the MQTT tests: a plain-TCP and a TLS listener on free
// ports of 127.0.0.1, a CA and server certificate made with openssl at test time, and a
// password file (mosquitto_passwd) holding `dn&pk` with the password `aliot sign` computes.
#pragma once

#include "certs.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace aliot::test {

inline constexpr const char* k_pk = "a1FakePK001";
inline constexpr const char* k_secret = "0123456789abcdef0123456789abcdef";
inline constexpr const char* k_ts = "1700000000000";

class Mosquitto {
public:
  // Devices (DeviceNames of product k_pk, all with k_secret) allowed to log in.
  explicit Mosquitto(std::vector<std::string> devices = {"devPub", "devSub"},
                     std::string ca_subject = "/CN=aliot test CA")
      : m_devices(std::move(devices))
      , m_ca_subject(std::move(ca_subject)) {
    m_certs = make_test_certs(m_dir.path(), {.ca_subject = m_ca_subject});
    m_tcp = free_port();
    m_tls = free_port();
    m_passwd = m_dir.file("passwd");
    run({"touch", m_passwd});
    for (const auto& dn : m_devices) {
      add_user(dn + "&" + k_pk, password(dn, true));
    }
    // (securemode is not part of the sign content: TCP and TLS logins share the password)
    add_user("operator", "operator-pass");
    const std::string conf = "per_listener_settings false\nallow_anonymous false\nuser root\n"
                             "password_file "
                             + m_passwd
                             + "\nlog_dest stderr\nlog_type error\nlog_type warning\n"
                               "listener "
                             + std::to_string(m_tcp)
                             + " 127.0.0.1\n"
                               "listener "
                             + std::to_string(m_tls)
                             + " 127.0.0.1\n"
                               "cafile "
                             + ca() + "\ncertfile " + m_certs.server + "\nkeyfile "
                             + m_certs.server_key + "\n";
    m_conf = m_dir.write("mosquitto.conf", conf);
    start();
  }

  void start() {
    m_proc = std::make_unique<Background>(std::vector<std::string>{"mosquitto", "-c", m_conf});
    if (!wait_port(m_tcp) || !wait_port(m_tls)) {
      m_proc->wait(std::chrono::milliseconds(100));
      throw std::runtime_error("mosquitto did not start: " + m_proc->err());
    }
  }
  void stop() {
    if (m_proc) {
      m_proc->signal(SIGKILL);
      m_proc->wait(std::chrono::milliseconds(3000));
      m_proc.reset();
    }
  }

  // Sends the broker a signal (SIGSTOP: it stops answering, its sockets stay open; SIGCONT).
  void signal(int sig) const {
    if (m_proc) {
      m_proc->signal(sig);
    }
  }

  int tcp_port() const { return m_tcp; }
  int tls_port() const { return m_tls; }
  std::string ca() const { return m_certs.ca; }
  std::string other_ca() const { return m_certs.other_ca; }
  const TempDir& dir() const { return m_dir; }
  std::string log() const { return m_proc ? m_proc->err() : ""; }

  // The password `aliot sign` gives the device (fixed timestamp, so it is stable).
  static std::string password(const std::string& dn, bool tcp) {
    std::vector<std::string> args{"sign", "-o", "json", "-k", k_pk, "-d", dn, "--timestamp", k_ts};
    if (tcp) {
      args.emplace_back("--tcp");
    }
    auto r = run_aliot(args, {.env = {{"ALIOT_DEVICE_SECRET", k_secret}}});
    if (r.status != 0) {
      throw std::runtime_error("aliot sign failed: " + r.err);
    }
    return nlohmann::json::parse(r.out)["password"].get<std::string>();
  }

  // Environment + flags for aliot to log in as `dn` over plain TCP or TLS.
  Env env() const { return {{"ALIOT_DEVICE_SECRET", k_secret}}; }
  std::vector<std::string> device_args(const std::string& dn, bool tls = false) const {
    std::vector<std::string> a{"-k", k_pk, "-d", dn, "--host", "127.0.0.1", "--timestamp", k_ts};
    if (tls) {
      a.insert(a.end(), {"--port", std::to_string(m_tls), "--ca-file", ca()});
    } else {
      a.insert(a.end(), {"--tcp", "--port", std::to_string(m_tcp)});
    }
    return a;
  }

private:
  void add_user(const std::string& user, const std::string& pass) {
    auto r = run({"mosquitto_passwd", "-b", m_passwd, user, pass});
    if (r.status != 0) {
      throw std::runtime_error("mosquitto_passwd failed: " + r.err);
    }
  }

  TempDir m_dir;
  std::vector<std::string> m_devices;
  std::string m_ca_subject;
  TestCerts m_certs;
  int m_tcp = 0;
  int m_tls = 0;
  std::string m_passwd;
  std::string m_conf;
  std::unique_ptr<Background> m_proc;
};

} // namespace aliot::test
