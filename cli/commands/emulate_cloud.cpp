// `aliot emulate cloud`: the local Aliyun IoT platform (mosquitto + the libaliot_emu.so plugin)
// and the `add-*` verbs that edit its registry.
#include "../../emulator/cloud/registry_file.hpp"
#include "commands/commands.hpp"
#include "context.hpp"
#include "shell.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/identity.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace aliot::cli {

namespace {

namespace fs = std::filesystem;

struct CloudOptions {
  std::string dir;
  std::optional<int> mqtt_port, mqtts_port, https_port, api_port, amqp_port;
};

struct ProductOptions {
  std::string dir, pk;
  std::optional<std::string> dynreg;
  std::optional<std::string> secret_file;
};

struct DeviceOptions {
  std::string dir, pk, dn;
  bool disabled = false;
  std::optional<std::string> secret_file;
};

struct AccessKeyOptions {
  std::string dir;
  std::optional<std::string> id;
};

struct TopicOptions {
  std::string dir, pk, topic, access;
};

struct GroupOptions {
  std::string dir, pk, group;
};

long long now_ms_ll() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::string> env_of(const Context& ctx, const std::string& name) {
  auto it = ctx.env.find(name);
  if (it == ctx.env.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second;
}

// Secret from a file, else the environment variable, else generated (`generated` set).
Result<Secret> secret_source(Context& ctx,
                             const std::optional<std::string>& file,
                             const std::string& env,
                             std::string_view what,
                             std::size_t gen_len,
                             bool& generated) {
  generated = false;
  if (file) {
    return ctx.secret_from_file(*file, what);
  }
  if (auto v = env_of(ctx, env)) {
    return Secret(*v);
  }
  generated = true;
  return Secret(crypto::random_alnum(gen_len));
}

Result<void> ensure_dir(const std::string& dir) {
  if (dir.empty()) {
    return Error(Errc::usage, "--dir is required",
                 "give the emulator's state directory: --dir DIR");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    return Error(Errc::io, "cannot create the emulator directory " + dir + ": "
                               + (ec ? ec.message() : std::string("not a directory")));
  }
  return ok();
}

// Read-modify-write of registry.json under the registry lock.
Result<void> edit_registry(const std::string& dir,
                           const std::function<Result<void>(nlohmann::json&)>& fn) {
  ALIOT_TRY(ensure_dir(dir));
  emu::RegistryLock lock(dir);
  if (!lock.ok()) {
    return Error(Errc::io,
                 "cannot lock the emulator registry in " + dir + ": " + std::strerror(errno));
  }
  auto j = emu::load_registry(dir);
  if (!j) {
    return std::move(j).error();
  }
  ALIOT_TRY(fn(*j));
  return emu::save_registry(dir, *j);
}

Error no_product(const std::string& pk) {
  return Error(Errc::usage, "product " + pk + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-product --dir DIR -k " + pk);
}

// ---- add-* ----

Result<void> run_add_product(Context& ctx, const ProductOptions& o) {
  ALIOT_TRY(validate_product_key(o.pk));
  bool generated = false;
  auto secret =
      secret_source(ctx, o.secret_file, "ALIOT_PRODUCT_SECRET", "ProductSecret", 16, generated);
  if (!secret) {
    return std::move(secret).error();
  }
  bool created = false;
  ALIOT_TRY(edit_registry(o.dir, [&](nlohmann::json& j) -> Result<void> {
    auto& products = j["products"];
    if (!products.contains(o.pk)) {
      products[o.pk] = emu::new_product(secret->reveal(), !o.dynreg || *o.dynreg == "on");
      created = true;
      return ok();
    }
    // Updating: the secret changes only when one was given (never silently regenerated).
    if (!generated) {
      products[o.pk]["product_secret"] = secret->reveal();
    }
    if (o.dynreg) {
      products[o.pk]["dynamic_registration"] = *o.dynreg == "on";
    }
    return ok();
  }));
  if (generated && created) {
    nlohmann::ordered_json out{{"ProductKey", o.pk}, {"ProductSecret", secret->reveal()}};
    ctx.out.line(out.dump(ctx.out.json() ? -1 : 2));
  }
  ctx.out.info("product " + o.pk + (created ? " added to " : " updated in ") + o.dir);
  return ok();
}

Result<void> run_add_device(Context& ctx, const DeviceOptions& o) {
  ALIOT_TRY(validate_product_key(o.pk));
  ALIOT_TRY(validate_device_name(o.dn));
  bool generated = false;
  auto secret =
      secret_source(ctx, o.secret_file, "ALIOT_DEVICE_SECRET", "DeviceSecret", 32, generated);
  if (!secret) {
    return std::move(secret).error();
  }
  ALIOT_TRY(validate_device_secret(*secret));
  ALIOT_TRY(edit_registry(o.dir, [&](nlohmann::json& j) -> Result<void> {
    auto& products = j["products"];
    if (!products.contains(o.pk)) {
      return no_product(o.pk);
    }
    auto& devs = products[o.pk]["devices"];
    auto dev = emu::new_device(o.pk, o.dn, secret->reveal(), !o.disabled, now_ms_ll());
    if (devs.contains(o.dn) && devs[o.dn].contains("created_ms")) {
      dev["created_ms"] = devs[o.dn]["created_ms"];
    }
    devs[o.dn] = dev;
    return ok();
  }));
  Triplet t{o.pk, o.dn, *secret, std::nullopt, Secret()};
  ctx.out.line(triplet_json(t, !ctx.out.json()));
  return ok();
}

Result<void> run_add_access_key(Context& ctx, const AccessKeyOptions& o) {
  const std::string id = o.id.value_or("LTAI" + crypto::random_alnum(20));
  if (id.empty() || id.find_first_of(" \t\r\n/&") != std::string::npos) {
    return Error(Errc::usage, "invalid AccessKey id '" + id + "': no spaces, '/' or '&'");
  }
  bool generated = false;
  auto secret = secret_source(ctx, std::nullopt, "ALIOT_ACCESS_KEY_SECRET", "AccessKey secret", 30,
                              generated);
  if (!secret) {
    return std::move(secret).error();
  }
  ALIOT_TRY(edit_registry(o.dir, [&](nlohmann::json& j) -> Result<void> {
    j["access_keys"][id] = {{"secret", secret->reveal()}};
    return ok();
  }));
  nlohmann::ordered_json out{{"AccessKeyId", id}, {"AccessKeySecret", secret->reveal()}};
  ctx.out.line(out.dump(ctx.out.json() ? -1 : 2));
  return ok();
}

// Category levels: letters, digits and '_' (spec 3.1); wildcards only for subscribe.
Result<std::string> check_category(const std::string& topic, const std::string& access) {
  std::string rel = topic;
  for (std::string prefix :
       {"/${productKey}/${deviceName}/", "/${YourProductKey}/${YourDeviceName}/"}) {
    if (rel.rfind(prefix, 0) == 0) {
      rel = rel.substr(prefix.size());
    }
  }
  if (rel.rfind("user/", 0) != 0 || rel.size() <= 5) {
    return Error(Errc::usage,
                 "invalid topic category '" + topic
                     + "': it must be user/NAME (relative to /${productKey}/${deviceName}/)");
  }
  std::stringstream ss(rel);
  std::string level;
  std::vector<std::string> levels;
  while (std::getline(ss, level, '/')) {
    levels.push_back(level);
  }
  if (rel.back() == '/') {
    levels.emplace_back();
  }
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const auto& l = levels[i];
    if (l == "+" || (l == "#" && i + 1 == levels.size())) {
      if (access != "sub") {
        return Error(Errc::usage, "invalid topic category '" + topic
                                      + "': wildcards are allowed only with --access sub");
      }
      continue;
    }
    if (l.empty()
        || l.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_")
               != std::string::npos) {
      return Error(Errc::usage, "invalid topic category '" + topic
                                    + "': levels may hold only letters, digits and '_'");
    }
  }
  return rel;
}

Result<void> run_add_topic(Context& ctx, const TopicOptions& o) {
  ALIOT_TRY(validate_product_key(o.pk));
  auto rel = check_category(o.topic, o.access);
  if (!rel) {
    return std::move(rel).error();
  }
  ALIOT_TRY(edit_registry(o.dir, [&](nlohmann::json& j) -> Result<void> {
    auto& products = j["products"];
    if (!products.contains(o.pk)) {
      return no_product(o.pk);
    }
    auto& topics = products[o.pk]["topics"];
    if (!topics.is_array()) {
      topics = nlohmann::json::array();
    }
    for (auto it = topics.begin(); it != topics.end();) {
      it = it->value("topic", "") == *rel ? topics.erase(it) : std::next(it);
    }
    topics.push_back({{"topic", *rel}, {"access", o.access}});
    return ok();
  }));
  ctx.out.info("topic /" + o.pk + "/${deviceName}/" + *rel + " (" + o.access + ") added");
  return ok();
}

Result<void> run_add_group(Context& ctx, const GroupOptions& o) {
  ALIOT_TRY(validate_product_key(o.pk));
  if (o.group.empty() || o.group.size() > 64
      || o.group.find_first_of(" \t|,") != std::string::npos) {
    return Error(Errc::usage, "invalid consumer group id '" + o.group + "'");
  }
  ALIOT_TRY(edit_registry(o.dir, [&](nlohmann::json& j) -> Result<void> {
    auto& products = j["products"];
    if (!products.contains(o.pk)) {
      return no_product(o.pk);
    }
    auto& groups = products[o.pk]["consumer_groups"];
    if (!groups.is_array()) {
      groups = nlohmann::json::array();
    }
    for (const auto& g : groups) {
      if (g == o.group) {
        return ok();
      }
    }
    groups.push_back(o.group);
    return ok();
  }));
  ctx.out.info("consumer group " + o.group + " added to product " + o.pk);
  return ok();
}

// ---- the emulator itself ----

bool port_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

int pick_port(std::vector<int>& taken) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
        && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
      ::close(fd);
    }
    if (port > 0 && std::find(taken.begin(), taken.end(), port) == taken.end()) {
      taken.push_back(port);
      return port;
    }
  }
  return -1;
}

bool port_answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

bool executable(const std::string& p) {
  return !p.empty() && ::access(p.c_str(), X_OK) == 0;
}

std::optional<std::string> find_mosquitto(const Context& ctx) {
  if (auto v = env_of(ctx, "ALIOT_MOSQUITTO")) {
    return executable(*v) ? std::optional(*v) : std::nullopt;
  }
  std::string path = env_of(ctx, "PATH").value_or("/usr/bin:/bin");
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

Result<std::string> find_plugin(const Context& ctx) {
  if (auto v = env_of(ctx, "ALIOT_EMU_PLUGIN")) {
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

// Runs a helper program quietly; its stderr goes to `log`.
Result<void> run_tool(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) {
    return Error(Errc::internal, std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(fd >= 0 ? fd : null, 1);
    ::dup2(fd >= 0 ? fd : null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(Errc::io, argv[0] + " " + argv[1] + " failed (see " + log + ")",
                 WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "install openssl" : "");
  }
  return ok();
}

// A CA and a server certificate for localhost and 127.0.0.1 (EC P-256), made once per dir.
Result<void> ensure_certificates(const std::string& dir) {
  if (fs::exists(dir + "/ca.pem") && fs::exists(dir + "/server.pem")
      && fs::exists(dir + "/server.key")) {
    return ok();
  }
  const std::string log = dir + "/openssl.log";
  const std::string ext = dir + "/server.ext";
  {
    std::ofstream f(ext);
    f << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
         "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
  }
  const std::vector<std::string> ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                    "-nodes"};
  std::vector<std::string> ca{"openssl", "req", "-x509"};
  ca.insert(ca.end(), ec.begin(), ec.end());
  ca.insert(ca.end(), {"-keyout", dir + "/ca.key", "-out", dir + "/ca.pem", "-days", "3650",
                       "-subj", "/O=aliot emulator/CN=aliot emulator CA", "-addext",
                       "basicConstraints=critical,CA:TRUE", "-addext",
                       "keyUsage=critical,keyCertSign,cRLSign"});
  ALIOT_TRY(run_tool(ca, log));
  std::vector<std::string> csr{"openssl", "req"};
  csr.insert(csr.end(), ec.begin(), ec.end());
  csr.insert(csr.end(), {"-keyout", dir + "/server.key", "-out", dir + "/server.csr", "-subj",
                         "/O=aliot emulator/CN=localhost"});
  ALIOT_TRY(run_tool(csr, log));
  ALIOT_TRY(run_tool({"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem",
                      "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", dir + "/server.pem",
                      "-days", "825", "-extfile", ext},
                     log));
  ::chmod((dir + "/ca.key").c_str(), 0600);
  ::chmod((dir + "/server.key").c_str(), 0600);
  std::error_code ec2;
  fs::remove(dir + "/server.csr", ec2);
  return ok();
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

struct Child {
  pid_t pid = -1;
  int status = 0;
  bool exited = false;
  bool poll() {
    if (exited) {
      return true;
    }
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    exited = r == pid;
    return exited;
  }
  void stop() {
    if (poll()) {
      return;
    }
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 100 && !poll(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!poll()) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
    }
  }
};

Result<Child>
start_mosquitto(const std::string& bin, const std::string& conf, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) {
    return Error(Errc::internal, std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the launcher
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(fd >= 0 ? fd : null, 2);
    ::execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return Child{pid};
}

Result<void> run_cloud(Context& ctx, const CloudOptions& o) {
  ALIOT_TRY(ensure_dir(o.dir));
  const std::string dir = fs::canonical(o.dir).string();
  ::chmod(dir.c_str(), 0700);
  auto bin = find_mosquitto(ctx);
  if (!bin) {
    return Error(Errc::config, "cannot start the emulator: the mosquitto broker is not installed",
                 "install it (apt-get install mosquitto) or set ALIOT_MOSQUITTO to its path");
  }
  auto plugin = find_plugin(ctx);
  if (!plugin) {
    return std::move(plugin).error();
  }
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
  const int mqtt = wants[0].port, mqtts = wants[1].port, https = wants[2].port, api = wants[3].port,
            amqp = wants[4].port;

  // Registry (created empty if missing) and certificates.
  ALIOT_TRY(edit_registry(dir, [](nlohmann::json&) { return ok(); }));
  ALIOT_TRY(ensure_certificates(dir));

  std::ostringstream conf;
  conf
      << "# Written by `aliot emulate cloud` on each start; edits are lost.\n"
      << "per_listener_settings false\nallow_anonymous false\npersistence false\n"
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
       << "plugin " << *plugin << "\n"
       << "plugin_opt_dir " << dir << "\nplugin_opt_api_port " << api << "\nplugin_opt_https_port "
       << https << "\nplugin_opt_amqp_port " << amqp << "\nplugin_opt_cert_file " << dir
       << "/server.pem\nplugin_opt_key_file " << dir << "/server.key\n";
  ALIOT_TRY(config::write_file_atomic(dir + "/mosquitto.conf", conf.str(), 0600));

  const std::string log = dir + "/mosquitto.log";
  auto child = start_mosquitto(*bin, dir + "/mosquitto.conf", log);
  if (!child) {
    return std::move(child).error();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    if (child->poll()) {
      return Error(Errc::network,
                   "cannot start the emulator: mosquitto exited: " + start_failure(log),
                   "see " + log);
    }
    if (ctx.is_interrupted()) {
      child->stop();
      return ok();
    }
    if (port_answers(mqtt) && port_answers(mqtts) && port_answers(https) && port_answers(api)
        && port_answers(amqp)) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      child->stop();
      return Error(Errc::timeout,
                   "cannot start the emulator: mosquitto did not open its ports "
                   "within 20 s",
                   "see " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ctx.out.line("export ALIOT_MQTT_HOST=127.0.0.1");
  ctx.out.line("export ALIOT_MQTT_PORT=" + std::to_string(mqtts));
  ctx.out.line("export ALIOT_MQTT_TCP_PORT=" + std::to_string(mqtt));
  ctx.out.line("export ALIOT_CA_FILE=" + shell_quote(dir + "/ca.pem"));
  ctx.out.line("export ALIOT_AUTH_ENDPOINT=https://127.0.0.1:" + std::to_string(https));
  ctx.out.line("export ALIOT_AMQP_ENDPOINT=amqps://localhost:" + std::to_string(amqp));
  ctx.out.line("export ALIOT_API_ENDPOINT=http://127.0.0.1:" + std::to_string(api));
  ctx.out.info("emulator running: state in " + dir + ", broker log " + log
               + "; SIGINT or SIGTERM stops it");
  while (!ctx.is_interrupted()) {
    if (child->poll()) {
      return Error(Errc::network,
                   "the emulator's mosquitto broker exited unexpectedly: " + start_failure(log),
                   "see " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  child->stop();
  return ok();
}

// Not ->required(): with fallthrough the parent's --dir would swallow the verb's; each run_*
// checks it instead.
CLI::Option* dir_option(CLI::App* cmd, std::string& dir, Context& ctx) {
  auto* o = cmd->add_option("--dir", dir,
                            "The emulator's state directory (registry, certificates); required")
                ->type_name("DIR");
  ctx.docs.kind(o, ValueKind::directory);
  return o;
}

CLI::Option* pk_option(CLI::App* cmd, std::string& pk) {
  return cmd->add_option("-k,--product-key", pk, "ProductKey")->required()->type_name("PK");
}

} // namespace

void add_emulate_cloud_command(CLI::App& emulate, Context& ctx) {
  auto opts = std::make_shared<CloudOptions>();
  auto* cmd = emulate.add_subcommand("cloud", "Run a local Aliyun IoT platform (MQTT, TLS, "
                                              "dynamic registration, OpenAPI)");
  cmd->require_subcommand(0, 1);
  dir_option(cmd, opts->dir, ctx);
  for (auto [flag, field, desc] :
       {std::tuple{"--mqtt-port", &opts->mqtt_port, "Port of plain MQTT (default: a free one)"},
        std::tuple{"--mqtts-port", &opts->mqtts_port,
                   "Port of MQTT over TLS (default: a free one)"},
        std::tuple{"--https-port", &opts->https_port,
                   "Port of HTTPS dynamic registration (default: a free one)"},
        std::tuple{"--api-port", &opts->api_port,
                   "Port of the HTTP OpenAPI and /emu endpoints (default: a free one)"},
        std::tuple{"--amqp-port", &opts->amqp_port,
                   "Port of the AMQP 1.0 endpoint over TLS (default: a free one)"}}) {
    auto* o = cmd->add_option(flag, *field, desc)->type_name("PORT")->check(CLI::Range(1, 65535));
    ctx.docs.kind(o, ValueKind::text);
  }
  ctx.docs.attach(
      cmd,
      {"Starts a local emulator of the platform: Debian's mosquitto broker with aliot's plugin "
       "(libaliot_emu.so), listening on 127.0.0.1 only. It checks device logins exactly as the "
       "platform does (signed clientId/username/password, keepalive 30-1200 s, one connection "
       "per device), enforces topic rights (a refused SUBSCRIBE gets SUBACK 0x80, a refused or "
       "over-256-KB PUBLISH is dropped), serves dynamic registration over HTTPS and MQTT "
       "(register, regnwl, connwl), RRPC, and the OpenAPI actions RRpc, Pub, RegisterDevice, "
       "QueryDeviceDetail and GetDeviceStatus with signature version 1.0. Every refused login "
       "gets CONNACK 5 (not authorized); the broker log says why.\n\n"
       "State lives in --dir: registry.json (products, devices, AccessKeys, topic categories; "
       "0600, written atomically), a CA and a server certificate for localhost and 127.0.0.1 "
       "(made on first start), mosquitto.conf and mosquitto.log. The add-* verbs edit the "
       "registry, and a running emulator sees the change at once.\n\n"
       "When every endpoint answers it prints `export ALIOT_MQTT_HOST=...`, ALIOT_MQTT_PORT "
       "(TLS), ALIOT_MQTT_TCP_PORT, ALIOT_CA_FILE, ALIOT_AUTH_ENDPOINT, ALIOT_AMQP_ENDPOINT "
       "(amqps://localhost:PORT) and, last, ALIOT_API_ENDPOINT on stdout, then runs until "
       "SIGINT or SIGTERM (exit 0).\n\n"
       "AMQP server-side subscription: every device message (after the topic-rights check) goes "
       "to each consumer group of its product (add-consumer-group); consumers log in with the "
       "signed SASL PLAIN of the platform (aliot cloud sub), share a group's messages, and get "
       "unaccepted ones again.\n\n"
       "Seeing what devices sent: GET $ALIOT_API_ENDPOINT/emu/messages?topic=FILTER&since=SEQ "
       "returns {\"messages\":[{\"seq\",\"ts\",\"topic\",\"qos\",\"payload_base64\",\"client\"}],"
       "\"next\":SEQ} (the last 10000 messages); or log in over MQTT with user name "
       "operator/<AccessKeyId> and the AccessKey secret as password, which may subscribe to "
       "and publish on any topic.\n\n"
       "The broker is found in PATH or /usr/sbin (ALIOT_MOSQUITTO overrides it), the plugin next "
       "to the build or install tree (ALIOT_EMU_PLUGIN overrides it).",
       {{"aliot emulate cloud --dir ./emu-state", "Start the emulator and print the exports"},
        {"aliot emulate cloud --dir ./emu-state --mqtt-port 1883 --mqtts-port 8883",
         "Use fixed MQTT ports"},
        {"curl \"$ALIOT_API_ENDPOINT/emu/messages?topic=/a1FakePK001/%23\"",
         "List what the devices of a product sent"}},
       {"aliot-sign", "aliot-rrpc"}});
  cmd->callback([&ctx, opts, cmd] {
    if (cmd->get_subcommands().empty()) {
      set_action(ctx, opts, run_cloud);
    }
  });

  {
    auto o = std::make_shared<ProductOptions>();
    auto* sub = cmd->add_subcommand("add-product", "Add (or update) a product in the registry");
    dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    auto* d = sub->add_option("--dynamic-registration", o->dynreg,
                              "Whether one-type-one-secret registration is on (default on)")
                  ->type_name("SWITCH");
    ctx.docs.choices(d, {"on", "off"});
    auto* f = sub->add_option("--product-secret-file", o->secret_file,
                              "File holding the ProductSecret ('-' = stdin); else "
                              "ALIOT_PRODUCT_SECRET, else one is generated and printed")
                  ->type_name("FILE");
    ctx.docs.kind(f, ValueKind::file);
    ctx.docs.attach(sub, {"Adds a product with the default topic categories user/get "
                          "(subscribe), user/update and user/update/error (publish). Adding an "
                          "existing product updates its registration switch, and its secret "
                          "when one is given.",
                          {{"ALIOT_PRODUCT_SECRET=ps123 aliot emulate cloud add-product --dir "
                            "./emu-state -k a1FakePK001",
                            "Add a product with a known ProductSecret"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_product); });
  }
  {
    auto o = std::make_shared<DeviceOptions>();
    auto* sub = cmd->add_subcommand("add-device", "Add (or replace) a device in the registry");
    dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    sub->add_option("-d,--device-name", o->dn, "DeviceName")->required()->type_name("DN");
    sub->add_flag("--disabled", o->disabled, "Add the device disabled (its logins are refused)");
    auto* f = sub->add_option("--device-secret-file", o->secret_file,
                              "File holding the DeviceSecret ('-' = stdin); else "
                              "ALIOT_DEVICE_SECRET, else one is generated")
                  ->type_name("FILE");
    ctx.docs.kind(f, ValueKind::file);
    ctx.docs.attach(sub, {"Adds a device (not yet activated) and prints its triplet JSON. "
                          "Replacing a device resets its activation.",
                          {{"aliot emulate cloud add-device --dir ./emu-state -k a1FakePK001 -d "
                            "dev1 > dev1.json",
                            "Add a device with a generated secret and keep its triplet"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_device); });
  }
  {
    auto o = std::make_shared<AccessKeyOptions>();
    auto* sub = cmd->add_subcommand("add-access-key", "Add an AccessKey for the OpenAPI");
    dir_option(sub, o->dir, ctx);
    sub->add_option("--access-key-id", o->id, "AccessKey id (default: generated)")->type_name("ID");
    ctx.docs.attach(sub, {"Adds an AccessKey (secret from ALIOT_ACCESS_KEY_SECRET, else "
                          "generated) and prints {\"AccessKeyId\",\"AccessKeySecret\"}.",
                          {{"aliot emulate cloud add-access-key --dir ./emu-state "
                            "--access-key-id LTAItest",
                            "Add an AccessKey with a generated secret"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_access_key); });
  }
  {
    auto o = std::make_shared<TopicOptions>();
    auto* sub = cmd->add_subcommand("add-topic", "Add a custom topic category to a product");
    dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    sub->add_option("--topic", o->topic, "Category relative to the device, e.g. user/cmd")
        ->required()
        ->type_name("TOPIC");
    auto* a = sub->add_option("--access", o->access, "Device permission")->required();
    ctx.docs.choices(a, {"pub", "sub", "all"});
    ctx.docs.attach(sub, {"Adds (or replaces) a topic category /${productKey}/${deviceName}/"
                          "user/NAME with the device's permission; wildcards only with sub.",
                          {{"aliot emulate cloud add-topic --dir ./emu-state -k a1FakePK001 "
                            "--topic user/cmd --access all",
                            "Let devices publish and subscribe user/cmd"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_topic); });
  }
  {
    auto o = std::make_shared<GroupOptions>();
    auto* sub =
        cmd->add_subcommand("add-consumer-group", "Add an AMQP consumer group to a product");
    dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    sub->add_option("--consumer-group", o->group, "Consumer group id")->required()->type_name("ID");
    ctx.docs.attach(sub, {"Records that the consumer group receives the product's device "
                          "messages (for the AMQP server-side subscription).",
                          {{"aliot emulate cloud add-consumer-group --dir ./emu-state -k "
                            "a1FakePK001 --consumer-group DEFAULT_GROUP",
                            "Add a consumer group"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_group); });
  }
}

} // namespace aliot::cli
