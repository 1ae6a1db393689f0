// `aliot shell`: one device session at a prompt (issue 29; spec/cli.md "Commands being added").
// The protocol flows are lib's (mqtt::Console, OpenAPI); this file is the loop that keeps the
// session running while the user types (or a script's lines run), and the options.
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "commands/shell_line.hpp"
#include "commands/shell_state.hpp"
#include "render/flags.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

namespace aliot::cli {

namespace {

struct ShellOptions {
  DeviceFlags device;
  ApiFlags api;
  render::Flags render;
  Duration timeout = duration_of(std::chrono::seconds(10));
};

constexpr std::size_t k_max_line = 1024 * 1024; // a script line past this is refused

std::string where_of(const std::string& host) {
  if (host == "127.0.0.1" || host == "localhost" || host == "::1") {
    return "emulator";
  }
  return host;
}

// The prompt: who and where, or the RRPC request waiting for a typed answer with its seconds left.
std::string prompt_of(const ShellState& st, const std::string& who) {
  if (!st.to_answer.empty()) {
    const auto& req = st.to_answer.front();
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
        req.arrived + rrpc::k_deadline - mqtt::Clock::now());
    return "rrpc " + req.rrpc->id + " reply (" + std::to_string(std::max<long>(0, left.count()))
           + "s)> ";
  }
  return who + "> ";
}

// Lines of a script on standard input, read as they come (bounded).
struct ScriptInput {
  std::string buf;
  bool eof = false;

  Result<void> read(std::deque<std::string>& lines) {
    char chunk[4096];
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        return ok();
      }
      return Error(Errc::io, std::string("reading standard input: ") + std::strerror(errno));
    }
    if (n == 0) {
      eof = true;
      if (!buf.empty()) {
        lines.push_back(std::move(buf));
        buf.clear();
      }
      return ok();
    }
    buf.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
    if (buf.size() > k_max_line) {
      return Error(Errc::usage, "a line of the script is over 1 MB");
    }
    return ok();
  }
};

Result<void> run_shell(Context& ctx, const ShellOptions& o) {
  ALIOT_TRY(
      check_duration(o.timeout, "--timeout", std::chrono::milliseconds(1), std::chrono::hours(1)));
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(o.device, ctx));
  ShellState st(ctx, dc.identity.product_key, dc.identity.device_name,
                render::make(ctx, o.render, dc.identity.product_key, dc.identity.device_name));
  st.timeout = o.timeout.value;
  st.device = o.device;
  st.api = o.api;
  const bool interactive = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
  if (interactive) {
    if (auto e = LineEditor::load_error(); !e.empty()) {
      return Error(Errc::config, e,
                   "install libedit2 (apt-get install libedit2), or give the shell its commands "
                   "on standard input");
    }
  }

  ALIOT_TRY_ASSIGN(const auto params, connect_params(dc));
  if (auto c = st.console.connect(params, st.deadline()); !c) {
    return c.error().code() == Errc::interrupted ? ok() : c;
  }
  const std::string who = st.pk + "/" + st.dn + "@" + where_of(params.endpoint.host);

  std::deque<std::string> lines;
  std::unique_ptr<LineEditor> editor;
  std::string history;
  st.print = [&](std::string_view text) {
    if (editor) {
      editor->print_above(text);
    } else {
      ctx.out.raw(text);
    }
  };
  st.print_error = [&](const Error& e) {
    if (editor) {
      editor->print_above("");
      std::fputs("\r\033[K", stdout);
      std::fflush(stdout);
    }
    ctx.out.error(e);
    if (editor) {
      editor->print_above("");
    }
  };

  nlohmann::ordered_json ready;
  ready["product_key"] = st.pk;
  ready["device_name"] = st.dn;
  ready["host"] = params.endpoint.host;
  ready["port"] = params.endpoint.port;
  print_ready(ctx, ready,
              who + " logged in" + (interactive ? "; type help, exit with Ctrl-D" : ""));

  if (interactive) {
    history = history_path([&ctx](const char* k) -> std::optional<std::string> {
      auto it = ctx.env.find(k);
      return it == ctx.env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    editor = std::make_unique<LineEditor>(
        prompt_of(st, who),
        [&](std::optional<std::string> line) {
          if (!line) {
            st.quit = true;
            return;
          }
          // an answer to an RRPC request is no command to recall
          if (st.to_answer.empty()) {
            editor->remember(*line);
          }
          lines.push_back(std::move(*line));
        },
        [&st](std::string_view line, int start) { return shell_completions(st, line, start); });
    if (auto e = editor->load_history(history); !e.empty()) {
      ctx.out.warn(e);
    }
  }
  ScriptInput script;
  std::optional<Error> failure; // a script stops at its first failure
  auto failed = [&](const Error& e) {
    if (interactive) {
      st.print_error(e);
    } else if (!failure) {
      failure = e;
    }
  };

  while (!st.quit && !failure && !ctx.is_interrupted()) {
    while (!lines.empty() && !st.busy() && !st.quit && !failure) {
      std::string line = std::move(lines.front());
      lines.pop_front();
      if (!st.to_answer.empty()) {
        auto req = std::move(st.to_answer.front());
        st.to_answer.pop_front();
        if (auto r = st.console.answer(req, line, st.deadline()); !r) {
          failed(r.error());
        } else {
          show_message(st, Way::up, req.rrpc->reply_topic, line, 0, "rrpc reply");
        }
        continue;
      }
      if (auto r = run_shell_line(st, line); !r) {
        failed(r.error());
      }
    }
    if (st.quit || failure || (script.eof && lines.empty() && !st.busy())) {
      break;
    }
    const bool want_input = interactive || !script.eof;
    auto readable = st.console.wait(want_input ? STDIN_FILENO : -1, std::chrono::milliseconds(50));
    if (!readable) {
      if (readable.error().code() == Errc::interrupted) {
        break;
      }
      failed(Error(readable.error().code(), readable.error().message(),
                   "type `reconnect` to log in again"));
      readable = false;
    }
    while (auto in = st.console.next()) {
      on_incoming(st, std::move(*in));
    }
    if (*readable) {
      if (editor) {
        editor->read_char();
      } else if (auto r = script.read(lines); !r) {
        failed(r.error());
      }
    }
    if (auto r = reap_task(st); !r) {
      failed(r.error());
    }
    if (auto r = reap_watch(st); !r) {
      failed(r.error());
    }
    if (st.sleeping && mqtt::Clock::now() >= *st.sleeping) {
      st.sleeping.reset();
    }
    while (!st.to_answer.empty()
           && mqtt::Clock::now() > st.to_answer.front().arrived + rrpc::k_deadline) {
      st.print("rrpc " + st.to_answer.front().rrpc->id
               + ": not answered within 8 s (the caller got TIMEOUT)\n");
      st.to_answer.pop_front();
    }
    if (editor) {
      editor->set_prompt(prompt_of(st, who));
    }
  }
  stop_watch(st);
  if (st.task && st.task->thread.joinable()) {
    st.task->thread.join(); // a cloud call in flight ends within its HTTP timeout
  }
  if (editor) {
    std::fputs("\n", stdout);
    if (auto e = editor->save_history(history); !e.empty()) {
      ctx.out.warn(e);
    }
    editor.reset();
  }
  st.console.session().disconnect(mqtt::after(std::chrono::seconds(1)));
  if (failure) {
    return std::move(*failure);
  }
  return ok();
}

} // namespace

void add_shell_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<ShellOptions>();
  auto* cmd = parent.add_subcommand("shell", "Keep a device session open at a prompt");
  add_device_options(*cmd, opts->device, ctx);
  cmd->add_option("--access-key-id", opts->api.access_key_id,
                  "AccessKey id for the cloud side (cloud pub, rrpc call, watch)")
      ->type_name("ID");
  cmd->add_option("--access-key-secret-file", opts->api.access_key_secret_file,
                  "File holding the AccessKey secret (- = stdin); else ALIOT_ACCESS_KEY_SECRET")
      ->type_name("FILE");
  render::add_flags(*cmd, opts->render);
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long to wait for CONNACK, SUBACK and PUBACK (default 10s)");
  ctx.docs.attach(
      cmd,
      {"Logs in once as the device and keeps the session open at a prompt that says who and "
       "where (a1FakePK/dev1@emulator>), with line editing, history and tab completion "
       "(commands, topics already used, user/...). Messages that arrive while you type are "
       "printed above the prompt; the line being edited stays.\n\n"
       "Commands: sub TOPIC [-q 0|1], unsub TOPIC, pub TOPIC MESSAGE [-q 0|1] (or -f FILE), rrpc "
       "(toggle answering RRPC: each request is printed and the prompt asks for the reply, "
       "counting the platform's 8 s down; rrpc --echo, rrpc --reply TEXT answer by themselves; "
       "rrpc off), subs, status (connected, since, keep-alive, messages in/out), reconnect, "
       "sleep DURATION, help, exit. With an AccessKey (--access-key-id and "
       "ALIOT_ACCESS_KEY_SECRET, or a profile) the cloud side too: cloud pub TOPIC MESSAGE and "
       "rrpc call MESSAGE, and watch [--group ID] (the product's device messages as the backend "
       "gets them through the AMQP subscription, as cloud sub: consumer group DEFAULT_GROUP "
       "unless --group, ALIOT_AMQP_ENDPOINT or the profile's amqp_endpoint; what the group kept "
       "from before is consumed unprinted, so give watch a group of its own, not one a backend "
       "reads; watch off stops), so both directions show in one terminal (↓ what reaches the "
       "device, ↑ what it sends).\n\n"
       "History is kept in $XDG_STATE_HOME/aliot/history (else ~/.local/state/aliot/history), "
       "mode 0600; a line with a secret flag (--*secret*, --*token*, --password) or a "
       "*SECRET*= assignment is never written to it.\n\n"
       "When standard input is not a terminal the shell runs its lines as a script: no prompt, "
       "nothing echoed, and it stops at the first command that fails with that command's exit "
       "code (a pub that gets no PUBACK: 6). Once logged in it says so: under -o json the first "
       "line is {\"event\":\"ready\",...}, in text `aliot: ready: ...` on stderr.",
       {{"aliot shell --triplet device.json",
         "Debug by hand: sub user/get, pub user/update '{\"t\":1}', rrpc, status"},
        {"printf 'sub user/get\\npub user/update hi -q 1\\nsleep 2s\\n' | aliot shell --triplet "
         "device.json",
         "The same as a script, for CI (exit code of the first failure)"}},
       {"aliot-sub", "aliot-pub", "aliot-rrpc-serve"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_shell); });
}

} // namespace aliot::cli
