// `watch` in `aliot shell`: the product's device messages as the backend sees them (the AMQP
// server-side subscription, as `cloud sub`), printed beside the device's own, marked ↑ device to
// cloud. The consumer (aliot::amqp::consume) runs on its own thread; the main loop prints.
#include "commands/shell_args.hpp"
#include "commands/shell_state.hpp"

namespace aliot::cli {

namespace {

constexpr const char* k_default_group = "DEFAULT_GROUP"; // every instance has it

Result<amqp::ConsumerOptions> consumer_options(ShellState& st, const std::string& group) {
  config::Sources s;
  put_flag(s, "instance", st.device.instance, "--instance");
  put_flag(s, "ca_file", st.device.ca_file, "--ca-file");
  ALIOT_TRY(put_access_key_flags(st.ctx, s, st.api.access_key_id, st.api.access_key_secret_file));
  ALIOT_TRY_ASSIGN(auto settings, st.ctx.settings(std::move(s)));
  auto key = access_key_of(settings, "watch (the AMQP subscription)");
  if (!key) {
    return Error(Errc::config, "watch needs an AccessKey: " + key.error().message(),
                 "start the shell with --access-key-id and ALIOT_ACCESS_KEY_SECRET (or a "
                 "profile's access_key_id/access_key_secret)");
  }
  const auto ep_text = settings.text("amqp_endpoint");
  if (!ep_text || ep_text->empty()) {
    return Error(Errc::config, "watch: no AMQP endpoint",
                 "set ALIOT_AMQP_ENDPOINT=amqps://HOST:5671 (the console shows the host: "
                 "${uid}.iot-amqp.${region}.aliyuncs.com) or amqp_endpoint in the profile");
  }
  amqp::ConsumerOptions co;
  ALIOT_TRY_ASSIGN(co.endpoint, amqp::parse_endpoint(*ep_text));
  auto& p = co.params;
  p.access_key_id = std::move(key->id);
  p.consumer_group = group;
  p.client_id = amqp::default_client_id();
  p.instance_id = settings.text("instance");
  co.access_key_secret = std::move(key->secret);
  ALIOT_TRY(amqp::validate_params(p));
  co.ca_file = settings.text("ca_file").value_or("");
  // What the group kept from before the watch started is consumed, never printed.
  co.skip_generated_before = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  co.reconnect = true;
  return co;
}

// Prints what the consumer handed over (and accepted) since the last call.
void print_arrived(ShellState& st, Watch& w) {
  std::deque<amqp::Message> got;
  {
    std::lock_guard<std::mutex> lock(w.mu);
    got.swap(w.arrived);
  }
  for (const auto& m : got) {
    render::Message rm;
    rm.topic = m.topic;
    rm.payload = m.payload;
    rm.direction = render::Direction::device_to_cloud;
    rm.note = m.delivery_count > 0 ? "watch, redelivered" : "watch";
    st.print(st.renderer.render(rm));
  }
}

} // namespace

Result<void> cmd_watch(ShellState& st, const Args& a) {
  const std::string what = a.pos.empty() ? "on" : a.pos[0];
  if (a.pos.size() > 1 || (what != "on" && what != "off")) {
    return Error(Errc::usage, "watch: expected watch [on|off] [--group ID]");
  }
  if (what == "off") {
    if (!st.watch) {
      st.print("watch: not watching\n");
      return ok();
    }
    const std::string group = st.watch->group;
    stop_watch(st);
    st.print("watch: stopped watching group '" + group + "'\n");
    return ok();
  }
  if (st.watch) {
    st.print("watch: already watching group '" + st.watch->group + "' (watch off first)\n");
    return ok();
  }
  const std::string group = a.group.value_or(k_default_group);
  ALIOT_TRY_ASSIGN(auto co, consumer_options(st, group));
  auto w = std::make_unique<Watch>();
  w->group = group;
  Watch* wp = w.get();
  co.stop = &w->stop;
  co.on_attached = [wp] {
    wp->attached = true;
  };
  w->thread = std::thread([wp, co = std::move(co)] {
    wp->result = amqp::consume(co, [wp](const amqp::Message& m) -> Result<amqp::Step> {
      std::lock_guard<std::mutex> lock(wp->mu);
      if (wp->arrived.size() >= 10000) {
        // the shell stopped taking them: not accepted, so the group keeps it
        return Error(Errc::io, "watch: over 10000 messages waiting to be printed");
      }
      wp->arrived.push_back(m);
      return amqp::Step::next;
    });
    wp->done = true;
  });
  st.watch = std::move(w);
  return ok();
}

Result<void> reap_watch(ShellState& st) {
  if (!st.watch) {
    return ok();
  }
  Watch& w = *st.watch;
  if (w.attached && !w.said_ready) {
    w.said_ready = true;
    st.ctx.out.info("watch: the device messages of consumer group '" + w.group
                    + "' (↑ device to cloud)");
  }
  print_arrived(st, w);
  if (!w.done) {
    return ok();
  }
  w.thread.join();
  auto r = std::move(w.result);
  const std::string group = w.group;
  st.watch.reset();
  if (!r && r.error().code() != Errc::interrupted) {
    return Error(r.error().code(), "watch (group '" + group + "'): " + r.error().message(),
                 "check the AccessKey, the AMQP endpoint and the consumer group (watch --group "
                 "ID), then type `watch` again");
  }
  return ok();
}

void stop_watch(ShellState& st) {
  if (!st.watch) {
    return;
  }
  st.watch->stop = true;
  if (st.watch->thread.joinable()) {
    st.watch->thread.join(); // the consumer closes within about 2 s
  }
  print_arrived(st, *st.watch); // accepted: the group will not hand them over again
  st.watch.reset();
}

} // namespace aliot::cli
