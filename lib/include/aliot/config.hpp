// Configuration: profiles in $XDG_CONFIG_HOME/aliot/config.json, ALIOT_* environment, flags,
// in that order of precedence (flag > environment > profile > default). The library never
// calls getenv: the environment comes in as a map.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::config {

struct Key {
  std::string_view name; // profile key, e.g. "product_key"
  std::string_view env;  // e.g. "ALIOT_PRODUCT_KEY"
  bool secret;           // redacted in `config show`
  std::string_view default_value;
  std::string_view description;
};

// Every setting aliot knows, in display order.
std::span<const Key> keys();
const Key* find_key(std::string_view name);
// Whether the environment variable `name` carries a secret (DeviceSecret, device token,
// ProductSecret, AccessKey secret): such variables stay out of the commands aliot runs for a
// user (rrpc serve --exec, thing serve --exec, ota watch --exec).
bool is_secret_env(std::string_view name);

using Env = std::map<std::string, std::string, std::less<>>;

struct Value {
  std::string text;
  std::string
      origin; // "flag --product-key", "env ALIOT_PRODUCT_KEY", "profile lab (path)", "default"
  bool secret = false;
};

struct Sources {
  Env env;
  std::optional<std::string> config_path; // --config; else $XDG_CONFIG_HOME/aliot/config.json
  std::optional<std::string> profile;     // --profile; else ALIOT_PROFILE; else default_profile
  // Flag-level values: key -> (value, origin), e.g. {"product_key", {"a1..", "flag -k"}}.
  std::map<std::string, Value, std::less<>> flags;
  // Values between flags and the environment (a --triplet file), same shape.
  std::map<std::string, Value, std::less<>> files;
  // --strict: a config file holding secrets that others can read is Errc::config, not a warning.
  bool strict = false;
};

class Settings {
public:
  std::optional<Value> get(std::string_view key) const;
  std::optional<std::string> text(std::string_view key) const;
  Secret secret(std::string_view key) const; // empty if unset
  const std::map<std::string, Value, std::less<>>& all() const { return m_values; }
  const std::string& config_path() const { return m_config_path; }
  const std::string& profile() const { return m_profile; }
  // Warnings collected while resolving (e.g. the config file holds secrets and is world-readable).
  const std::vector<std::string>& warnings() const { return m_warnings; }

private:
  friend Result<Settings> resolve(const Sources& sources);
  std::map<std::string, Value, std::less<>> m_values;
  std::string m_config_path;
  std::string m_profile;
  std::vector<std::string> m_warnings;
};

std::string default_config_path(const Env& env);

// Resolves every key. A missing config file is fine unless it was named explicitly or a
// profile was asked for; a malformed one is Errc::config.
Result<Settings> resolve(const Sources& sources);

// The one rule for every file that holds a secret (a config file with secrets in its profile, a
// triplet, a secret file, the results file of `register --out`): a file that group or other users
// can read is a warning, returned as its text, or under `strict` Errc::config ("chmod 600" as
// the hint). `name` says which file ("triplet file t.json"). nullopt: nothing to say.
Result<std::optional<std::string>>
check_secret_mode(unsigned mode, std::string_view name, const std::string& path, bool strict);
// The same for a file by path; a file that does not exist (yet) passes.
Result<std::optional<std::string>>
check_secret_file_mode(const std::string& path, std::string_view name, bool strict);
// Whether group or other users can read a file of this mode.
bool others_can_read(unsigned mode);

// Reading a secret, the one way: a DeviceSecret, ProductSecret or AccessKey secret file, a
// triplet file. `path` is a file, or "-" for standard input; `what` names the content
// ("DeviceSecret"), and messages name "<what> file PATH" or "<what> from standard input".
// At most k_max_small_file bytes, trailing CR/LF stripped, never empty; a missing, unreadable or
// empty file is Errc::config. The file's mode follows check_secret_mode: readable by others
// gives `warning` (for the caller to show), or under `strict` Errc::config.
struct SecretRead {
  Secret value;
  std::optional<std::string> warning;
};
Result<SecretRead> read_secret(const std::string& path, std::string_view what, bool strict);

// Every file aliot reads is bounded: a file argument may be /dev/zero, a FIFO or a mistake.
// "-" is standard input. `more` says whether the file went on past `cap` bytes.
struct Capped {
  std::string bytes;
  bool more = false;
};
// "<what> <path>", or "<what> from standard input" for "-": how messages name a file.
std::string file_name(const std::string& path, std::string_view what);

// At most `cap` bytes of the file; Errc::io starting with `name` when it cannot be read.
Result<Capped> read_capped(const std::string& path, std::size_t cap, std::string_view name);

// The whole file, which must hold at most `max_bytes`; `code` for a file that cannot be read or
// is larger (the message names the file and the limit).
Result<std::string>
read_bounded(const std::string& path, std::size_t max_bytes, std::string_view name, Errc code);

// The most a configuration, triplet or secret file may hold.
inline constexpr std::size_t k_max_small_file = 1024 * 1024;

// Reads a whole small file, at most k_max_small_file (Errc::config naming the file on failure).
Result<std::string> read_text_file(const std::string& path, std::string_view what);

// A CA bundle named by --ca-file / ALIOT_CA_FILE (empty: the system store, nothing to check)
// must be readable and not empty. A CA file is part of the connection's configuration: every
// command that reads one fails with Errc::config (exit 3) naming the file, before it connects.
Result<void> check_ca_file(const std::string& path);

// One running instance per resource (an emulator's state directory, a simulated switch's link):
// an advisory lock (flock) on `path`, which holds the owner's pid, held while the object lives.
// A holder that crashed (even kill -9) loses the lock with its process, so a stale lock file
// never blocks the next instance. The file is removed when the lock is released.
class InstanceLock {
public:
  InstanceLock() = default;
  ~InstanceLock();
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  // Takes the lock, or fails at once: Errc::usage "<what> is in use by another <who> (pid N)"
  // when another process holds it, Errc::io when the lock file cannot be made.
  static Result<InstanceLock> acquire(const std::string& path, std::string_view what);

private:
  int m_fd = -1;
  std::string m_path;
};

// Writes a file atomically: temp file in the same directory, mode applied at creation, write,
// fsync, rename, fsync of the directory. Errc::io on failure; never leaves a partial file.
Result<void> write_file_atomic(const std::string& path, std::string_view content, unsigned mode);

} // namespace aliot::config
