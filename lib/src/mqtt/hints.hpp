// Hints shared by the session and the probes of `aliot connect`, so that every device command
// says the same thing for the same failure.
#pragma once

namespace aliot::mqtt::hints {

// Nothing accepts the TCP connection (refused, unreachable).
inline constexpr const char* k_broker_down =
    "is the broker (or the emulator) running? check --host and --port (or ALIOT_MQTT_HOST, "
    "ALIOT_MQTT_PORT, and ALIOT_MQTT_TCP_PORT with --tcp); the platform listens on 1883, 443 "
    "and 8883";

// The host name does not resolve.
inline constexpr const char* k_dns =
    "check --host (or ALIOT_MQTT_HOST), --region or --instance, and the resolver "
    "(/etc/resolv.conf)";

} // namespace aliot::mqtt::hints
