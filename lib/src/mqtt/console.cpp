// The device side of `aliot shell` (aliot/mqtt/console.hpp).
#include <aliot/mqtt/console.hpp>
#include <aliot/topic.hpp>

#include <poll.h>

#include <algorithm>

namespace aliot::mqtt {

Console::Console(std::string product_key, std::string device_name, Logger log)
    : m_pk(std::move(product_key))
    , m_dn(std::move(device_name))
    , m_session(std::move(log)) {}

Result<void> Console::connect(const ConnectParams& params, Deadline deadline) {
  m_params = params;
  ALIOT_TRY(m_session.connect(params, deadline));
  m_up = true;
  m_since = std::chrono::system_clock::now();
  ++m_connects;
  return ok();
}

Result<void> Console::reconnect(Deadline deadline) {
  m_up = false;
  ALIOT_TRY(m_session.reconnect(deadline));
  m_up = true;
  m_since = std::chrono::system_clock::now();
  ++m_connects;
  return ok();
}

Result<void> Console::subscribe(const std::string& filter, int qos, Deadline deadline) {
  ALIOT_TRY(m_session.subscribe({filter}, qos, deadline));
  auto it =
      std::find_if(m_subs.begin(), m_subs.end(), [&](const auto& s) { return s.first == filter; });
  if (it != m_subs.end()) {
    it->second = qos;
  } else {
    m_subs.emplace_back(filter, qos);
  }
  return ok();
}

Result<void> Console::unsubscribe(const std::string& filter, Deadline deadline) {
  auto it =
      std::find_if(m_subs.begin(), m_subs.end(), [&](const auto& s) { return s.first == filter; });
  if (it == m_subs.end()) {
    return Error(Errc::usage, filter + " is not subscribed", "`subs` lists what is");
  }
  ALIOT_TRY(m_session.unsubscribe({filter}, deadline));
  m_subs.erase(it);
  if (filter == rrpc::request_filter(m_pk, m_dn)) {
    m_rrpc = false;
  }
  return ok();
}

Result<void>
Console::publish(const std::string& topic, std::string_view payload, int qos, Deadline d) {
  ALIOT_TRY(m_session.publish(topic, payload, qos, d));
  ++m_out;
  return ok();
}

Result<void> Console::set_rrpc(bool on, Deadline deadline) {
  const std::string filter = rrpc::request_filter(m_pk, m_dn);
  const bool subscribed =
      std::any_of(m_subs.begin(), m_subs.end(), [&](const auto& s) { return s.first == filter; });
  if (on && !subscribed) {
    ALIOT_TRY(subscribe(filter, 0, deadline));
  } else if (!on && subscribed) {
    ALIOT_TRY(unsubscribe(filter, deadline));
  }
  m_rrpc = on;
  return ok();
}

Result<void> Console::answer(const Incoming& request, std::string_view payload, Deadline deadline) {
  if (!request.rrpc) {
    return Error(Errc::internal, "answering a message that is no RRPC request");
  }
  if (payload.size() > rrpc::k_max_reply) {
    return Error(Errc::usage, "the answer is over the platform's limit of 256 KB");
  }
  if (Clock::now() > request.arrived + rrpc::k_deadline) {
    return Error(Errc::timeout,
                 "rrpc " + request.rrpc->id + ": the platform's 8 s deadline has passed",
                 "the caller got RrpcCode TIMEOUT; answer faster (rrpc --echo or --reply TEXT)");
  }
  return publish(request.rrpc->reply_topic, payload, 0, deadline);
}

Result<bool> Console::wait(int fd, std::chrono::milliseconds wait) {
  if (!m_up) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, fd >= 0 ? 1 : 0, static_cast<int>(wait.count()));
    return n > 0 && p.revents != 0;
  }
  auto r = m_session.step_with(fd, wait);
  if (!r && r.error().code() == Errc::network) {
    m_up = false;
  }
  return r;
}

std::optional<Incoming> Console::next() {
  auto m = m_session.take_message();
  if (!m) {
    return std::nullopt;
  }
  ++m_in;
  Incoming in;
  in.arrived = Clock::now();
  in.rrpc = rrpc::parse_request(m->topic, m_pk, m_dn);
  in.message = std::move(*m);
  return in;
}

ConsoleStatus Console::status() const {
  ConsoleStatus s;
  s.connected = m_up && m_session.connected();
  s.since = m_since;
  s.keepalive = m_params.keepalive;
  s.host = m_params.endpoint.host;
  s.port = m_params.endpoint.port;
  s.messages_in = m_in;
  s.messages_out = m_out;
  s.connects = m_connects;
  return s;
}

} // namespace aliot::mqtt
