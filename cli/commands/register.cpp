// `aliot register`: one-type-one-secret (dynamic registration), from one device to a batch.
// HTTPS by default (POST /auth/register/device), or MQTT (authType=register / regnwl).
// With --out every result is appended to a JSON Lines file and made durable before it is
// printed, so a secret the platform issued is never lost.
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"

#include <aliot/dynreg.hpp>
#include <aliot/encoding.hpp>
#include <aliot/endpoint.hpp>
#include <aliot/http.hpp>
#include <aliot/identity.hpp>
#include <aliot/mqtt.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace aliot::cli {

namespace {

struct RegisterOptions {
  std::optional<std::string> product_key;
  std::vector<std::string> device_names;
  std::optional<std::string> names_file;
  std::optional<std::string> product_secret_file;
  std::string via = "https";
  bool no_preregister = false;
  std::optional<std::string> out;
  int jobs = 1;
  bool dry_run = false;
  std::optional<std::string> random;
  std::optional<std::string> sign_method;
  std::optional<std::string> region;
  std::optional<std::string> instance;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> client_id;
  int securemode = 2;
  std::optional<std::string> ca_file;
  bool insecure = false;
  int timeout_ms = 10000;
};

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  const auto end = s.find_last_not_of(ws);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(trim(cur));
  return out;
}

// One DeviceName a line, or CSV with a DeviceName column (the console's batch CSV).
Result<std::vector<std::string>> read_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error(Errc::io, "reading --names " + path + ": cannot open it");
  }
  std::vector<std::string> names;
  std::string line;
  bool first = true;
  int column = -1; // CSV column of DeviceName, -1: plain list
  while (std::getline(in, line)) {
    if (first) {
      first = false;
      if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) {
        line.erase(0, 3); // UTF-8 BOM (spreadsheet exports)
      }
      const auto cells = split_csv(line);
      for (std::size_t i = 0; i < cells.size(); ++i) {
        if (enc::iequals(cells[i], "DeviceName")) {
          column = static_cast<int>(i);
        }
      }
      if (column >= 0) {
        continue; // header
      }
    }
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') {
      continue;
    }
    if (column >= 0) {
      const auto cells = split_csv(line);
      if (static_cast<std::size_t>(column) < cells.size() && !cells[column].empty()) {
        names.push_back(cells[column]);
      }
    } else {
      names.push_back(t);
    }
  }
  if (in.bad()) {
    return Error(Errc::io, "reading --names " + path + ": read error");
  }
  return names;
}

struct Plan {
  std::string product_key;
  Secret product_secret;
  std::vector<std::string> names;
  sign::Method method = sign::Method::hmacsha256;
  std::string auth_endpoint;
  http::ClientOptions http;
  MqttEndpoint mqtt;
  std::optional<std::string> instance;
};

// Terminal progress line on stderr (TTY only).
class Progress {
public:
  Progress(bool enabled, std::size_t total)
      : m_enabled(enabled)
      , m_total(total)
      , m_start(std::chrono::steady_clock::now()) {}

  // Caller holds the output mutex.
  void update(std::size_t done, std::size_t failed, bool force = false) {
    if (!m_enabled) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - m_last < std::chrono::milliseconds(100)) {
      return;
    }
    m_last = now;
    const double secs = std::chrono::duration<double>(now - m_start).count();
    const double rate = secs > 0 ? static_cast<double>(done + failed) / secs : 0;
    const std::size_t left = m_total - std::min(m_total, done + failed);
    const int width = 24;
    const auto filled = static_cast<int>(m_total == 0 ? width : width * (done + failed) / m_total);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    char buf[200];
    std::snprintf(buf, sizeof buf, "\r[%s] %zu/%zu done, %zu failed, %.1f/s, ETA %.0fs\033[K",
                  bar.c_str(), done, m_total, failed, rate, rate > 0 ? left / rate : 0.0);
    std::fputs(buf, stderr);
    std::fflush(stderr);
    m_shown = true;
  }

  // Clears the line so ordinary output can follow.
  void clear() {
    if (m_shown) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
      m_shown = false;
    }
  }

private:
  bool m_enabled;
  std::size_t m_total;
  std::chrono::steady_clock::time_point m_start;
  std::chrono::steady_clock::time_point m_last{};
  bool m_shown = false;
};

dynreg::Request request_for(const Plan& plan, const RegisterOptions& o, const std::string& dn) {
  dynreg::Request r;
  r.product_key = plan.product_key;
  r.device_name = dn;
  r.method = plan.method;
  r.random = o.random.value_or(dynreg::new_random());
  return r;
}

sign::DynregMqttParams
mqtt_params(const Plan& plan, const RegisterOptions& o, const dynreg::Request& r) {
  sign::DynregMqttParams p;
  p.product_key = r.product_key;
  p.device_name = r.device_name;
  p.random = r.random;
  p.method = r.method;
  p.preregistered = !o.no_preregister;
  p.instance_id = plan.instance;
  p.client_id = o.client_id.value_or("");
  p.securemode = o.securemode;
  return p;
}

void print_dry_run(Context& ctx,
                   const Plan& plan,
                   const RegisterOptions& o,
                   const std::string& dn) {
  const auto r = request_for(plan, o, dn);
  if (o.via == "https") {
    const auto req = dynreg::https_request(plan.auth_endpoint, r, plan.product_secret);
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["method"] = "POST";
      j["url"] = req.url;
      j["content_type"] = "application/x-www-form-urlencoded";
      j["body"] = req.body;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line("POST " + req.url);
      ctx.out.line("Content-Type: application/x-www-form-urlencoded");
      ctx.out.line("");
      ctx.out.line(req.body);
    }
    return;
  }
  const auto cred = sign::dynreg_mqtt_credentials(mqtt_params(plan, o, r), plan.product_secret);
  print_mqtt_login(ctx, plan.mqtt, cred);
}

Result<Triplet>
register_mqtt(Context& ctx, const Plan& plan, const RegisterOptions& o, const dynreg::Request& r) {
  const auto cred = sign::dynreg_mqtt_credentials(mqtt_params(plan, o, r), plan.product_secret);
  mqtt::Session session(ctx.out.logger());
  session.set_interrupt(ctx.interrupted);
  mqtt::ConnectParams cp;
  cp.endpoint = plan.mqtt;
  cp.client_id = cred.client_id;
  cp.username = cred.username;
  cp.password = cred.password;
  cp.keepalive = 60;
  cp.clean_session = true;
  const auto deadline = mqtt::after(std::chrono::milliseconds(o.timeout_ms));
  const std::string what = "registering " + r.product_key + "/" + r.device_name + " over MQTT";
  if (auto c = session.connect(cp, deadline); !c) {
    Error e = std::move(c).error().context(what);
    if (e.code() == Errc::auth) {
      return std::move(e).with_hint(
          "the platform refused the registration: check the ProductSecret, that dynamic "
          "registration is on for the product"
          + std::string(o.no_preregister ? " (with registration without pre-registration allowed)"
                                         : ", and that the device is pre-registered and not yet "
                                           "activated"));
    }
    return e;
  }
  const std::string expected = o.no_preregister ? "/ext/regnwl" : "/ext/register";
  while (true) {
    auto m = session.next_message(deadline);
    if (!m) {
      session.disconnect(mqtt::after(std::chrono::milliseconds(500)));
      Error e = std::move(m).error().context(what);
      if (e.code() == Errc::timeout) {
        return Error(Errc::timeout,
                     what + ": no reply on " + expected + " within " + std::to_string(o.timeout_ms)
                         + " ms",
                     "the platform accepted the connection but sent no registration reply");
      }
      return e;
    }
    if (m->topic == "/ext/register" || m->topic == "/ext/regnwl") {
      session.disconnect(mqtt::after(std::chrono::milliseconds(500)));
      return dynreg::parse_mqtt_reply(m->topic, m->payload, r);
    }
    ctx.out.debug("ignoring a message on " + m->topic + " while waiting for " + expected);
  }
}

struct Outcome {
  enum class State { pending, ok, failed, skipped } state = State::pending;
  std::optional<Error> error;
};

Result<void> run_register(Context& ctx, const RegisterOptions& o) {
  // ---- resolve settings ----
  config::Sources s;
  put_flag(s, "product_key", o.product_key, "-k");
  put_flag(s, "region", o.region, "--region");
  put_flag(s, "instance", o.instance, "--instance");
  put_flag(s, "ca_file", o.ca_file, "--ca-file");
  put_flag(s, "sign_method", o.sign_method, "--sign-method");
  put_flag(s, "mqtt_host", o.host, "--host");
  put_flag(s, "client_id", o.client_id, "--client-id");
  if (o.port) {
    s.flags["mqtt_port"] = config::Value{std::to_string(*o.port), "flag --port", false};
  }
  if (o.product_secret_file) {
    auto sec = ctx.secret_from_file(*o.product_secret_file, "ProductSecret");
    if (!sec) {
      return std::move(sec).error();
    }
    s.flags["product_secret"] = config::Value{sec->reveal(), "flag --product-secret-file", true};
  }
  auto settings = ctx.settings(std::move(s));
  if (!settings) {
    return std::move(settings).error();
  }
  if (o.no_preregister && o.via != "mqtt") {
    return Error(Errc::usage, "--no-preregister needs --via mqtt",
                 "HTTPS registration supports pre-registered devices only");
  }
  if (o.securemode != 2 && o.securemode != -2) {
    return Error(Errc::usage, "--securemode must be 2 or -2");
  }
  if (o.jobs < 1 || o.jobs > 64) {
    return Error(Errc::usage, "-j " + std::to_string(o.jobs) + " is outside 1-64");
  }
  if (o.timeout_ms < 100) {
    return Error(Errc::usage, "--timeout must be at least 100 ms");
  }
  if (o.random && o.random->empty()) {
    return Error(Errc::usage, "--random must not be empty");
  }

  Plan plan;
  plan.product_key = settings->text("product_key").value_or("");
  if (plan.product_key.empty()) {
    return Error(Errc::config, "no ProductKey", "give -k PK, ALIOT_PRODUCT_KEY or a profile");
  }
  ALIOT_TRY(validate_product_key(plan.product_key));
  plan.product_secret = settings->secret("product_secret");
  if (plan.product_secret.empty()) {
    return Error(Errc::config, "no ProductSecret for " + plan.product_key,
                 "set ALIOT_PRODUCT_SECRET, give --product-secret-file FILE, or put "
                 "product_secret in a profile");
  }
  auto method = sign::parse_method(settings->text("sign_method").value_or("hmacsha256"));
  if (!method) {
    return std::move(method).error();
  }
  plan.method = *method;
  const std::string region = settings->text("region").value_or(k_default_region);
  ALIOT_TRY(validate_region(region));
  plan.instance = settings->text("instance");
  plan.auth_endpoint = settings->text("auth_endpoint").value_or(default_auth_endpoint(region));
  plan.http.ca_file = settings->text("ca_file").value_or("");
  plan.http.insecure = o.insecure;
  plan.http.timeout_ms = o.timeout_ms;
  plan.http.connect_timeout_ms = std::min(o.timeout_ms, 10000);
  if (o.insecure) {
    ctx.out.warn("--insecure: the server certificate is not verified");
  }
  if (o.via == "mqtt") {
    EndpointInput in;
    in.product_key = plan.product_key;
    in.region = region;
    in.instance = plan.instance;
    in.host = settings->text("mqtt_host");
    in.ca_file = plan.http.ca_file;
    in.insecure = o.insecure;
    if (auto p = settings->text("mqtt_port")) {
      auto port = parse_port(*p, "MQTT port");
      if (!port) {
        return std::move(port).error();
      }
      in.tls_port = *port;
    }
    auto ep = resolve_mqtt_endpoint(in);
    if (!ep) {
      return std::move(ep).error();
    }
    plan.mqtt = std::move(*ep);
  }

  // ---- the device names ----
  std::vector<std::string> raw = o.device_names;
  if (o.names_file) {
    auto n = read_names(*o.names_file);
    if (!n) {
      return std::move(n).error();
    }
    raw.insert(raw.end(), n->begin(), n->end());
  }
  if (raw.empty()) {
    if (auto dn = settings->text("device_name")) {
      raw.push_back(*dn);
    }
  }
  if (raw.empty()) {
    return Error(Errc::usage, "no device to register", "give -d DN (repeatable) or --names FILE");
  }
  std::set<std::string> seen;
  for (const auto& n : raw) {
    if (auto v = validate_device_name(n); !v) {
      return std::move(v).error();
    }
    if (seen.insert(n).second) {
      plan.names.push_back(n);
    }
  }

  if (o.dry_run) {
    for (const auto& dn : plan.names) {
      print_dry_run(ctx, plan, o, dn);
    }
    return ok();
  }

  // ---- the results file ----
  std::optional<dynreg::OutFile> out;
  if (o.out) {
    auto f = dynreg::OutFile::open(*o.out);
    if (!f) {
      return std::move(f).error();
    }
    if (f->repaired()) {
      ctx.out.warn("--out " + *o.out
                   + ": the last line was incomplete (an interrupted write) and was repaired");
    }
    out.emplace(std::move(*f));
  }

  const std::size_t total = plan.names.size();
  const bool batch = total > 1;
  std::vector<Outcome> outcomes(total);
  std::size_t skipped = 0;
  for (std::size_t i = 0; i < total; ++i) {
    if (out && out->contains(plan.product_key, plan.names[i])) {
      outcomes[i].state = Outcome::State::skipped;
      ++skipped;
    }
  }
  if (skipped > 0) {
    ctx.out.info("skipping " + std::to_string(skipped) + " device(s) already in " + *o.out);
    if (!batch || skipped == total) {
      ctx.out.warn(std::to_string(skipped) + " device(s) already registered in " + *o.out
                   + ": skipped");
    }
  }

  std::mutex out_mu;
  std::size_t n_ok = 0;
  std::size_t n_failed = 0;
  Progress progress(batch && !ctx.out.quiet && ::isatty(STDERR_FILENO) != 0, total - skipped);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  const auto started = std::chrono::steady_clock::now();

  auto worker = [&] {
    std::optional<http::Client> client;
    if (o.via == "https") {
      client.emplace(plan.http, ctx.out.logger());
    }
    while (!stop.load()) {
      if (ctx.is_interrupted()) {
        stop = true;
        break;
      }
      const std::size_t i = next.fetch_add(1);
      if (i >= total) {
        break;
      }
      if (outcomes[i].state == Outcome::State::skipped) {
        continue;
      }
      const auto req = request_for(plan, o, plan.names[i]);
      auto t = o.via == "https"
                   ? dynreg::register_https(*client, plan.auth_endpoint, req, plan.product_secret)
                   : register_mqtt(ctx, plan, o, req);
      if (!t) {
        std::lock_guard lock(out_mu);
        outcomes[i].state = Outcome::State::failed;
        outcomes[i].error = t.error();
        ++n_failed;
        progress.clear();
        if (t.error().code() == Errc::interrupted) {
          stop = true;
        } else if (batch) {
          ctx.out.error(t.error());
        }
        progress.update(n_ok, n_failed, true);
        continue;
      }
      const std::string line = triplet_json(*t, false);
      std::optional<Error> saved;
      if (out) {
        // Durable before it is shown.
        if (auto a = out->append(t->product_key, t->device_name, line); !a) {
          saved = std::move(a).error().with_hint(
              "the new secret is printed on standard output: keep it, the platform will not "
              "send it again");
        }
      }
      std::lock_guard lock(out_mu);
      progress.clear();
      if (!batch && !ctx.out.json()) {
        ctx.out.line(triplet_json(*t, true));
      } else {
        ctx.out.line(line);
      }
      if (saved) {
        outcomes[i].state = Outcome::State::failed;
        outcomes[i].error = *saved;
        ++n_failed;
        ctx.out.error(*saved);
      } else {
        outcomes[i].state = Outcome::State::ok;
        ++n_ok;
      }
      progress.update(n_ok, n_failed);
    }
  };

  const std::size_t todo = total - skipped;
  const int threads = static_cast<int>(
      std::min<std::size_t>(static_cast<std::size_t>(o.jobs), std::max<std::size_t>(todo, 1)));
  if (todo > 0) {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) {
      pool.emplace_back(worker);
    }
    worker();
    for (auto& t : pool) {
      t.join();
    }
  }
  progress.clear();

  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (batch) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "registered %zu, failed %zu, skipped %zu (already in the --out file) of %zu "
                  "in %.1f s (%.1f/s)",
                  n_ok, n_failed, skipped, total, secs,
                  secs > 0 ? static_cast<double>(n_ok + n_failed) / secs : 0.0);
    if (!ctx.out.quiet) {
      std::fprintf(stderr, "aliot: %s\n", buf);
      std::fflush(stderr);
    }
  }
  if (ctx.is_interrupted()) {
    return Error(Errc::interrupted, "register: interrupted",
                 o.out ? "run the same command again: devices already in " + *o.out + " are skipped"
                       : std::string());
  }
  for (const auto& oc : outcomes) {
    if (oc.state == Outcome::State::failed && oc.error) {
      if (!batch) {
        return *oc.error;
      }
      // Already reported per device: exit with the first failure's code.
      return Error(oc.error->code(), "register: " + std::to_string(n_failed) + " of "
                                         + std::to_string(total)
                                         + " device(s) failed; the first: " + oc.error->message());
    }
  }
  return ok();
}

} // namespace

void add_register_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<RegisterOptions>();
  auto* cmd = parent.add_subcommand(
      "register", "Get device secrets by one-type-one-secret (dynamic registration)");
  cmd->add_option("-k,--product-key", opts->product_key, "ProductKey of the product")
      ->type_name("PK")
      ->group("Identity");
  cmd->add_option("-d,--device-name", opts->device_names, "DeviceName to register (repeatable)")
      ->type_name("DN")
      ->group("Identity");
  auto* names = cmd->add_option("--names", opts->names_file,
                                "File of DeviceNames: one a line, or CSV with a DeviceName column")
                    ->type_name("FILE")
                    ->group("Identity");
  ctx.docs.kind(names, ValueKind::file);
  auto* psf = cmd->add_option("--product-secret-file", opts->product_secret_file,
                              "Read the ProductSecret from a file ('-' for standard input; also "
                              "ALIOT_PRODUCT_SECRET)")
                  ->type_name("FILE")
                  ->group("Identity");
  ctx.docs.kind(psf, ValueKind::file);
  auto* via = cmd->add_option("--via", opts->via,
                              "Transport: https (POST /auth/register/device, the default) or mqtt")
                  ->type_name("TRANSPORT");
  ctx.docs.choices(via, {"https", "mqtt"});
  cmd->add_flag("--no-preregister", opts->no_preregister,
                "With --via mqtt: register a device that is not pre-created "
                "(authType=regnwl); yields ClientId and DeviceToken");
  auto* outf = cmd->add_option("--out", opts->out,
                               "Append each result as a JSON line to FILE (created 0600, synced "
                               "before it is printed); devices already in it are skipped")
                   ->type_name("FILE");
  ctx.docs.kind(outf, ValueKind::file);
  cmd->add_option("-j,--jobs", opts->jobs, "Register N devices at a time (default 1)")
      ->type_name("N");
  cmd->add_flag("--dry-run", opts->dry_run,
                "Print the exact request (URL and form body, or MQTT clientId, username, "
                "password) without sending it");
  cmd->add_option("--random", opts->random,
                  "The random value to sign (default: 15 fresh alphanumerics per device)")
      ->type_name("TEXT")
      ->group("Signing");
  auto* sm =
      cmd->add_option("--sign-method", opts->sign_method, "Signature method (default hmacsha256)")
          ->type_name("METHOD")
          ->group("Signing");
  ctx.docs.choices(sm, {"hmacsha256", "hmacsha1", "hmacmd5"});
  cmd->add_option("--client-id", opts->client_id,
                  "With --via mqtt: client id before the options (default ${dn}.${pk})")
      ->type_name("ID")
      ->group("Signing");
  cmd->add_option("--securemode", opts->securemode,
                  "With --via mqtt: securemode option, 2 (what the SDKs send) or -2 (documented "
                  "for instances)")
      ->type_name("N")
      ->group("Signing");
  cmd->add_option("--region", opts->region, "Region id (default cn-shanghai)")
      ->type_name("ID")
      ->group("Endpoint");
  cmd->add_option("--instance", opts->instance,
                  "IotInstanceId of a new public or Enterprise instance")
      ->type_name("ID")
      ->group("Endpoint");
  cmd->add_option("--host", opts->host,
                  "With --via mqtt: MQTT host (overrides region and instance)")
      ->type_name("HOST")
      ->group("Endpoint");
  cmd->add_option("--port", opts->port, "With --via mqtt: MQTT over TLS port")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535))
      ->group("Endpoint");
  auto* ca =
      cmd->add_option("--ca-file", opts->ca_file,
                      "Trust this CA bundle instead of the system store (also ALIOT_CA_FILE)")
          ->type_name("FILE")
          ->group("Endpoint");
  ctx.docs.kind(ca, ValueKind::file);
  cmd->add_flag("--insecure", opts->insecure, "Do not verify the server certificate (testing only)")
      ->group("Endpoint");
  cmd->add_option("--timeout", opts->timeout_ms,
                  "Give up on one device after this many milliseconds (default 10000)")
      ->type_name("MS")
      ->group("Endpoint");
  ctx.docs.attach(
      cmd,
      {"Registers devices of a product with dynamic registration switched on, using the "
       "ProductSecret (ALIOT_PRODUCT_SECRET, --product-secret-file or product_secret in a "
       "profile), and prints each result in the console's triplet shape "
       "{\"ProductKey\",\"DeviceName\",\"DeviceSecret\"} (or ClientId and DeviceToken with "
       "--no-preregister), usable directly with --triplet.\n\n"
       "--via https (the default) sends POST ${ALIOT_AUTH_ENDPOINT}/auth/register/device "
       "(default https://iot-auth.${region}.aliyuncs.com); proxies from the environment are "
       "used. --via mqtt connects over TLS with authType=register (or regnwl with "
       "--no-preregister) and takes the reply the platform pushes on /ext/register (or "
       "/ext/regnwl).\n\n"
       "The platform issues a secret once. With --out FILE each result is appended as one JSON "
       "line and synced to disk before it is printed; the file is created 0600. Running the same "
       "command again with the same --out skips the devices already in it, and a line torn by a "
       "crash is repaired, so an interrupted batch is finished by re-running it.\n\n"
       "Batches: -d is repeatable, --names reads a list or the console's CSV, -j N registers N "
       "at a time with one reused connection each. A progress bar shows on a terminal; -o json "
       "prints one line per device; a summary ends the run on standard error. A failed device "
       "does not stop the batch; the exit status is that of the first failure (7 refused by the "
       "platform, 4 bad sign or ProductSecret, 5 network, 6 timeout).",
       {{"ALIOT_PRODUCT_SECRET=... aliot register -k a1FakePK001 -d FakeDevice01",
         "Register one device and print its triplet"},
        {"aliot register -k a1FakePK001 --names devices.csv -j 8 --out secrets.jsonl "
         "--product-secret-file ps.txt",
         "Register a batch, keeping every secret in secrets.jsonl (re-run to resume)"},
        {"aliot register -k a1FakePK001 -d FakeDevice01 --via mqtt --no-preregister",
         "Register without pre-creating the device: get a ClientId and DeviceToken"},
        {"aliot register -k a1FakePK001 -d FakeDevice01 --random RandA1234567890 "
         "--sign-method hmacsha1 --dry-run",
         "Print the exact HTTPS request without sending it"}},
       {"aliot-sign", "aliot-connect"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_register); });
}

} // namespace aliot::cli
