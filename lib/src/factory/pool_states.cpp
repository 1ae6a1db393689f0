// The pool rows' transitions (see aliot/factory/pool.hpp): reserve (the secret checked against
// its fingerprint first), record_issued, transmitted, bound, failed, release. Each one
// sqlite::Transaction, durable (synchronous=FULL) when it returns.
#include "factory/sqlite_pool.hpp"

#include <aliot/encoding.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/serial/dialect.hpp>

#include <utility>

namespace aliot::factory::detail {

namespace {

std::string select_where(const char* where) {
  return std::string("SELECT ") + k_pool_cols + " FROM pool WHERE " + where;
}

} // namespace

Result<std::optional<PoolEntry>> SqlitePool::tied_to(const std::string& pk,
                                                     const std::string& mac) {
  Stmt s(m_db, select_where("product_key=? AND mac=?").c_str());
  s.bind(1, pk).bind(2, mac);
  const int rc = s.step();
  if (rc == SQLITE_ROW) {
    auto e = entry_of(s);
    if (e.state != PoolState::quarantined) {
      return std::optional<PoolEntry>(std::move(e));
    }
    return std::optional<PoolEntry>();
  }
  if (rc != SQLITE_DONE) {
    return io_error("cannot read the pool");
  }
  return std::optional<PoolEntry>();
}

Result<PoolEntry>
SqlitePool::reserve(const std::string& pk, const std::string& mac, const std::string& job) {
  if (mac.empty()) {
    return Error(Errc::internal, "credential pool: reserve without a MAC");
  }
  ALIOT_TRY_ASSIGN(auto tx, begin());
  {
    Stmt s(m_db, select_where("product_key=? AND mac=?").c_str());
    s.bind(1, pk).bind(2, mac);
    if (s.step() == SQLITE_ROW) {
      auto e = entry_of(s);
      if (e.state == PoolState::quarantined) {
        // A unit that already has another triplet: the unit's state (exit 8), as when the
        // unit or the journal says so.
        return Error(Errc::device,
                     "the unit " + mac + " is tied to the quarantined triplet " + e.device_name
                         + " of " + pk,
                     "a quarantined triplet is given out only by a supervisor's rebind");
      }
      if (!fingerprint_holds(e)) {
        // The unit's own triplet is damaged: set aside (still tied to the unit), never sent.
        ALIOT_TRY(set_state(e, Move{PoolState::quarantined}, job));
        ALIOT_TRY(tx.commit());
        return Error(Errc::device,
                     "the unit " + mac + " is tied to the triplet " + e.device_name + " of " + pk
                         + ", whose stored secret no longer matches its fingerprint (the pool "
                           "file was edited or is damaged): it is now QUARANTINED",
                     "restore the pool " + m_path + " from its backup; nothing was sent");
      }
      if (e.state == PoolState::reserved) {
        Stmt u(m_db, "UPDATE pool SET job_id=?,updated_at=? WHERE product_key=? AND "
                     "device_name=?");
        u.bind(1, job).bind(2, now_utc()).bind(3, pk).bind(4, e.device_name);
        if (u.step() != SQLITE_DONE) {
          return io_error("cannot reserve " + e.device_name);
        }
        e.job_id = job;
      }
      ALIOT_TRY(tx.commit());
      return e;
    }
  }
  std::vector<std::string> set_aside;
  for (;;) {
    Stmt s(m_db,
           select_where("product_key=? AND state='AVAILABLE' ORDER BY triplet_id LIMIT 1").c_str());
    s.bind(1, pk);
    const int rc = s.step();
    if (rc != SQLITE_ROW) {
      if (rc != SQLITE_DONE) {
        return io_error("cannot read the pool");
      }
      std::string aside;
      if (!set_aside.empty()) {
        ALIOT_TRY(tx.commit()); // the damaged rows stay set aside
        aside = " (" + std::to_string(set_aside.size())
                + " damaged triplets set aside as QUARANTINED on the way)";
      }
      return Error(Errc::config,
                   "the pool " + m_path + " has no free triplet of product " + pk + " left" + aside,
                   "import more: aliot pool import --pool " + m_path + " --csv FILE");
    }
    auto e = entry_of(s);
    if (!fingerprint_holds(e)) {
      ALIOT_TRY(set_state(e, Move{PoolState::quarantined, true}, {}));
      set_aside.push_back(e.device_name);
      continue;
    }
    Stmt u(m_db, "UPDATE pool SET state='RESERVED',mac=?,job_id=?,updated_at=? WHERE "
                 "product_key=? AND device_name=? AND state='AVAILABLE'");
    u.bind(1, mac).bind(2, job).bind(3, now_utc()).bind(4, pk).bind(5, e.device_name);
    if (u.step() != SQLITE_DONE || sqlite3_changes(m_db) != 1) {
      return io_error("cannot reserve " + e.device_name);
    }
    ALIOT_TRY(tx.commit()); // synchronous=FULL: durable when this returns
    e.state = PoolState::reserved;
    e.mac = mac;
    e.job_id = job;
    e.set_aside = std::move(set_aside);
    return e;
  }
}

Result<PoolEntry> SqlitePool::record_issued(const std::string& pk,
                                            const std::string& dn,
                                            const Secret& ds,
                                            const Secret& ps,
                                            const std::string& mac,
                                            const std::string& job) {
  if (auto v = serial::validate_credentials({pk, dn, ds, ps}); !v) {
    return Error(Errc::usage, "the issued credentials of " + dn + ": " + v.error().message());
  }
  if (mac.empty()) {
    return Error(Errc::internal, "credential pool: an issued secret without a MAC");
  }
  ALIOT_TRY_ASSIGN(auto fp, serial::fingerprint(pk, dn, ds, ps));
  ALIOT_TRY_ASSIGN(auto tx, begin());
  {
    Stmt s(m_db, select_where("product_key=? AND (device_name=? OR mac=?)").c_str());
    s.bind(1, pk).bind(2, dn).bind(3, mac);
    if (s.step() == SQLITE_ROW) {
      auto e = entry_of(s);
      if (e.device_name == dn && e.mac == mac && e.fp == fp) {
        return e;
      }
      if (e.device_name != dn) {
        // the unit's state, as when the unit or the journal says it has another triplet
        return Error(Errc::device, "the unit " + mac + " is already tied to the triplet "
                                       + e.device_name + " of " + pk + " in the pool");
      }
      return Error(Errc::usage,
                   "the pool already holds " + dn + " of " + pk + " with another "
                       + (e.mac != mac ? "unit (" + e.mac + ")" : std::string("secret"))
                       + "; nothing was overwritten");
    }
  }
  Stmt ins(m_db, "INSERT INTO pool(product_key,device_name,device_secret,product_secret,fp,"
                 "source,state,job_id,mac,updated_at) VALUES(?,?,?,?,?,'issued','RESERVED',?,?,?)");
  ins.bind(1, pk)
      .bind(2, dn)
      .bind(3, ds.reveal())
      .bind(4, ps.reveal())
      .bind(5, fp)
      .bind(6, job)
      .bind(7, mac)
      .bind(8, now_utc());
  if (ins.step() != SQLITE_DONE) {
    return io_error("cannot record the issued secret of " + dn);
  }
  ALIOT_TRY(tx.commit()); // durable before the caller sends a byte
  PoolEntry e{pk, dn, ds, ps, fp, PoolState::reserved, mac, job, true, {}};
  return e;
}

Result<void>
SqlitePool::mark_transmitted(const std::string& pk, const std::string& dn, const std::string& job) {
  return move_row(pk, dn, job, [](const PoolEntry& e) -> Result<std::optional<Move>> {
    if (e.state == PoolState::reserved) {
      return std::optional<Move>(Move{PoolState::transmitted});
    }
    if (e.state == PoolState::available) {
      return Error(Errc::internal, "the triplet " + e.device_name + " was never reserved");
    }
    return std::optional<Move>(); // already past it
  });
}

Result<void>
SqlitePool::mark_bound(const std::string& pk, const std::string& dn, const std::string& job) {
  return move_row(pk, dn, job, [](const PoolEntry& e) -> Result<std::optional<Move>> {
    if (e.state == PoolState::available) {
      return Error(Errc::internal, "the triplet " + e.device_name + " was never reserved");
    }
    return std::optional<Move>(Move{PoolState::bound});
  });
}

Result<void> SqlitePool::mark_failed(const std::string& pk,
                                     const std::string& dn,
                                     const std::string& job,
                                     Journal* journal) {
  ALIOT_TRY_ASSIGN(auto jm, journal_mac(pk, dn, journal));
  return move_row(pk, dn, job, [&](const PoolEntry& e) -> Result<std::optional<Move>> {
    switch (e.state) {
    case PoolState::available:
      return Error(Errc::internal, "the triplet " + e.device_name + " was never reserved");
    case PoolState::reserved:
      if (jm) {
        return std::optional<Move>(after_intent(e, *jm, PoolState::failed));
      }
      return std::optional<Move>(released(e));
    case PoolState::transmitted: return std::optional<Move>(Move{PoolState::failed});
    default: return std::optional<Move>(); // BOUND, FAILED, QUARANTINED stay
    }
  });
}

Result<void> SqlitePool::release(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& job,
                                 Journal* journal) {
  ALIOT_TRY_ASSIGN(auto jm, journal_mac(pk, dn, journal));
  std::optional<Move> kept;
  ALIOT_TRY(move_row(pk, dn, job, [&](const PoolEntry& e) -> Result<std::optional<Move>> {
    if (e.state != PoolState::reserved) {
      return Error(Errc::usage, "the triplet " + e.device_name + " is " + pool_state_name(e.state)
                                    + ", not RESERVED: it stays");
    }
    if (jm) {
      kept = after_intent(e, *jm, PoolState::transmitted);
      return kept;
    }
    return std::optional<Move>(released(e));
  }));
  if (kept) {
    return Error(Errc::usage, "the triplet " + dn + " has a write intent in the journal (unit "
                                  + *jm + "): it is not released (now " + pool_state_name(kept->to)
                                  + ")");
  }
  return ok();
}

Result<void> SqlitePool::set_state(const PoolEntry& e, const Move& to, const std::string& job) {
  Stmt u(m_db, "UPDATE pool SET state=?,mac=?,job_id=?,updated_at=? WHERE product_key=? AND "
               "device_name=?");
  u.bind(1, std::string(pool_state_name(to.to)));
  bind_or_null(u, 2, to.untie ? std::string() : e.mac);
  bind_or_null(u, 3, to.untie ? std::string() : (job.empty() ? e.job_id : job));
  u.bind(4, now_utc()).bind(5, e.product_key).bind(6, e.device_name);
  if (u.step() != SQLITE_DONE) {
    return io_error("cannot update " + e.device_name);
  }
  return ok();
}

SqlitePool::Move SqlitePool::released(const PoolEntry& e) {
  return e.issued ? Move{PoolState::reserved} : Move{PoolState::available, true};
}

SqlitePool::Move
SqlitePool::after_intent(const PoolEntry& e, const std::string& journal_mac, PoolState to) {
  if (!enc::iequals(journal_mac, e.mac)) { // MACs compared without case
    return Move{PoolState::quarantined, true};
  }
  return Move{to};
}

Result<std::optional<std::string>>
SqlitePool::journal_mac(const std::string& pk, const std::string& dn, Journal* journal) {
  if (journal == nullptr) {
    return std::optional<std::string>();
  }
  return journal->bound_mac(pk, dn);
}

} // namespace aliot::factory::detail
