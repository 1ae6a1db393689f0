// The device model: its own line parser, CRC, personas and NV store. No I/O: bytes come in
// through feed(), go out through Hooks::emit, and time is whatever the caller says it is.
#include "switch_sim.hpp"

#include <aliot/crypto.hpp>

#include <algorithm>
#include <cstdio>

namespace aliot::switchsim {

namespace {

// CRC-16/CCITT-FALSE, bit by bit (the host uses a table: two implementations on purpose).
unsigned crc16_bitwise(std::string_view s) {
  unsigned crc = 0xFFFF;
  for (unsigned char ch : s) {
    crc ^= static_cast<unsigned>(ch) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000U) != 0 ? ((crc << 1) ^ 0x1021U) & 0xFFFFU : (crc << 1) & 0xFFFFU;
    }
  }
  return crc;
}

std::string crc_suffix(std::string_view s, bool wrong = false) {
  char b[8];
  std::snprintf(b, sizeof b, "*%04X", (crc16_bitwise(s) ^ (wrong ? 0x5A5AU : 0U)) & 0xFFFFU);
  return b;
}

int hexdig(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// The device's own parameter parser: returns the CME code on failure (25 bad escape, 50 shape).
struct Args {
  std::vector<std::string> v;
  std::vector<bool> quoted;
  int err = 0;
};

Args split_args(std::string_view s) {
  Args a;
  std::size_t i = 0;
  if (s.empty()) {
    return a;
  }
  for (;;) {
    std::string cur;
    bool q = false;
    if (i < s.size() && s[i] == '"') {
      q = true;
      ++i;
      bool end = false;
      while (i < s.size()) {
        char c = s[i];
        if (c == '"') {
          end = true;
          ++i;
          break;
        }
        if (c == '\\') {
          if (i + 2 >= s.size()) {
            a.err = 25;
            return a;
          }
          int h = hexdig(s[i + 1]);
          int l = hexdig(s[i + 2]);
          if (h < 0 || l < 0) {
            a.err = 25;
            return a;
          }
          cur.push_back(static_cast<char>(h * 16 + l));
          i += 3;
          continue;
        }
        cur.push_back(c);
        ++i;
      }
      if (!end) {
        a.err = 50;
        return a;
      }
    } else {
      while (i < s.size() && s[i] != ',') {
        if (s[i] == '"') {
          a.err = 50;
          return a;
        }
        cur.push_back(s[i++]);
      }
    }
    a.v.push_back(cur);
    a.quoted.push_back(q);
    if (i >= s.size()) {
      break;
    }
    if (s[i] != ',') {
      a.err = 50;
      return a;
    }
    ++i;
  }
  return a;
}

std::string q(std::string_view v) {
  std::string o = "\"";
  char b[4];
  for (unsigned char c : v) {
    if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') {
      std::snprintf(b, sizeof b, "\\%02X", c);
      o += b;
    } else {
      o.push_back(static_cast<char>(c));
    }
  }
  return o + "\"";
}

// The firmware's digests. One the host's OpenSSL refuses is a firmware fault, answered with
// k_cme_unknown.
constexpr int k_cme_unknown = 100;

Result<std::string>
fp_of(const std::string& pk, const std::string& dn, const std::string& ds, const std::string& ps) {
  return crypto::sha256_hex("ALIOT-FP1\n" + pk + "\n" + dn + "\n" + ds + "\n" + ps).substr(0, 16);
}

Result<std::string> chk_of(const std::string& key, const std::string& msg) {
  if (key.empty()) {
    return std::string();
  }
  return crypto::hmac_hex(crypto::Hmac::sha256, key, msg);
}

bool dn_ok(const std::string& dn) {
  return std::all_of(dn.begin(), dn.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '@' || c == '.' || c == ':';
  });
}

std::string cme(int n) {
  return "+CME ERROR:" + std::to_string(n);
}

} // namespace

Identity identity_from_seed(std::uint64_t seed) {
  Identity id;
  if (seed == 0) {
    return id;
  }
  std::mt19937_64 rng(seed);
  const auto r = rng();
  char mac[18];
  std::snprintf(mac, sizeof mac, "02:%02X:%02X:%02X:%02X:%02X", static_cast<unsigned>(r & 0xFF),
                static_cast<unsigned>((r >> 8) & 0xFF), static_cast<unsigned>((r >> 16) & 0xFF),
                static_cast<unsigned>((r >> 24) & 0xFF), static_cast<unsigned>((r >> 32) & 0xFF));
  id.mac = mac;
  id.chipid.clear();
  for (char c : id.mac) {
    if (c != ':') {
      id.chipid.push_back(c);
    }
  }
  id.sn = "SN" + std::to_string(2400000000ULL + (rng() % 100000000ULL));
  return id;
}

std::uint32_t slot_crc(const Slot& s) {
  const std::string data =
      std::to_string(s.seq) + "\n" + s.pk + "\n" + s.dn + "\n" + s.ds + "\n" + s.ps;
  std::uint32_t crc = 0xFFFFFFFFU;
  for (unsigned char c : data) {
    crc ^= c;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 1U) != 0 ? (crc >> 1) ^ 0xEDB88320U : crc >> 1;
    }
  }
  return ~crc;
}

const Slot* active_slot(const NvState& nv) {
  const Slot* best = nullptr;
  for (const auto& s : nv.slots) {
    if (s.written && s.crc == slot_crc(s) && (best == nullptr || s.seq > best->seq)) {
      best = &s;
    }
  }
  return best;
}

DeviceModel::DeviceModel(std::string persona, NvState nv, Timing t, FaultPlan plan, Hooks h)
    : m_persona(std::move(persona))
    , m_nv(std::move(nv))
    , m_t(t)
    , m_plan(std::move(plan))
    , m_h(std::move(h))
    , m_rng(m_plan.seed) {}

void DeviceModel::log(const std::string& s) {
  if (m_h.transcript) {
    m_h.transcript(s);
  }
}

void DeviceModel::persist() {
  if (m_h.persist) {
    m_h.persist(m_nv);
  }
}

void DeviceModel::schedule(Micros at, std::function<void()> fn) {
  m_events.emplace(at, std::move(fn));
}

void DeviceModel::advance(Micros now) {
  while (!m_events.empty() && m_events.begin()->first <= now) {
    auto fn = std::move(m_events.begin()->second);
    m_events.erase(m_events.begin());
    fn();
  }
}

std::optional<Micros> DeviceModel::next_event() const {
  if (m_events.empty()) {
    return std::nullopt;
  }
  return m_events.begin()->first;
}

void DeviceModel::power_on(Micros now, int garbage) {
  m_events.clear();
  m_unplugged = false;
  m_free_at = now;
  reboot(now, garbage);
}

void DeviceModel::reboot(Micros at, int garbage) {
  m_booting = true;
  m_staged.reset();
  m_crc = false;
  m_echo = false;
  m_busy_left = 0;
  m_line.clear();
  m_unplug_at.reset();
  m_key_known = false;
  if (garbage > 0) {
    std::string g;
    for (int i = 0; i < garbage; ++i) {
      g.push_back(static_cast<char>(m_rng() & 0xFF));
    }
    schedule(at + 1000, [this, g] { m_h.emit(g); });
  }
  const Micros ready_at = at + m_t.boot_us;
  m_delay_total += m_t.boot_us;
  schedule(ready_at, [this] {
    m_booting = false;
    log("< ready");
    m_h.emit("\r\nready\r\n");
  });
  m_free_at = std::max(m_free_at, ready_at);
}

const FaultAction* DeviceModel::match_fault(const std::string& key) {
  const FaultAction* hit = nullptr;
  for (auto& r : m_plan.rules) {
    if (!std::regex_match(key, r.re)) {
      continue;
    }
    ++r.seen;
    if (hit != nullptr || r.action.unplug_after) {
      continue; // unplug rules are decided while the line is still coming in
    }
    if (r.nth != 0 && r.seen != r.nth) {
      continue;
    }
    if (r.p < 1.0 && std::uniform_real_distribution<double>(0, 1)(m_rng) >= r.p) {
      continue;
    }
    hit = &r.action;
    note_fired(r);
  }
  return hit;
}

void DeviceModel::note_fired(FaultRule& r) {
  ++r.fired;
  const auto n = static_cast<std::size_t>(&r - m_plan.rules.data()) + 1;
  log("-- fault " + std::to_string(n) + " fired (" + r.cmd + ")");
}

void DeviceModel::feed(std::string_view bytes, Micros now) {
  for (char c : bytes) {
    if (m_unplugged) {
      return;
    }
    if (m_booting) {
      continue;
    }
    if (c == '\r' || c == '\n') {
      if (m_unplug_at) {
        m_unplugged = true;
        log("-- unplugged");
        m_h.unplug();
        return;
      }
      if (!m_line.empty() || m_overflow) {
        std::string line;
        line.swap(m_line);
        if (m_overflow) {
          m_overflow = false;
          Resp r;
          r.lines = {"ERROR"};
          respond(line, r, nullptr, now);
        } else {
          on_line(std::move(line), now);
        }
      }
      m_key_known = false;
      continue;
    }
    if (m_line.size() >= 256 + 8) {
      m_overflow = true;
      continue;
    }
    m_line.push_back(c);
    // Decide an unplug rule as soon as the command's key is known ("AT+IDMAU=" ...).
    if (!m_key_known && (c == '=' || c == '?') && m_line.size() > 3) {
      m_key_known = true;
      std::string key = m_line.substr(3);
      for (auto& ch : key) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      for (auto& r : m_plan.rules) {
        if (r.action.unplug_after && std::regex_match(key, r.re)) {
          const int occurrence = r.seen + 1;
          if ((r.nth == 0 || occurrence == r.nth)
              && (r.p >= 1.0 || std::uniform_real_distribution<double>(0, 1)(m_rng) < r.p)) {
            m_unplug_at = *r.action.unplug_after;
            note_fired(r);
          }
        }
      }
    }
    if (m_unplug_at && m_line.size() >= *m_unplug_at) {
      m_unplugged = true;
      log("-- unplugged after " + std::to_string(m_line.size()) + " bytes");
      m_h.unplug();
      return;
    }
  }
}

void DeviceModel::on_line(std::string raw, Micros now) {
  const bool secret_line =
      raw.find("IDMAU=") != std::string::npos && raw.find("IDMAU=?") == std::string::npos;
  log("> " + (secret_line ? raw.substr(0, raw.find("IDMAU=") + 6) + "<redacted>" : raw));
  if (m_echo) {
    m_h.emit(raw + "\r\n");
  }
  std::string line = raw;
  const bool alsw1 = m_persona == "alsw1";
  // CRC suffix
  bool crc_present = false;
  bool crc_good = true;
  if (alsw1 && line.size() >= 5 && line[line.size() - 5] == '*') {
    const auto tail = line.substr(line.size() - 4);
    if (std::all_of(tail.begin(), tail.end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); })) {
      crc_present = true;
      const std::string body = line.substr(0, line.size() - 5);
      crc_good = tail == crc_suffix(body).substr(1);
      line = body;
    }
  }
  if (line.size() < 2 || std::toupper(static_cast<unsigned char>(line[0])) != 'A'
      || std::toupper(static_cast<unsigned char>(line[1])) != 'T') {
    Resp r;
    r.lines = {"ERROR"};
    respond(raw, r, nullptr, now);
    return;
  }
  // key: "", "E0", "IDMAU=", "IDMAU?", "IDMAU=?", "IDMCOMMIT" ...
  std::string rest = line.substr(2);
  std::string key;
  std::string args;
  if (!rest.empty() && rest[0] == '+') {
    std::size_t i = 1;
    while (i < rest.size() && std::isalnum(static_cast<unsigned char>(rest[i])) != 0) {
      key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(rest[i]))));
      ++i;
    }
    if (rest.compare(i, 2, "=?") == 0) {
      key += "=?";
      i += 2;
    } else if (i < rest.size() && (rest[i] == '?' || rest[i] == '=')) {
      key.push_back(rest[i]);
      ++i;
    }
    args = rest.substr(i);
  } else {
    for (char c : rest) {
      key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  const FaultAction* fa = match_fault(key);
  if (fa != nullptr && fa->drop) {
    log("-- dropped");
    return;
  }
  Resp r;
  if (alsw1 && crc_present && !crc_good) {
    r.lines = {cme(803)};
  } else if (alsw1 && m_crc && !crc_present) {
    r.lines = {cme(803)};
  } else if (m_busy_left > 0) {
    --m_busy_left;
    r.lines = {cme(804)};
  } else if (fa != nullptr && fa->busy > 0) {
    m_busy_left = fa->busy - 1;
    r.lines = {cme(804)};
  } else if (fa != nullptr && fa->error) {
    r.lines = {cme(*fa->error)};
  } else if (fa != nullptr && fa->reboot_garbage && key != "RST" && key != "REBOOT") {
    log("-- spontaneous reset");
    reboot(now, *fa->reboot_garbage);
    return;
  } else {
    r = alsw1 ? handle_alsw1(key, args, fa) : handle_smartliving(key, args, fa);
  }
  if (r.reboot_now) {
    log("-- power lost");
    reboot(now, fa != nullptr && fa->reboot_garbage ? *fa->reboot_garbage : 24);
    return;
  }
  if (fa != nullptr && fa->reboot_garbage && r.reboot_after >= 0) {
    r.reboot_after = *fa->reboot_garbage;
  }
  respond(raw, std::move(r), fa, now);
}

void DeviceModel::respond(const std::string& raw, Resp r, const FaultAction* fa, Micros now) {
  (void)raw;
  if (r.silent) {
    log("-- (no answer)");
    return;
  }
  std::string out;
  if (fa != nullptr && fa->echo) {
    out += raw + "\r\n";
  }
  if (fa != nullptr && fa->urc) {
    out += "\r\n" + *fa->urc + (m_crc ? crc_suffix(*fa->urc) : std::string()) + "\r\n";
  }
  const bool bad = fa != nullptr && fa->bad_crc;
  for (const auto& l : r.lines) {
    const bool secret = m_persona == "smartliving" && l.starts_with("+IDMAU:");
    log("< " + (secret ? std::string("+IDMAU:<redacted>") : l));
    out += "\r\n" + l + (m_crc || bad ? crc_suffix(l, bad) : std::string()) + "\r\n";
  }
  if (fa != nullptr) {
    if (fa->garble_bits > 0) {
      std::vector<std::size_t> pos;
      for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] != '\r' && out[i] != '\n') {
          pos.push_back(i);
        }
      }
      for (int b = 0; b < fa->garble_bits && !pos.empty(); ++b) {
        const auto at = pos[m_rng() % pos.size()];
        char c = out[at];
        for (int tries = 0; tries < 8; ++tries) {
          const char n = static_cast<char>(c ^ (1 << (m_rng() % 7)));
          if (n != '\r' && n != '\n' && n != '\0') {
            c = n;
            break;
          }
        }
        out[at] = c;
      }
    }
    for (int k = 0; k < fa->garble_insert; ++k) {
      const auto at = 2 + (out.size() > 4 ? m_rng() % (out.size() - 4) : 0);
      out.insert(out.begin() + static_cast<long>(at), static_cast<char>('!' + m_rng() % 90));
    }
    if (fa->truncate_after && out.size() > *fa->truncate_after) {
      out.resize(*fa->truncate_after);
    }
  }
  Micros delay = r.delay + (fa != nullptr ? fa->delay_us : 0);
  m_delay_total += delay;
  const Micros at = std::max(now, m_free_at) + delay;
  m_free_at = at;
  const Micros per_byte = fa != nullptr ? fa->byte_delay_us : 0;
  if (per_byte > 0) {
    Micros t = at;
    for (char c : out) {
      schedule(t, [this, c] { m_h.emit(std::string(1, c)); });
      t += per_byte;
    }
    m_free_at = t;
  } else {
    schedule(at, [this, out] { m_h.emit(out); });
  }
  if (r.reboot_after >= 0) {
    const int g = r.reboot_after;
    schedule(m_free_at, [this, g] {
      log("-- reset");
      reboot(m_free_at, g);
    });
  }
}

void DeviceModel::store(const std::string& pk,
                        const std::string& dn,
                        const std::string& ds,
                        const std::string& ps,
                        const FaultAction* fa,
                        bool torn) {
  const Slot* act = active_slot(m_nv);
  const std::uint64_t seq = act != nullptr ? act->seq + 1 : 1;
  Slot* target = &m_nv.slots[0];
  if (act == &m_nv.slots[0]) {
    target = &m_nv.slots[1];
  }
  Slot s;
  s.written = true;
  s.seq = seq;
  s.pk = pk;
  s.dn = dn;
  s.ds = ds;
  s.ps = ps;
  s.crc = slot_crc(s);
  if (torn) {
    s.ds = s.ds.substr(0, s.ds.size() / 2); // power lost half way: the CRC no longer matches
  } else if (fa != nullptr && fa->corrupt_commit) {
    const auto& [field, bit] = *fa->corrupt_commit;
    std::string* f = field == "pk" ? &s.pk : field == "dn" ? &s.dn : field == "ps" ? &s.ps : &s.ds;
    if (!f->empty()) {
      const auto byte = static_cast<std::size_t>(bit / 8) % f->size();
      (*f)[byte] = static_cast<char>((*f)[byte] ^ (1 << (bit % 8)));
    }
    s.crc = slot_crc(s); // the firmware wrote corrupted data with a valid CRC
  }
  *target = s;
  persist();
}

DeviceModel::Resp& DeviceModel::Resp::answer_ok(std::vector<std::string> info) {
  info.push_back("OK");
  lines = std::move(info);
  return *this;
}

DeviceModel::Resp& DeviceModel::Resp::answer_cme(int n) {
  lines = {cme(n)};
  return *this;
}

DeviceModel::Resp
DeviceModel::handle_alsw1(const std::string& key, std::string_view argstr, const FaultAction* fa) {
  Resp r;
  r.delay = m_t.cmd_us;
  const Slot* act = active_slot(m_nv);
  const Args a = split_args(argstr);
  if (key.empty()) {
    return r.answer_ok();
  }
  if (key == "E0" || key == "E1") {
    m_echo = key == "E1";
    return r.answer_ok();
  }
  if (key == "PROTO?") {
    return r.answer_ok({"+PROTO:1,\"crc,chk,lock\""});
  }
  if (key == "CRC=") {
    if (a.err != 0 || a.v.size() != 1 || (a.v[0] != "0" && a.v[0] != "1")) {
      return r.answer_cme(50);
    }
    m_crc = a.v[0] == "1";
    return r.answer_ok();
  }
  if (key == "CRC?") {
    return r.answer_ok({"+CRC:" + std::string(m_crc ? "1" : "0")});
  }
  if (key == "DEVINFO?") {
    const auto& id = m_nv.id;
    return r.answer_ok({"+DEVINFO:" + q(id.model) + "," + q(id.hwrev) + "," + q(id.fwver) + ","
                        + q(id.mac) + "," + q(id.chipid) + "," + q(id.sn)});
  }
  if (key == "SN?") {
    return r.answer_ok({"+SN:" + q(m_nv.id.sn)});
  }
  if (key == "SN=") {
    if (m_nv.locked) {
      return r.answer_cme(801);
    }
    if (a.err != 0) {
      return r.answer_cme(a.err);
    }
    if (a.v.size() != 1 || !a.quoted[0]) {
      return r.answer_cme(50);
    }
    if (a.v[0].size() > 32) {
      return r.answer_cme(24);
    }
    m_nv.id.sn = a.v[0];
    persist();
    return r.answer_ok();
  }
  if (key == "IDMAU=") {
    if (m_nv.locked) {
      return r.answer_cme(801);
    }
    if (a.err != 0) {
      return r.answer_cme(a.err);
    }
    if (a.v.size() < 3 || a.v.size() > 4
        || !std::all_of(a.quoted.begin(), a.quoted.end(), [](bool b) { return b; })) {
      return r.answer_cme(50);
    }
    std::array<std::string, 4> v{a.v[0], a.v[1], a.v[2], a.v.size() == 4 ? a.v[3] : ""};
    if (v[0].empty() || v[0].size() > 20 || v[1].size() < 4 || v[1].size() > 32 || v[2].empty()
        || v[2].size() > 64 || v[3].size() > 64) {
      return r.answer_cme(24);
    }
    if (!dn_ok(v[1])) {
      return r.answer_cme(25);
    }
    if (act != nullptr) {
      if (act->pk == v[0] && act->dn == v[1] && act->ds == v[2] && act->ps == v[3]) {
        return r.answer_ok(); // identical to what is committed
      }
      return r.answer_cme(3);
    }
    m_staged = v;
    return r.answer_ok();
  }
  if (key == "IDMAU?") {
    int state = 0;
    std::array<std::string, 4> v;
    if (m_staged && act == nullptr) {
      state = 1;
      v = *m_staged;
    } else if (act != nullptr) {
      state = m_nv.locked ? 3 : 2;
      v = {act->pk, act->dn, act->ds, act->ps};
    }
    const auto fp = state == 0 ? Result<std::string>(std::string()) : fp_of(v[0], v[1], v[2], v[3]);
    if (!fp) {
      return r.answer_cme(k_cme_unknown);
    }
    return r.answer_ok({"+IDMAU:" + std::to_string(state) + "," + q(v[0]) + "," + q(v[1]) + ","
                        + std::to_string(v[2].size()) + "," + std::to_string(v[3].size()) + ","
                        + q(*fp)});
  }
  if (key == "IDMCHK=") {
    if (a.err != 0 || a.v.size() != 1 || !a.quoted[0] || a.v[0].size() != 32
        || a.v[0].find_first_not_of("0123456789abcdef") != std::string::npos) {
      return r.answer_cme(a.err != 0 ? a.err : 50);
    }
    std::array<std::string, 4> v;
    if (m_staged && act == nullptr) {
      v = *m_staged;
    } else if (act != nullptr) {
      v = {act->pk, act->dn, act->ds, act->ps};
    } else {
      return r.answer_cme(802);
    }
    const std::string msg = "ALIOT-CHK1\n" + v[0] + "\n" + v[1] + "\n" + a.v[0];
    const auto hds = crypto::hmac_hex(crypto::Hmac::sha256, v[2], msg);
    const auto hps = chk_of(v[3], msg);
    if (!hds || !hps) {
      return r.answer_cme(k_cme_unknown);
    }
    return r.answer_ok({"+IDMCHK:" + q(*hds) + "," + q(*hps)});
  }
  if (key == "IDMCOMMIT") {
    r.delay = m_t.commit_us;
    if (m_nv.locked) {
      return r.answer_cme(801);
    }
    if (!m_staged) {
      return r.answer_cme(802);
    }
    if (fa != nullptr && fa->flash_fail) {
      return r.answer_cme(23);
    }
    const auto v = *m_staged;
    if (fa != nullptr && fa->tear_commit) {
      store(v[0], v[1], v[2], v[3], fa, true);
      r.reboot_now = true;
      return r;
    }
    store(v[0], v[1], v[2], v[3], fa, false);
    m_staged.reset();
    const Slot* now_act = active_slot(m_nv);
    if (now_act == nullptr
        || (!(fa != nullptr && fa->corrupt_commit)
            && (now_act->pk != v[0] || now_act->dn != v[1] || now_act->ds != v[2]
                || now_act->ps != v[3]))) {
      return r.answer_cme(805);
    }
    // With corrupt_commit the firmware bug answers with the fingerprint of what it meant to write.
    const auto fp = fp_of(v[0], v[1], v[2], v[3]);
    if (!fp) {
      return r.answer_cme(k_cme_unknown);
    }
    return r.answer_ok({"+IDMCOMMIT:" + q(*fp)});
  }
  if (key == "IDMLOCK=") {
    if (a.err != 0 || a.v.size() != 1 || a.v[0] != "1") {
      return r.answer_cme(50);
    }
    if (m_nv.locked) {
      return r.answer_ok();
    }
    if (act == nullptr) {
      return r.answer_cme(802);
    }
    m_nv.locked = true;
    persist();
    return r.answer_ok();
  }
  if (key == "IDMLOCK?") {
    return r.answer_ok({"+IDMLOCK:" + std::string(m_nv.locked ? "1" : "0")});
  }
  if (key == "FACTORY") {
    if (m_nv.locked) {
      return r.answer_cme(801);
    }
    m_nv.slots = {};
    m_nv.id.sn.clear();
    m_staged.reset();
    persist();
    return r.answer_ok();
  }
  if (key == "RST") {
    r.reboot_after = 0;
    return r.answer_ok();
  }
  r.lines = {"ERROR"};
  return r;
}

DeviceModel::Resp DeviceModel::handle_smartliving(const std::string& key,
                                                  std::string_view args,
                                                  const FaultAction* fa) {
  Resp r;
  r.delay = m_t.cmd_us;
  const Slot* act = active_slot(m_nv);
  if (key.empty() || key == "E0" || key == "E1") {
    return r.answer_ok();
  }
  if (key == "IDMAU=?" || key == "IDMAU") {
    r.silent = true; // the real firmware never answers these
    return r;
  }
  if (key == "IDMAU=") {
    // The firmware strips the outer quotes and splits on the three characters ","
    std::vector<std::string> f;
    if (args.size() < 2 || args.front() != '"' || args.back() != '"') {
      r.lines = {cme(50)};
      return r;
    }
    std::string_view inner = args.substr(1, args.size() - 2);
    while (true) {
      const auto at = inner.find("\",\"");
      f.emplace_back(inner.substr(0, at));
      if (at == std::string_view::npos) {
        break;
      }
      inner.remove_prefix(at + 3);
    }
    if (f.size() != 4 || f[0].size() > 20 || f[1].size() > 32 || f[2].size() > 64
        || f[3].size() > 64) {
      r.lines = {cme(50)};
      return r;
    }
    if (fa != nullptr && fa->flash_fail) {
      r.lines = {cme(23)};
      return r;
    }
    r.delay = m_t.commit_us;
    store(f[0], f[1], f[2], f[3], fa, fa != nullptr && fa->tear_commit);
    if (fa != nullptr && fa->tear_commit) {
      r.reboot_now = true;
      return r;
    }
    return r.answer_ok();
  }
  if (key == "IDMAU?") {
    if (act == nullptr) {
      return r.answer_ok({"+IDMAU:,,,"});
    }
    return r.answer_ok({"+IDMAU:" + act->pk + "," + act->dn + "," + act->ds + "," + act->ps});
  }
  if (key == "WMAC?") {
    return r.answer_ok({"+WMAC:" + m_nv.id.mac});
  }
  if (key == "FWVER?") {
    return r.answer_ok({"+FWVER:" + m_nv.id.fwver});
  }
  if (key == "REBOOT") {
    r.reboot_after = 0;
    return r.answer_ok();
  }
  r.lines = {"ERROR"};
  return r;
}

} // namespace aliot::switchsim
