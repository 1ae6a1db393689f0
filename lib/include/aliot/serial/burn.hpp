// The flow for one unit (spec/serial-protocol.md 5.2): sync, identify, inspect, write intent,
// stage, readback, challenge, commit, reboot, verify, lock.
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>
#include <aliot/serial/dialect.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::serial {

struct BurnPlan {
  // The triplet to burn; ignored when BurnHooks::choose_credentials is set.
  Credentials credentials;
  bool lock = false;
  bool reboot = true;
  CrcMode crc = CrcMode::prefer;
};

struct StepTime {
  std::string step;
  double ms = 0;
};

struct BurnReport {
  DeviceInfo device;
  std::string product_key, device_name, fingerprint;
  int verify_level = 0; // 1..5 (spec "Verification levels")
  bool locked = false;
  bool resumed = false; // the unit already held this triplet (a re-run)
  std::vector<StepTime> steps;
  double total_ms = 0;
};

struct BurnHooks {
  // When set, called once the unit is identified and its store inspected, before the write
  // intent: returns the triplet for this unit (the one the journal ties to its MAC, the next of a
  // pool, one registered for it). `held` is what the unit holds (state and, for a non-empty
  // store, ProductKey, DeviceName and fingerprint). An error stops the burn before any byte of a
  // secret is sent. A non-empty store must hold exactly the returned triplet (else Errc::device).
  std::function<Result<Credentials>(const DeviceInfo&, const Readback& held)> choose_credentials;
  // Called after identify/inspect and before the first byte of the secret is sent: the journal's
  // durable write intent. An error stops the burn.
  std::function<Result<void>(const DeviceInfo&, const std::string& fp)> write_intent;
  // Called when the unit has been identified (before inspect): whatever happens next, the caller
  // knows which unit it was talking to.
  std::function<void(const DeviceInfo&)> identified;
  // Progress ("staged", "committed", ...) with the level reached so far.
  std::function<void(std::string_view event, int level)> progress;
  // Source of challenge nonces (32 lower-case hex); random by default.
  std::function<std::string()> nonce;
};

// Errc::device for port, protocol and device-state failures, Errc::verify when the unit does not
// hold what was burned, Errc::usage for credentials the dialect cannot carry.
Result<BurnReport>
burn(Dialect& d, const BurnPlan& plan, const BurnHooks& hooks, const Logger& log);

} // namespace aliot::serial
