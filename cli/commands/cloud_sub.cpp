// `aliot cloud sub`: be the backend of the platform's server-side subscription (AMQP 1.0, spec
// section 7; spec/cli.md "aliot cloud sub"). Options, rendering and exit codes only: the flow is
// aliot::amqp::consume.
#include "commands/cloud_common.hpp"
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "render/flags.hpp"
#include "stream_limits.hpp"

#include <aliot/amqp.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <regex>

namespace aliot::cli {

namespace {

struct CloudSubOptions {
  std::optional<std::string> access_key_id;
  std::optional<std::string> access_key_secret_file;
  std::string consumer_group;
  std::optional<std::string> client_id;
  std::optional<std::string> instance;
  std::string sign_method = "hmacsha256";
  std::optional<std::string> endpoint;
  std::optional<std::string> ca_file;
  int idle_timeout_s = 60;
  std::vector<std::string> filters;
  std::optional<long> count;
  std::optional<Duration> wait;
  std::optional<std::string> until;
  bool from_now = false;
  render::Flags render;
  bool no_reconnect = false;
  bool dry_run = false;
  std::optional<std::string> timestamp;
};

Result<void> run_cloud_sub(Context& ctx, const CloudSubOptions& o) {
  const auto start = amqp::Clock::now();
  const auto start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  if (o.idle_timeout_s < 30 || o.idle_timeout_s > 300) {
    return Error(Errc::usage, "--idle-timeout must be 30-300 seconds (the platform's range)");
  }
  const std::optional<double> wait_s =
      o.wait ? std::optional<double>(o.wait->seconds()) : std::nullopt;
  ALIOT_TRY_ASSIGN(auto limits, check_stream_limits(o.count, wait_s, o.until));
  const std::optional<std::regex> until = std::move(limits);
  for (const auto& f : o.filters) {
    ALIOT_TRY(topic::validate_shape(f, topic::Use::subscribe));
  }
  ALIOT_TRY_ASSIGN(auto method, sign::parse_method(o.sign_method));

  config::Sources s;
  put_flag(s, "instance", o.instance, "--instance");
  put_flag(s, "amqp_endpoint", o.endpoint, "--amqp-endpoint");
  put_flag(s, "ca_file", o.ca_file, "--ca-file");
  ALIOT_TRY(put_access_key_flags(ctx, s, o.access_key_id, o.access_key_secret_file));
  ALIOT_TRY_ASSIGN(auto settings, ctx.settings(std::move(s)));
  ALIOT_TRY_ASSIGN(auto key, access_key_of(settings, "the AMQP subscription"));
  amqp::ConsumerOptions co;
  auto& p = co.params;
  p.access_key_id = std::move(key.id);
  p.consumer_group = o.consumer_group;
  p.client_id = o.client_id.value_or(amqp::default_client_id());
  p.instance_id = settings.text("instance");
  p.method = method;
  co.access_key_secret = std::move(key.secret);
  ALIOT_TRY(amqp::validate_params(p));

  if (o.dry_run) {
    p.timestamp = o.timestamp.value_or(std::to_string(start_ms));
    ALIOT_TRY_ASSIGN(const auto c, amqp::credentials(p, co.access_key_secret));
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["username"] = c.username;
      j["password"] = c.password.reveal();
      j["string_to_sign"] = c.string_to_sign;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line("username " + c.username);
      ctx.out.line("password " + c.password.reveal());
    }
    return ok();
  }

  const auto ep_text = settings.text("amqp_endpoint");
  if (!ep_text || ep_text->empty()) {
    return Error(Errc::config, "no AMQP endpoint",
                 "give --amqp-endpoint amqps://HOST:5671 or set ALIOT_AMQP_ENDPOINT (the console "
                 "shows the host: ${uid}.iot-amqp.${region}.aliyuncs.com)");
  }
  ALIOT_TRY_ASSIGN(auto ep, amqp::parse_endpoint(*ep_text));
  co.endpoint = ep;
  co.ca_file = settings.text("ca_file").value_or("");
  co.idle_timeout_s = o.idle_timeout_s;
  co.count = o.count;
  if (o.from_now) {
    co.skip_generated_before = start_ms; // the group's backlog: consumed, never printed
  }
  if (o.wait) {
    co.deadline = start + o.wait->value;
  }
  const bool bounded = o.count || o.until;
  co.reconnect = !o.no_reconnect && (!bounded || o.wait);
  bool ready = false;
  co.on_attached = [&] {
    if (ready) {
      return; // said once; a reconnect is logged under -v
    }
    ready = true;
    nlohmann::ordered_json j;
    j["consumer_group"] = o.consumer_group;
    j["client_id"] = p.client_id;
    j["endpoint"] = ep.host + ":" + std::to_string(ep.port);
    j["topics"] = o.filters;
    j["from_now"] = o.from_now;
    print_ready(ctx, j,
                "consuming group '" + o.consumer_group + "' as " + p.client_id + " on " + ep.host
                    + ":" + std::to_string(ep.port) + (o.from_now ? " (from now)" : ""));
  };
  co.stop = ctx.interrupted;
  co.log = [&ctx](const std::string& line) {
    ctx.out.info(line);
  };

  if (!o.filters.empty()) {
    // The platform filters nothing: every message of the group comes here first.
    ctx.out.warn("-t filters on this side: the messages of group '" + o.consumer_group
                 + "' that do not match are released back to the group for its other consumers "
                   "(never consumed here), and those that match are consumed; give -t a consumer "
                   "group of its own, not one a backend reads");
  }

  const auto renderer = render::make(ctx, o.render);
  long printed = 0;
  auto handler = [&](const amqp::Message& m) -> Result<amqp::Step> {
    bool wanted = o.filters.empty();
    for (const auto& f : o.filters) {
      wanted = wanted || topic::matches(f, m.topic);
    }
    if (!wanted) {
      ctx.out.info("released a message on " + m.topic + " (-t does not match it) to the group");
      return amqp::Step::release; // never accepted: the group's other consumers get it
    }
    if (ctx.out.json() && !o.render.format) {
      nlohmann::ordered_json j;
      j["ts"] = rfc3339_now();
      j["topic"] = m.topic;
      j["message_id"] = m.message_id;
      j["generate_time"] = m.generate_time ? nlohmann::ordered_json(*m.generate_time) : nullptr;
      put_payload(j, m.payload);
      if (m.delivery_count > 0) {
        j["delivery_count"] = m.delivery_count;
      }
      ctx.out.line(j.dump());
    } else {
      render::Message rm;
      rm.topic = m.topic;
      rm.payload = m.payload;
      rm.direction = render::Direction::device_to_cloud;
      rm.note = m.delivery_count > 0 ? "redelivered" : "";
      ctx.out.raw(renderer.render(rm));
    }
    if (std::ferror(stdout) != 0) {
      return Error(Errc::io, "cannot write to standard output"); // not accepted: redelivered
    }
    ++printed;
    return until && std::regex_search(m.payload, *until) ? amqp::Step::stop : amqp::Step::next;
  };
  auto r = amqp::consume(co, handler);
  if (!r) {
    if (r.error().code() == Errc::interrupted) {
      return ok(); // a subscriber stopped by SIGINT/SIGTERM has done its job
    }
    if (r.error().code() == Errc::timeout && o.wait) {
      std::string what = o.count ? "received " + std::to_string(printed) + " of "
                                       + std::to_string(*o.count) + " message(s)"
                                 : (until ? "no message matched --until" : "nothing arrived");
      return Error(Errc::timeout, what + " within " + fmt_duration(o.wait->value));
    }
    return std::move(r).error();
  }
  return ok();
}

} // namespace

void add_cloud_sub_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<CloudSubOptions>();
  auto* cmd = parent.add_subcommand(
      "sub",
      "Receive the product's device messages as the backend (AMQP server-side subscription)");
  cmd->add_option("--consumer-group", opts->consumer_group, "Consumer group id")
      ->type_name("ID")
      ->required();
  cmd->add_option("--access-key-id", opts->access_key_id, "AccessKey id (also ALIOT_ACCESS_KEY_ID)")
      ->type_name("ID");
  auto* sf = cmd->add_option("--access-key-secret-file", opts->access_key_secret_file,
                             "Read the AccessKey secret from a file ('-' for standard input; "
                             "also ALIOT_ACCESS_KEY_SECRET)")
                 ->type_name("FILE");
  ctx.docs.kind(sf, ValueKind::file);
  cmd->add_option("--client-id", opts->client_id,
                  "Client id shown in the console (default: host name and process id)")
      ->type_name("ID");
  add_instance_option(*cmd, opts->instance);
  auto* sm = cmd->add_option("--sign-method", opts->sign_method,
                             "Signature method of the user name (default hmacsha256)")
                 ->type_name("METHOD");
  ctx.docs.choices(sm, {"hmacsha256", "hmacsha1", "hmacmd5"});
  cmd->add_option("--amqp-endpoint", opts->endpoint,
                  "Endpoint amqps://HOST[:PORT] (also ALIOT_AMQP_ENDPOINT; port 5671 by default)")
      ->type_name("URL");
  add_ca_file_option(*cmd, opts->ca_file, ctx, CaTrust::also);
  cmd->add_option("--idle-timeout", opts->idle_timeout_s,
                  "Idle time-out announced to the server, 30-300 seconds (default 60)")
      ->type_name("SECONDS");
  cmd->add_option("-t,--topic", opts->filters,
                  "Print only messages whose device topic matches this MQTT filter (repeatable); "
                  "the others are released back to the group, not consumed")
      ->type_name("FILTER");
  cmd->add_option("-C,--count", opts->count, "Stop after N messages")->type_name("N");
  add_duration_option(*cmd, "-W,--wait", opts->wait,
                      "Stop with exit 6 if not all expected messages arrived within DURATION "
                      "(30s, 2m; a bare number is seconds)");
  cmd->add_option("--until", opts->until, "Stop (exit 0) at the first payload matching REGEX")
      ->type_name("REGEX");
  cmd->add_flag("--from-now", opts->from_now,
                "Skip the group's backlog: consume without printing or counting every message "
                "the platform generated before this command started");
  render::add_flags(*cmd, opts->render);
  cmd->add_flag("--no-reconnect", opts->no_reconnect, "Exit 5 when the connection is lost");
  cmd->add_flag("--dry-run", opts->dry_run, "Print the SASL user name and password and exit");
  cmd->add_option("--timestamp", opts->timestamp,
                  "Timestamp to sign with --dry-run, in milliseconds (default: now)")
      ->type_name("MS");
  ctx.docs.attach(
      cmd,
      {"Connects to the platform's AMQP 1.0 endpoint over TLS as a consumer of the consumer "
       "group (SASL PLAIN, the user name signed with the AccessKey secret from "
       "ALIOT_ACCESS_KEY_SECRET, --access-key-secret-file or the profile) and prints every "
       "message the product's devices publish: piped, the payload on a line (with "
       "--verbose-topic the device topic first; --raw, -F FORMAT and --pretty as for aliot "
       "sub; on a terminal the readable form, marked ↑ device to cloud), or under -o json one line "
       "per message {\"ts\",\"topic\","
       "\"message_id\",\"generate_time\",\"payload\"} (\"payload_base64\" for payloads that are "
       "not UTF-8; \"delivery_count\" on a redelivery).\n\n"
       "Each message is acknowledged only after it has been written out, so a consumer that "
       "dies before that gets it again; duplicates (same message id) are dropped. With -C N "
       "the server never hands over more than N messages. Consumers in one group share its "
       "messages. A lost connection is re-established with backoff and a freshly signed user "
       "name (with -C or --until only when -W bounds the run). Refused credentials are exit 4, "
       "a failed connection exit 5, -W passing exit 6.\n\n"
       "-t filters here, not on the platform: every message of the group still comes to this "
       "consumer first. One that matches is printed and consumed (the group's other consumers "
       "never see it); one that does not is released (AMQP released, never accepted), so the "
       "platform hands it to another consumer of the group. On a group a backend shares, -t "
       "therefore still takes the matching messages from that backend, and every other message "
       "makes a round trip through this consumer before the backend gets it; with no other "
       "consumer attached, the platform may offer the released messages to this one again and "
       "again. Give -t (and CI smoke tests) a consumer group of their own; cloud sub warns once "
       "when -t is used.\n\n"
       "Once the server has attached the link it says so: under -o json the first line is "
       "{\"event\":\"ready\",\"ts\",\"consumer_group\",\"client_id\",\"endpoint\","
       "\"topics\",\"from_now\"}, in text one line `aliot: ready: ...` on stderr (not under "
       "--quiet). A consumer group keeps what its devices published while no consumer was "
       "attached, and hands that backlog over first: `-C 1` alone may print an old message. "
       "In a test, publish a payload with a value of the run (--until RUN_ID) and add "
       "--from-now: messages whose platform generateTime is before this command started are "
       "consumed (taken from the group) without being printed or counted. The cut compares the "
       "platform's clock with this host's, so keep the host's clock synchronized (NTP); a "
       "message without a generateTime is treated as new. (Draining until the queue is empty "
       "is not used: AMQP has no reliable empty-queue signal from the platform, and a drain "
       "would race with messages published while it runs.)",
       {{"aliot cloud sub --access-key-id LTAI... --consumer-group DEFAULT_GROUP "
         "--amqp-endpoint amqps://1234.iot-amqp.cn-shanghai.aliyuncs.com",
         "Print every device message of the group"},
        {"aliot cloud sub --consumer-group G -t '/+/+/user/update' --until \"$RUN_ID\" "
         "--from-now -W 30s -o json",
         "In CI: wait at most 30 s for this run's device update, ignoring the group's backlog "
         "(exit 6 if none)"},
        {"aliot cloud sub --consumer-group G --dry-run --timestamp 1700000000000",
         "Show the signed SASL credentials"}},
       {"aliot-cloud-pub", "aliot-sub"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_cloud_sub); });
}

} // namespace aliot::cli
