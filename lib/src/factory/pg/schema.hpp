// The pool's schema on PostgreSQL (schema.cpp): tables, the functions a station calls, the
// custom SQLSTATEs they raise.
#pragma once

#include <string>

namespace aliot::factory::pg {

// The SQLSTATEs the pool's functions raise (mapped to aliot's exit codes by pg_pool.cpp).
inline constexpr const char* k_never_reserved = "AL001"; // Errc::internal
inline constexpr const char* k_no_free = "AL002";        // Errc::config
inline constexpr const char* k_unit_state = "AL003";     // Errc::device
inline constexpr const char* k_refused = "AL004";        // Errc::usage

// The tables and functions (idempotent: CREATE ... IF NOT EXISTS, CREATE OR REPLACE), run by
// the owner in one transaction. No value in it: PQexec.
extern const char* const k_schema;
// The functions a station's role may execute (their signatures, for GRANT EXECUTE).
extern const char* const k_station_functions[];

} // namespace aliot::factory::pg
