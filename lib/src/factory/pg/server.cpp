// The server pool's URI, its TLS warning, and `aliot pool init` (see
// aliot/factory/pool_server.hpp).
#include "factory/pg/module.hpp"
#include "factory/pg/pg_pool.hpp"
#include "factory/pg/schema.hpp"

#include <aliot/factory/pool_server.hpp>

#include <cctype>

namespace aliot::factory {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

bool local_host(const std::string& h) {
  return h.empty() || h.front() == '/' || h.front() == '@' || h == "localhost" || h == "::1"
         || starts_with(h, "127.");
}

// A role name aliot writes into GRANT statements (quoted): plain identifiers only.
bool plain_identifier(const std::string& s) {
  if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s.front())) != 0) {
    return false;
  }
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) != 0
          || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '_')) {
      return false;
    }
  }
  return true;
}

} // namespace

bool is_server_uri(std::string_view pool) {
  return starts_with(pool, "postgresql://") || starts_with(pool, "postgres://");
}

std::string redact_uri(std::string_view uri) {
  std::string out(uri);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = out.find_first_of("/?", start);
    const auto auth_end = end == std::string::npos ? out.size() : end;
    const auto at = out.rfind('@', auth_end);
    if (at != std::string::npos && at >= start) {
      const auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.erase(colon, at - colon);
      }
    }
  }
  // password=... among the parameters
  for (auto p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p > 0 && (out[p - 1] == '?' || out[p - 1] == '&')) {
      const auto end = out.find('&', p);
      out.replace(p + 9, (end == std::string::npos ? out.size() : end) - (p + 9), "***");
    }
  }
  return out;
}

Result<std::optional<std::string>> server_uri_warning(const std::string& uri) {
  ALIOT_TRY_ASSIGN(auto api, pg::api());
  ALIOT_TRY_ASSIGN(auto parts, api->parse(uri));
  std::string hosts, sslmode;
  for (const auto& [k, v] : parts) {
    if (k == "host" || k == "hostaddr") {
      hosts += (hosts.empty() ? "" : ",") + v;
    } else if (k == "sslmode") {
      sslmode = v;
    }
  }
  if (sslmode == "require" || sslmode == "verify-ca" || sslmode == "verify-full") {
    return std::optional<std::string>();
  }
  // Every host of a list must be local (libpq may connect to any of them).
  std::string remote;
  std::size_t from = 0;
  do {
    const auto comma = hosts.find(',', from);
    const auto h =
        hosts.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    if (!local_host(h)) {
      remote = h;
      break;
    }
    from = comma == std::string::npos ? std::string::npos : comma + 1;
  } while (from != std::string::npos);
  if (remote.empty()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(
      "the pool " + redact_uri(uri) + " is on another host (" + remote + ") without TLS"
      + (sslmode.empty() ? "" : " (sslmode=" + sslmode + ")")
      + ": the triplets' secrets would cross the network in clear; add sslmode=verify-full");
}

Result<ServerPoolInit> init_server_pool(const std::string& uri, const std::string& station_role) {
  if (!plain_identifier(station_role)) {
    return Error(Errc::usage, "--station-role " + station_role + ": not a plain role name",
                 "lower-case letters, digits and '_', at most 63, not starting with a digit");
  }
  ALIOT_TRY_ASSIGN(auto api, pg::api());
  const std::string shown = redact_uri(uri);
  auto connected = api->connect(uri);
  if (!connected) {
    return Error(connected.error().code(),
                 "credential pool " + shown + ": " + connected.error().message());
  }
  auto conn = std::move(*connected);
  auto fail = [&](const pg::Reply& r, const std::string& what) {
    conn->script("ROLLBACK");
    const bool denied = r.sqlstate == "42501";
    return Error(r.connection_lost ? Errc::network
                 : denied          ? Errc::config
                                   : Errc::io,
                 "credential pool " + shown + ": cannot " + what + ": " + r.message,
                 denied ? "run it as the role that owns the pool's database (with CREATEROLE)"
                        : std::string());
  };
  ServerPoolInit out;
  out.owner = conn->user();
  out.station_role = station_role;
  if (auto r = conn->script("BEGIN"); !r.ok) {
    return fail(r, "begin");
  }
  if (auto r = conn->script(pg::k_schema); !r.ok) {
    return fail(r, "create the schema");
  }
  auto exists = conn->exec("SELECT 1 FROM pg_roles WHERE rolname=$1", {station_role});
  if (!exists.ok) {
    return fail(exists, "read the roles");
  }
  // The role name is checked above (a plain identifier), and quoted: not a value, no secret.
  const std::string role = "\"" + station_role + "\"";
  if (exists.rows.empty()) {
    if (auto r = conn->script("CREATE ROLE " + role + " NOLOGIN"); !r.ok) {
      return fail(r, "create the role " + station_role);
    }
    out.role_created = true;
  }
  std::string grants = "GRANT USAGE ON SCHEMA aliot TO " + role + ";";
  for (const char* const* f = pg::k_station_functions; *f != nullptr; ++f) {
    grants += "GRANT EXECUTE ON FUNCTION " + std::string(*f) + " TO " + role + ";";
  }
  if (auto r = conn->script(grants); !r.ok) {
    return fail(r, "grant the station's functions to " + station_role);
  }
  if (auto r = conn->script("COMMIT"); !r.ok) {
    return fail(r, "commit");
  }
  return out;
}

} // namespace aliot::factory
