// list_ports() over a fabricated /sys and /dev tree: USB facts from the ancestor device,
// by-id/by-path names from the symlinks, ports without a device skipped.
#include "support.hpp"

#include <aliot/serial/ports.hpp>

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace aliot::test;

TEST(Ports, ListsUsbAdaptersWithTheirStableNames) {
  TempDir dir;
  const fs::path sys = dir.file("sys");
  const fs::path dev = dir.file("dev");
  const fs::path usb = sys / "devices/pci0000:00/usb1/1-2";
  const fs::path intf = usb / "1-2:1.0/ttyUSB0";
  fs::create_directories(intf);
  fs::create_directories(sys / "bus/usb-serial/drivers/ftdi_sio");
  fs::create_directory_symlink(sys / "bus/usb-serial/drivers/ftdi_sio", intf / "driver");
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"idVendor", "0403"},
                                                        {"idProduct", "6001"},
                                                        {"serial", "A50285BI"},
                                                        {"manufacturer", "FTDI"},
                                                        {"product", "FT232R USB UART"}}) {
    dir.write("sys/devices/pci0000:00/usb1/1-2/" + k, v + "\n", 0644);
  }
  fs::create_directories(sys / "class/tty/ttyUSB0");
  fs::create_directory_symlink(intf, sys / "class/tty/ttyUSB0/device");
  fs::create_directories(sys / "class/tty/tty0"); // a virtual terminal: no device
  fs::create_directories(dev / "serial/by-id");
  fs::create_directories(dev / "serial/by-path");
  fs::create_symlink("../../ttyUSB0",
                     dev / "serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0");
  fs::create_symlink("../../ttyUSB0", dev / "serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0");

  const auto ports = aliot::serial::list_ports(sys.string(), dev.string());
  ASSERT_EQ(ports.size(), 1U);
  const auto& p = ports[0];
  EXPECT_EQ(p.path, (dev / "ttyUSB0").string());
  EXPECT_EQ(p.vid, "0403");
  EXPECT_EQ(p.pid, "6001");
  EXPECT_EQ(p.serial, "A50285BI");
  EXPECT_EQ(p.manufacturer, "FTDI");
  EXPECT_EQ(p.driver, "ftdi_sio");
  ASSERT_EQ(p.by_id.size(), 1U);
  EXPECT_NE(p.by_id[0].find("usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"), std::string::npos);
  ASSERT_EQ(p.by_path.size(), 1U);
}
