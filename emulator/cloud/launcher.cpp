// The emulator's launcher: state directory, loopback ports, certificates, mosquitto.conf, the
// broker child and its supervision.
#include "util/subprocess.hpp"

#include <aliot/config.hpp>
#include <aliot/emu/launcher.hpp>
#include <aliot/emu/registry.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace aliot::emu {

namespace {

namespace fs = std::filesystem;

// A TCP socket (close-on-exec) and the loopback address with `port` (0: any); fd < 0 on failure.
struct Loopback {
  int fd;
  sockaddr_in addr;
};
Loopback loopback(int port) {
  Loopback l{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), {}};
  l.addr.sin_family = AF_INET;
  l.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  l.addr.sin_port = htons(static_cast<uint16_t>(port));
  return l;
}

bool port_free(int port) {
  Loopback l = loopback(port);
  if (l.fd < 0) {
    return false;
  }
  // As the broker's and the AMQP listeners do: connections of a previous run in TIME_WAIT do
  // not make a port busy (on Linux a port someone listens on still is).
  const int one = 1;
  ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = ::bind(l.fd, reinterpret_cast<sockaddr*>(&l.addr), sizeof l.addr) == 0;
  ::close(l.fd);
  return ok;
}

int pick_port(std::vector<int>& taken) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    Loopback l = loopback(0);
    socklen_t len = sizeof l.addr;
    int port = -1;
    if (l.fd >= 0 && ::bind(l.fd, reinterpret_cast<sockaddr*>(&l.addr), sizeof l.addr) == 0
        && ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&l.addr), &len) == 0) {
      port = ntohs(l.addr.sin_port);
    }
    if (l.fd >= 0) {
      ::close(l.fd);
    }
    if (port > 0 && std::find(taken.begin(), taken.end(), port) == taken.end()) {
      taken.push_back(port);
      return port;
    }
  }
  return -1;
}

bool port_answers(int port) {
  Loopback l = loopback(port);
  if (l.fd < 0) {
    return false;
  }
  const bool ok = ::connect(l.fd, reinterpret_cast<sockaddr*>(&l.addr), sizeof l.addr) == 0;
  ::close(l.fd);
  return ok;
}

bool executable(const std::string& p) {
  return !p.empty() && ::access(p.c_str(), X_OK) == 0;
}

std::optional<std::string> find_mosquitto(const LaunchOptions& o) {
  if (o.mosquitto) {
    return executable(*o.mosquitto) ? o.mosquitto : std::nullopt;
  }
  std::string path = o.search_path.empty() ? "/usr/bin:/bin" : o.search_path;
  path += ":/usr/sbin:/usr/local/sbin:/sbin";
  std::stringstream ss(path);
  std::string d;
  while (std::getline(ss, d, ':')) {
    if (!d.empty() && executable(d + "/mosquitto")) {
      return d + "/mosquitto";
    }
  }
  return std::nullopt;
}

std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    return {};
  }
  return fs::path(std::string(buf, static_cast<std::size_t>(n))).parent_path().string();
}

Result<std::string> find_plugin(const LaunchOptions& o) {
  if (const auto& v = o.plugin) {
    if (!fs::exists(*v)) {
      return Error(Errc::config, "emulator plugin " + *v + " (ALIOT_EMU_PLUGIN) does not exist");
    }
    return *v;
  }
  std::vector<std::string> candidates;
#ifdef ALIOT_EMU_PLUGIN_BUILD
  candidates.emplace_back(ALIOT_EMU_PLUGIN_BUILD);
#endif
  const std::string here = self_dir();
  if (!here.empty()) {
    candidates.push_back(here + "/../lib/aliot/libaliot_emu.so");
    candidates.push_back(here + "/../lib64/aliot/libaliot_emu.so");
    candidates.push_back(here + "/../lib/x86_64-linux-gnu/aliot/libaliot_emu.so");
  }
#ifdef ALIOT_EMU_PLUGIN_INSTALL
  candidates.emplace_back(ALIOT_EMU_PLUGIN_INSTALL);
#endif
  for (const auto& c : candidates) {
    if (fs::exists(c)) {
      return fs::canonical(c).string();
    }
  }
  return Error(Errc::config, "emulator plugin libaliot_emu.so not found",
               "build the aliot_emu target or set ALIOT_EMU_PLUGIN to its path");
}

std::string tail_of(const std::string& path, std::size_t max_lines) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  std::string l;
  while (std::getline(f, l)) {
    lines.push_back(l);
  }
  std::string out;
  for (std::size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size();
       ++i) {
    out += (out.empty() ? "" : " | ") + lines[i];
  }
  return out;
}

// The most telling line of mosquitto's log for a failed start.
std::string start_failure(const std::string& log) {
  std::ifstream f(log);
  std::string l, last_err;
  while (std::getline(f, l)) {
    if (l.find("Error") != std::string::npos || l.find("error") != std::string::npos) {
      last_err = l;
    }
  }
  return last_err.empty() ? tail_of(log, 3) : last_err;
}

// The broker's environment: ours, plus (in a sanitizer build) the sanitizer runtime preloaded,
// because the uninstrumented broker loads our instrumented plugin and the runtime must come
// first.
std::vector<std::string> broker_environment() {
  std::vector<std::string> env;
  std::string preload;
#ifdef ALIOT_EMU_BROKER_PRELOAD
  preload = ALIOT_EMU_BROKER_PRELOAD;
#endif
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (!preload.empty() && kv.rfind("LD_PRELOAD=", 0) == 0) {
      preload += ":" + kv.substr(11);
      continue;
    }
    env.push_back(kv);
  }
  if (!preload.empty()) {
    env.push_back("LD_PRELOAD=" + preload);
  }
  return env;
}

// The broker, its stderr (its log) in `log`, its stdout a pipe to us: the plugin writes its
// report lines there (plugin_opt_report_fd 1; mosquitto itself writes nothing on stdout with
// `log_dest stderr`). It never outlives the launcher: the plugin asks for SIGTERM when its
// parent goes (plugin_opt_launcher_pid).
// The descriptor limit the broker inherits, its soft limit raised to the hard one: each MQTT
// connection is a socket, and the usual soft limit of 1,024 would refuse logins past about
// 1,000 devices online (mosquitto raises nothing itself). Best effort: a limit that cannot be
// raised stays as it was, and the broker log says when it runs out ("Too many open files").
void raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

Result<proc::Child>
start_mosquitto(const std::string& bin, const std::string& conf, const std::string& log) {
  raise_descriptor_limit();
  proc::Options o;
  o.argv = {bin, "-c", conf};
  o.env = broker_environment();
  o.out = proc::Stdio::pipe();
  o.err = proc::Stdio::file(log);
  auto child = proc::Child::spawn(o);
  if (!child) {
    return Error(Errc::config, "cannot start the emulator: " + child.error().message(),
                 "check ALIOT_MOSQUITTO or the mosquitto package");
  }
  return child;
}

// The plugin's report lines from the broker's stdout: waits up to `wait` for some, hands each
// complete line to `report` (a line longer than k_max is cut there). A closed pipe stops it.
class ReportReader {
public:
  ReportReader(int fd, const std::function<void(const std::string&)>& report)
      : m_fd(fd)
      , m_report(report) {}

  void pump(std::chrono::milliseconds wait) {
    if (m_fd < 0) {
      std::this_thread::sleep_for(wait);
      return;
    }
    pollfd p{m_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
      if (wait.count() == 0) {
        m_fd = -1; // draining, and nothing more: done
      }
      return;
    }
    char buf[4096];
    const ssize_t n = ::read(m_fd, buf, sizeof buf);
    if (n <= 0) {
      if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        m_fd = -1; // closed: the broker is gone (its exit is seen by poll())
      }
      return;
    }
    m_buf.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = m_buf.find('\n')) != std::string::npos || m_buf.size() > k_max) {
      const std::size_t len = nl != std::string::npos ? nl : k_max;
      if (m_report) {
        m_report(m_buf.substr(0, len));
      }
      m_buf.erase(0, nl != std::string::npos ? len + 1 : len);
    }
  }

  // After the broker stopped: every line still in the pipe (up to its end, or a bound).
  void drain() {
    for (int i = 0; i < 1024 && m_fd >= 0; ++i) {
      pump(std::chrono::milliseconds(0));
    }
  }

private:
  static constexpr std::size_t k_max = 4096;
  int m_fd;
  const std::function<void(const std::string&)>& m_report;
  std::string m_buf;
};

} // namespace

std::vector<std::pair<std::string, std::string>> Endpoints::exports() const {
  std::vector<std::pair<std::string, std::string>> e = {
      {"ALIOT_MQTT_HOST", host},
      {"ALIOT_MQTT_PORT", std::to_string(mqtts_port)},
      {"ALIOT_MQTT_TCP_PORT", std::to_string(mqtt_port)},
      {"ALIOT_CA_FILE", ca_file},
      {"ALIOT_AUTH_ENDPOINT", "https://" + host + ":" + std::to_string(https_port)},
      // By name: proton's certificate check ignores IP SANs.
      {"ALIOT_AMQP_ENDPOINT", "amqps://localhost:" + std::to_string(amqp_port)},
      {"ALIOT_API_ENDPOINT", "http://" + host + ":" + std::to_string(api_port)}};
  if (amqp_port == 0) { // no AMQP endpoint (ALIOT_AMQP=OFF)
    std::erase_if(e, [](const auto& kv) { return kv.first == "ALIOT_AMQP_ENDPOINT"; });
  }
  return e;
}

Result<void> ensure_state_dir(const std::string& dir) {
  if (dir.empty()) {
    return Error(Errc::usage, "--dir is required",
                 "give the emulator's state directory: --dir DIR");
  }
  std::error_code ec;
  // The parents as `mkdir -p` makes them; the state directory itself 0700 from its first moment
  // (it holds registry.db, the CA key), whatever the umask.
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) {
    p = p.parent_path(); // "a/b/"
  }
  if (p.has_parent_path() && p.parent_path() != p) {
    fs::create_directories(p.parent_path(), ec);
  }
  if (!ec && ::mkdir(dir.c_str(), 0700) == 0) {
    if (::chmod(dir.c_str(), 0700) != 0) {
      ec = std::error_code(errno, std::generic_category());
    }
  } else if (!ec && errno != EEXIST) {
    ec = std::error_code(errno, std::generic_category());
  }
  if (ec || !fs::is_directory(dir)) {
    return Error(Errc::io, "cannot create the emulator directory " + dir + ": "
                               + (ec ? ec.message() : std::string("not a directory")));
  }
  return ok();
}

Result<void> run(const LaunchOptions& o,
                 const std::function<bool()>& stop,
                 const std::function<void(const Endpoints&)>& ready) {
  ALIOT_TRY(ensure_state_dir(o.dir));
  const std::string dir = fs::canonical(o.dir).string();
  // One emulator per state directory (the add-* verbs edit it whether or not one runs).
  auto lock = config::InstanceLock::acquire(dir + "/emulator.lock", "--dir " + dir);
  if (!lock) {
    return std::move(lock).error();
  }
  ::chmod(dir.c_str(), 0700);
  auto bin = find_mosquitto(o);
  if (!bin) {
    return Error(Errc::config, "cannot start the emulator: the mosquitto broker is not installed",
                 "install it (apt-get install mosquitto) or set ALIOT_MOSQUITTO to its path");
  }
  ALIOT_TRY_ASSIGN(auto plugin, find_plugin(o));
  // Ports: given ones must be free; the others are picked on loopback.
  std::vector<int> taken;
  struct Want {
    const std::optional<int>& flag;
    const char* name;
    int port = 0;
  };
  Want wants[] = {{o.mqtt_port, "--mqtt-port"},
                  {o.mqtts_port, "--mqtts-port"},
                  {o.https_port, "--https-port"},
                  {o.api_port, "--api-port"},
                  {o.amqp_port, "--amqp-port"}};
  for (auto& w : wants) {
    if (w.flag) {
      if (!port_free(*w.flag)) {
        return Error(Errc::network,
                     "cannot start the emulator: port " + std::to_string(*w.flag) + " (" + w.name
                         + ") on 127.0.0.1 is busy",
                     "choose another port or omit " + std::string(w.name) + " to pick a free one");
      }
      taken.push_back(*w.flag);
    }
  }
  for (auto& w : wants) {
    w.port = w.flag ? *w.flag : pick_port(taken);
    if (w.port <= 0) {
      return Error(Errc::network, "cannot start the emulator: no free port on 127.0.0.1");
    }
  }
#ifdef ALIOT_NO_AMQP
  wants[4].port = 0; // built with ALIOT_AMQP=OFF: no AMQP endpoint (a given --amqp-port is unused)
#endif
  const int mqtt = wants[0].port, mqtts = wants[1].port, https = wants[2].port, api = wants[3].port,
            amqp = wants[4].port;

  // Registry (created empty if missing) and certificates.
  Registry registry(dir);
  ALIOT_TRY(registry.ensure());
  ALIOT_TRY(ensure_certificates(dir));

  std::ostringstream conf;
  conf
      << "# Written by `aliot emulate cloud` on each start; edits are lost.\n"
      << "per_listener_settings false\nallow_anonymous false\npersistence false\n"
      // A subscriber behind on a burst (1,000 devices publishing at once) keeps its QoS 1
      // messages: mosquitto's default queue of 1,000 per client drops the rest silently, the
      // platform does not.
      << "max_queued_messages 100000\n"
      << "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
      << "log_type information\nconnection_messages true\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n";
  if (::geteuid() == 0) {
    conf << "user root\n"; // keep reading the 0600 state files
  }
  // Listener settings (max_qos: the platform has no QoS 2) follow their listener line; any of
  // them before the first listener would create mosquitto's default listener on 1883.
  conf << "listener " << mqtt << " 127.0.0.1\nmax_qos 1\n"
       << "listener " << mqtts << " 127.0.0.1\nmax_qos 1\n"
       << "cafile " << dir << "/ca.pem\ncertfile " << dir << "/server.pem\nkeyfile " << dir
       << "/server.key\n"
       << "plugin " << plugin << "\n"
       << "plugin_opt_dir " << dir << "\nplugin_opt_api_port " << api << "\nplugin_opt_https_port "
       << https << "\nplugin_opt_amqp_port " << amqp << "\nplugin_opt_cert_file " << dir
       << "/server.pem\nplugin_opt_key_file " << dir << "/server.key\n"
       << "plugin_opt_mqtt_tls_port " << mqtts << "\nplugin_opt_launcher_pid " << ::getpid()
       << "\nplugin_opt_report_fd 1\n";
  ALIOT_TRY(config::write_file_atomic(dir + "/mosquitto.conf", conf.str(), 0600));

  const std::string log = dir + "/mosquitto.log";
  ALIOT_TRY_ASSIGN(auto child, start_mosquitto(*bin, dir + "/mosquitto.conf", log));
  ReportReader reports(child.out_fd(), o.report);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    if (child.poll()) {
      return Error(Errc::network,
                   "cannot start the emulator: mosquitto exited: " + start_failure(log),
                   "see " + log);
    }
    if (stop()) {
      child.stop(std::chrono::seconds(5));
      reports.drain();
      return ok();
    }
    if (port_answers(mqtt) && port_answers(mqtts) && port_answers(https) && port_answers(api)
        && (amqp == 0 || port_answers(amqp))) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      child.stop(std::chrono::seconds(5));
      return Error(Errc::timeout,
                   "cannot start the emulator: mosquitto did not open its ports "
                   "within 20 s",
                   "see " + log);
    }
    reports.pump(std::chrono::milliseconds(20));
  }
  Endpoints ep;
  ep.dir = dir;
  ep.mqtt_port = mqtt;
  ep.mqtts_port = mqtts;
  ep.https_port = https;
  ep.api_port = api;
  ep.amqp_port = amqp;
  ep.ca_file = dir + "/ca.pem";
  ep.log_file = log;
  ready(ep);
  while (!stop()) {
    if (child.poll()) {
      reports.drain();
      return Error(Errc::network,
                   "the emulator's mosquitto broker exited unexpectedly: " + start_failure(log),
                   "see " + log);
    }
    reports.pump(std::chrono::milliseconds(50));
  }
  child.stop(std::chrono::seconds(5));
  reports.drain();
  return ok();
}

} // namespace aliot::emu
