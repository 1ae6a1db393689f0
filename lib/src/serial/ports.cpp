// `aliot ports`: the serial ports the kernel knows (/sys/class/tty/*/device), their stable names
// under /dev/serial/by-id and by-path, and the USB facts of their adapters.
#include <aliot/serial/ports.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace aliot::serial {

namespace fs = std::filesystem;

namespace {

std::string read_attr(const fs::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

std::vector<std::pair<std::string, std::string>> links_in(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> out; // (link, target name)
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code ec2;
    const auto target = fs::read_symlink(e.path(), ec2);
    if (!ec2) {
      out.emplace_back(e.path().string(), target.filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

std::vector<PortInfo> list_ports(const std::string& sys_root, const std::string& dev_root) {
  std::vector<PortInfo> out;
  std::error_code ec;
  const auto by_id = links_in(fs::path(dev_root) / "serial/by-id");
  const auto by_path = links_in(fs::path(dev_root) / "serial/by-path");
  for (const auto& e : fs::directory_iterator(fs::path(sys_root) / "class/tty", ec)) {
    const auto name = e.path().filename().string();
    const auto devlink = e.path() / "device";
    std::error_code ec2;
    if (!fs::exists(devlink, ec2)) {
      continue; // virtual terminals, ptys
    }
    const auto dev = fs::canonical(devlink, ec2);
    if (ec2) {
      continue;
    }
    PortInfo p;
    p.path = (fs::path(dev_root) / name).string();
    const auto drv = fs::read_symlink(devlink / "driver", ec2);
    if (!ec2) {
      p.driver = drv.filename().string();
    }
    // legacy 8250 ports without hardware show up with the serial8250 driver: skip them unless named
    if (p.driver == "serial8250" && name.starts_with("ttyS")) {
      const auto t = read_attr(e.path() / "type");
      if (t == "0" || t.empty()) {
        continue;
      }
    }
    for (auto d = dev; d.has_parent_path() && d != d.parent_path(); d = d.parent_path()) {
      if (fs::exists(d / "idVendor", ec2)) {
        p.vid = read_attr(d / "idVendor");
        p.pid = read_attr(d / "idProduct");
        p.serial = read_attr(d / "serial");
        p.manufacturer = read_attr(d / "manufacturer");
        p.product = read_attr(d / "product");
        break;
      }
    }
    for (const auto& [link, target] : by_id) {
      if (target == name) {
        p.by_id.push_back(link);
      }
    }
    for (const auto& [link, target] : by_path) {
      if (target == name) {
        p.by_path.push_back(link);
      }
    }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const PortInfo& a, const PortInfo& b) { return a.path < b.path; });
  return out;
}

} // namespace aliot::serial
