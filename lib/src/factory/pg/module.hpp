// The boundary between libaliot and the PostgreSQL module (libaliot-pg.so): libpq is linked by
// the module alone, which libaliot loads on first use (module_loader.cpp), so only the commands
// given a postgresql:// pool load libpq and its libraries. Both sides are built from the same
// tree by the same compiler (as the AMQP module), so the entry point hands over C++ types; the
// version in its name changes when they do.
#pragma once

#include <aliot/error.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aliot::factory::pg {

using Param = std::optional<std::string>; // nullopt: SQL NULL
using Row = std::vector<std::optional<std::string>>;

// What one statement gave: its rows (text format), or the server's error.
struct Reply {
  bool ok = false;
  bool connection_lost = false; // the connection is gone (the statement's fate is unknown)
  std::string sqlstate;         // the error's SQLSTATE ("23505"), empty when none
  std::string message;          // the server's primary message, one line
  std::string hint;             // the server's hint, if any
  std::vector<Row> rows;
};

class Conn {
public:
  virtual ~Conn() = default;
  // One statement, its parameters always bound (PQexecParams): never a value in `sql`.
  virtual Reply exec(const std::string& sql, const std::vector<Param>& params) = 0;
  // A script of statements without a value in them (the schema): PQexec.
  virtual Reply script(const std::string& sql) = 0;
  // Whether the connection is still up (as far as libpq knows without a round trip).
  virtual bool alive() const = 0;
  // The role the server authenticated ("session_user").
  virtual std::string user() const = 0;
  // The server's host as libpq resolved it ("" or a path for a Unix socket).
  virtual std::string host() const = 0;
  // Whether the connection is encrypted (TLS).
  virtual bool tls() const = 0;
};

struct Api {
  // Opens a connection to `conninfo` (a postgresql:// URI): Errc::network when the server cannot
  // be reached, Errc::auth when it refuses the role, Errc::config for a malformed URI.
  Result<std::unique_ptr<Conn>> (*connect)(const std::string& conninfo) = nullptr;
  // The URI's parts (PQconninfoParse): "host", "port", "sslmode", ... (empty when absent);
  // Errc::usage for a malformed URI.
  Result<std::vector<std::pair<std::string, std::string>>> (*parse)(const std::string& uri) =
      nullptr;
  int (*library_version)() = nullptr;
};

// The module (libpq) loaded on first use: Errc::config when it cannot be.
Result<const Api*> api();

} // namespace aliot::factory::pg

// The module's one exported symbol (the module is built with hidden visibility).
extern "C" __attribute__((visibility("default"))) const aliot::factory::pg::Api*
aliot_pg_module_v1();
