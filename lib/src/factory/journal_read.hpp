// The journal's tables as read by the journal itself and by `journal check` (journal_check.cpp),
// and the link of its hash chain.
#pragma once

#include <aliot/error.hpp>
#include <aliot/factory.hpp>

#include <sqlite3.h>
#include <string>
#include <vector>

namespace aliot::factory::detail {

// What an event's hash covers: SHA-256 over the previous hash, ts, job, type and data, one a line.
Result<std::string> event_hash(const std::string& prev,
                               const std::string& ts,
                               const std::string& job,
                               const std::string& type,
                               const std::string& data);
// Errc::io "factory journal PATH: cannot read the WHAT: <SQLite's message>".
Error read_error(sqlite3* db, const std::string& path, const char* what);
// The jobs started (the events stamped) at or after `since` ("" for all), in order.
Result<std::vector<JobRecord>>
read_jobs(sqlite3* db, const std::string& path, const std::string& since);
Result<std::vector<EventRecord>>
read_events(sqlite3* db, const std::string& path, const std::string& since);
Result<std::vector<Binding>> read_bindings(sqlite3* db, const std::string& path);

} // namespace aliot::factory::detail
