// How `aliot pool` shows a pool's counts (pool_render.cpp).
#pragma once

#include "context.hpp"

#include <aliot/factory/pool.hpp>

#include <nlohmann/json_fwd.hpp>

#include <vector>

namespace aliot::cli {

// One product's counts as the file pool's JSON keys.
nlohmann::ordered_json counts_json(const factory::PoolCounts& c);
// A server pool's counts: the file's keys, the stations and the oldest reservation.
nlohmann::ordered_json server_counts_json(const factory::PoolCounts& c);
// The counts as a table (a server pool's also per station), or one JSON line per product.
void print_counts(Context& ctx, const std::vector<factory::PoolCounts>& all, bool server = false);

} // namespace aliot::cli
