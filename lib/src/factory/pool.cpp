// The credential pool on SQLite (see aliot/factory/pool.hpp).
#include <aliot/factory/pool.hpp>

namespace aliot::factory {

const char* pool_state_name(PoolState s) {
  switch (s) {
  case PoolState::available: return "AVAILABLE";
  case PoolState::reserved: return "RESERVED";
  case PoolState::transmitted: return "TRANSMITTED";
  case PoolState::bound: return "BOUND";
  case PoolState::failed: return "FAILED";
  case PoolState::quarantined: return "QUARANTINED";
  }
  return "?";
}

Result<std::unique_ptr<Pool>> Pool::open(const std::string& path, WallClock clock) {
  (void)path;
  (void)clock;
  return Error(Errc::internal, "credential pool: not implemented");
}

} // namespace aliot::factory
