// The credential pool on a PostgreSQL server (`--pool postgresql://...`), shared by several
// stations: what is particular to it. Everything else is the same factory::Pool
// (aliot/factory/pool.hpp), which Pool::open gives for a URI as for a file.
//
// The schema, the roles and the grants are in docs/station.md ("Several stations"). libpq is in
// a module (libaliot-pg.so) loaded on first use: a command that never names a server pool does
// not load it.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aliot::factory {

// Whether `pool` names a server pool (a postgresql:// or postgres:// URI) rather than a file.
bool is_server_uri(std::string_view pool);

// The URI without its password (userinfo's or a password= parameter): what messages show.
std::string redact_uri(std::string_view uri);

// The warning for a URI that sends the pool's secrets in clear to another host: no
// sslmode=require/verify-ca/verify-full and a host that is not this one (a Unix socket,
// localhost, 127.0.0.0/8, ::1). nullopt when there is none. Errc::usage for a malformed URI;
// Errc::config when the PostgreSQL module cannot be loaded.
Result<std::optional<std::string>> server_uri_warning(const std::string& uri);

struct ServerPoolInit {
  std::string owner;         // the role that owns the schema (the one that ran it)
  std::string station_role;  // the group role granted the station functions
  bool role_created = false; // it did not exist before
};

// `aliot pool init`: as the owner, creates (or brings up to date) the schema, the functions and
// the NOLOGIN group role `station_role` granted USAGE on the schema and EXECUTE on the station's
// functions only (nothing on the tables). Idempotent. Errc::usage for a role name that is not
// [a-z_][a-z0-9_]* (at most 63); Errc::network when the server cannot be reached; Errc::config
// when the role may not create the schema or the role.
Result<ServerPoolInit> init_server_pool(const std::string& uri,
                                        const std::string& station_role = "aliot_station");

} // namespace aliot::factory
