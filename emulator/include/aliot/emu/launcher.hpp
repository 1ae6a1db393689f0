// Starting the local platform: Debian's mosquitto broker with aliot's plugin (libaliot_emu.so),
// on 127.0.0.1 only, with its state in one directory (registry.db, the CA and the server
// certificate, mosquitto.conf, mosquitto.log). `aliot emulate cloud` is a thin adapter over it.
#pragma once

#include <aliot/error.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aliot::emu {

struct LaunchOptions {
  std::string dir;                           // state directory, created 0700 when missing
  std::optional<int> mqtt_port;              // plain MQTT; a free loopback port when not given
  std::optional<int> mqtts_port;             // MQTT over TLS
  std::optional<int> https_port;             // HTTPS dynamic registration
  std::optional<int> api_port;               // HTTP OpenAPI and /emu endpoints
  std::optional<int> amqp_port;              // AMQP 1.0 over TLS (server-side subscription)
  std::optional<std::string> mosquitto;      // the broker binary (else searched in `search_path`)
  std::optional<std::string> plugin;         // the plugin (else next to the build or install tree)
  std::string search_path = "/usr/bin:/bin"; // PATH to search for mosquitto (and /usr/sbin...)
  // Called on the launcher's thread with each line the plugin reports (a refused login and why,
  // a device kicked by a newer login of its own; no secrets, untrusted parts escaped), without
  // its newline. The lines come over a pipe that is the broker's stdout.
  std::function<void(const std::string&)> report;
};

struct Endpoints {
  std::string dir; // canonical state directory
  std::string host = "127.0.0.1";
  int mqtt_port = 0, mqtts_port = 0, https_port = 0, api_port = 0, amqp_port = 0;
  std::string ca_file;
  std::string log_file; // the broker's log

  // The environment a device or test needs, in the documented order (ALIOT_MQTT_HOST first,
  // ALIOT_API_ENDPOINT last): (name, value) pairs, values unquoted.
  std::vector<std::pair<std::string, std::string>> exports() const;
};

// Creates the state directory when missing: 0700 whatever the umask (its parents as `mkdir -p`
// makes them); an existing one is left as it is (run() makes it 0700). Errc::usage when `dir` is
// empty, Errc::io when it cannot be made.
Result<void> ensure_state_dir(const std::string& dir);

// The CA (ca.key, ca.pem) and the server certificate (server.key, server.pem) in `dir`, made
// when missing or not RSA with SHA-256 (a directory of an older aliot holds EC P-256 ones: all
// are remade, CA included; clients re-read the CA from the same path). RSA 2048 keys and SHA-256
// signatures like the platform's chains, because devices' TLS stacks (the LinkSDK's bundled
// mbedtls) are often built RSA-only. The server certificate is for localhost and 127.0.0.1
// (subjectAltName), serverAuth, signed by the CA. Every file is written 0600 and atomically.
// Errc::io when they cannot be made or written.
Result<void> ensure_certificates(const std::string& dir);

// Runs the emulator until `stop()` returns true (then exit ok) or the broker dies (an Error).
// `ready` is called once every endpoint answers. Errors: Errc::config (no mosquitto, no plugin,
// bad registry), Errc::network (busy port, broker exited), Errc::timeout (ports never opened),
// Errc::io (state directory, certificates).
Result<void> run(const LaunchOptions& options,
                 const std::function<bool()>& stop,
                 const std::function<void(const Endpoints&)>& ready);

} // namespace aliot::emu
