// Test support: a running `aliot emulate cloud` (the local Aliyun IoT platform on mosquitto) in a
// temporary state directory, with helpers to fill its registry and to read what devices sent.
//
//   aliot::test::Emulator emu;                    // throws std::runtime_error if it cannot start
//   emu.add_product("a1FakePK001", "ps-secret");
//   emu.add_device("a1FakePK001", "dev1", "0123456789abcdef0123456789abcdef");
//   run_aliot({"pub", ...}, {.env = emu.env()});  // ALIOT_MQTT_HOST, _PORT, _TCP_PORT, _CA_FILE,
//                                                 // ALIOT_AUTH_ENDPOINT, ALIOT_API_ENDPOINT
//   emu.messages_json("/a1FakePK001/dev1/user/update");
//
// The registry commands edit the state directory; a running emulator sees the change at once.
#pragma once

#include "support.hpp"

#include <memory>
#include <string>

namespace aliot::test {

class Emulator {
public:
  // Starts `aliot emulate cloud --dir <TempDir>` in the background and waits (<= 20 s) for the
  // ALIOT_API_ENDPOINT export line. On failure throws std::runtime_error carrying its stderr.
  // `extra`: variables added to the emulator's environment (ALIOT_EMU_OTA_MINUTE_MS).
  explicit Emulator(const Env& extra = {});
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // The exported ALIOT_* variables (use as RunOptions::env).
  const Env& env() const { return m_env; }
  const std::string& dir() const;
  // Convenience accessors over env().
  std::string host() const;          // ALIOT_MQTT_HOST
  int mqtt_tcp_port() const;         // ALIOT_MQTT_TCP_PORT (plain MQTT)
  int mqtt_tls_port() const;         // ALIOT_MQTT_PORT (MQTT over TLS)
  std::string ca_file() const;       // ALIOT_CA_FILE
  std::string api_endpoint() const;  // ALIOT_API_ENDPOINT (http://127.0.0.1:PORT)
  std::string auth_endpoint() const; // ALIOT_AUTH_ENDPOINT (https://127.0.0.1:PORT)

  // `aliot emulate cloud add-*` against this emulator's directory.
  ProcResult
  add_product(const std::string& pk, const std::string& product_secret, bool dynreg = true);
  ProcResult add_device(const std::string& pk,
                        const std::string& dn,
                        const std::string& device_secret,
                        bool disabled = false);
  ProcResult add_access_key(const std::string& id, const std::string& secret);
  // access: pub, sub or all; topic relative to the device, e.g. "user/cmd".
  ProcResult add_topic(const std::string& pk, const std::string& topic, const std::string& access);

  // GET /emu/messages?topic=FILTER (via curl, with the last AccessKey add_access_key added, or
  // one it adds itself): {"messages":[{"seq","ts","topic","qos","payload_base64","client"}...],
  // "next":SEQ}. Empty string if the request failed.
  std::string messages_json(const std::string& topic_filter = "#") const;

  // The emulator's stderr so far (for diagnostics in test failures).
  std::string log() const;

  // SIGTERM and wait (idempotent); returns the exit status (or -1 if already stopped).
  int stop();

private:
  std::unique_ptr<TempDir> m_dir;
  std::string m_state;
  std::unique_ptr<Background> m_proc;
  std::string m_log;
  Env m_env;
  int m_status = -1;
  mutable std::string m_ak_id; // the operator's AccessKey for /emu/messages
  mutable std::string m_ak_secret;
};

} // namespace aliot::test
