#include "exit_codes.hpp"

#include <array>

namespace aliot::cli {

namespace {

constexpr std::array k_exit_codes{
    ExitCodeDoc{std::nullopt,
                "Success; also sub, rrpc serve and connect --hold stopped by SIGINT or SIGTERM"},
    ExitCodeDoc{Errc::internal, "A bug; the message asks to report it"},
    ExitCodeDoc{Errc::usage,
                "Bad command line or bad input value (unknown command or flag, invalid "
                "DeviceName, QoS 2, payload over 256 KB, keepalive outside 30-1200 s, -h or "
                "--help among other arguments (-h is not --host), a triplet "
                "the journal already gave to another unit, an emulator --dir or --link another "
                "running emulator holds)"},
    ExitCodeDoc{Errc::config,
                "Credentials, profile, config or CA file missing, unreadable or "
                "invalid, a secret file readable by others under --strict, or burn --loop "
                "stopped because its pool has no free triplet left"},
    ExitCodeDoc{Errc::auth,
                "The platform rejected the identity: CONNACK refused (bad username or "
                "password, not authorized), dynamic registration refused, API signature "
                "or permission rejected"},
    ExitCodeDoc{Errc::network,
                "DNS, TCP connect, TLS handshake or certificate verification failed (a "
                "broker that refuses or cannot be reached fails at once, naming the stage), or "
                "the connection was lost"},
    ExitCodeDoc{Errc::timeout,
                "Nothing arrived in time: CONNACK (the server accepted the connection and never "
                "answered), SUBACK, PUBACK, a message for sub -W, an RRPC reply (RrpcCode "
                "TIMEOUT), a device answer"},
    ExitCodeDoc{Errc::remote, "The peer answered with an error: device OFFLINE or HALFCONN, API "
                              "error code, malformed reply, device already registered"},
    ExitCodeDoc{Errc::device, "Serial port missing, busy or unplugged, the device broke the "
                              "serial protocol, or the unit already holds another triplet (the "
                              "unit or the journal says so)"},
    ExitCodeDoc{Errc::verify,
                "The unit does not hold what was burned (readback or challenge mismatch)"},
    ExitCodeDoc{Errc::io, "A local file or the factory journal could not be read or written"},
    ExitCodeDoc{Errc::interrupted, "A one-shot command interrupted by SIGINT or SIGTERM"},
};

} // namespace

std::span<const ExitCodeDoc> exit_codes() {
  return k_exit_codes;
}

} // namespace aliot::cli
