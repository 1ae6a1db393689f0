#include "pg_server.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ; // NOLINT

namespace aliot::test {

namespace fs = std::filesystem;

namespace {

bool has_server(const std::string& dir) {
  std::error_code ec;
  return !dir.empty() && fs::exists(dir + "/initdb", ec) && fs::exists(dir + "/pg_ctl", ec)
         && fs::exists(dir + "/postgres", ec);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// The major version in /usr/lib/postgresql/<N>/bin, for picking the newest.
int version_of(const fs::path& bin) {
  try {
    return std::stoi(bin.parent_path().filename().string());
  } catch (...) {
    return -1;
  }
}

} // namespace

std::string pg_bindir() {
  if (const char* env = std::getenv("ALIOT_PG_BINDIR"); env != nullptr && has_server(env)) {
    return env;
  }
  if (have_program("pg_config")) {
    const auto r = run({"pg_config", "--bindir"}, {.timeout_s = 10});
    if (r.status == 0 && has_server(trim(r.out))) {
      return trim(r.out);
    }
  }
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = e.path() / "bin";
    if (has_server(bin.string())) {
      found.push_back(bin);
    }
  }
  if (found.empty()) {
    return {};
  }
  std::sort(found.begin(), found.end(),
            [](const fs::path& a, const fs::path& b) { return version_of(a) < version_of(b); });
  return found.back().string();
}

PgServer::PgServer() {
  m_bin = pg_bindir();
  if (m_bin.empty()) {
    throw std::runtime_error("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in "
                             "$ALIOT_PG_BINDIR, `pg_config --bindir` or /usr/lib/postgresql/*/bin: "
                             "install Debian's postgresql (scripts/install-deps.sh)");
  }
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  if (uid == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      throw std::runtime_error("running as root and there is no `postgres` user to run the test "
                               "server as (initdb refuses root): install Debian's postgresql");
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    m_as_postgres = true;
  }
  // /tmp, not $TMPDIR: the server user must reach it, and the socket path must stay short.
  std::string tmpl = "/tmp/aliot-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  m_dir = tmpl;
  m_data = m_dir + "/data";
  m_log = m_dir + "/server.log";
  if (m_as_postgres && ::chown(m_dir.c_str(), uid, gid) != 0) {
    const std::string why = std::strerror(errno);
    fs::remove_all(m_dir);
    throw std::runtime_error("chown " + m_dir + " to postgres: " + why);
  }

  // The watchdog first, so that nothing started below can outlive this process.
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    fs::remove_all(m_dir);
    throw std::runtime_error("pipe failed");
  }
  // bash -c SCRIPT BINDIR DATA DIR [runuser -u postgres --]: "$@" after the shift is the prefix.
  std::vector<std::string> argv = {"/bin/bash",
                                   "-c",
                                   "data=$1 dir=$2; shift 2; read -r _; "
                                   "\"$@\" \"$0/pg_ctl\" -D \"$data\" stop -m immediate "
                                   ">/dev/null 2>&1; rm -rf \"$dir\"",
                                   m_bin,
                                   m_data,
                                   m_dir};
  if (m_as_postgres) {
    for (const char* a : {"runuser", "-u", "postgres", "--"}) {
      argv.emplace_back(a);
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[0], 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  const int rc = ::posix_spawn(&m_watchdog, "/bin/bash", &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(p[0]);
  if (rc != 0) {
    ::close(p[1]);
    fs::remove_all(m_dir);
    throw std::runtime_error(std::string("cannot start the server's watchdog: ")
                             + std::strerror(rc));
  }
  m_watchdog_fd = p[1];

  auto fail = [this](const std::string& what) {
    const std::string tail = log_tail();
    shutdown(); // the constructor throws: the destructor will not run
    throw std::runtime_error(what + (tail.empty() ? "" : "\nserver log:\n" + tail));
  };
  const auto init =
      run(as_server_user({m_bin + "/initdb", "-D", m_data, "-U", "postgres", "-A", "trust", "-E",
                          "UTF8", "--locale=C", "--no-sync", "--no-instructions"}),
          {.timeout_s = 120});
  if (init.status != 0) {
    fail("initdb failed (" + std::to_string(init.status) + "): " + init.out + init.err);
  }
  m_port = free_port();
  // Appended to postgresql.conf (the last setting wins), so a restart keeps them.
  std::ofstream conf(m_data + "/postgresql.conf", std::ios::app);
  conf << "\n# the aliot test server\n"
       << "port = " << m_port << "\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << m_dir << "'\n"
       << "max_connections = 60\n"
       << "shared_buffers = 16MB\n"
       << "logging_collector = off\n";
  conf.close();
  if (!conf) {
    fail("cannot write " + m_data + "/postgresql.conf");
  }
  const auto started = start();
  if (started.status != 0) {
    fail("pg_ctl start failed (" + std::to_string(started.status) + "): " + started.out
         + started.err);
  }
}

PgServer::~PgServer() {
  shutdown();
}

void PgServer::shutdown() {
  if (m_watchdog_fd >= 0) {
    ::close(m_watchdog_fd); // the watchdog stops the server and removes the directory
    m_watchdog_fd = -1;
  }
  if (m_watchdog > 0) {
    int st = 0;
    while (::waitpid(m_watchdog, &st, 0) < 0 && errno == EINTR) {
    }
    m_watchdog = -1;
  }
}

std::vector<std::string> PgServer::as_server_user(std::vector<std::string> argv) const {
  if (m_as_postgres) {
    argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  }
  return argv;
}

ProcResult PgServer::pg_ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {m_bin + "/pg_ctl", "-D", m_data};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(as_server_user(argv), {.timeout_s = 120});
}

ProcResult PgServer::start() {
  return pg_ctl({"-l", m_log, "-w", "-t", "90", "start"});
}

ProcResult PgServer::kill_immediate() {
  return pg_ctl({"-w", "-t", "60", "stop", "-m", "immediate"});
}

bool PgServer::running() const {
  return pg_ctl({"status"}).status == 0;
}

pid_t PgServer::postmaster_pid() const {
  std::ifstream in(m_data + "/postmaster.pid");
  long pid = -1;
  if (!(in >> pid) || !running()) {
    return -1;
  }
  return static_cast<pid_t>(pid);
}

std::string PgServer::log_tail(std::size_t bytes) const {
  std::ifstream in(m_log, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  return s.size() <= bytes ? s : s.substr(s.size() - bytes);
}

std::string PgServer::uri(const std::string& role, const std::string& db) const {
  return "postgresql://" + role + "@127.0.0.1:" + std::to_string(m_port) + "/" + db;
}

std::string PgServer::socket_uri(const std::string& role, const std::string& db) const {
  return "postgresql://" + role + "@/" + db + "?host=" + m_dir + "&port=" + std::to_string(m_port);
}

ProcResult
PgServer::psql(const std::string& sql, const std::string& db, const std::string& role) const {
  return run({m_bin + "/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", m_dir, "-p",
              std::to_string(m_port), "-U", role, "-d", db, "-c", sql},
             {.timeout_s = 60});
}

std::string PgServer::superuser_sql(const std::string& sql, const std::string& db) const {
  const auto r = psql(sql, db);
  if (r.status != 0) {
    ADD_FAILURE() << "psql as the superuser on " << db << " failed (" << r.status << "): " << r.err
                  << "\nSQL: " << sql;
  }
  return r.out;
}

void PgServer::create_role(const std::string& name, const std::string& attributes) const {
  superuser_sql("CREATE ROLE " + name + " LOGIN " + attributes);
}

void PgServer::create_database(const std::string& name, const std::string& owner) const {
  superuser_sql("CREATE DATABASE " + name + " OWNER " + owner);
}

} // namespace aliot::test
