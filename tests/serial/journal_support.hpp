// Test glue for the factory journal: SQL run by Python's sqlite3 (another SQLite client than
// lib's), an independent recomputation of the event hash chain, and a byte scan of every file
// of the database set.
#pragma once

#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace aliot::test {

// Runs `sql` (one statement; its rows printed one per line as Python tuples) on the database.
inline ProcResult journal_sql(const std::string& db, const std::string& sql) {
  return run({"python3", "-c",
              "import sqlite3,sys\n"
              "c=sqlite3.connect(sys.argv[1])\n"
              "for r in c.execute(sys.argv[2]): print(r)\n"
              "c.commit()\n",
              db, sql});
}

// Recomputes the chain without lib: prints "intact N" (exit 0) or "broken at SEQ" (exit 1).
inline ProcResult recompute_chain(const std::string& db) {
  return run({"python3", "-c",
              "import sqlite3,sys,hashlib\n"
              "c=sqlite3.connect(sys.argv[1]); prev=''; n=0\n"
              "for seq,ts,job,typ,data,ph,h in c.execute('select seq,ts,job_id,type,data_json,"
              "prev_hash,hash from event order by seq'):\n"
              "  mine=hashlib.sha256('\\n'.join([prev,ts,job,typ,data]).encode()).hexdigest()\n"
              "  if ph!=prev or mine!=h: print('broken at',seq); sys.exit(1)\n"
              "  prev=h; n+=1\n"
              "print('intact',n)\n",
              db});
}

// Makes the event `seq` look as if its data had been written so: the row's hash is recomputed
// over the new data, so only the next event's prev_hash can tell.
inline ProcResult
rewrite_event_consistently(const std::string& db, int seq, const std::string& data) {
  return run({"python3", "-c",
              "import sqlite3,sys,hashlib\n"
              "c=sqlite3.connect(sys.argv[1]); seq=int(sys.argv[2]); data=sys.argv[3]\n"
              "ph,ts,job,typ=c.execute('select prev_hash,ts,job_id,type from event where seq=?',"
              "(seq,)).fetchone()\n"
              "h=hashlib.sha256('\\n'.join([ph,ts,job,typ,data]).encode()).hexdigest()\n"
              "c.execute('update event set data_json=?,hash=? where seq=?',(data,h,seq))\n"
              "c.commit()\n",
              db, std::to_string(seq), data});
}

// The files of the database set at `db` that exist: db, db-wal, db-shm, db-journal.
inline std::vector<std::string> database_files(const std::string& db) {
  std::vector<std::string> out;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    if (std::filesystem::exists(db + suffix)) {
      out.push_back(db + suffix);
    }
  }
  return out;
}

// The first of `files` whose bytes contain `needle`, or "".
inline std::string file_containing(const std::vector<std::string>& files,
                                   const std::string& needle) {
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) {
      return f;
    }
  }
  return {};
}

} // namespace aliot::test
