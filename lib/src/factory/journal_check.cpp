// `journal check` across stations' journals (see check_journals in aliot/factory.hpp): each
// journal's chain verified, the bindings taken from the chain, the tables the chain does not cover
// compared with it, and the heads a shift's export printed looked for.
#include "factory/internal.hpp"
#include "factory/journal_read.hpp"

#include <aliot/encoding.hpp>
#include <aliot/factory.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <map>
#include <optional>
#include <set>
#include <sqlite3.h>
#include <string>
#include <utility>
#include <vector>

namespace aliot::factory {

using detail::event_hash;
using detail::read_bindings;
using detail::read_events;
using detail::read_jobs;
using detail::Stmt;

namespace {

struct Opened {
  std::string path;
  sqlite3* db = nullptr;
  ~Opened() { sqlite3_close(db); }
};

// Read-only: a journal that is missing, or not a journal, is an error.
Result<void> open_read_only(Opened& o) {
  struct stat st {};
  if (::stat(o.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::io, "factory journal " + o.path + ": no such file");
  }
  if (sqlite3_open_v2(o.path.c_str(), &o.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    return Error(Errc::io, "factory journal " + o.path + ": cannot open: "
                               + (o.db != nullptr ? sqlite3_errmsg(o.db) : "out of memory"));
  }
  sqlite3_busy_timeout(o.db, 5000);
  Stmt s(o.db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
               "('job','event','binding')");
  if (!s.ok() || s.step() != SQLITE_ROW || s.integer(0) != 3) {
    return Error(Errc::io, "factory journal " + o.path + ": not an aliot journal"
                               + (s.ok() ? "" : std::string(": ") + sqlite3_errmsg(o.db)));
  }
  return ok();
}

} // namespace

namespace {

// A string field of an event's data ("" when absent or not a string: the data is untrusted).
std::string data_field(const nlohmann::json& d, const char* key) {
  if (!d.is_object()) {
    return {};
  }
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// What one journal's event chain says, read without trusting its other tables.
struct ChainView {
  std::optional<ChainBreak> broken;
  std::set<std::string> intact_hashes; // the hashes of the events before any break
  // (pk, dn) -> every (MAC upper-case, fp) a WRITE_INTENT bound it to, in chain order
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::string, std::string>>>
      intents;
  std::map<std::string, std::set<std::string>> job_events; // job -> its event types
};

Result<ChainView> view_chain(const std::vector<EventRecord>& events) {
  ChainView v;
  std::string prev;
  std::map<std::string, std::string> mac_of_job; // from IDENTIFIED
  for (const auto& e : events) {
    if (!v.broken) {
      ALIOT_TRY_ASSIGN(auto expected, event_hash(prev, e.ts, e.job_id, e.type, e.data_json));
      if (e.prev_hash != prev) {
        v.broken = ChainBreak{e.seq, "its prev_hash is not the hash of the event before it"};
      } else if (expected != e.hash) {
        v.broken = ChainBreak{e.seq, "its hash does not match its contents"};
      } else {
        v.intact_hashes.insert(e.hash);
      }
      prev = e.hash;
    }
    v.job_events[e.job_id].insert(e.type);
    const auto d = nlohmann::json::parse(e.data_json, nullptr, false);
    if (e.type == "IDENTIFIED") {
      mac_of_job[e.job_id] = enc::to_upper(data_field(d, "mac"));
    } else if (e.type == "WRITE_INTENT") {
      v.intents[{data_field(d, "product_key"), data_field(d, "device_name")}].emplace_back(
          mac_of_job[e.job_id], data_field(d, "fp"));
    }
  }
  return v;
}

// The event a job's recorded state comes with.
const char* event_of_state(const std::string& state) {
  if (state == "STARTED") {
    return "JOB_START";
  }
  if (state == "WRITE_INTENT" || state == "PASS" || state == "FAIL" || state == "ABORTED"
      || state == "IN_DOUBT") {
    return state.c_str();
  }
  return nullptr;
}

// The binding table and the job table of one journal against its chain.
void cross_check(const std::string& path,
                 const ChainView& v,
                 const std::vector<Binding>& bindings,
                 const std::vector<JobRecord>& jobs,
                 std::vector<Violation>& out) {
  std::set<std::pair<std::string, std::string>> in_table;
  for (const auto& b : bindings) {
    const std::pair<std::string, std::string> key{b.product_key, b.device_name};
    in_table.insert(key);
    const std::string name = b.product_key + "/" + b.device_name;
    auto it = v.intents.find(key);
    if (it == v.intents.end()) {
      out.push_back({"binding-not-in-chain", path + ": the binding of " + name + " to the unit "
                                                 + b.mac
                                                 + " has no write intent in the event chain"});
      continue;
    }
    const auto& first = it->second.front();
    if (first.first != enc::to_upper(b.mac) || first.second != b.fp) {
      out.push_back({"binding-not-in-chain",
                     path + ": the binding of " + name + " to the unit " + b.mac + " (fingerprint "
                         + b.fp + ") is not what the event chain records (the unit " + first.first
                         + ", fingerprint " + first.second + ")"});
    }
  }
  for (const auto& [key, where] : v.intents) {
    if (in_table.count(key) == 0) {
      out.push_back({"binding-not-in-chain", path + ": the event chain binds " + key.first + "/"
                                                 + key.second + " to the unit "
                                                 + where.front().first
                                                 + ", but the binding table has no row for it"});
    }
  }
  std::set<std::string> job_ids;
  for (const auto& j : jobs) {
    job_ids.insert(j.job_id);
    auto it = v.job_events.find(j.job_id);
    const char* need = event_of_state(j.state);
    const bool started = it != v.job_events.end() && it->second.count("JOB_START") != 0;
    if (!started || need == nullptr || it->second.count(need) == 0) {
      out.push_back({"job-not-in-chain",
                     path + ": the job " + j.job_id + " is " + j.state + " but the event chain has "
                         + (!started ? std::string("no JOB_START for it")
                                     : "no " + std::string(need != nullptr ? need : j.state)
                                           + " event for it")
                         + " (events deleted?)"});
    }
  }
  for (const auto& [job, types] : v.job_events) {
    if (job_ids.count(job) == 0) {
      out.push_back({"job-not-in-chain", path + ": the event chain has the job " + job
                                             + ", which the job table lacks"});
    }
  }
}

} // namespace

Result<CheckReport> check_journals(const std::vector<std::string>& paths,
                                   const std::vector<std::string>& heads) {
  CheckReport rep;
  struct Where {
    std::string mac, fp, journal;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Where>> by_triplet; // (pk, dn)
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::string, std::string>>>
      by_unit; // (MAC, pk) -> (dn, journal)
  std::set<std::string> intact;
  for (const auto& path : paths) {
    Opened o{path};
    ALIOT_TRY(open_read_only(o));
    ++rep.journals;
    ALIOT_TRY_ASSIGN(auto jobs, read_jobs(o.db, path, {}));
    rep.jobs += jobs.size();
    ALIOT_TRY_ASSIGN(auto events, read_events(o.db, path, {}));
    rep.events += events.size();
    ALIOT_TRY_ASSIGN(auto view, view_chain(events));
    if (view.broken) {
      rep.violations.push_back({"broken-chain", path + ": the event chain breaks at event "
                                                    + std::to_string(view.broken->seq) + ": "
                                                    + view.broken->reason});
    }
    intact.insert(view.intact_hashes.begin(), view.intact_hashes.end());
    ALIOT_TRY_ASSIGN(auto bindings, read_bindings(o.db, path));
    rep.bindings += bindings.size();
    cross_check(path, view, bindings, jobs, rep.violations);
    // The never-twice rules run on what the chain records, not on the (uncovered) table.
    for (const auto& [key, where] : view.intents) {
      for (const auto& [mac, fp] : where) {
        by_triplet[key].push_back({mac, fp, path});
        by_unit[{mac, key.first}].emplace_back(key.second, path);
      }
    }
  }
  for (const auto& h : heads) {
    if (intact.count(h) == 0) {
      rep.violations.push_back(
          {"head-not-found", "no journal given holds the event " + h
                                 + " in an intact chain: the chain was cut back before that head "
                                   "(events deleted), or it is the head of another journal"});
    }
  }
  for (const auto& [key, where] : by_triplet) {
    std::set<std::string> macs, fps;
    std::string list, fplist;
    for (const auto& w : where) {
      if (macs.insert(w.mac).second) {
        list += (list.empty() ? "" : ", ") + w.mac + " (" + w.journal + ")";
      }
      if (fps.insert(w.fp).second) {
        fplist += (fplist.empty() ? "" : ", ") + w.fp + " (" + w.journal + ")";
      }
    }
    const std::string name = key.first + "/" + key.second;
    if (macs.size() > 1) {
      rep.violations.push_back({"triplet-two-units", "the triplet " + name + " is bound to "
                                                         + std::to_string(macs.size())
                                                         + " units: " + list});
    }
    if (fps.size() > 1) {
      rep.violations.push_back({"triplet-two-secrets", "the triplet " + name + " was burned with "
                                                           + std::to_string(fps.size())
                                                           + " secrets (fingerprints " + fplist
                                                           + ")"});
    }
  }
  for (const auto& [key, held] : by_unit) {
    std::set<std::string> names;
    std::string list;
    for (const auto& [dn, journal] : held) {
      if (names.insert(dn).second) {
        list += (list.empty() ? "" : ", ") + dn + " (" + journal + ")";
      }
    }
    if (names.size() > 1) {
      rep.violations.push_back(
          {"unit-two-triplets", "the unit " + key.first + " holds " + std::to_string(names.size())
                                    + " triplets of product " + key.second + ": " + list});
    }
  }
  return rep;
}

} // namespace aliot::factory
