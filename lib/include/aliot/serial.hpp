// Serial provisioning of a switch (spec/serial-protocol.md), one header per layer:
//   serial/codec.hpp      the AT line codec (framing, CRC, parameters, digests)
//   serial/transport.hpp  the Transport interface and the real serial port
//   serial/ports.hpp      the serial ports the system knows
//   serial/channel.hpp    the AT channel (one command at a time, URCs apart)
//   serial/dialect.hpp    the Dialect interface, `alsw1` and `smartliving`
//   serial/burn.hpp       the burn flow for one unit
// This header includes them all; code that needs one layer includes that one.
#pragma once

#include <aliot/serial/burn.hpp>
#include <aliot/serial/channel.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/serial/dialect.hpp>
#include <aliot/serial/ports.hpp>
#include <aliot/serial/transport.hpp>
