// Test support: a real PostgreSQL server of the tests' own, in a temporary directory.
//
// initdb refuses to run as root (CI and the development machine run as root), so when the tests
// run as root the server runs as the `postgres` system user the Debian package creates
// (`runuser -u postgres --`), in a directory chowned to it; otherwise as the current user. It
// listens on a Unix socket in that directory and on a free loopback port, with `trust`
// authentication on both (the tests check what a role may do, not its password).
//
// No server outlives the test process: a watchdog in a session of its own holds the read end of
// a pipe whose write end only this process holds, so whether the test ends normally, fails, or
// the process is killed (a ctest timeout), the pipe closes and the watchdog stops the server
// (`pg_ctl stop -m immediate`) and removes the directory.
#pragma once

#include "support.hpp"

#include <sys/types.h>

#include <string>

namespace aliot::test {

// The directory holding initdb, pg_ctl, postgres and psql: $ALIOT_PG_BINDIR, else
// `pg_config --bindir` when it holds initdb, else the newest /usr/lib/postgresql/<N>/bin. ""
// when none is found.
std::string pg_bindir();

class PgServer {
public:
  // initdb and start; throws std::runtime_error (with initdb's or the log's words) on failure.
  PgServer();
  ~PgServer(); // stops the server (immediate) and removes its directory
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return m_port; }
  const std::string& dir() const { return m_dir; }       // the socket directory
  const std::string& data_dir() const { return m_data; } // PGDATA
  const std::string& bindir() const { return m_bin; }

  // postgresql://ROLE@127.0.0.1:PORT/DB (TCP on loopback).
  std::string uri(const std::string& role, const std::string& db) const;
  // postgresql://ROLE@/DB?host=DIR&port=PORT (the Unix socket).
  std::string socket_uri(const std::string& role, const std::string& db) const;

  // psql -X -A -t -v ON_ERROR_STOP=1 as `role` on `db` over the socket; the rows on stdout, one
  // per line, fields separated by '|'.
  ProcResult psql(const std::string& sql,
                  const std::string& db = "postgres",
                  const std::string& role = "postgres") const;
  // The same as the superuser, failing the test (ADD_FAILURE) when psql does; returns stdout.
  std::string superuser_sql(const std::string& sql, const std::string& db = "postgres") const;

  // CREATE ROLE name LOGIN [attributes] (e.g. "IN ROLE aliot_station", "CREATEROLE").
  void create_role(const std::string& name, const std::string& attributes = "") const;
  // CREATE DATABASE name OWNER owner.
  void create_database(const std::string& name, const std::string& owner) const;

  // `pg_ctl stop -m immediate`: every backend is killed at once, no checkpoint (a crash as far
  // as the clients and the WAL are concerned). Returns pg_ctl's result.
  ProcResult kill_immediate();
  // `pg_ctl start -w` again (after kill_immediate): recovery from the WAL, same port and socket.
  ProcResult start();
  bool running() const;
  // The postmaster's pid (from postmaster.pid), -1 when not running.
  pid_t postmaster_pid() const;
  // The last `bytes` of the server's log (for failure messages).
  std::string log_tail(std::size_t bytes = 4000) const;

private:
  void shutdown(); // closes the watchdog's pipe and waits for it to stop the server
  std::vector<std::string> as_server_user(std::vector<std::string> argv) const;
  ProcResult pg_ctl(const std::vector<std::string>& args) const;

  std::string m_bin;
  std::string m_dir;
  std::string m_data;
  std::string m_log;
  bool m_as_postgres = false;
  int m_port = 0;
  pid_t m_watchdog = -1;
  int m_watchdog_fd = -1;
};

} // namespace aliot::test
