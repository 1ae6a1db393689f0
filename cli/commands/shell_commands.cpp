// The commands typed inside `aliot shell` (help text: k_help below).
#include "commands/device_session.hpp"
#include "commands/shell_args.hpp"
#include "commands/shell_state.hpp"

#include <aliot/rrpc.hpp>
#include <aliot/time.hpp>
#include <aliot/topic.hpp>

#include <nlohmann/json.hpp>

#include <ctime>
#include <sstream>

namespace aliot::cli {

namespace {

constexpr const char* k_help =
    "device (as the logged-in device):\n"
    "  sub TOPIC [-q 0|1]            subscribe (relative topics are under /PK/DN/)\n"
    "  unsub TOPIC                   unsubscribe\n"
    "  pub TOPIC MESSAGE [-q 0|1]    publish; or pub TOPIC -f FILE\n"
    "  rrpc [--echo | --reply TEXT]  answer RRPC: by typing each reply (the prompt counts the\n"
    "                                8 s down), echoing the request, or a fixed TEXT\n"
    "  rrpc off                      stop answering\n"
    "  subs                          what is subscribed\n"
    "  status                        connected, since, keep-alive, messages in/out\n"
    "  reconnect                     log in again (subscriptions kept)\n"
    "cloud (with an AccessKey):\n"
    "  cloud pub TOPIC MESSAGE [-q 0|1]   the cloud sends to the device (OpenAPI Pub)\n"
    "  rrpc call MESSAGE [--timeout DURATION]  the cloud asks the device (OpenAPI RRpc)\n"
    "  watch [--group ID]            print the product's device messages as the backend gets\n"
    "                                them (AMQP, consumer group DEFAULT_GROUP), marked ↑\n"
    "  watch off                     stop\n"
    "other:\n"
    "  sleep DURATION                keep receiving for DURATION (scripts)\n"
    "  help, exit (or Ctrl-D)\n";

const std::vector<std::string> k_commands = {"sub",    "unsub",     "pub",  "rrpc", "subs",
                                             "status", "reconnect", "help", "exit", "cloud",
                                             "sleep",  "quit",      "watch"};

std::string local_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

Result<std::string> device_topic(ShellState& st, const std::string& t, topic::Use use) {
  std::string full = topic::expand(t, st.pk, st.dn);
  ALIOT_TRY(topic::validate(full, use, st.pk, st.dn));
  st.topics.insert(t);
  return full;
}

Result<void> cmd_rrpc(ShellState& st, const Args& a) {
  if (!a.pos.empty() && a.pos[0] == "off") {
    ALIOT_TRY(st.console.set_rrpc(false, st.deadline()));
    st.rrpc = RrpcMode::off;
    st.to_answer.clear();
    st.print("rrpc: not answering\n");
    return ok();
  }
  ALIOT_TRY(need("rrpc", a, 0, "rrpc [--echo | --reply TEXT | off]"));
  if (a.echo && a.reply) {
    return Error(Errc::usage, "rrpc: give --echo or --reply TEXT, not both");
  }
  RrpcMode mode = a.echo ? RrpcMode::echo : (a.reply ? RrpcMode::reply : RrpcMode::ask);
  if (!a.echo && !a.reply && st.rrpc != RrpcMode::off) {
    mode = RrpcMode::off; // a bare `rrpc` toggles
  }
  ALIOT_TRY(st.console.set_rrpc(mode != RrpcMode::off, st.deadline()));
  st.rrpc = mode;
  st.rrpc_reply = a.reply.value_or("");
  const char* what = mode == RrpcMode::off    ? "not answering"
                     : mode == RrpcMode::ask  ? "answering: type the reply to each request"
                     : mode == RrpcMode::echo ? "answering with each request's payload"
                                              : "answering with the --reply text";
  st.print(std::string("rrpc: ") + what + "\n");
  return ok();
}

Result<void> cmd_status(ShellState& st) {
  const auto s = st.console.status();
  std::ostringstream o;
  if (st.ctx.out.json()) {
    nlohmann::ordered_json j;
    j["connected"] = s.connected;
    j["since"] = utc_iso8601(s.since, true);
    j["host"] = s.host;
    j["port"] = s.port;
    j["keepalive"] = s.keepalive;
    j["messages_in"] = s.messages_in;
    j["messages_out"] = s.messages_out;
    j["connects"] = s.connects;
    st.print(j.dump() + "\n");
    return ok();
  }
  o << "connected:    " << (s.connected ? "yes" : "no") << "\n"
    << "since:        " << local_time(s.since) << "\n"
    << "broker:       " << s.host << ":" << s.port << "\n"
    << "keep-alive:   " << s.keepalive << " s\n"
    << "messages in:  " << s.messages_in << "\n"
    << "messages out: " << s.messages_out << "\n";
  st.print(o.str());
  return ok();
}

Result<void> dispatch(ShellState& st, const std::vector<std::string>& w) {
  const std::string& cmd = w[0];
  if (cmd == "cloud" || (cmd == "rrpc" && w.size() > 1 && w[1] == "call")) {
    const std::string name = cmd == "cloud" ? "cloud " + (w.size() > 1 ? w[1] : "") : "rrpc call";
    ALIOT_TRY_ASSIGN(auto a, parse_args(name, w, 2));
    if (name == "rrpc call") {
      return cmd_rrpc_call(st, a);
    }
    if (name == "cloud pub") {
      return cmd_cloud_pub(st, a);
    }
    return Error(Errc::usage, "unknown command: " + name,
                 "the cloud side has `cloud pub` and `rrpc call`");
  }
  ALIOT_TRY_ASSIGN(auto a, parse_args(cmd, w, 1));
  if (cmd == "sub") {
    ALIOT_TRY(need(cmd, a, 1, "sub TOPIC [-q 0|1]"));
    ALIOT_TRY_ASSIGN(const int qos, qos_of(a));
    ALIOT_TRY_ASSIGN(auto full, device_topic(st, a.pos[0], topic::Use::subscribe));
    ALIOT_TRY(st.console.subscribe(full, qos, st.deadline()));
    st.ctx.out.info("subscribed to " + full);
    return ok();
  }
  if (cmd == "unsub") {
    ALIOT_TRY(need(cmd, a, 1, "unsub TOPIC"));
    const std::string full = topic::expand(a.pos[0], st.pk, st.dn);
    return st.console.unsubscribe(full, st.deadline());
  }
  if (cmd == "pub") {
    if (a.pos.empty()) {
      return Error(Errc::usage, "pub: expected TOPIC MESSAGE (or TOPIC -f FILE)");
    }
    ALIOT_TRY_ASSIGN(const int qos, qos_of(a));
    ALIOT_TRY_ASSIGN(auto full, device_topic(st, a.pos[0], topic::Use::publish));
    ALIOT_TRY_ASSIGN(auto payload, payload_of(cmd, a, 1));
    ALIOT_TRY(st.console.publish(full, payload, qos, st.deadline()));
    show_message(st, Way::up, full, payload, qos, "pub");
    return ok();
  }
  if (cmd == "rrpc") {
    return cmd_rrpc(st, a);
  }
  if (cmd == "subs") {
    ALIOT_TRY(need(cmd, a, 0, "subs"));
    std::string out;
    for (const auto& [f, q] : st.console.subscriptions()) {
      out += f + " (QoS " + std::to_string(q) + ")\n";
    }
    st.print(out);
    return ok();
  }
  if (cmd == "status") {
    return cmd_status(st);
  }
  if (cmd == "reconnect") {
    ALIOT_TRY(st.console.reconnect(st.deadline()));
    st.print("reconnected to " + st.console.status().host + "\n");
    return ok();
  }
  if (cmd == "sleep") {
    ALIOT_TRY(need(cmd, a, 1, "sleep DURATION"));
    ALIOT_TRY_ASSIGN(auto d, parse_duration(a.pos[0], "sleep"));
    ALIOT_TRY(check_duration(d, "sleep", std::chrono::milliseconds(0), std::chrono::hours(24)));
    st.sleeping = mqtt::after(d.value);
    return ok();
  }
  if (cmd == "watch") {
    return cmd_watch(st, a);
  }
  if (cmd == "help") {
    st.print(k_help);
    return ok();
  }
  if (cmd == "exit" || cmd == "quit") {
    st.quit = true;
    return ok();
  }
  return Error(Errc::usage, "unknown command: " + cmd, "type `help`");
}

} // namespace

Result<void> run_shell_line(ShellState& st, const std::string& line) {
  ALIOT_TRY_ASSIGN(auto words, split_words(line));
  if (words.empty() || words[0][0] == '#') {
    return ok();
  }
  return dispatch(st, words);
}

void show_message(ShellState& st,
                  Way way,
                  const std::string& topic,
                  const std::string& payload,
                  int qos,
                  std::string note) {
  const bool outgoing = way == Way::up || note == "cloud pub" || note == "rrpc call";
  if (outgoing && note != "rrpc reply from the device"
      && st.renderer.options().mode != render::Mode::pretty) {
    return; // a script's output is what arrived, as sub's: its own sends are not echoed
  }
  render::Message rm;
  rm.topic = topic;
  rm.payload = payload;
  rm.qos = qos;
  rm.direction =
      way == Way::up ? render::Direction::device_to_cloud : render::Direction::cloud_to_device;
  rm.note = std::move(note);
  st.print(st.renderer.render(rm));
}

void on_incoming(ShellState& st, mqtt::Incoming in) {
  show_message(st, Way::down, in.message.topic, in.message.payload, in.message.qos,
               in.rrpc ? "rrpc request " + in.rrpc->id : "");
  if (!in.rrpc || st.rrpc == RrpcMode::off) {
    return;
  }
  if (st.rrpc == RrpcMode::ask) {
    st.to_answer.push_back(std::move(in));
    return;
  }
  const std::string answer = st.rrpc == RrpcMode::echo ? in.message.payload : st.rrpc_reply;
  if (auto r = st.console.answer(in, answer, st.deadline()); !r) {
    st.print_error(r.error());
    return;
  }
  show_message(st, Way::up, in.rrpc->reply_topic, answer, 0, "rrpc reply");
}

std::vector<std::string> shell_completions(const ShellState& st, std::string_view line, int start) {
  if (line.substr(0, static_cast<std::size_t>(start)).find_first_not_of(" \t")
      == std::string_view::npos) {
    return k_commands;
  }
  const std::string_view first = line.substr(0, line.find(' '));
  if (first == "cloud") {
    if (line.substr(0, static_cast<std::size_t>(start)).find_first_not_of(" \t", 5)
        == std::string_view::npos) {
      return {"pub"};
    }
  }
  if (first == "rrpc") {
    return {"call", "off", "--echo", "--reply"};
  }
  if (first == "watch") {
    return {"on", "off", "--group"};
  }
  std::vector<std::string> out(st.topics.begin(), st.topics.end());
  for (const char* t : {"user/get", "user/update", "user/"}) {
    if (!st.topics.count(t)) {
      out.emplace_back(t);
    }
  }
  if (first == "unsub") {
    for (const auto& [f, q] : st.console.subscriptions()) {
      out.push_back(f);
    }
  }
  return out;
}

} // namespace aliot::cli
