// The serial ports the system knows (sysfs and /dev/serial), for `aliot ports`.
#pragma once

#include <string>
#include <vector>

namespace aliot::serial {

struct PortInfo {
  std::string path;                                    // /dev/ttyUSB0
  std::vector<std::string> by_id;                      // /dev/serial/by-id/...
  std::vector<std::string> by_path;                    // /dev/serial/by-path/...
  std::string driver;                                  // ftdi_sio, cp210x, ...
  std::string vid, pid, serial, manufacturer, product; // USB facts, "" when unknown
};
// `sys_root` and `dev_root` are "/sys" and "/dev" except in tests.
std::vector<PortInfo> list_ports(const std::string& sys_root = "/sys",
                                 const std::string& dev_root = "/dev");

} // namespace aliot::serial
