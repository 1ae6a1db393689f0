#include "emulator.hpp"

#include <cctype>
#include <csignal>
#include <stdexcept>

namespace aliot::test {

namespace {

// Undoes the single quoting the launcher applies to values with special characters.
std::string unquote(const std::string& v) {
  if (v.size() < 2 || v.front() != '\'') {
    return v;
  }
  std::string out;
  for (std::size_t i = 1; i + 1 < v.size(); ++i) {
    if (v.compare(i, 4, "'\\''") == 0) {
      out.push_back('\'');
      i += 3;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

} // namespace

Emulator::Emulator(const Env& extra)
    : m_dir(std::make_unique<TempDir>())
    , m_state(m_dir->path() + "/state") {
  m_proc = std::make_unique<Background>(
      std::vector<std::string>{aliot_bin(), "emulate", "cloud", "--dir", m_state},
      RunOptions{.env = extra});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto line = m_proc->read_line(left);
    if (!line) {
      break;
    }
    const std::string prefix = "export ";
    if (line->rfind(prefix, 0) != 0) {
      continue;
    }
    const auto eq = line->find('=');
    if (eq == std::string::npos) {
      continue;
    }
    const std::string key = line->substr(prefix.size(), eq - prefix.size());
    m_env[key] = unquote(line->substr(eq + 1));
    if (key == "ALIOT_API_ENDPOINT") {
      return;
    }
  }
  m_proc->signal(SIGTERM);
  m_proc->wait(std::chrono::milliseconds(5000));
  throw std::runtime_error("aliot emulate cloud did not start: " + m_proc->err());
}

Emulator::~Emulator() {
  stop();
}

const std::string& Emulator::dir() const {
  return m_state;
}

std::string Emulator::host() const {
  return m_env.at("ALIOT_MQTT_HOST");
}
int Emulator::mqtt_tcp_port() const {
  return std::stoi(m_env.at("ALIOT_MQTT_TCP_PORT"));
}
int Emulator::mqtt_tls_port() const {
  return std::stoi(m_env.at("ALIOT_MQTT_PORT"));
}
std::string Emulator::ca_file() const {
  return m_env.at("ALIOT_CA_FILE");
}
std::string Emulator::api_endpoint() const {
  return m_env.at("ALIOT_API_ENDPOINT");
}
std::string Emulator::auth_endpoint() const {
  return m_env.at("ALIOT_AUTH_ENDPOINT");
}

ProcResult
Emulator::add_product(const std::string& pk, const std::string& product_secret, bool dynreg) {
  return run_aliot({"emulate", "cloud", "add-product", "--dir", dir(), "-k", pk,
                    "--dynamic-registration", dynreg ? "on" : "off"},
                   {.env = {{"ALIOT_PRODUCT_SECRET", product_secret}}});
}

ProcResult Emulator::add_device(const std::string& pk,
                                const std::string& dn,
                                const std::string& device_secret,
                                bool disabled) {
  std::vector<std::string> args{"emulate", "cloud", "add-device", "--dir", dir(),
                                "-k",      pk,      "-d",         dn};
  if (disabled) {
    args.emplace_back("--disabled");
  }
  return run_aliot(args, {.env = {{"ALIOT_DEVICE_SECRET", device_secret}}});
}

ProcResult Emulator::add_access_key(const std::string& id, const std::string& secret) {
  auto r = run_aliot({"emulate", "cloud", "add-access-key", "--dir", dir(), "--access-key-id", id},
                     {.env = {{"ALIOT_ACCESS_KEY_SECRET", secret}}});
  if (r.status == 0) {
    m_ak_id = id;
    m_ak_secret = secret;
  }
  return r;
}

ProcResult
Emulator::add_topic(const std::string& pk, const std::string& topic, const std::string& access) {
  return run_aliot({"emulate", "cloud", "add-topic", "--dir", dir(), "-k", pk, "--topic", topic,
                    "--access", access});
}

std::string Emulator::messages_json(const std::string& topic_filter) const {
  if (m_ak_id.empty()) {
    const std::string id = "EmuOperatorTest01";
    const std::string secret = "EmuOperatorSecretForTests0001";
    if (run_aliot({"emulate", "cloud", "add-access-key", "--dir", dir(), "--access-key-id", id},
                  {.env = {{"ALIOT_ACCESS_KEY_SECRET", secret}}})
            .status
        != 0) {
      return {};
    }
    m_ak_id = id;
    m_ak_secret = secret;
  }
  auto r = run({"curl", "-sS", "--max-time", "10", "-u", m_ak_id + ":" + m_ak_secret,
                api_endpoint() + "/emu/messages?topic=" + url_encode(topic_filter)});
  return r.status == 0 ? r.out : std::string();
}

std::string Emulator::log() const {
  return m_proc ? m_proc->err() : m_log;
}

int Emulator::stop() {
  if (!m_proc) {
    return m_status;
  }
  m_proc->signal(SIGTERM);
  auto st = m_proc->wait(std::chrono::milliseconds(10000));
  m_status = st.value_or(-1);
  m_log = m_proc->err();
  m_proc.reset();
  return m_status;
}

} // namespace aliot::test
