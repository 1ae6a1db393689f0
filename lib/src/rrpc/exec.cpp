// `sh -c COMMAND` as the answerer of one RRPC request, bounded by the platform's deadline.
#include "util/subprocess.hpp"

#include <aliot/rrpc.hpp>

#include <cstdio>

namespace aliot::rrpc {

namespace {

std::string deadline_text(std::chrono::milliseconds limit) {
  if (limit == k_deadline) {
    return "the platform's 8 s RRPC deadline";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(limit.count()) / 1000.0);
  return std::string("its ") + buf + " s deadline";
}

} // namespace

Result<std::string> run_command(const std::string& command,
                                const std::string& input,
                                const config::Env& env,
                                const Request& request,
                                std::string_view request_topic,
                                std::chrono::milliseconds limit) {
  proc::Options o;
  o.argv = {"/bin/sh", "-c", command};
  o.env.emplace();
  for (const auto& [name, value] : env) {
    if (name != "ALIOT_RRPC_ID" && name != "ALIOT_RRPC_TOPIC" && !config::is_secret_env(name)) {
      o.env->push_back(name + "=" + value);
    }
  }
  o.env->push_back("ALIOT_RRPC_ID=" + request.id);
  o.env->push_back("ALIOT_RRPC_TOPIC=" + std::string(request_topic));
  o.err = proc::Stdio::inherit();
  // Its own process group, so that the deadline kills what the command started too (a pipeline,
  // a backgrounded helper), not only the shell.
  o.own_group = true;
  ALIOT_TRY_ASSIGN(auto got, proc::run(std::move(o), input, k_max_reply,
                                       std::chrono::steady_clock::now() + limit));
  if (got.timed_out) {
    return Error(Errc::timeout, "the command ran past " + deadline_text(limit) + " and was killed");
  }
  if (got.exit.signal != 0) {
    return Error(Errc::remote,
                 "the command was killed by signal " + std::to_string(got.exit.signal));
  }
  if (got.exit.code != 0) {
    return Error(Errc::remote,
                 "the command failed with exit status " + std::to_string(got.exit.code));
  }
  if (got.truncated) {
    return Error(Errc::usage, "the reply is over the platform's limit of 256 KB");
  }
  return std::move(got.out);
}

} // namespace aliot::rrpc
