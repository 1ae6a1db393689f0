// A station's recovery on the pool (Journal::recover): every RESERVED row reconciled with the
// station's journal. The journal is the authority on what may have left the host, and it knows
// only its own jobs: a row it has a write intent for becomes TRANSMITTED (or QUARANTINED when it
// binds the triplet to another unit); a row without one is given back only when its job is one
// of this journal's. A row reserved by another station's job may have that station's write
// intent, which this journal cannot see: it stays RESERVED until that station recovers.
#include "factory/sqlite_pool.hpp"

namespace aliot::factory::detail {

Result<Reconciled> SqlitePool::reconcile(Journal& journal) {
  ALIOT_TRY_ASSIGN(auto reserved, rows(PoolState::reserved));
  Reconciled rec;
  for (const auto& e : reserved) {
    ALIOT_TRY_ASSIGN(auto jm, journal_mac(e.product_key, e.device_name, &journal));
    std::optional<Move> m;
    if (jm) {
      m = after_intent(e, *jm, PoolState::transmitted);
      ++(m->to == PoolState::transmitted ? rec.transmitted : rec.quarantined);
    } else if (!e.issued) {
      ALIOT_TRY_ASSIGN(const bool mine, journal.has_job(e.job_id));
      if (!mine) {
        ++rec.others;
        continue;
      }
      m = released(e);
      ++rec.released;
    }
    if (m) {
      ALIOT_TRY(move_row(e.product_key, e.device_name, e.job_id,
                         [&](const PoolEntry&) -> Result<std::optional<Move>> { return m; }));
    }
  }
  return rec;
}

} // namespace aliot::factory::detail
