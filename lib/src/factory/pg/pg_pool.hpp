// The credential pool on PostgreSQL (see aliot/factory/pool_server.hpp and schema.cpp): the
// same factory::Pool as the SQLite file, over a connection to the server (module.hpp). Each
// transition is one call of a pool function, one server transaction; the secrets go as bound
// parameters only. A lost connection is opened again on the next call (with back-off); a call
// that lost its answer is sent again once on the new connection (every station function is
// idempotent for its unit), and a reservation that could not be had back is released.
#pragma once

#include "factory/internal.hpp"
#include "factory/pg/module.hpp"

#include <aliot/factory/pool.hpp>

#include <memory>
#include <string>
#include <vector>

namespace aliot::factory::detail {

class PgPool final : public Pool {
public:
  // Connects (Errc::network when the server cannot be reached, Errc::config when it holds no
  // pool: `aliot pool init`).
  static Result<std::unique_ptr<PgPool>> open(const std::string& uri, WallClock clock);

  const std::string& path() const override { return m_shown; }

  Result<ImportReport> import_file(const std::string& file, const ImportOptions& opts) override;
  Result<ImportReport>
  import_text(std::string_view text, const std::string& origin, const ImportOptions& opts) override;
  Result<std::optional<PoolEntry>> tied_to(const std::string& pk, const std::string& mac) override;
  Result<PoolEntry>
  reserve(const std::string& pk, const std::string& mac, const std::string& job) override;
  Result<PoolEntry> record_issued(const std::string& pk,
                                  const std::string& dn,
                                  const Secret& ds,
                                  const Secret& ps,
                                  const std::string& mac,
                                  const std::string& job) override;
  Result<void>
  mark_transmitted(const std::string& pk, const std::string& dn, const std::string& job) override;
  Result<void>
  mark_bound(const std::string& pk, const std::string& dn, const std::string& job) override;
  Result<void> mark_failed(const std::string& pk,
                           const std::string& dn,
                           const std::string& job,
                           Journal* journal) override;
  Result<void> release(const std::string& pk,
                       const std::string& dn,
                       const std::string& job,
                       Journal* journal) override;
  Result<std::vector<PoolCounts>> status() override;
  Result<PoolCheck> check() override;
  Result<std::vector<PoolEntry>> rows(PoolState state) override;

  // A station's recovery: its own RESERVED rows against its journal.
  Result<Reconciled> reconcile(Journal& journal);

  // Round trips to the server so far (the benchmark's count).
  long long round_trips() const { return m_round_trips; }

private:
  PgPool(const pg::Api* api, std::string uri);

  // One statement; connects first when there is no connection. `retry`: sent once more on a
  // new connection when the first lost its answer.
  Result<pg::Reply>
  call(const std::string& sql, const std::vector<pg::Param>& params, bool retry = true);
  Result<void> connect();
  Error error_of(const pg::Reply& r) const;
  Error lost(const std::string& why) const;
  Result<PoolEntry> one_entry(const pg::Reply& r) const;
  Result<std::string> move(const char* fn,
                           const std::string& pk,
                           const std::string& dn,
                           const std::string& job,
                           const std::optional<std::string>& jmac);

  const pg::Api* m_api;
  std::string m_uri, m_shown;
  std::unique_ptr<pg::Conn> m_conn;
  std::vector<std::string> m_lost_jobs; // reservations whose answer was lost
  long long m_round_trips = 0;
};

// Pool::open's side for a URI.
Result<std::unique_ptr<Pool>> open_server_pool(const std::string& uri, WallClock clock);

} // namespace aliot::factory::detail
