// Pool import: every row of a file checked, then all of them inserted in one transaction, or
// none (see aliot/factory/pool.hpp).
#include "factory/import.hpp"
#include "factory/sqlite_pool.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/serial/codec.hpp>

#include <algorithm>
#include <utility>

namespace aliot::factory::detail {

Result<ImportReport> SqlitePool::import_file(const std::string& file, const ImportOptions& opts) {
  ALIOT_TRY_ASSIGN(auto text,
                   config::read_bounded(file, k_max_import, "pool import file " + file, Errc::io));
  auto r = import_text(text, file, opts);
  std::fill(text.begin(), text.end(), '\0');
  return r;
}

Result<ImportReport> SqlitePool::import_text(std::string_view text,
                                             const std::string& origin,
                                             const ImportOptions& opts) {
  ALIOT_TRY_ASSIGN(auto parsed, parse_import(text, origin, opts.product_key));
  ImportReport rep;
  rep.format = parsed.format;
  rep.sha256 = crypto::sha256_hex(text);
  // The same bytes imported before, every row still in the pool as that product's: nothing to
  // do (a re-run of the same import). A file that differs, even by one byte, goes the usual way:
  // its rows already in the pool refuse it.
  {
    Stmt prev(m_db,
              "SELECT rows,imported_at FROM import WHERE sha256=? ORDER BY import_id LIMIT 1");
    prev.bind(1, rep.sha256);
    if (prev.step() == SQLITE_ROW) {
      const auto rows = static_cast<std::size_t>(prev.integer(0));
      const std::string at = prev.text(1);
      bool all_there = rows == parsed.rows.size();
      for (const auto& row : parsed.rows) {
        if (!all_there) {
          break;
        }
        Stmt s(m_db, "SELECT 1 FROM pool WHERE product_key=? AND device_name=?");
        s.bind(1, row.product_key).bind(2, row.device_name);
        all_there = s.step() == SQLITE_ROW;
      }
      if (all_there) {
        rep.rows = rows;
        rep.already_imported = true;
        rep.imported_at = at;
        ALIOT_TRY_ASSIGN(rep.products, status());
        return rep;
      }
    }
  }
  for (const auto& row : parsed.rows) {
    if (opts.journal != nullptr) {
      ALIOT_TRY_ASSIGN(auto mac, opts.journal->bound_mac(row.product_key, row.device_name));
      if (mac) {
        return Error(Errc::usage,
                     origin + " line " + std::to_string(row.line) + ": DeviceName "
                         + row.device_name + " is already bound to the unit " + *mac
                         + " in the journal",
                     "nothing was imported: remove the row");
      }
    }
  }
  ALIOT_TRY_ASSIGN(auto tx, begin());
  const std::string now = now_utc();
  for (const auto& row : parsed.rows) {
    {
      Stmt s(m_db, "SELECT state FROM pool WHERE product_key=? AND device_name=?");
      s.bind(1, row.product_key).bind(2, row.device_name);
      if (s.step() == SQLITE_ROW) {
        return Error(Errc::usage,
                     origin + " line " + std::to_string(row.line) + ": DeviceName "
                         + row.device_name + " of " + row.product_key + " is already in the pool ("
                         + s.text(0) + ")",
                     "nothing was imported: remove the row");
      }
    }
    ALIOT_TRY_ASSIGN(auto fp, serial::fingerprint(row.product_key, row.device_name,
                                                  row.device_secret, row.product_secret));
    Stmt ins(m_db, "INSERT INTO pool(product_key,device_name,device_secret,product_secret,fp,"
                   "source,state,updated_at) VALUES(?,?,?,?,?,?,'AVAILABLE',?)");
    ins.bind(1, row.product_key)
        .bind(2, row.device_name)
        .bind(3, row.device_secret.reveal())
        .bind(4, row.product_secret.reveal())
        .bind(5, fp)
        .bind(6, "import:" + rep.sha256)
        .bind(7, now);
    if (ins.step() != SQLITE_DONE) {
      return io_error("cannot import line " + std::to_string(row.line));
    }
  }
  Stmt imp(m_db, "INSERT INTO import(file,sha256,format,rows,imported_at) VALUES(?,?,?,?,?)");
  imp.bind(1, origin)
      .bind(2, rep.sha256)
      .bind(3, rep.format)
      .bind(4, static_cast<long long>(parsed.rows.size()))
      .bind(5, now);
  if (imp.step() != SQLITE_DONE) {
    return io_error("cannot record the import");
  }
  ALIOT_TRY(tx.commit());
  rep.rows = parsed.rows.size();
  ALIOT_TRY_ASSIGN(rep.products, status());
  return rep;
}

} // namespace aliot::factory::detail
