// `aliot emulate cloud add-device --names FILE`: many devices added to a product in one
// transaction, as the console's batch add does. The file is one DeviceName a line or the
// console's CSV (lib's dynreg::parse_names reads both); every name is checked before anything is
// written, and an error names the line it comes from.
#pragma once

#include <aliot/emu/registry.hpp>
#include <aliot/error.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace aliot::emu {

struct DeviceBatch {
  std::string origin;                       // "--names FILE", for messages
  std::vector<Registry::NewDevice> devices; // file order, each with a generated DeviceSecret
  std::vector<std::size_t> lines;           // the line of each device (0: not found)
};

// Reads the file ('-' = stdin) and checks every name: the platform's DeviceName rules and no
// repeats (Errc::usage naming the line); each device gets a generated 32-character secret.
Result<DeviceBatch> read_device_batch(const std::string& path);

// Adds every device of the batch to product `pk`, or none: Errc::usage naming the line of a
// device the product already has.
Result<void>
add_device_batch(Registry& reg, const std::string& pk, const DeviceBatch& batch, bool enabled);

} // namespace aliot::emu
