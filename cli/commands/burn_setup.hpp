// `aliot burn`'s options and what they resolve to: the journal (default: the per-user place),
// the pool, the credential source (--triplet, --pool, --register) and startup recovery.
#pragma once

#include "context.hpp"

#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/factory/station.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aliot::cli {

struct BurnOptions {
  std::string port;
  unsigned baud = 115200;
  std::string dialect = "alsw1";
  std::string triplet;
  bool lock = false;
  bool no_reboot = false;
  std::string crc = "prefer";
  std::optional<std::string> journal; // default: the per-user place (XDG state directory)
  std::string station;
  std::string operator_id;
  bool loop = false;
  std::optional<std::string> pool;
  bool register_at_station = false;
  std::optional<std::string> product_key;
  std::optional<std::string> product_secret_file;
  std::string name_template = "SW-{mac}";
  long long low_water = 20; // --loop --pool: warn at this many free triplets or fewer
};

struct BurnSetup {
  std::unique_ptr<factory::Journal> journal;
  std::unique_ptr<factory::Pool> pool;
  std::unique_ptr<factory::CredentialSource> source;
  std::function<void(std::string_view)> at_point; // ALIOT_TEST_KILL_AT
  std::string product_key;                        // --pool/--register: the units' product
};

// Checks the choice of source, opens the journal and the pool, runs startup recovery (noting what
// it did), and makes the credential source.
Result<BurnSetup> burn_setup(Context& ctx, const BurnOptions& o);

} // namespace aliot::cli
