// The PostgreSQL module (libaliot-pg.so, see module.hpp): a connection over libpq. Every value
// goes as a bound parameter (PQexecParams, text format), so no secret is ever in a statement's
// text, and none reaches the server's log with a logged statement.
#include "factory/pg/module.hpp"

#include <cstring>
#include <libpq-fe.h>
#include <utility>

namespace aliot::factory::pg {

namespace {

std::string one_line(const char* s) {
  std::string out = s != nullptr ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  for (auto& c : out) {
    if (c == '\n' || c == '\t') {
      c = ' ';
    }
  }
  return out;
}

class LibpqConn final : public Conn {
public:
  explicit LibpqConn(PGconn* c)
      : m_c(c) {}
  ~LibpqConn() override { PQfinish(m_c); }
  LibpqConn(const LibpqConn&) = delete;
  LibpqConn& operator=(const LibpqConn&) = delete;

  Reply exec(const std::string& sql, const std::vector<Param>& params) override {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
      values.push_back(p ? p->c_str() : nullptr);
    }
    return reply(PQexecParams(m_c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
  }

  Reply script(const std::string& sql) override { return reply(PQexec(m_c, sql.c_str())); }

  bool alive() const override { return PQstatus(m_c) == CONNECTION_OK; }
  std::string user() const override { return PQuser(m_c) != nullptr ? PQuser(m_c) : ""; }
  std::string host() const override { return PQhost(m_c) != nullptr ? PQhost(m_c) : ""; }
  bool tls() const override { return PQsslInUse(m_c) != 0; }

private:
  Reply reply(PGresult* r) {
    Reply out;
    const auto st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      out.ok = true;
      const int n = PQntuples(r);
      const int f = PQnfields(r);
      out.rows.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        Row row;
        row.reserve(static_cast<std::size_t>(f));
        for (int j = 0; j < f; ++j) {
          if (PQgetisnull(r, i, j) != 0) {
            row.emplace_back();
          } else {
            row.emplace_back(
                std::string(PQgetvalue(r, i, j), static_cast<std::size_t>(PQgetlength(r, i, j))));
          }
        }
        out.rows.push_back(std::move(row));
      }
    } else {
      const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
      const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      const char* hint = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : nullptr;
      out.sqlstate = state != nullptr ? state : "";
      out.message = one_line(primary != nullptr ? primary : PQerrorMessage(m_c));
      out.hint = one_line(hint);
      out.connection_lost = PQstatus(m_c) != CONNECTION_OK;
    }
    if (r != nullptr) {
      PQclear(r);
    }
    return out;
  }

  PGconn* m_c;
};

void quiet(void* /*arg*/, const char* /*message*/) {} // NOTICEs are not the operator's

Result<std::unique_ptr<Conn>> connect(const std::string& conninfo) {
  // The URI's own keywords win; these are defaults: a dead server is seen in 5 s, and a dead
  // peer by TCP keepalives.
  const char* keys[] = {"connect_timeout", "application_name", "keepalives_idle", "dbname",
                        nullptr};
  const char* vals[] = {"5", "aliot", "30", conninfo.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, 1);
  if (c == nullptr) {
    return Error(Errc::internal, "libpq: out of memory");
  }
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = one_line(PQerrorMessage(c));
    PQfinish(c);
    const bool auth = why.find("authentication") != std::string::npos
                      || why.find("role \"") != std::string::npos
                      || why.find("password") != std::string::npos;
    return Error(auth ? Errc::auth : Errc::network, "cannot connect: " + why);
  }
  PQsetNoticeProcessor(c, quiet, nullptr);
  return std::unique_ptr<Conn>(std::make_unique<LibpqConn>(c));
}

Result<std::vector<std::pair<std::string, std::string>>> parse(const std::string& uri) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(uri.c_str(), &err);
  if (opts == nullptr) {
    std::string why = one_line(err != nullptr ? err : "out of memory");
    PQfreemem(err);
    return Error(Errc::usage, "not a PostgreSQL connection URI: " + why);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) {
      out.emplace_back(o->keyword, o->val);
    }
  }
  PQconninfoFree(opts);
  return out;
}

const Api k_api{connect, parse, PQlibVersion};

} // namespace

} // namespace aliot::factory::pg

const aliot::factory::pg::Api* aliot_pg_module_v1() {
  return &aliot::factory::pg::k_api;
}
