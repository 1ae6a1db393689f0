// Reading a fleet file for `aliot bench`: the JSON Lines of `register --out` or the console's
// batch CSV, through the one parser `pool import` uses (factory/import.hpp).
#include "factory/import.hpp"

#include <aliot/bench.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace aliot::bench {

namespace {
constexpr std::size_t k_max_fleet_bytes = std::size_t{64} << 20;
}

Result<std::vector<FleetDevice>> load_fleet(const std::string& path) {
  const std::string origin = "fleet file " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    return Error(Errc::io, "cannot read the " + origin + ": " + std::strerror(e), // NOLINT
                 "give the JSON Lines file of `aliot register --out` or the console's batch CSV");
  }
  // Read in pieces up to one byte past the bound: memory follows the file, not the bound.
  std::string text;
  char buf[1 << 16];
  while (text.size() <= k_max_fleet_bytes && in.read(buf, sizeof buf).gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) {
    return Error(Errc::io, "cannot read the " + origin);
  }
  if (text.size() > k_max_fleet_bytes) {
    return Error(Errc::config, "the " + origin + " is over 64 MiB",
                 "split it: a fleet of a million devices fits in about 100 MB of JSON Lines");
  }
  auto parsed = factory::detail::parse_import(text, origin, std::nullopt);
  if (!parsed) {
    // Its content is what is wrong (a config file of this run): exit 3, whatever the parser's
    // class for a pool import.
    const auto& e = parsed.error();
    return Error(Errc::config, e.message(),
                 "one triplet a line (JSON Lines of `aliot register --out`) or the console's CSV "
                 "with DeviceName and DeviceSecret columns");
  }
  std::vector<FleetDevice> out;
  out.reserve(parsed->rows.size());
  for (auto& r : parsed->rows) {
    out.push_back({std::move(r.product_key), std::move(r.device_name), std::move(r.device_secret)});
  }
  return out;
}

} // namespace aliot::bench
