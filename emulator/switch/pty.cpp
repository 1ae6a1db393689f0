// `aliot emulate switch`: the model on the master side of a pty, a symlink to the slave, and
// optional emulation of the wire time of the baud rate (10 bits per byte, both directions).
#include "switch_sim.hpp"

#include <aliot/config.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>

namespace aliot::switchsim {

namespace {

struct Pty {
  int master = -1;
  std::string slave;
};

Result<Pty> make_pty(const std::string& link) {
  Pty p;
  p.master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (p.master < 0 || ::grantpt(p.master) != 0 || ::unlockpt(p.master) != 0) {
    return Error(Errc::io, std::string("cannot create a pseudo-terminal: ") + std::strerror(errno));
  }
  ::fcntl(p.master, F_SETFL, ::fcntl(p.master, F_GETFL) | O_NONBLOCK);
  const char* name = ::ptsname(p.master);
  if (name == nullptr) {
    ::close(p.master);
    return Error(Errc::io, "cannot name the pseudo-terminal");
  }
  p.slave = name;
  // Raw mode on the slave, so nothing is echoed or translated before a program sets it.
  const int s = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s >= 0) {
    termios t{};
    if (::tcgetattr(s, &t) == 0) {
      ::cfmakeraw(&t);
      ::tcsetattr(s, TCSANOW, &t);
    }
    ::close(s);
  }
  struct stat st {};
  if (::lstat(link.c_str(), &st) == 0) {
    if (!S_ISLNK(st.st_mode)) {
      ::close(p.master);
      return Error(Errc::io,
                   "--link " + link + ": exists and is not a symlink (refusing to replace it)");
    }
    ::unlink(link.c_str());
  }
  if (::symlink(name, link.c_str()) != 0) {
    const int e = errno;
    ::close(p.master);
    return Error(Errc::io, "--link " + link + ": cannot create the symlink: " + std::strerror(e));
  }
  return p;
}

// What a presentation of a unit starts from: its flash (from its state file, or new) and its
// fault plan.
struct UnitStart {
  NvState nv;
  FaultPlan plan;
  std::optional<std::string> state_file;
};

Result<UnitStart> load_unit(const PtyOptions& o,
                            std::uint64_t seed,
                            const std::optional<std::string>& mac,
                            const std::optional<std::string>& faults_file,
                            const std::optional<std::string>& state_file_given) {
  UnitStart u;
  Identity id = identity_from_seed(seed);
  if (mac) {
    id.mac = *mac;
    id.chipid.clear();
    for (char c : id.mac) {
      if (c != ':') {
        id.chipid.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      }
    }
  }
  u.state_file = state_file_given;
  if (!u.state_file && o.state_dir) {
    std::string hex;
    for (char c : id.mac) {
      if (c != ':') {
        hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
    }
    u.state_file = *o.state_dir + "/" + hex + ".json";
  }
  if (u.state_file && std::filesystem::exists(*u.state_file)) {
    ALIOT_TRY_ASSIGN(auto l, load_state(*u.state_file));
    u.nv = std::move(l);
  } else {
    u.nv.id = id;
    if (o.persona == "smartliving") {
      u.nv.id.model = "SL-MODULE";
      u.nv.id.fwver = "app-2.1.0";
    }
    if (u.state_file) {
      ALIOT_TRY(save_state(*u.state_file, u.nv));
    }
  }
  u.plan.seed = seed;
  if (faults_file) {
    ALIOT_TRY_ASSIGN(auto text, config::read_text_file(*faults_file, "fault plan"));
    auto p = parse_fault_plan(text);
    if (!p) {
      return Error(Errc::usage, *faults_file + ": " + p.error().message());
    }
    u.plan = std::move(*p);
  }
  return u;
}

} // namespace

Result<void> run_pty(const PtyOptions& o,
                     const std::atomic<bool>* stop,
                     const std::function<void(const std::string&, const Identity&)>& ready,
                     const std::function<void(int, const std::string&)>& log,
                     PtyStats* stats) {
  // One switch per link: a second one would take the link over and remove it on exit,
  // stranding the first. The lock sits beside the link and dies with its holder.
  auto lock = config::InstanceLock::acquire(o.link + ".lock", "--link " + o.link);
  if (!lock) {
    return std::move(lock).error();
  }
  const bool fixture = !o.units.empty();
  if (o.state_dir) {
    std::error_code ec;
    std::filesystem::create_directories(*o.state_dir, ec);
    if (ec) {
      return Error(Errc::io, "--state-dir " + *o.state_dir + ": " + ec.message());
    }
  }
  std::size_t unit_index = 0;
  auto start_of = [&](std::size_t i) {
    return fixture
               ? load_unit(o, o.units[i].seed, o.units[i].mac, o.units[i].faults_file, std::nullopt)
               : load_unit(o, o.seed, std::nullopt, o.faults_file, o.state_file);
  };
  auto first = start_of(0);
  if (!first) {
    return std::move(first).error();
  }
  std::optional<std::string> state_file = first->state_file;

  const auto t0 = std::chrono::steady_clock::now();
  auto now_us = [t0] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                                 - t0)
        .count();
  };
  const Micros byte_us = o.wire_time ? static_cast<Micros>(10'000'000.0 / o.baud) : 0;

  std::deque<std::pair<Micros, std::string>> tx; // bytes due to the host at a time
  std::deque<std::pair<Micros, std::string>> rx; // bytes due to the model at a time
  Micros tx_free = 0;
  Micros rx_free = 0;
  bool unplug = false;
  Error save_error(Errc::io, {});
  bool save_failed = false;
  std::uint64_t session_in = 0; // bytes from the host since this unit arrived

  DeviceModel::Hooks hooks;
  hooks.emit = [&](std::string_view b) {
    const Micros now = now_us();
    tx_free = std::max(tx_free, now) + byte_us * static_cast<Micros>(b.size());
    tx.emplace_back(tx_free, std::string(b));
  };
  hooks.unplug = [&] {
    unplug = true;
  };
  hooks.persist = [&](const NvState& s) {
    if (state_file) {
      if (auto r = save_state(*state_file, s); !r) {
        save_failed = true;
        save_error = r.error();
      }
    }
  };
  hooks.transcript = [&](const std::string& s) {
    log(3, s);
  };
  auto model =
      std::make_unique<DeviceModel>(o.persona, first->nv, o.timing, std::move(first->plan), hooks);
  Micros delay_total = 0;

  auto pty = make_pty(o.link);
  if (!pty) {
    return std::move(pty).error();
  }
  int master = pty->master;
  model->power_on(now_us());
  ready(pty->slave, model->nv().id);
  if (fixture && o.on_unit) {
    o.on_unit(0, true, model->nv().id);
  }

  auto cleanup = [&] {
    if (master >= 0) {
      ::close(master);
      master = -1;
    }
    ::unlink(o.link.c_str());
  };
  auto stopped = [&] {
    return stop != nullptr && stop->load();
  };
  // The link is away for replug_us; false when stopped meanwhile.
  auto away = [&] {
    const Micros until = now_us() + o.replug_us;
    while (now_us() < until && !stopped()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !stopped();
  };
  // The unit on the fixture leaves (the host is done with it, or it was pulled) and the next one
  // arrives after replug_us; false when there is none (or stopped).
  auto next_unit = [&]() -> Result<bool> {
    cleanup();
    tx.clear();
    rx.clear();
    if (o.on_unit) {
      o.on_unit(unit_index, false, model->nv().id);
    }
    if (++unit_index >= o.units.size() || !away()) {
      return false;
    }
    ALIOT_TRY_ASSIGN(auto u, start_of(unit_index));
    state_file = u.state_file;
    delay_total += model->device_delay_total();
    model = std::make_unique<DeviceModel>(o.persona, u.nv, o.timing, std::move(u.plan), hooks);
    ALIOT_TRY_ASSIGN(auto again, make_pty(o.link));
    master = again.master;
    tx_free = rx_free = 0;
    session_in = 0;
    model->power_on(now_us());
    if (o.on_unit) {
      o.on_unit(unit_index, true, model->nv().id);
    }
    return true;
  };

  while (!stopped()) {
    if (save_failed) {
      cleanup();
      return save_error;
    }
    if (master < 0) { // the fixture is empty: the last unit left
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    Micros now = now_us();
    model->advance(now);
    while (!rx.empty() && rx.front().first <= now) {
      model->feed(rx.front().second, rx.front().first);
      rx.pop_front();
      model->advance(now);
    }
    if (unplug && fixture) {
      log(2, "unplugged: the link " + o.link + " is gone");
      unplug = false;
      ALIOT_TRY(next_unit());
      continue;
    }
    if (unplug) {
      log(2, "unplugged: the link " + o.link + " is gone");
      cleanup();
      tx.clear();
      rx.clear();
      if (!away()) {
        break;
      }
      ALIOT_TRY_ASSIGN(auto again, make_pty(o.link));
      master = again.master;
      unplug = false;
      tx_free = rx_free = 0;
      model->power_on(now_us());
      log(2, "replugged: " + o.link + " -> " + again.slave);
      continue;
    }
    while (!tx.empty() && tx.front().first <= now) {
      const auto& b = tx.front().second;
      const auto n = ::write(master, b.data(), b.size());
      if (stats != nullptr && n > 0) {
        stats->bytes_out += static_cast<std::uint64_t>(n);
      }
      tx.pop_front();
    }
    Micros next = now + 50000;
    if (auto e = model->next_event()) {
      next = std::min(next, *e);
    }
    if (!tx.empty()) {
      next = std::min(next, tx.front().first);
    }
    if (!rx.empty()) {
      next = std::min(next, rx.front().first);
    }
    const Micros wait_us = std::max<Micros>(0, next - now);
    const int timeout_ms = static_cast<int>(wait_us / 1000);
    pollfd p{master, POLLIN, 0};
    const timespec ts{static_cast<time_t>(wait_us / 1000000),
                      static_cast<long>((wait_us % 1000000) * 1000)};
    const int r = ::ppoll(&p, 1, &ts, nullptr);
    if (r > 0 && (p.revents & POLLIN) != 0) {
      char buf[512];
      const auto n = ::read(master, buf, sizeof buf);
      if (n > 0) {
        if (stats != nullptr) {
          stats->bytes_in += static_cast<std::uint64_t>(n);
        }
        session_in += static_cast<std::uint64_t>(n);
        const Micros t = now_us();
        rx_free = std::max(rx_free, t) + byte_us * n;
        rx.emplace_back(byte_us > 0 ? rx_free : t, std::string(buf, static_cast<std::size_t>(n)));
        continue;
      }
    }
    if (r > 0 && (p.revents & (POLLHUP | POLLERR)) != 0 && (p.revents & POLLIN) == 0) {
      if (fixture && session_in > 0) { // the host is done with this unit: it leaves
        log(2, "the host closed the port: unit " + std::to_string(unit_index + 1) + " leaves");
        ALIOT_TRY(next_unit());
        continue;
      }
      // nobody has the slave open: wait a little instead of spinning
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 5)));
    }
  }
  if (stats != nullptr) {
    stats->device_delay_us = delay_total + model->device_delay_total();
  }
  cleanup();
  return ok();
}

} // namespace aliot::switchsim
