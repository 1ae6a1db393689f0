// The dialects behind one interface: `alsw1` (ALSW-PROV/1: digest readback, challenge, two-phase
// write, lock, CRC) and `smartliving` (Alibaba's module AT firmware: plaintext readback only).
// Another vendor is one more class here.
#include "command_label.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/serial/dialect.hpp>

#include <algorithm>
#include <cctype>

namespace aliot::serial {

namespace {

constexpr milliseconds k_cmd_timeout{1000};
constexpr milliseconds k_commit_timeout{4000};
constexpr milliseconds k_boot_timeout{8000};
constexpr milliseconds k_sync_timeout{200};
constexpr int k_sync_tries = 25;

std::string cme_meaning(int n) {
  switch (n) {
  case 3: return "operation not allowed";
  case 4: return "operation not supported";
  case 23: return "memory failure (flash erase/write failed)";
  case 24: return "text string too long";
  case 25: return "invalid characters in text string";
  case 50: return "incorrect parameters";
  case 100: return "unknown error";
  case 801: return "the credential store is locked";
  case 802: return "nothing to operate on";
  case 803: return "CRC required or CRC mismatch";
  case 804: return "busy";
  case 805: return "commit verify failed";
  case 806: return "not in factory mode";
  default: return "error";
  }
}

using detail::command_label;

Error reply_error(std::string_view body, const Reply& r) {
  if (r.final == Reply::Final::error) {
    return Error(Errc::device,
                 command_label(body) + ": the device answered ERROR (unknown command or syntax)");
  }
  return Error(Errc::device, command_label(body) + ": the device answered +CME ERROR:"
                                 + std::to_string(r.cme) + " (" + cme_meaning(r.cme) + ")");
}

// The parameters of the single info line "+NAME:..." of a reply.
Result<std::vector<Param>>
info_params(std::string_view body, const Reply& r, std::string_view prefix, std::size_t min_count) {
  if (r.info.size() != 1) {
    return Error(Errc::device, command_label(body) + ": expected one " + std::string(prefix)
                                   + " line, got " + std::to_string(r.info.size()));
  }
  auto p = parse_params(std::string_view(r.info[0]).substr(prefix.size()));
  if (!p) {
    return Error(Errc::device, command_label(body) + ": " + p.error().message());
  }
  if (p->size() < min_count) {
    return Error(Errc::device, command_label(body) + ": expected " + std::to_string(min_count)
                                   + " fields in the answer, got " + std::to_string(p->size()));
  }
  return p;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() < 6 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Shared sync: AT until OK, tolerating a device still in CRC mode from an earlier session.
Result<void> at_sync(AtChannel& ch) {
  ch.discard();
  for (int i = 0; i < k_sync_tries; ++i) {
    AtChannel::Fault f{};
    auto r = ch.exchange("", k_sync_timeout, {}, {}, f);
    if (r && r->ok()) {
      return ok();
    }
    if (r && r->final == Reply::Final::cme && r->cme == 803) {
      ch.set_crc(!ch.crc()); // the device wants CRC lines (or stopped wanting them)
    }
    if (f == AtChannel::Fault::link_lost) {
      return std::move(r).error();
    }
  }
  return Error(Errc::device,
               "the device does not answer AT (" + std::to_string(k_sync_tries) + " tries of "
                   + std::to_string(k_sync_timeout.count()) + " ms)",
               "check the port, the baud rate and that the unit is powered; --dialect must match "
               "its firmware");
}

// Whether the device answers `body` the way the other dialect's firmware does (OK with one
// "+NAME:" line): asked after a command of the chosen dialect was refused, so that the error can
// name the dialect the unit does speak.
bool answers_like(AtChannel& ch, std::string_view body, std::string_view prefix) {
  auto r = ch.command(body, k_cmd_timeout, prefix, {}, 1);
  return r && r->ok() && r->info.size() == 1 && r->info[0].starts_with(prefix);
}

Error wrong_dialect(Error e,
                    std::string_view chosen,
                    std::string_view other,
                    std::string_view how) {
  return std::move(e).with_hint("the unit answers " + std::string(how) + " as " + std::string(other)
                                + " firmware does, not " + std::string(chosen) + ": try --dialect "
                                + std::string(other));
}

// Sends the AT+IDMAU= line that carries the secrets: traced as <redacted>, wiped once sent.
Result<Reply> send_credentials(AtChannel& ch, std::string& body) {
  auto r = ch.command(body, k_cmd_timeout, {}, Redact{"AT+IDMAU=<redacted>", false});
  std::fill(body.begin(), body.end(), '\0');
  return r;
}

// Sends the reset command `body` and waits for the "ready" the device prints when it is back.
// The OK may be lost in the reset: unless the link went away, the boot URC decides.
Result<void> restart(AtChannel& ch, std::string_view body, std::string_view device) {
  ch.clear_boot_seen();
  auto r = ch.command(body, k_cmd_timeout, {}, {}, 1);
  if (!r && !ch.boot_seen() && ch.transport().link_lost()) {
    return std::move(r).error();
  }
  if (r && !r->ok()) {
    return reply_error(body, *r);
  }
  ALIOT_TRY_ASSIGN(auto ready, ch.wait_urc("ready", k_boot_timeout));
  if (!ready) {
    return Error(Errc::device, command_label(body) + ": the " + std::string(device)
                                   + " did not come back ('ready') within "
                                   + std::to_string(k_boot_timeout.count() / 1000) + " s");
  }
  return ok();
}

class Alsw1 final : public Dialect {
public:
  using Dialect::Dialect;

  std::string_view name() const override { return "alsw1"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.digest_readback = c.challenge = c.commit = c.lock = c.reboot = true;
    c.crc = m_caps_crc;
    return c;
  }

  Result<void> sync(CrcMode crc) override {
    m_crc_mode = crc;
    ALIOT_TRY(at_sync(m_ch));
    ALIOT_TRY(cmd("E0"));
    auto params = query("+PROTO?", "+PROTO:", 1);
    if (!params) {
      if (params.error().code() == Errc::device && answers_like(m_ch, "+WMAC?", "+WMAC:")) {
        return wrong_dialect(std::move(params).error(), "alsw1", "smartliving", "AT+WMAC?");
      }
      return std::move(params).error();
    }
    if ((*params)[0].value != "1") {
      return Error(Errc::device, "the device speaks ALSW-PROV/" + (*params)[0].value
                                     + ", aliot speaks version 1");
    }
    m_caps_crc = false;
    if (params->size() > 1) {
      std::string caps = "," + (*params)[1].value + ",";
      m_caps_crc = caps.find(",crc,") != std::string::npos;
    }
    if (crc == CrcMode::require && !m_caps_crc) {
      return Error(Errc::device, "the device does not support CRC lines (--crc require)",
                   "use --crc prefer or --crc off for this firmware");
    }
    if (crc != CrcMode::off && m_caps_crc && !m_ch.crc()) {
      m_ch.set_crc(true); // AT+CRC=1 itself carries a CRC, and so does its answer
      auto r = m_ch.command("+CRC=1", k_cmd_timeout);
      if (!r || !r->ok()) {
        m_ch.set_crc(false);
        return r ? reply_error("+CRC=1", *r) : std::move(r).error();
      }
    }
    m_ch.clear_boot_seen();
    return ok();
  }

  Result<DeviceInfo> identify() override {
    ALIOT_TRY_ASSIGN(auto p, query("+DEVINFO?", "+DEVINFO:", 6));
    DeviceInfo d{p[0].value, p[1].value, p[2].value, p[3].value, p[4].value, p[5].value};
    return d;
  }

  Result<void> stage(const Credentials& c) override {
    std::string body = "+IDMAU=" + quote(c.product_key) + "," + quote(c.device_name) + ","
                       + quote(c.device_secret.reveal());
    if (!c.product_secret.empty()) {
      body += "," + quote(c.product_secret.reveal());
    }
    ALIOT_TRY_ASSIGN(auto r, send_credentials(m_ch, body));
    if (!r.ok()) {
      m_last_cme = r.cme;
      if (r.final == Reply::Final::cme && r.cme == 3) {
        return Error(Errc::device, "AT+IDMAU=: the unit already holds other committed credentials",
                     "a unit for rework must be erased first (AT+FACTORY)");
      }
      return reply_error("+IDMAU=", r);
    }
    return ok();
  }

  Result<Readback> readback() override {
    ALIOT_TRY_ASSIGN(auto p, query("+IDMAU?", "+IDMAU:", 6));
    const auto& v = p;
    if (!all_digits(v[0].value) || !all_digits(v[3].value) || !all_digits(v[4].value)
        || std::stoi(v[0].value) > 3) {
      return Error(Errc::device, "AT+IDMAU?: malformed answer");
    }
    Readback b;
    b.state = static_cast<StoreState>(std::stoi(v[0].value));
    b.product_key = v[1].value;
    b.device_name = v[2].value;
    b.ds_len = std::stoul(v[3].value);
    b.ps_len = std::stoul(v[4].value);
    b.fingerprint = v[5].value;
    return b;
  }

  Result<ChallengeAnswer> challenge(std::string_view nonce) override {
    const std::string body = "+IDMCHK=" + quote(nonce);
    ALIOT_TRY_ASSIGN(auto p, query(body, "+IDMCHK:", 2));
    return ChallengeAnswer{p[0].value, p[1].value};
  }

  Result<std::string> commit() override {
    m_last_cme = 0;
    auto p = query("+IDMCOMMIT", "+IDMCOMMIT:", 1, k_commit_timeout, 1); // never repeated
    if (!p) {
      return std::move(p).error();
    }
    return (*p)[0].value;
  }

  Result<void> lock() override {
    auto r = cmd("+IDMLOCK=1");
    if (!r) {
      return std::move(r).error();
    }
    return ok();
  }

  Result<void> reboot() override {
    ALIOT_TRY(restart(m_ch, "+RST", "device"));
    m_ch.set_crc(false);
    return sync(m_crc_mode);
  }

private:
  // A command whose only acceptable final result is OK.
  Result<Reply> cmd(std::string_view body,
                    std::string_view prefix = {},
                    milliseconds timeout = k_cmd_timeout,
                    int tries = 3) {
    auto r = m_ch.command(body, timeout, prefix, {}, tries);
    if (!r) {
      return std::move(r).error();
    }
    if (!r->ok()) {
      m_last_cme = r->final == Reply::Final::cme ? r->cme : 0;
      return reply_error(body, *r);
    }
    return r;
  }

  // A command answered by one "+NAME:" line of at least `min_count` fields, then OK.
  Result<std::vector<Param>> query(std::string_view body,
                                   std::string_view prefix,
                                   std::size_t min_count,
                                   milliseconds timeout = k_cmd_timeout,
                                   int tries = 3) {
    ALIOT_TRY_ASSIGN(auto r, cmd(body, prefix, timeout, tries));
    return info_params(body, r, prefix, min_count);
  }

  CrcMode m_crc_mode = CrcMode::prefer;
  bool m_caps_crc = false;
};

class SmartLiving final : public Dialect {
public:
  using Dialect::Dialect;

  std::string_view name() const override { return "smartliving"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.reboot = true;
    return c;
  }

  Result<void> sync(CrcMode crc) override {
    if (crc == CrcMode::require) {
      return Error(Errc::usage, "--crc require: the smartliving dialect has no CRC lines");
    }
    ALIOT_TRY(at_sync(m_ch));
    (void)m_ch.command("E0", k_cmd_timeout); // older firmware answers ERROR: harmless
    m_ch.clear_boot_seen();
    return ok();
  }

  Result<DeviceInfo> identify() override {
    DeviceInfo d;
    d.model = "smartliving";
    ALIOT_TRY_ASSIGN(auto mac, m_ch.command("+WMAC?", k_cmd_timeout, "+WMAC:"));
    if (mac.ok() && mac.info.size() == 1) {
      d.mac = enc::to_upper(mac.info[0].substr(6));
      d.chip_id = d.mac;
      d.chip_id.erase(std::remove(d.chip_id.begin(), d.chip_id.end(), ':'), d.chip_id.end());
    }
    ALIOT_TRY_ASSIGN(auto fw, m_ch.command("+FWVER?", k_cmd_timeout, "+FWVER:"));
    if (fw.ok() && fw.info.size() == 1) {
      d.firmware = fw.info[0].substr(7);
    }
    if (d.mac.empty()) {
      Error e(Errc::device,
              mac.ok() ? "AT+WMAC?: the module did not tell its MAC address"
                       : "AT+WMAC?: the module answered "
                             + std::string(mac.final == Reply::Final::cme ? "+CME ERROR" : "ERROR")
                             + " instead of its MAC address");
      if (!mac.ok() && answers_like(m_ch, "+PROTO?", "+PROTO:")) {
        return wrong_dialect(std::move(e), "smartliving", "alsw1", "AT+PROTO?");
      }
      return e;
    }
    return d;
  }

  Result<void> stage(const Credentials& c) override {
    for (const std::string_view v :
         {std::string_view(c.product_key), std::string_view(c.device_name),
          std::string_view(c.device_secret.reveal()),
          std::string_view(c.product_secret.reveal())}) {
      if (v.find('"') != std::string_view::npos || v.find(',') != std::string_view::npos) {
        return Error(Errc::usage, "the smartliving dialect cannot carry '\"' or ',' in a field");
      }
    }
    std::string body = "+IDMAU=\"" + c.product_key + "\",\"" + c.device_name + "\",\""
                       + c.device_secret.reveal() + "\",\"" + c.product_secret.reveal() + "\"";
    ALIOT_TRY_ASSIGN(auto r, send_credentials(m_ch, body));
    if (!r.ok()) {
      m_last_cme = r.cme;
      return reply_error("+IDMAU=", r);
    }
    return ok();
  }

  Result<Readback> readback() override {
    ALIOT_TRY_ASSIGN(auto r, m_ch.command("+IDMAU?", k_cmd_timeout, "+IDMAU:", Redact{{}, true}));
    if (!r.ok()) {
      return reply_error("+IDMAU?", r);
    }
    if (r.info.size() != 1) {
      return Error(Errc::device, "AT+IDMAU?: expected one +IDMAU: line");
    }
    std::vector<std::string> f(1);
    for (char ch : std::string_view(r.info[0]).substr(7)) {
      if (ch == ',') {
        f.emplace_back();
      } else {
        f.back().push_back(ch);
      }
    }
    for (auto& x : r.info) {
      std::fill(x.begin(), x.end(), '\0');
    }
    if (f.size() == 1 && f[0].empty()) {
      return Readback{};
    }
    if (f.size() != 4) {
      return Error(Errc::device, "AT+IDMAU?: expected 4 fields, got " + std::to_string(f.size()));
    }
    Readback b;
    b.plaintext = true;
    b.state =
        f[0].empty() && f[1].empty() && f[2].empty() ? StoreState::empty : StoreState::committed;
    b.product_key = f[0];
    b.device_name = f[1];
    b.device_secret = Secret(std::move(f[2]));
    b.product_secret = Secret(std::move(f[3]));
    b.ds_len = b.device_secret.size();
    b.ps_len = b.product_secret.size();
    return b;
  }

  Result<void> reboot() override {
    ALIOT_TRY(restart(m_ch, "+REBOOT", "module"));
    return sync(CrcMode::off);
  }
};

} // namespace

Result<ChallengeAnswer> Dialect::challenge(std::string_view /*nonce*/) {
  return Error(Errc::device, std::string(name()) + ": no challenge command");
}
Result<std::string> Dialect::commit() {
  return Error(Errc::device, std::string(name()) + ": no commit command");
}
Result<void> Dialect::lock() {
  return Error(Errc::usage, "the " + std::string(name()) + " dialect cannot lock the store");
}
Result<void> Dialect::reboot() {
  return Error(Errc::device, std::string(name()) + ": no reboot command");
}

std::string_view state_name(StoreState s) {
  switch (s) {
  case StoreState::empty: return "empty";
  case StoreState::staged: return "staged";
  case StoreState::committed: return "committed";
  case StoreState::locked: return "locked";
  }
  return "?";
}

std::vector<std::string> dialect_names() {
  return {"alsw1", "smartliving"};
}

Result<std::unique_ptr<Dialect>> make_dialect(std::string_view name, AtChannel& ch) {
  if (name == "alsw1") {
    return std::unique_ptr<Dialect>(std::make_unique<Alsw1>(ch));
  }
  if (name == "smartliving") {
    return std::unique_ptr<Dialect>(std::make_unique<SmartLiving>(ch));
  }
  return Error(Errc::usage, "unknown dialect '" + std::string(name) + "' (alsw1 or smartliving)");
}

Result<void> validate_credentials(const Credentials& c) {
  ALIOT_TRY(validate_product_key(c.product_key));
  ALIOT_TRY(validate_device_name(c.device_name));
  ALIOT_TRY(validate_device_secret(c.device_secret));
  if (!c.product_secret.empty()) {
    ALIOT_TRY(validate_device_secret(c.product_secret, "ProductSecret"));
  }
  return ok();
}

} // namespace aliot::serial
