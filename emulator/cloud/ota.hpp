// The platform's OTA side inside the plugin (docs/protocol.md, "Firmware over the air"): what a
// device's version report, firmware/get and progress messages do to its tasks, the upgrade notice
// the platform pushes, and the task rules the OpenAPI actions (http_ota.cpp) share. Pure of
// mosquitto: the plugin hands messages in and publishes what comes back.
#pragma once

#include "thing.hpp"

#include <aliot/emu/ota.hpp>

#include <string>
#include <vector>

namespace aliot::emu {

namespace otax {

using ota::json;

inline bool unfinished(const std::string& status) {
  return status == "QUEUED" || status == "NOTIFIED" || status == "IN_PROGRESS";
}
// A minute of TimeoutInMinutes in milliseconds: 60000, or ALIOT_EMU_OTA_MINUTE_MS (tests).
long long minute_ms();
// Marks IN_PROGRESS tasks past their job's timeout (counted from the first progress) TIMEOUT.
void apply_timeouts(json& st, long long now);
const json* find_by(const json& list, const char* key, const std::string& id);
json* find_by(json& list, const char* key, const std::string& id);
// The HTTPS URL of a stored firmware file.
std::string file_url(const std::string& file);
// The push on /ota/device/upgrade/PK/DN: {"code":"1000","data":{...},"id":N,"message":"success"}.
json notice_data(const json& fw);
std::string notice(const json& fw);
// A new QUEUED task of `job` for the device (an older unfinished task of the same module is
// CANCELED); false past k_max_tasks.
bool add_task(
    json& st, const json& job, const std::string& dn, const std::string& src, long long now);

} // namespace otax

// What the platform does with a device's message on /ota/device/inform|progress/PK/DN or
// /sys/PK/DN/thing/ota/firmware/get: the notices and replies to send to the device.
// `handled` false when the topic is none of them.
struct OtaOutcome {
  bool handled = false;
  std::vector<Outgoing> replies;
};
OtaOutcome ota_device_message(const std::string& dir,
                              const std::string& pk,
                              const std::string& dn,
                              const std::string& topic,
                              const std::string& payload,
                              long long now);

} // namespace aliot::emu
