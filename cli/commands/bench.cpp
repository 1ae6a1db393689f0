// `aliot bench conn|pub|sub|rrpc`: a fleet of real identities under load (lib: aliot/bench.hpp).
// This file holds the command tree and the help texts; the run is in bench_run.cpp.
#include "commands/bench.hpp"

#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <CLI/CLI.hpp>

namespace aliot::cli {

namespace {

void add_common(CLI::App& cmd, BenchOptions& o, Context& ctx) {
  cmd.add_option("--fleet", o.fleet,
                 "The devices: the JSON Lines of `aliot register --out` or the console's batch CSV")
      ->required()
      ->type_name("FILE");
  cmd.add_option("-c,--devices", o.devices, "Run the first N devices of the fleet (default: all)")
      ->type_name("N");
  cmd.add_option("--rate", o.rate,
                 "Logins started per second, e.g. 500/s (default 0: no limit; "
                 "at most 64 wait for their CONNACK at once)")
      ->type_name("RATE");
  cmd.add_option("--threads", o.threads, "Worker threads, each driving its share (default 2)")
      ->type_name("N");
  add_duration_option(cmd, "--timeout", o.timeout,
                      "How long a login may wait for its CONNACK (default 10s)");
  cmd.add_option("--max-fail", o.max_fail,
                 "Devices that may fail to log in with exit 0 (default 0)")
      ->type_name("N");
  cmd.add_flag("--interval-report", o.interval_report,
               "Under -o json, one line of counts and percentiles every second");
  cmd.add_option("--sign-method", o.sign_method, "Signature method (default hmacsha256)")
      ->type_name("METHOD");
  cmd.add_option("--keepalive", o.keepalive, "MQTT keepalive in seconds, 30-1200 (default 300)")
      ->type_name("SECONDS");
  add_endpoint_options(cmd, o.endpoint, ctx);
  cmd.add_flag("--no-tls-resume", o.no_tls_resume,
               "A full TLS handshake for every login (default: resume the endpoint's last "
               "session)")
      ->group("Endpoint");
}

CLI::App* add_mode(CLI::App& parent,
                   Context& ctx,
                   bench::Mode mode,
                   const char* name,
                   const char* what,
                   std::shared_ptr<BenchOptions>& opts) {
  opts = std::make_shared<BenchOptions>();
  opts->mode = mode;
  auto* cmd = parent.add_subcommand(name, what);
  add_common(*cmd, *opts, ctx);
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_bench); });
  return cmd;
}

} // namespace

void add_bench_command(CLI::App& parent, Context& ctx) {
  auto* top = parent.add_subcommand("bench", "Load: a fleet of real devices, each with its own "
                                             "signed login, from one process");
  top->require_subcommand(1);
  std::shared_ptr<BenchOptions> o;
  auto* conn = add_mode(*top, ctx, bench::Mode::conn, "conn", "Bring N devices online and hold", o);
  add_duration_option(*conn, "--hold", o->hold,
                      "Stay online this long once all are in (default 0: end at once)");
  ctx.docs.attach(
      conn, {"Brings N devices online at --rate, each with its own signed login, and holds them "
             "for --hold (keep-alives answered; a device whose connection drops logs in again, "
             "counted under reconnects). Reports the connect latency (TCP, TLS, CONNECT to "
             "CONNACK) and the failed logins by cause.",
             {{"aliot bench conn --fleet fleet.jsonl -c 10000 --rate 1000/s --hold 10m",
               "10,000 devices online for ten minutes"},
              {"aliot bench conn --fleet fleet.jsonl --tcp --max-fail 5 -o json",
               "The whole fleet against the emulator's plain port; up to 5 may fail"}},
             {"aliot-bench-pub"}});
  auto* pub = add_mode(*top, ctx, bench::Mode::pub, "pub", "N devices publishing", o);
  pub->add_option("-t,--topic", o->topics, "Topic (default user/update: /${pk}/${dn}/user/update)")
      ->type_name("TOPIC");
  pub->add_option("-q,--qos", o->qos, "QoS 0|1 (default 0)")->check(qos_validator());
  add_duration_option(*pub, "--interval", o->interval, "Each device publishes this often (1s)");
  pub->add_option("--count", o->count, "Messages per device (default 0: until --duration/SIGINT)")
      ->type_name("M");
  add_duration_option(*pub, "--duration", o->duration, "Publish this long");
  pub->add_option("--size", o->size, "Payload bytes: a JSON {dn,seq,ts} padded to BYTES")
      ->type_name("BYTES");
  pub->add_option("-m,--message", o->message, "Payload template with {dn}, {seq}, {ts} (ms)")
      ->type_name("TEMPLATE");
  pub->add_flag("--no-limit", o->no_limit,
                "Publish faster than the platform's per-device limit (30/s QoS 0, 10/s QoS 1)");
  pub->add_option("--max-loss", o->max_loss, "QoS 1 messages that may go unacknowledged (0)")
      ->type_name("N");
  add_duration_option(*pub, "--drain", o->drain, "Wait for PUBACKs after the last publish (10s)");
  ctx.docs.attach(
      pub, {"Every device logs in with its own signed login, then publishes --count messages "
            "(or for --duration) every --interval, starting spread over one interval. The "
            "default payload is {\"dn\":…,\"seq\":…,\"ts\":<ms>} (what `bench sub` measures "
            "delivery latency from). PUBACK latency at QoS 1; sent, acked and lost.",
            {{"aliot bench pub --fleet fleet.jsonl -c 1000 --count 20 -q 1 -o json",
              "1,000 devices x 20 QoS 1 messages; one JSON summary"},
             {"aliot bench pub --fleet fleet.jsonl -m '{\"temp\":21,\"ts\":{ts}}' --duration 10m",
              "Ten minutes of a device's telemetry"}},
            {"aliot-bench-sub", "aliot-register"}});
  auto* sub = add_mode(*top, ctx, bench::Mode::sub, "sub", "N devices subscribed", o);
  sub->add_option("-t,--topic", o->topics, "Filter (default user/get; repeatable)")
      ->type_name("TOPIC");
  sub->add_option("-q,--qos", o->qos, "QoS 0|1 (default 0)")->check(qos_validator());
  add_duration_option(*sub, "--duration", o->duration, "Stay subscribed this long once ready");
  sub->add_option("-C,--count", o->stop_after, "Stop after N messages in all")->type_name("N");
  ctx.docs.attach(
      sub, {"N devices subscribe to -t (relative to each device) and count what arrives; a JSON "
            "payload with a \"ts\" field (milliseconds since the epoch) gives the delivery "
            "latency. Runs until --duration, -C or SIGINT.",
            {{"aliot bench sub --fleet fleet.jsonl -c 500 -t user/get --duration 2m",
              "500 devices listening while a backend sends"}},
            {"aliot-cloud-broadcast", "aliot-bench-pub"}});
  auto* rr = add_mode(*top, ctx, bench::Mode::rrpc, "rrpc", "N devices answering RRPC", o);
  rr->add_option("--reply", o->reply, "Answer with TEXT (default: echo the request)")
      ->type_name("TEXT");
  add_duration_option(*rr, "--delay", o->delay, "Answer after this delay (default 0)");
  add_duration_option(*rr, "--duration", o->duration, "Serve this long once ready");
  rr->add_option("-C,--count", o->stop_after, "Stop after N requests in all")->type_name("N");
  ctx.docs.attach(
      rr, {"N devices subscribe to /sys/${pk}/${dn}/rrpc/request/+ and answer each request on "
           "its response topic: the request's payload (echo) or --reply TEXT, after --delay. "
           "Runs until --duration, -C or SIGINT.",
           {{"aliot bench rrpc --fleet fleet.jsonl -c 100 --reply ok --delay 20ms",
             "100 devices answering 'ok' after 20 ms"}},
           {"aliot-rrpc-call", "aliot-rrpc-serve"}});
  ctx.docs.attach(
      top,
      {"Puts a fleet of real identities on the platform from one process: each device logs in "
       "with its own triplet from --fleet (signed as `aliot sign` does), at --rate, over TLS "
       "(securemode=2) unless --tcp. Once every device's first login is answered it says ready "
       "(under -o json the first line {\"event\":\"ready\",\"devices\",\"online\",\"failed\"}). "
       "On a terminal a progress line is redrawn every second. At the end a summary: failures "
       "by cause (refused, auth, timeout, network), reconnects, connect latency and the mode's "
       "latency as p50/p90/p99/p99.9/max; under -o json one {\"event\":\"summary\",...} line "
       "(--interval-report adds one {\"event\":\"interval\",...} a second).\n\n"
       "Exit 0 when at most --max-fail devices failed to log in and (pub) at most --max-loss "
       "messages went unacknowledged; else 4 (auth), 5 (network, refused) or 6 (timeout, "
       "loss). SIGINT ends the run: every connection is closed with a DISCONNECT, the summary "
       "is printed, exit 130. The soft file-descriptor limit is raised to the hard one; a fleet "
       "larger than it is refused (exit 3).",
       {{"aliot bench conn --fleet fleet.jsonl -c 2000 --rate 500/s --hold 1m",
         "2,000 devices online, held a minute"},
        {"aliot bench pub --fleet fleet.jsonl -c 1000 --count 20 -q 1",
         "1,000 devices x 20 QoS 1 messages"},
        {"aliot bench sub --fleet fleet.jsonl -t user/get --duration 5m",
         "Delivery latency of what a backend sends"},
        {"aliot bench rrpc --fleet fleet.jsonl --reply ok --delay 50ms",
         "Devices answering RRPC for `rrpc call` or a backend"}},
       {"aliot-register", "aliot-sign", "aliot-rrpc-call"}});
}

} // namespace aliot::cli
