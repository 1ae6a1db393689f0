// A plain Debian mosquitto broker for the MQTT tests: a plain-TCP and a TLS listener on free
// ports of 127.0.0.1, a CA and server certificate made with openssl at test time, and a
// password file (mosquitto_passwd) holding `dn&pk` with the password `aliot sign` computes.
#pragma once

#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace aliot::test {

inline constexpr const char* k_pk = "a1FakePK001";
inline constexpr const char* k_secret = "0123456789abcdef0123456789abcdef";
inline constexpr const char* k_ts = "1700000000000";

inline bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0; // NOLINT
  ::close(fd);
  return ok;
}

inline bool wait_port(int port, int ms = 10000) {
  for (int i = 0; i < ms / 20; ++i) {
    if (port_open(port)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class Mosquitto {
public:
  // Devices (DeviceNames of product k_pk, all with k_secret) allowed to log in.
  explicit Mosquitto(std::vector<std::string> devices = {"devPub", "devSub"},
                     std::string ca_subject = "/CN=aliot test CA")
      : m_devices(std::move(devices))
      , m_ca_subject(std::move(ca_subject)) {
    make_certs();
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
                             + ca() + "\ncertfile " + m_dir.file("server.pem") + "\nkeyfile "
                             + m_dir.file("server.key") + "\n";
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

  int tcp_port() const { return m_tcp; }
  int tls_port() const { return m_tls; }
  std::string ca() const { return m_dir.file("ca.pem"); }
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

  void make_certs() {
    const std::string d = m_dir.path();
    auto r = sh("set -e; cd '" + d
                + "'\n"
                  "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 "
                  "-subj '"
                + m_ca_subject
                + "' 2>/dev/null\n"
                  "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
                  "-subj '/CN=localhost' 2>/dev/null\n"
                  "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf\n"
                  "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                  "-out server.pem -days 30 -extfile ext.cnf 2>/dev/null\n"
                  "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem "
                  "-days 30 -subj '/CN=some other CA' 2>/dev/null\n"
                  "chmod 644 *.pem *.key\n");
    if (r.status != 0) {
      throw std::runtime_error("openssl failed: " + r.err);
    }
  }

  TempDir m_dir;
  std::vector<std::string> m_devices;
  std::string m_ca_subject;
  int m_tcp = 0;
  int m_tls = 0;
  std::string m_passwd;
  std::string m_conf;
  std::unique_ptr<Background> m_proc;
};

} // namespace aliot::test
