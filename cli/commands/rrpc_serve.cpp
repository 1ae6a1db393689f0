// `aliot rrpc serve`: be the device that answers RRPC (spec section 5, spec/cli.md).
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/mqtt.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace aliot::cli {

namespace {

constexpr std::chrono::seconds k_rrpc_deadline{8}; // the platform's RRPC response deadline
constexpr std::size_t k_max_reply = topic::k_max_payload;

struct ServeOptions {
  DeviceFlags device;
  std::optional<std::string> reply;
  bool echo = false;
  std::optional<std::string> exec;
  std::vector<std::string> custom;
  std::optional<long> count;
  double timeout_s = 10;
};

// Runs `sh -c cmd` with `input` on stdin; its stdout is the result. Errors: the command failed,
// was killed, or ran past the deadline.
Result<std::string> run_exec(const std::string& cmd,
                             const std::string& input,
                             const std::string& id,
                             const std::string& topic_name) {
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Error(Errc::io, std::string("--exec: pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view s(*e);
    if (s.rfind("ALIOT_RRPC_ID=", 0) != 0 && s.rfind("ALIOT_RRPC_TOPIC=", 0) != 0) {
      env_strings.emplace_back(s);
    }
  }
  env_strings.push_back("ALIOT_RRPC_ID=" + id);
  env_strings.push_back("ALIOT_RRPC_TOPIC=" + topic_name);
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    return Error(Errc::io, std::string("--exec: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
    execve("/bin/sh", const_cast<char* const*>(argv), envp.data()); // NOLINT
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  int in_fd = in_pipe[1];
  const int out_fd = out_pipe[0];
  fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  std::string out;
  bool too_big = false;
  const auto deadline = mqtt::after(k_rrpc_deadline);
  bool timed_out = false;
  while (true) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mqtt::Clock::now())
            .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int rc = poll(fds, in_fd >= 0 ? 2 : 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if (n < 0 && errno != EAGAIN) {
        written = input.size(); // the command does not read its input: fine
      }
      if (written >= input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buf[65536];
      const ssize_t n = read(out_fd, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      if (out.size() + static_cast<std::size_t>(n) > k_max_reply) {
        too_big = true;
      } else {
        out.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  if (in_fd >= 0) {
    close(in_fd);
  }
  close(out_fd);
  int status = 0;
  // stdout closed (or time is up): give the command the rest of the deadline to exit
  while (!timed_out && waitpid(pid, &status, WNOHANG) == 0) {
    if (mqtt::Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    usleep(2000);
  }
  if (timed_out) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (timed_out) {
    return Error(Errc::timeout,
                 "--exec: the command ran past the platform's 8 s RRPC deadline and was killed");
  }
  if (WIFSIGNALED(status)) {
    return Error(Errc::remote,
                 "--exec: the command was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return Error(Errc::remote, "--exec: the command failed with exit status "
                                   + std::to_string(WEXITSTATUS(status)));
  }
  if (too_big) {
    return Error(Errc::usage, "--exec: the reply is over the platform's limit of 256 KB");
  }
  return out;
}

void log_event(Context& ctx,
               const char* event,
               const std::string& id,
               const std::string& topic_name,
               const std::string* payload,
               const std::string* error) {
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["ts"] = rfc3339_now();
    j["event"] = event;
    j["id"] = id;
    j["topic"] = topic_name;
    if (payload != nullptr) {
      put_payload(j, *payload);
    }
    if (error != nullptr) {
      j["error"] = *error;
    }
    ctx.out.line(j.dump());
    return;
  }
  if (error != nullptr) {
    ctx.out.warn("rrpc " + id + ": " + *error);
    return;
  }
  ctx.out.raw(std::string(event) + " " + id + " " + topic_name + " "
              + (payload != nullptr ? *payload : "") + "\n");
}

Result<void> run_serve(Context& ctx, const ServeOptions& o) {
  const int modes = (o.reply ? 1 : 0) + (o.echo ? 1 : 0) + (o.exec ? 1 : 0);
  if (modes != 1) {
    return Error(Errc::usage, "give exactly one of --reply TEXT, --echo or --exec CMD");
  }
  if (o.count && *o.count < 1) {
    return Error(Errc::usage, "-C must be at least 1");
  }
  if (o.reply && o.reply->size() > k_max_reply) {
    return Error(Errc::usage, "--reply is over the platform's limit of 256 KB");
  }
  auto dc = resolve_device(o.device, ctx);
  if (!dc) {
    return std::move(dc).error();
  }
  const std::string& pk = dc->identity.product_key;
  const std::string& dn = dc->identity.device_name;
  const std::string sys_prefix = "/sys/" + pk + "/" + dn + "/rrpc/request/";
  std::vector<std::string> filters{sys_prefix + "+"};
  for (const auto& c : o.custom) {
    const std::string t = topic::expand(c, pk, dn);
    ALIOT_TRY(topic::validate(t, topic::Use::subscribe, pk, dn));
    filters.push_back("/ext/rrpc/+" + t);
  }
  if (!o.custom.empty()) {
    // announce custom-topic RRPC (bit0 of ext) in the client id
    dc->params.extra_options.emplace_back("ext", "1");
  }
  const auto timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  auto s = device_session(ctx);
  long served = 0;
  std::optional<Error> fatal;
  s.on_message([&](const mqtt::Message& m) {
    std::string id;
    std::string reply_topic;
    if (m.topic.rfind(sys_prefix, 0) == 0) {
      id = m.topic.substr(sys_prefix.size());
      reply_topic = "/sys/" + pk + "/" + dn + "/rrpc/response/" + id;
    } else if (m.topic.rfind("/ext/rrpc/", 0) == 0) {
      const auto rest = m.topic.substr(10);
      id = rest.substr(0, rest.find('/'));
      reply_topic = m.topic; // custom-topic RRPC answers on the identical topic
    } else {
      ctx.out.debug("ignoring a message on " + m.topic);
      return;
    }
    ++served;
    log_event(ctx, "request", id, m.topic, &m.payload, nullptr);
    std::string answer;
    if (o.reply) {
      answer = *o.reply;
    } else if (o.echo) {
      answer = m.payload;
    } else {
      auto r = run_exec(*o.exec, m.payload, id, m.topic);
      if (!r) {
        const std::string msg = r.error().message();
        log_event(ctx, "error", id, m.topic, nullptr, &msg);
        return;
      }
      answer = std::move(*r);
    }
    auto p = s.publish(reply_topic, answer, 0, mqtt::after(timeout));
    if (!p) {
      if (p.error().code() != Errc::network) {
        fatal = p.error();
      }
      const std::string msg = "reply not sent: " + p.error().message();
      log_event(ctx, "error", id, reply_topic, nullptr, &msg);
      return;
    }
    log_event(ctx, "reply", id, reply_topic, &answer, nullptr);
  });
  ALIOT_TRY(s.connect(connect_params(*dc), mqtt::after(timeout)));
  ALIOT_TRY(s.subscribe(filters, 0, mqtt::after(timeout)));
  ctx.out.info("serving RRPC on " + filters.front()
               + (filters.size() > 1 ? " and custom topics" : ""));
  mqtt::RunOptions ro;
  ro.reconnect = !o.count;
  auto r = s.run(ro, [&] { return fatal.has_value() || (o.count && served >= *o.count); });
  if (fatal) {
    return *fatal;
  }
  if (!r && r.error().code() != Errc::interrupted) {
    return r;
  }
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  return ok();
}

} // namespace

void add_rrpc_serve_command(CLI::App& rrpc, Context& ctx) {
  auto opts = std::make_shared<ServeOptions>();
  auto* cmd = rrpc.add_subcommand("serve", "Be the device that answers RRPC requests");
  add_device_options(*cmd, opts->device, ctx);
  auto* reply =
      cmd->add_option("--reply", opts->reply, "Answer every request with TEXT")->type_name("TEXT");
  auto* echo = cmd->add_flag("--echo", opts->echo, "Answer with the request payload itself");
  auto* exec =
      cmd->add_option(
             "--exec", opts->exec,
             "Run CMD (sh -c) per request: request payload on its stdin, reply from its stdout, "
             "ALIOT_RRPC_ID and ALIOT_RRPC_TOPIC in its environment")
          ->type_name("CMD");
  reply->excludes(echo)->excludes(exec);
  echo->excludes(exec);
  cmd->add_option("--custom", opts->custom,
                  "Also answer custom-topic RRPC for TOPIC (subscribes /ext/rrpc/+TOPIC, announces "
                  "ext=1; repeatable)")
      ->type_name("TOPIC");
  cmd->add_option("-C,--count", opts->count, "Stop after N requests")->type_name("N");
  cmd->add_option("--timeout", opts->timeout_s,
                  "Seconds to wait for CONNACK and SUBACK (default 10)")
      ->type_name("SECONDS");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device, subscribes to /sys/${pk}/${dn}/rrpc/request/+ and answers each "
       "request "
       "on /sys/${pk}/${dn}/rrpc/response/${messageId} (QoS 0) with --reply TEXT, --echo, or the "
       "standard output of --exec CMD. A command that fails or runs past the platform's 8 s "
       "deadline "
       "is reported (no reply is sent, the cloud sees TIMEOUT) and the server keeps serving.\n\n"
       "Each request and reply is logged on stdout: text lines `request ID TOPIC PAYLOAD` and "
       "`reply ID TOPIC PAYLOAD`, or under -o json one line per event {\"ts\",\"event\":"
       "\"request\"|\"reply\"|\"error\",\"id\",\"topic\",\"payload\"|\"payload_base64\"|\"error\"}."
       " "
       "Without -C it runs until SIGINT (exit 0), reconnecting with backoff.",
       {{"aliot rrpc serve --triplet device.json --reply ok", "Answer every request with 'ok'"},
        {"aliot rrpc serve --triplet device.json --echo -C 1 -o json",
         "Echo one request, then exit"},
        {"aliot rrpc serve --triplet device.json --exec 'jq -c .params'",
         "Let a command compute each reply"},
        {"aliot rrpc serve --triplet device.json --custom user/get --echo",
         "Also answer custom-topic RRPC"}},
       {"aliot-rrpc-call", "aliot-sub"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_serve); });
}

} // namespace aliot::cli
