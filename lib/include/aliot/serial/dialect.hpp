// The Dialect interface: what a unit's firmware offers for provisioning (sync, identify, stage,
// readback, challenge, commit, lock, reboot), with `alsw1` (ALSW-PROV/1) and `smartliving`
// (Alibaba's module AT firmware) behind it.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>
#include <aliot/serial/channel.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::serial {

struct DeviceInfo {
  std::string model, hwrev, firmware, mac, chip_id, sn;
};

struct Credentials {
  std::string product_key;
  std::string device_name;
  Secret device_secret;
  Secret product_secret; // empty when absent
};

// Field limits of the store: PK <= 20, DN 4..32, DS <= 64, PS <= 64 (Errc::usage).
Result<void> validate_credentials(const Credentials& c);

enum class StoreState { empty = 0, staged = 1, committed = 2, locked = 3 };
std::string_view state_name(StoreState s);

struct Readback {
  StoreState state = StoreState::empty;
  std::string product_key, device_name;
  std::size_t ds_len = 0, ps_len = 0;
  std::string fingerprint; // digest dialects
  bool plaintext = false;  // echo dialects: the secrets themselves (compare in memory only)
  Secret device_secret, product_secret;
};

struct Capabilities {
  bool digest_readback = false; // fingerprint readback (level 3)
  bool challenge = false;       // HMAC challenge (level 4)
  bool commit = false;          // two-phase write
  bool lock = false;
  bool reboot = false;
  bool crc = false;
};

enum class CrcMode { require, prefer, off };

struct ChallengeAnswer {
  std::string hmac_ds, hmac_ps;
};

class Dialect {
public:
  explicit Dialect(AtChannel& ch)
      : m_ch(ch) {}
  virtual ~Dialect() = default;
  Dialect(const Dialect&) = delete;
  Dialect& operator=(const Dialect&) = delete;
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;
  // Wakes the device up (AT until OK), echo off, CRC per `crc` (after every boot).
  virtual Result<void> sync(CrcMode crc) = 0;
  virtual Result<DeviceInfo> identify() = 0;
  virtual Result<void> stage(const Credentials& c) = 0;
  virtual Result<Readback> readback() = 0;
  virtual Result<ChallengeAnswer> challenge(std::string_view nonce);
  // Returns the fingerprint the device reports for what it wrote.
  virtual Result<std::string> commit();
  virtual Result<void> lock();
  // Reboots and waits for the device to come back (then sync() again).
  virtual Result<void> reboot();

  // The +CME ERROR code of the last failed command (0 if none).
  int last_cme() const { return m_last_cme; }
  // The device rebooted on its own (a "ready" URC) since the last sync().
  bool rebooted() const { return m_ch.boot_seen(); }
  bool link_lost() const { return m_ch.transport().link_lost(); }
  AtChannel& channel() { return m_ch; }

protected:
  AtChannel& m_ch;
  int m_last_cme = 0;
};

// "alsw1" or "smartliving"; Errc::usage for another name.
Result<std::unique_ptr<Dialect>> make_dialect(std::string_view name, AtChannel& ch);
std::vector<std::string> dialect_names();

} // namespace aliot::serial
