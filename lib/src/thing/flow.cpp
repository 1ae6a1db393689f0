// The device's thing-model flows over a connected MQTT session: post and wait for the reply of
// that id, the NTP exchange, and the serve loop that answers property/set and services.
#include "thing/json_util.hpp"
#include "util/subprocess.hpp"

#include <aliot/thing.hpp>

#include <nlohmann/json.hpp>

namespace aliot::thing {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : ",") + s;
  }
  return out;
}

} // namespace

Result<PostResult> post(mqtt::Session& session,
                        const std::string& topic,
                        Request request,
                        int qos,
                        mqtt::Deadline deadline) {
  PostResult out;
  out.topic = topic;
  out.payload = request_payload(request);
  if (out.payload.size() > k_max_message) {
    return Error(Errc::usage, "the request is over the platform's limit of 256 KB");
  }
  const std::string reply_topic = reply_topic_of(topic);
  if (request.ack) {
    ALIOT_TRY(session.subscribe({reply_topic}, 0, deadline));
  }
  ALIOT_TRY(session.publish(topic, out.payload, qos, deadline));
  out.request = std::move(request);
  if (!out.request.ack) {
    return out;
  }
  std::string skipped; // why a message on the reply topic was not the reply
  for (;;) {
    auto m = session.next_message(deadline);
    if (!m) {
      if (m.error().code() != Errc::timeout) {
        return std::move(m).error();
      }
      return Error(Errc::timeout,
                   "no reply to " + out.request.method + " (id " + out.request.id + ") on "
                       + reply_topic + (skipped.empty() ? "" : "; " + skipped),
                   "check that the product speaks the thing model (Alink JSON), or use --no-ack");
    }
    if (m->topic != reply_topic) {
      continue;
    }
    auto r = parse_reply(m->payload);
    if (!r) {
      skipped = "ignored a malformed reply: " + r.error().message();
      continue;
    }
    if (r->id != out.request.id) {
      skipped = "ignored a reply to id " + json_util::excerpt(r->id);
      continue;
    }
    out.reply = std::move(*r);
    return out;
  }
}

Result<NtpTimes>
ntp(mqtt::Session& session, std::string_view pk, std::string_view dn, mqtt::Deadline deadline) {
  const std::string response = ntp_response_topic(pk, dn);
  ALIOT_TRY(session.subscribe({response}, 0, deadline));
  const std::int64_t sent = now_ms();
  ALIOT_TRY(session.publish(ntp_request_topic(pk, dn), ntp_request_payload(sent), 0, deadline));
  std::string skipped;
  for (;;) {
    auto m = session.next_message(deadline);
    if (!m) {
      if (m.error().code() != Errc::timeout) {
        return std::move(m).error();
      }
      return Error(Errc::timeout,
                   "no NTP response on " + response + (skipped.empty() ? "" : "; " + skipped));
    }
    if (m->topic != response) {
      continue;
    }
    auto t = parse_ntp_response(m->payload, now_ms());
    if (!t) {
      skipped = "ignored " + t.error().message();
      continue;
    }
    if (t->device_send != sent) {
      skipped = "ignored a response to another request";
      continue;
    }
    return t;
  }
}

Result<Answer> run_handler(const std::string& command,
                           const Incoming& request,
                           const config::Env& env,
                           std::chrono::milliseconds limit) {
  proc::Options o;
  o.argv = {"/bin/sh", "-c", command};
  o.env.emplace();
  for (const auto& [name, value] : env) {
    if (!name.starts_with("ALIOT_THING_") && !config::is_secret_env(name)) {
      o.env->push_back(name + "=" + value);
    }
  }
  o.env->push_back("ALIOT_THING_NAME=" + request.name);
  o.env->push_back("ALIOT_THING_ID=" + request.id);
  o.env->push_back(std::string("ALIOT_THING_SYNC=") + (request.sync ? "1" : "0"));
  o.err = proc::Stdio::inherit();
  o.own_group = true;
  ALIOT_TRY_ASSIGN(auto got, proc::run(std::move(o), request.payload, k_max_message,
                                       std::chrono::steady_clock::now() + limit));
  if (got.timed_out) {
    return Error(Errc::timeout, "the command ran past its deadline and was killed");
  }
  if (!got.exit.ok()) {
    return Error(Errc::remote, "the command failed: " + got.exit.describe());
  }
  if (got.truncated) {
    return Error(Errc::usage, "the answer is over the platform's limit of 256 KB");
  }
  return answer_from_json(got.out, "the command's answer");
}

Result<void> serve(mqtt::Session& session,
                   std::string_view pk,
                   std::string_view dn,
                   const ServeOptions& o,
                   mqtt::Deadline subscribe_deadline,
                   long* served) {
  long n = 0;
  std::optional<Error> fatal;
  auto report = [&](ServeEvent::Kind kind, const Incoming* req, std::string topic,
                    std::string payload, std::string error) {
    if (o.report) {
      ServeEvent e;
      e.kind = kind;
      e.request = req;
      e.topic = std::move(topic);
      e.payload = std::move(payload);
      e.error = std::move(error);
      o.report(e);
    }
  };
  session.on_message([&](const mqtt::Message& m) {
    auto parsed = parse_incoming(m.topic, m.payload, pk, dn);
    if (!parsed) {
      report(ServeEvent::Kind::error, nullptr, m.topic, {}, parsed.error().message());
      return;
    }
    if (!*parsed) {
      return;
    }
    const Incoming& req = **parsed;
    ++n;
    report(ServeEvent::Kind::request, &req, req.topic, req.payload, {});
    auto answer = o.handle ? o.handle(req) : Result<Answer>(Answer{});
    if (!answer) {
      report(ServeEvent::Kind::error, &req, req.topic, {}, answer.error().message());
      return;
    }
    const std::string payload = reply_payload(req, *answer);
    if (auto p = session.publish(req.reply_topic, payload, 0, mqtt::after(o.publish_timeout)); !p) {
      if (p.error().code() != Errc::network) {
        fatal = p.error();
      }
      report(ServeEvent::Kind::error, &req, req.reply_topic, {},
             "reply not sent: " + p.error().message());
      return;
    }
    report(ServeEvent::Kind::reply, &req, req.reply_topic, payload, {});
    if (o.echo_property_set && req.name == k_property_set && answer->code == k_code_ok) {
      Request echo;
      echo.id = new_id();
      echo.method = property_post_method();
      echo.params = req.params;
      echo.ack = false;
      const std::string topic = property_post_topic(pk, dn);
      const std::string body = request_payload(echo);
      if (auto p = session.publish(topic, body, 0, mqtt::after(o.publish_timeout)); !p) {
        report(ServeEvent::Kind::error, &req, topic, {}, "echo not sent: " + p.error().message());
        return;
      }
      report(ServeEvent::Kind::echo, &req, topic, body, {});
    }
  });
  auto result = [&]() -> Result<void> {
    const auto filters = serve_filters(pk, dn);
    ALIOT_TRY(session.subscribe(filters, 0, subscribe_deadline));
    report(ServeEvent::Kind::ready, nullptr, join(filters), {}, {});
    auto r = session.run(o.run, [&] { return fatal.has_value() || (o.count && n >= *o.count); });
    if (fatal) {
      return *fatal;
    }
    return r;
  }();
  session.on_message({}); // the handler refers to this frame
  if (served != nullptr) {
    *served = n;
  }
  return result;
}

} // namespace aliot::thing
