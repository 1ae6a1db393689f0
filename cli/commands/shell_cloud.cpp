// The cloud side of `aliot shell`: `cloud pub` and `rrpc call` (OpenAPI), each on its own thread
// while the shell keeps the device session running (a call to this very device needs the device
// to answer meanwhile).
#include "commands/shell_args.hpp"
#include "commands/shell_state.hpp"

#include <aliot/openapi_client.hpp>
#include <aliot/topic.hpp>

namespace aliot::cli {

namespace {

Result<ApiSetup> api_setup(ShellState& st) {
  ApiFlags f = st.api;
  f.region = st.device.region;
  f.instance = st.device.instance;
  f.ca_file = st.device.ca_file;
  f.insecure = st.device.insecure;
  auto r = resolve_api(f, st.ctx);
  if (!r && r.error().code() == Errc::config) {
    return Error(Errc::config, "the cloud side needs an AccessKey: " + r.error().message(),
                 "start the shell with --access-key-id and ALIOT_ACCESS_KEY_SECRET (or a "
                 "profile's access_key_id/access_key_secret)");
  }
  return r;
}

// Starts `action` on a thread; `finish` turns its body into output once it is done.
Result<void> start_cloud(ShellState& st,
                         ApiSetup setup,
                         std::string action,
                         openapi::Params params,
                         std::function<Result<void>(const Result<std::string>&)> finish) {
  auto task = std::make_unique<CloudTask>();
  task->finish = std::move(finish);
  CloudTask* t = task.get();
  Logger log = st.ctx.out.logger();
  task->thread = std::thread([t, setup = std::move(setup), action = std::move(action),
                              params = std::move(params), log]() mutable {
    openapi::Client client(setup.config, setup.http, log);
    t->result = client.call(action, params);
    t->done = true;
  });
  st.task = std::move(task);
  return ok();
}

} // namespace

Result<void> cmd_cloud_pub(ShellState& st, const Args& a) {
  if (a.pos.empty()) {
    return Error(Errc::usage, "cloud pub: expected TOPIC MESSAGE (or TOPIC -f FILE)");
  }
  ALIOT_TRY_ASSIGN(const int qos, qos_of(a));
  const std::string full = topic::expand(a.pos[0], st.pk, st.dn);
  ALIOT_TRY(topic::validate_shape(full, topic::Use::publish));
  st.topics.insert(a.pos[0]);
  ALIOT_TRY_ASSIGN(auto payload, payload_of("cloud pub", a, 1));
  ALIOT_TRY_ASSIGN(auto setup, api_setup(st));
  openapi::PubRequest r{st.pk, full, payload, qos};
  return start_cloud(st, std::move(setup), "Pub", openapi::pub_params(r),
                     [&st, full, payload, qos](const Result<std::string>& body) -> Result<void> {
                       if (!body) {
                         return body.error();
                       }
                       ALIOT_TRY_ASSIGN(auto res, openapi::parse_pub(*body));
                       show_message(st, Way::down, full, payload, qos, "cloud pub");
                       st.ctx.out.info("cloud pub: MessageId " + res.message_id);
                       return ok();
                     });
}

Result<void> cmd_rrpc_call(ShellState& st, const Args& a) {
  ALIOT_TRY_ASSIGN(auto payload, payload_of("rrpc call", a, 0));
  openapi::RrpcRequest r;
  r.product_key = st.pk;
  r.device_name = st.dn;
  r.payload = payload;
  if (a.timeout) {
    ALIOT_TRY_ASSIGN(auto d, parse_duration(*a.timeout, "--timeout"));
    ALIOT_TRY(check_duration(d, "--timeout", std::chrono::seconds(1), std::chrono::seconds(8),
                             "the platform's RRpc API waits 1s to 8s for the device"));
    r.timeout_ms = static_cast<int>(d.value.count());
  }
  ALIOT_TRY_ASSIGN(auto setup, api_setup(st));
  setup.http.timeout_ms = r.timeout_ms + 15000;
  show_message(st, Way::down, "/sys/" + st.pk + "/" + st.dn + "/rrpc/request/…", payload, 0,
               "rrpc call");
  return start_cloud(st, std::move(setup), "RRpc", openapi::rrpc_params(r),
                     [&st](const Result<std::string>& body) -> Result<void> {
                       if (!body) {
                         return body.error();
                       }
                       ALIOT_TRY_ASSIGN(auto res, openapi::parse_rrpc(*body));
                       if (res.rrpc_code == "SUCCESS") {
                         show_message(st, Way::up,
                                      "/sys/" + st.pk + "/" + st.dn + "/rrpc/response/"
                                          + res.message_id,
                                      res.payload, 0, "rrpc reply from the device");
                         return ok();
                       }
                       return Error(res.rrpc_code == "TIMEOUT" ? Errc::timeout : Errc::remote,
                                    "rrpc call: RrpcCode " + res.rrpc_code);
                     });
}

Result<void> reap_task(ShellState& st) {
  if (!st.task || !st.task->done) {
    return ok();
  }
  st.task->thread.join();
  auto task = std::move(st.task);
  return task->finish(task->result);
}

} // namespace aliot::cli
