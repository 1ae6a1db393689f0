// The host-side flow for one unit (spec 5.2): sync, identify, inspect, write intent, stage,
// readback, challenge, commit, reboot, verify, lock. Nothing here prints a secret.
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/serial/burn.hpp>
#include <aliot/serial/codec.hpp>

#include <cctype>

namespace aliot::serial {

namespace {

class Steps {
public:
  explicit Steps(BurnReport& r)
      : m_r(r) {}
  template <class F>
  auto run(const std::string& name, F&& f) {
    const auto t0 = Clock::now();
    auto res = f();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    for (auto& s : m_r.steps) {
      if (s.step == name) {
        s.ms += ms;
        return res;
      }
    }
    m_r.steps.push_back({name, ms});
    return res;
  }

private:
  BurnReport& m_r;
};

bool holds(const Readback& b, const Credentials& c, const std::string& fp) {
  if (b.product_key != c.product_key || b.device_name != c.device_name) {
    return false;
  }
  if (b.plaintext) {
    return crypto::equal_ct(b.device_secret.reveal(), c.device_secret.reveal())
           && crypto::equal_ct(b.product_secret.reveal(), c.product_secret.reveal());
  }
  return b.fingerprint == fp && b.ds_len == c.device_secret.size()
         && b.ps_len == c.product_secret.size();
}

std::string describe(const Readback& b) {
  std::string s = std::string(state_name(b.state));
  if (b.state != StoreState::empty) {
    s += ", DeviceName " + b.device_name;
    if (!b.plaintext) {
      s += ", fingerprint " + b.fingerprint;
    }
  }
  return s;
}

// What a unit says of itself becomes the journal's binding key and lines a person reads, so it is
// checked here, once: the MAC must be six octets (XX:XX:XX:XX:XX:XX, kept upper-case so one unit
// has one key), and every other field is text (bytes that are not UTF-8 shown as \xHH).
Result<DeviceInfo> checked_identity(DeviceInfo d) {
  bool ok = d.mac.size() == 17;
  for (std::size_t i = 0; ok && i < d.mac.size(); ++i) {
    ok = i % 3 == 2 ? d.mac[i] == ':' : enc::hex_digit(d.mac[i]) >= 0;
  }
  if (!ok) {
    return Error(Errc::device,
                 "the unit reported the MAC \"" + d.mac + "\", which is not six octets",
                 "the switch must answer its MAC as XX:XX:XX:XX:XX:XX; check the dialect and the "
                 "unit's firmware");
  }
  d.mac = enc::to_upper(d.mac);
  for (std::string* f : {&d.model, &d.hwrev, &d.firmware, &d.chip_id, &d.sn}) {
    *f = enc::printable(*f);
  }
  return d;
}

} // namespace

Result<BurnReport>
burn(Dialect& d, const BurnPlan& plan, const BurnHooks& hooks, const Logger& log) {
  const bool chosen_later = static_cast<bool>(hooks.choose_credentials);
  if (!chosen_later) {
    if (auto v = validate_credentials(plan.credentials); !v) {
      return Error(Errc::usage, "invalid triplet: " + v.error().message());
    }
  }
  const auto caps0 = d.capabilities();
  if (plan.lock && !caps0.lock) {
    return Error(Errc::usage, "--lock: the " + std::string(d.name()) + " dialect has no lock");
  }
  const auto t_start = Clock::now();
  BurnReport rep;
  Credentials c;
  std::string fp;
  // Fixes the triplet of this burn: its fingerprint is what the unit must report.
  auto take = [&](Credentials chosen) -> Result<void> {
    c = std::move(chosen);
    rep.product_key = c.product_key;
    rep.device_name = c.device_name;
    ALIOT_TRY_ASSIGN(auto fingerprinted,
                     fingerprint(c.product_key, c.device_name, c.device_secret, c.product_secret));
    rep.fingerprint = fingerprinted;
    fp = std::move(fingerprinted);
    return ok();
  };
  if (!chosen_later) {
    ALIOT_TRY(take(plan.credentials));
  }
  Steps steps(rep);
  auto progress = [&](std::string_view ev) {
    log.info("burn: " + std::string(ev) + " (level " + std::to_string(rep.verify_level) + ")");
    if (hooks.progress) {
      hooks.progress(ev, rep.verify_level);
    }
  };
  auto nonce = [&]() -> Result<std::string> {
    if (hooks.nonce) {
      return hooks.nonce();
    }
    return crypto::random_hex(16);
  };

  ALIOT_TRY(steps.run("sync", [&] { return d.sync(plan.crc); }));
  const auto caps = d.capabilities();
  ALIOT_TRY_ASSIGN(auto dev, steps.run("identify", [&]() -> Result<DeviceInfo> {
    auto info = d.identify();
    if (!info) {
      return info;
    }
    return checked_identity(std::move(*info));
  }));
  rep.device = dev;
  log.info("burn: unit " + dev.mac + " (" + dev.model + " " + dev.firmware + ")");
  if (hooks.identified) {
    hooks.identified(dev);
  }

  ALIOT_TRY_ASSIGN(auto rb, steps.run("inspect", [&] { return d.readback(); }));
  if (chosen_later) {
    ALIOT_TRY_ASSIGN(auto chosen, hooks.choose_credentials(dev, rb));
    if (auto v = validate_credentials(chosen); !v) {
      return Error(Errc::usage, "invalid triplet: " + v.error().message());
    }
    ALIOT_TRY(take(std::move(chosen)));
  }
  if (rb.state != StoreState::empty) {
    if (!holds(rb, c, fp)) {
      return Error(Errc::device,
                   "the unit " + dev.mac + " already holds other credentials (" + describe(rb)
                       + ")",
                   "it was provisioned with another triplet: give it that triplet again, or erase "
                   "it for rework first");
    }
    rep.resumed = true;
    log.info("burn: the unit already holds this triplet (" + std::string(state_name(rb.state))
             + "): resuming");
  }
  if (hooks.write_intent) {
    ALIOT_TRY(hooks.write_intent(dev, fp));
  }
  StoreState state = rb.state;

  // Stage and read back (up to three times: a garbled write is simply written again).
  auto stage_and_check = [&]() -> Result<void> {
    for (int attempt = 1;; ++attempt) {
      ALIOT_TRY(steps.run("stage", [&] { return d.stage(c); }));
      ALIOT_TRY_ASSIGN(auto b, steps.run("readback", [&] { return d.readback(); }));
      const StoreState want = caps.commit ? StoreState::staged : StoreState::committed;
      if (b.state == want && holds(b, c, fp)) {
        state = b.state;
        return ok();
      }
      if (attempt >= 3) {
        return Error(Errc::verify,
                     "readback after staging differs from the triplet (" + describe(b) + ")",
                     "the unit does not hold what was sent: check the fixture and the cable");
      }
      log.warn("burn: readback after staging differs (" + describe(b) + "): staging again");
    }
  };
  rep.verify_level = caps.digest_readback ? 3 : 2;
  if (state == StoreState::empty) {
    ALIOT_TRY(stage_and_check());
    progress("staged");
  }

  auto do_challenge = [&]() -> Result<void> {
    if (!caps.challenge) {
      return ok();
    }
    ALIOT_TRY_ASSIGN(auto fresh, nonce());
    const std::string& n = fresh;
    ALIOT_TRY_ASSIGN(auto a, steps.run("challenge", [&] { return d.challenge(n); }));
    ALIOT_TRY_ASSIGN(auto want_ds,
                     challenge_response(c.device_secret, c.product_key, c.device_name, n));
    std::string want_ps;
    if (!c.product_secret.empty()) {
      ALIOT_TRY_ASSIGN(auto r,
                       challenge_response(c.product_secret, c.product_key, c.device_name, n));
      want_ps = std::move(r);
    }
    if (!crypto::equal_ct(a.hmac_ds, want_ds) || !crypto::equal_ct(a.hmac_ps, want_ps)) {
      return Error(Errc::verify, "challenge failed: the unit " + rep.device.mac
                                     + " does not hold the secret of " + c.device_name);
    }
    rep.verify_level = std::max(rep.verify_level, 4);
    return ok();
  };
  ALIOT_TRY(do_challenge());

  if (caps.commit && state == StoreState::staged) {
    bool done = false;
    int last_cme = 0;
    for (int attempt = 1; attempt <= 3 && !done; ++attempt) {
      auto r = steps.run("commit", [&] { return d.commit(); });
      if (r) {
        if (*r != fp) {
          return Error(Errc::verify, "commit reported fingerprint " + *r + ", expected " + fp);
        }
        done = true;
        break;
      }
      if (d.link_lost()) {
        return std::move(r).error();
      }
      last_cme = d.last_cme();
      log.warn("burn: " + r.error().message());
      if (d.rebooted()) { // power lost mid-commit: the device is back, staging is gone
        ALIOT_TRY(steps.run("sync", [&] { return d.sync(plan.crc); }));
      }
      ALIOT_TRY_ASSIGN(auto b, steps.run("readback", [&] { return d.readback(); }));
      if (b.state == StoreState::committed && holds(b, c, fp)) {
        done = true; // the answer was lost, the write was not
        break;
      }
      if (b.state == StoreState::empty) {
        ALIOT_TRY(stage_and_check());
      } else if (b.state != StoreState::staged || !holds(b, c, fp)) {
        return Error(Errc::verify, "after a failed commit the unit holds " + describe(b));
      }
    }
    if (!done) {
      return Error(last_cme == 805 ? Errc::verify : Errc::device,
                   "commit failed 3 times"
                       + (last_cme != 0 ? " (last: +CME ERROR:" + std::to_string(last_cme) + ")"
                                        : std::string()),
                   "the unit's flash may be faulty: set it aside");
    }
    ALIOT_TRY_ASSIGN(auto b, steps.run("readback", [&] { return d.readback(); }));
    if (b.state != StoreState::committed || !holds(b, c, fp)) {
      return Error(Errc::verify,
                   "after commit the unit holds " + describe(b) + ", expected fingerprint " + fp);
    }
    state = StoreState::committed;
    progress("committed");
  }

  if (plan.reboot && caps.reboot && state != StoreState::locked) {
    ALIOT_TRY(steps.run("reboot", [&] { return d.reboot(); }));
    ALIOT_TRY_ASSIGN(auto b, steps.run("verify", [&] { return d.readback(); }));
    if ((b.state != StoreState::committed && b.state != StoreState::locked) || !holds(b, c, fp)) {
      return Error(Errc::verify,
                   "after reboot the unit " + rep.device.mac + " holds " + describe(b) + ", not "
                       + c.device_name + " (fingerprint " + fp + ")",
                   "the credentials did not reach non-volatile storage intact: set the unit aside");
    }
    ALIOT_TRY(do_challenge());
    rep.verify_level = 5;
    progress("verified after reboot");
  }

  if (state == StoreState::locked) {
    rep.locked = true;
  } else if (plan.lock) {
    ALIOT_TRY(steps.run("lock", [&] { return d.lock(); }));
    ALIOT_TRY_ASSIGN(auto b, steps.run("lock", [&] { return d.readback(); }));
    if (b.state != StoreState::locked || !holds(b, c, fp)) {
      return Error(Errc::verify, "after lock the unit holds " + describe(b));
    }
    rep.locked = true;
    progress("locked");
  }
  rep.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_start).count();
  return rep;
}

} // namespace aliot::serial
