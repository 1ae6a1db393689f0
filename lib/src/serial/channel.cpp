// The AT channel: frames commands, splits the byte stream into lines, tells the pending
// command's answer apart from URCs, echo and noise, checks CRCs, retries what is safe to retry.
#include "command_label.hpp"

#include <aliot/serial/channel.hpp>
#include <aliot/serial/codec.hpp>

#include <cctype>
#include <thread>

namespace aliot::serial {

namespace {

using detail::command_label;

std::string printable(std::string_view s) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c <= 0x7E) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xF]);
    }
  }
  return out;
}

bool looks_final(std::string_view t) {
  return t.starts_with("OK") || t.starts_with("ERROR") || t.starts_with("+CME ERROR");
}

} // namespace

AtChannel::AtChannel(Transport& t, const Logger& log)
    : m_t(t)
    , m_log(log) {}

void AtChannel::discard() {
  m_buf.clear();
  m_t.discard_input();
}

void AtChannel::note_urc(const std::string& line) {
  if (line == "ready") {
    m_boot_seen = true;
    m_crc = false; // CRC mode is volatile
  }
  m_urcs.push_back(line);
  if (m_urcs.size() > 32) {
    m_urcs.pop_front();
  }
}

Result<std::optional<std::string>> AtChannel::next_line(Clock::time_point deadline) {
  while (true) {
    const auto pos = m_buf.find_first_of("\r\n");
    if (pos != std::string::npos) {
      std::string line = m_buf.substr(0, pos);
      m_buf.erase(0, pos + 1);
      if (line.empty()) {
        continue;
      }
      return std::optional<std::string>(std::move(line));
    }
    ALIOT_TRY_ASSIGN(auto r, m_t.read(deadline));
    if (r.empty()) {
      return std::optional<std::string>();
    }
    m_bytes_in += r.size();
    m_buf += r;
    if (m_buf.size() > 4096) { // a line this long is noise
      m_buf.erase(0, m_buf.size() - 1024);
    }
  }
}

Result<Reply> AtChannel::exchange(std::string_view body,
                                  milliseconds timeout,
                                  std::string_view info_prefix,
                                  const Redact& redact,
                                  Fault& fault) {
  fault = Fault::none;
  // Whatever arrived before the command is not its answer.
  while (true) {
    auto l = next_line(Clock::now());
    if (!l) {
      fault = Fault::link_lost;
      return std::move(l).error();
    }
    if (!*l) {
      break;
    }
    m_log.trace("serial < " + printable(**l) + "  (stale or unsolicited)");
    note_urc(**l);
  }
  const std::string sent = m_crc ? with_crc("AT" + std::string(body)) : "AT" + std::string(body);
  m_log.trace("serial > " + (redact.tx.empty() ? sent : redact.tx));
  const auto deadline = Clock::now() + timeout;
  if (auto w = m_t.write(sent + "\r", deadline); !w) {
    fault = Fault::link_lost;
    return std::move(w).error();
  }
  m_bytes_out += sent.size() + 1;
  Reply reply;
  bool corrupt = false;
  while (true) {
    auto l = next_line(deadline);
    if (!l) {
      fault = Fault::link_lost;
      return std::move(l).error();
    }
    if (!*l) {
      fault = Fault::timeout;
      return Error(Errc::device, command_label(body) + ": no answer within "
                                     + std::to_string(timeout.count()) + " ms");
    }
    const std::string& raw = **l;
    if (raw == sent) { // echo (ATE1)
      m_log.trace("serial < (echo)");
      continue;
    }
    const auto c = check_crc(raw);
    const bool ours = !info_prefix.empty() && c.text.starts_with(info_prefix);
    m_log.trace("serial < " + (redact.rx && ours ? std::string(Secret::redacted) : printable(raw)));
    const bool bad = (c.has_crc && !c.crc_ok) || (m_crc && !c.has_crc && c.text != "ready");
    if (bad) {
      if (looks_final(c.text)) {
        fault = Fault::corrupt;
        return Error(Errc::device, command_label(body) + ": corrupt answer (CRC mismatch)");
      }
      corrupt = true;
      continue;
    }
    if (c.text == "OK" || c.text == "ERROR") {
      reply.final = c.text == "OK" ? Reply::Final::ok : Reply::Final::error;
      break;
    }
    if (c.text.starts_with("+CME ERROR:")) {
      std::string n = c.text.substr(11);
      if (!n.empty() && n.front() == ' ') {
        n.erase(0, 1);
      }
      if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) {
        fault = Fault::corrupt;
        return Error(Errc::device,
                     command_label(body) + ": malformed result code '" + printable(c.text) + "'");
      }
      reply.final = Reply::Final::cme;
      reply.cme = std::stoi(n);
      break;
    }
    if (ours) {
      reply.info.push_back(c.text);
      continue;
    }
    // A URC or noise. After 'ready' the device may or may not have seen the command: keep
    // waiting for its answer until the deadline (callers check boot_seen()).
    note_urc(c.text);
  }
  if (corrupt) {
    fault = Fault::corrupt;
    return Error(Errc::device, command_label(body) + ": corrupt answer (CRC mismatch)");
  }
  return reply;
}

Result<Reply> AtChannel::command(std::string_view body,
                                 milliseconds timeout,
                                 std::string_view info_prefix,
                                 const Redact& redact,
                                 int tries) {
  for (int attempt = 1;; ++attempt) {
    Fault fault = Fault::none;
    const bool boot_before = m_boot_seen;
    auto r = exchange(body, timeout, info_prefix, redact, fault);
    if (r && r->final == Reply::Final::cme && (r->cme == 803 || r->cme == 804) && attempt < tries) {
      m_log.debug(command_label(body) + ": "
                  + (r->cme == 804 ? "device busy" : "device saw a CRC error") + ", retrying");
      std::this_thread::sleep_for(milliseconds(r->cme == 804 ? 100 : 10));
      continue;
    }
    if (r || fault == Fault::link_lost || (m_boot_seen && !boot_before) || attempt >= tries) {
      return r;
    }
    m_log.debug(r.error().message() + ", retrying (" + std::to_string(attempt) + "/"
                + std::to_string(tries) + ")");
  }
}

Result<bool> AtChannel::wait_urc(std::string_view text, milliseconds timeout) {
  for (auto it = m_urcs.begin(); it != m_urcs.end(); ++it) {
    if (*it == text) {
      m_urcs.erase(m_urcs.begin(), it + 1);
      return true;
    }
  }
  const auto deadline = Clock::now() + timeout;
  while (true) {
    ALIOT_TRY_ASSIGN(auto l, next_line(deadline));
    if (!l) {
      return false;
    }
    m_log.trace("serial < " + printable(*l));
    if (*l == text) {
      if (text == "ready") {
        m_boot_seen = true;
        m_crc = false;
      }
      m_urcs.clear();
      return true;
    }
  }
}

} // namespace aliot::serial
