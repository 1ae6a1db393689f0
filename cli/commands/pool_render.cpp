// How `aliot pool` shows a pool's counts: one table (and, for a server pool, one per station)
// or one JSON object per product.
#include "commands/pool_render.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

nlohmann::ordered_json stations_json(const factory::PoolCounts& c) {
  auto a = nlohmann::ordered_json::array();
  for (const auto& s : c.stations) {
    nlohmann::ordered_json j;
    j["station"] = s.station;
    j["reserved"] = s.reserved;
    j["transmitted"] = s.transmitted;
    j["bound"] = s.bound;
    j["failed"] = s.failed;
    j["quarantined"] = s.quarantined;
    j["oldest_reserved"] = s.oldest_reserved.empty() ? nlohmann::ordered_json()
                                                     : nlohmann::ordered_json(s.oldest_reserved);
    a.push_back(std::move(j));
  }
  return a;
}

} // namespace

nlohmann::ordered_json counts_json(const factory::PoolCounts& c) {
  nlohmann::ordered_json j;
  j["product_key"] = c.product_key;
  j["available"] = c.available;
  j["reserved"] = c.reserved;
  j["transmitted"] = c.transmitted;
  j["bound"] = c.bound;
  j["failed"] = c.failed;
  j["quarantined"] = c.quarantined;
  return j;
}

// A server pool's counts: the file's keys, the stations and the oldest reservation.
nlohmann::ordered_json server_counts_json(const factory::PoolCounts& c) {
  auto j = counts_json(c);
  j["stations"] = stations_json(c);
  j["oldest_reserved"] = c.oldest_reserved.empty() ? nlohmann::ordered_json()
                                                   : nlohmann::ordered_json(c.oldest_reserved);
  return j;
}

namespace {

void print_stations(Context& ctx, const std::vector<factory::PoolCounts>& all) {
  bool any = false;
  for (const auto& c : all) {
    any = any || !c.stations.empty() || !c.oldest_reserved.empty();
  }
  if (!any) {
    return;
  }
  ctx.out.line("");
  ctx.out.line(fmt::format("{:<20} {:<16} {:>8} {:>11} {:>7} {:>6} {:>11}  {}", "PRODUCT",
                           "STATION", "RESERVED", "TRANSMITTED", "BOUND", "FAILED", "QUARANTINED",
                           "OLDEST RESERVATION"));
  for (const auto& c : all) {
    for (const auto& s : c.stations) {
      ctx.out.line(fmt::format("{:<20} {:<16} {:>8} {:>11} {:>7} {:>6} {:>11}  {}", c.product_key,
                               s.station, s.reserved, s.transmitted, s.bound, s.failed,
                               s.quarantined, s.oldest_reserved.empty() ? "-" : s.oldest_reserved));
    }
  }
}

} // namespace

void print_counts(Context& ctx, const std::vector<factory::PoolCounts>& all, bool server) {
  if (ctx.out.json()) {
    for (const auto& c : all) {
      ctx.out.line((server ? server_counts_json(c) : counts_json(c)).dump());
    }
    return;
  }
  ctx.out.line(fmt::format("{:<20} {:>9} {:>8} {:>11} {:>7} {:>6} {:>11}", "PRODUCT", "AVAILABLE",
                           "RESERVED", "TRANSMITTED", "BOUND", "FAILED", "QUARANTINED"));
  for (const auto& c : all) {
    ctx.out.line(fmt::format("{:<20} {:>9} {:>8} {:>11} {:>7} {:>6} {:>11}", c.product_key,
                             c.available, c.reserved, c.transmitted, c.bound, c.failed,
                             c.quarantined));
  }
  if (server) {
    print_stations(ctx, all);
  }
}

} // namespace aliot::cli
