// What the parts of `aliot shell` share: the device console, the cloud side, the RRPC answering
// mode, the topics used (for completion) and how a line reaches the terminal.
#pragma once

#include "commands/cloud_common.hpp"
#include "context.hpp"
#include "options.hpp"
#include "render/message.hpp"

#include <aliot/amqp.hpp>
#include <aliot/mqtt/console.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace aliot::cli {

// A cloud call (OpenAPI over HTTPS) that runs on its own thread while the shell keeps the device
// session going: `rrpc call` to this very device needs the device to answer meanwhile.
struct CloudTask {
  std::thread thread;
  std::atomic<bool> done{false};
  Result<std::string> result = Error(Errc::internal, "not finished");
  // What to print and return once the result is there.
  std::function<Result<void>(const Result<std::string>&)> finish;
  ~CloudTask() {
    if (thread.joinable()) {
      thread.join();
    }
  }
};

// `watch`: the product's device messages through an AMQP consumer (the backend's view) on its own
// thread; the main loop takes what arrived (reap_watch) and prints it with the device's messages.
struct Watch {
  std::thread thread;
  std::string group;
  std::atomic<bool> stop{false};
  std::atomic<bool> attached{false};
  std::atomic<bool> done{false};
  bool said_ready = false; // main loop only
  std::mutex mu;
  std::deque<amqp::Message> arrived; // guarded by mu
  Result<amqp::ConsumeStats> result = Error(Errc::internal, "not finished");
  ~Watch() {
    stop = true;
    if (thread.joinable()) {
      thread.join();
    }
  }
};

enum class RrpcMode { off, ask, echo, reply };

struct ShellState {
  Context& ctx;
  mqtt::Console console;
  render::Renderer renderer; // how a message looks (the mode sub would choose)
  std::string pk;
  std::string dn;
  std::chrono::milliseconds timeout{10000};
  DeviceFlags device;           // for the cloud side's region, instance, CA
  ApiFlags api;                 // --access-key-id, --access-key-secret-file
  std::set<std::string> topics; // topics used, for completion
  RrpcMode rrpc = RrpcMode::off;
  std::string rrpc_reply;                 // --reply TEXT
  std::deque<mqtt::Incoming> to_answer;   // requests waiting for a typed answer (ask mode)
  std::unique_ptr<CloudTask> task;        // the cloud call under way
  std::unique_ptr<Watch> watch;           // `watch` on
  std::optional<mqtt::Deadline> sleeping; // `sleep DURATION` under way
  bool quit = false;
  // Prints whole lines of results (stdout) without breaking the line being edited.
  std::function<void(std::string_view)> print;
  // Prints an error the same way (stderr, `aliot: error: ...`).
  std::function<void(const Error&)> print_error;

  ShellState(Context& c, std::string product_key, std::string device_name, render::Renderer r)
      : ctx(c)
      , console(product_key, device_name, c.out.logger())
      , renderer(std::move(r))
      , pk(std::move(product_key))
      , dn(std::move(device_name)) {}

  mqtt::Deadline deadline() const { return mqtt::after(timeout); }
  // A script's next line waits for these (a `watch` until its consumer is attached).
  bool busy() const {
    return task != nullptr || sleeping.has_value() || (watch && !watch->said_ready);
  }
};

// Runs one line typed at the prompt (or read from a script); an error is the command's.
Result<void> run_shell_line(ShellState& st, const std::string& line);
// Which way a message went: down to the device (↓), up from it (↑).
enum class Way { down, up };
// Prints a message through the shared renderer; `note` says what it was ("pub", "rrpc reply").
void show_message(ShellState& st,
                  Way way,
                  const std::string& topic,
                  const std::string& payload,
                  int qos,
                  std::string note = {});
// Handles a message that arrived: printed, and an RRPC request answered per the mode.
void on_incoming(ShellState& st, mqtt::Incoming in);
// What the completion offers for the word at `start` of `line`.
std::vector<std::string> shell_completions(const ShellState& st, std::string_view line, int start);
struct Args;
// `cloud pub TOPIC MESSAGE [-q]` and `rrpc call MESSAGE [--timeout]` (shell_cloud.cpp): started on
// a thread; reap_task() prints the outcome.
Result<void> cmd_cloud_pub(ShellState& st, const Args& a);
Result<void> cmd_rrpc_call(ShellState& st, const Args& a);
// Finishes the cloud call once its thread is done; the finish's error, if any.
Result<void> reap_task(ShellState& st);
// `watch [on|off] [--group ID]` (shell_watch.cpp).
Result<void> cmd_watch(ShellState& st, const Args& a);
// Prints what the watch received since the last call; its error once the consumer stopped.
Result<void> reap_watch(ShellState& st);
// Stops the watch and waits for its consumer to close.
void stop_watch(ShellState& st);

} // namespace aliot::cli
