// Load: many devices online at once against the emulator, each with its own triplet. Every
// device connects (plain TCP, securemode=3, its own signed login; at most 64 logins waiting for
// their CONNACK at a time), and once all are online each
// publishes MESSAGES QoS 1 messages to its /${pk}/${dn}/user/update, payload "<dn>:<i>". One
// thread drives every client through libmosquitto's external loop (poll over all sockets).
//
//   emu_online_load HOST PORT TRIPLETS.jsonl [MESSAGES] [BROKER_PID] [SUBSCRIBER_OUT]
//
// The messages go in waves of 500, one message of each of 500 devices. With SUBSCRIBER_OUT (the
// output of a `mosquitto_sub -v` of the messages), a wave starts once the subscriber has printed
// every message of the waves before: the broker keeps about 1,000 messages queued for one
// subscriber (mosquitto's max_queued_messages), and waves of 1,000 were seen to overrun it.
//
// TRIPLETS.jsonl: one triplet JSON a line (what `aliot emulate cloud add-device --names`
// prints). Prints one JSON object: devices, connected, seconds to log all in and logins/s,
// messages published and acknowledged, the broker's RSS before and with all online and its CPU
// time during the logins and the messages (BROKER_PID), and this program's peak RSS. Exit 0
// only when every device logged in and every message was acknowledged.
//
// LOAD_HOLD=1 in the environment: once every device is online and its messages acknowledged,
// print "online N" on stderr and keep every connection (keep-alives answered) until stdin ends,
// then disconnect them cleanly; killed meanwhile, the connections drop without a DISCONNECT.
#include <aliot/secret.hpp>
#include <aliot/sign.hpp>

#include <mosquitto.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t k_wave = 500;   // messages in flight towards the subscriber at most
constexpr std::size_t k_pending = 64; // logins waiting for their CONNACK at most

struct Device {
  std::string pk, dn;
  aliot::Secret ds;
  mosquitto* m = nullptr;
  bool connected = false;
  bool refused = false;
  int acked = 0;
};

// Message lines ("<topic> <payload>") the subscriber printed so far.
std::size_t printed(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    n += !line.empty() && line[0] == '/' ? 1U : 0U;
  }
  return n;
}

long rss_kb(const std::string& pid, const char* field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::stol(line.substr(std::string(field).size()));
    }
  }
  return -1;
}

// The CPU time (user + system) of a process so far, in seconds; -1 when it cannot be read.
double cpu_seconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto close = stat.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) {
      utime = std::stoull(field);
    } else if (i == 15) {
      stime = std::stoull(field);
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Services every client's socket once (waiting up to `ms`) and runs their timers.
void pump(std::vector<Device>& devs, int ms) {
  std::vector<pollfd> fds;
  std::vector<Device*> owners;
  fds.reserve(devs.size());
  for (auto& d : devs) {
    const int s = d.m != nullptr ? mosquitto_socket(d.m) : -1;
    if (s < 0) {
      continue;
    }
    short ev = POLLIN;
    if (mosquitto_want_write(d.m)) {
      ev |= POLLOUT;
    }
    fds.push_back({s, ev, 0});
    owners.push_back(&d);
  }
  ::poll(fds.data(), fds.size(), ms);
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      mosquitto_loop_read(owners[i]->m, 1);
    }
    if ((fds[i].revents & POLLOUT) != 0 && mosquitto_socket(owners[i]->m) >= 0) {
      mosquitto_loop_write(owners[i]->m, 1);
    }
    mosquitto_loop_misc(owners[i]->m);
  }
}

template <typename Done>
bool pump_until(std::vector<Device>& devs, Done done, double limit_s) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!done()) {
    if (seconds_since(t0) > limit_s) {
      return false;
    }
    pump(devs, 50);
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s HOST PORT TRIPLETS.jsonl [MESSAGES] [BROKER_PID] [SUB_OUT]\n",
                 argv[0]);
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::stoi(argv[2]);
  const int messages = argc > 4 ? std::stoi(argv[4]) : 1;
  const std::string broker_pid = argc > 5 ? argv[5] : "";
  const std::string sub_out = argc > 6 ? argv[6] : "";

  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }

  std::vector<Device> devs;
  {
    std::ifstream in(argv[3]);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) {
        continue;
      }
      auto j = nlohmann::json::parse(line);
      devs.push_back({j.at("ProductKey").get<std::string>(), j.at("DeviceName").get<std::string>(),
                      aliot::Secret(j.at("DeviceSecret").get<std::string>()), nullptr, false, false,
                      0});
    }
  }
  if (devs.empty()) {
    std::fprintf(stderr, "no triplets in %s\n", argv[3]);
    return 2;
  }
  const long broker_before = broker_pid.empty() ? -1 : rss_kb(broker_pid, "VmRSS:");
  const double broker_cpu0 = broker_pid.empty() ? -1 : cpu_seconds(broker_pid);

  mosquitto_lib_init();
  std::size_t started = 0;
  auto settled_count = [&] {
    std::size_t n = 0;
    for (const auto& d : devs) {
      n += d.connected || d.refused ? 1U : 0U;
    }
    return n;
  };
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& d : devs) {
    // The broker listens with a backlog of 100: more connections at once than that would wait
    // for SYN retransmits (a second each), timing the kernel's retry instead of the logins.
    pump_until(
        devs, [&] { return started - settled_count() < k_pending; }, 60);
    ++started;
    aliot::sign::MqttParams p;
    p.product_key = d.pk;
    p.device_name = d.dn;
    p.timestamp = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
    p.securemode = 3;
    auto cred = aliot::sign::mqtt_credentials(p, d.ds);
    if (!cred) {
      std::fprintf(stderr, "%s: %s\n", d.dn.c_str(), cred.error().message().c_str());
      return 1;
    }
    d.m = mosquitto_new(cred->client_id.c_str(), true, &d);
    mosquitto_int_option(d.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_username_pw_set(d.m, cred->username.c_str(), cred->password.reveal().c_str());
    mosquitto_connect_callback_set(d.m, [](mosquitto*, void* ud, int rc) {
      auto* dev = static_cast<Device*>(ud);
      (rc == 0 ? dev->connected : dev->refused) = true;
    });
    mosquitto_publish_callback_set(
        d.m, [](mosquitto*, void* ud, int) { ++static_cast<Device*>(ud)->acked; });
    if (mosquitto_connect(d.m, host.c_str(), port, 60) != MOSQ_ERR_SUCCESS) {
      d.refused = true;
    }
    pump(devs, 0); // keep the CONNACKs flowing while the others connect
  }
  auto settled = [&] {
    for (const auto& d : devs) {
      if (!d.connected && !d.refused) {
        return false;
      }
    }
    return true;
  };
  pump_until(devs, settled, 60);
  const double login_s = seconds_since(t0);
  const double broker_cpu1 = broker_pid.empty() ? -1 : cpu_seconds(broker_pid);
  std::size_t connected = 0;
  for (const auto& d : devs) {
    connected += d.connected ? 1U : 0U;
  }

  const auto t1 = std::chrono::steady_clock::now();
  std::size_t published = 0;
  for (int i = 0; i < messages; ++i) {
    for (std::size_t from = 0; from < devs.size(); from += k_wave) {
      const std::size_t to = std::min(devs.size(), from + k_wave);
      for (std::size_t k = from; k < to; ++k) {
        auto& d = devs[k];
        if (!d.connected) {
          continue;
        }
        const std::string topic = "/" + d.pk + "/" + d.dn + "/user/update";
        const std::string payload = d.dn + ":" + std::to_string(i);
        if (mosquitto_publish(d.m, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                              payload.data(), 1, false)
            == MOSQ_ERR_SUCCESS) {
          ++published;
        }
      }
      auto wave_acked = [&] {
        for (std::size_t k = from; k < to; ++k) {
          if (devs[k].connected && devs[k].acked < i + 1) {
            return false;
          }
        }
        return true;
      };
      pump_until(devs, wave_acked, 60);
      if (!sub_out.empty()
          && !pump_until(
              devs, [&] { return printed(sub_out) >= published; }, 30)) {
        i = messages; // the subscriber lost some: the caller counts them
        break;
      }
    }
  }
  const double publish_s = seconds_since(t1);
  std::size_t acked = 0;
  for (const auto& d : devs) {
    acked += static_cast<std::size_t>(d.acked);
  }
  const long broker_online = broker_pid.empty() ? -1 : rss_kb(broker_pid, "VmRSS:");
  const double broker_cpu2 = broker_pid.empty() ? -1 : cpu_seconds(broker_pid);
  const char* hold = std::getenv("LOAD_HOLD");
  if (hold != nullptr && std::string(hold) == "1") {
    std::fprintf(stderr, "online %zu\n", connected);
    std::fflush(stderr);
    bool input_open = true;
    while (input_open) {
      pump(devs, 0);
      pollfd in{0, POLLIN, 0};
      if (::poll(&in, 1, 50) > 0) {
        char buf[256];
        input_open = ::read(0, buf, sizeof buf) > 0;
      }
    }
  }

  for (auto& d : devs) {
    if (d.connected) {
      mosquitto_disconnect(d.m);
    }
  }
  pump(devs, 100);
  for (auto& d : devs) {
    mosquitto_destroy(d.m);
  }
  mosquitto_lib_cleanup();

  nlohmann::json out{{"devices", devs.size()},
                     {"connected", connected},
                     {"login_seconds", login_s},
                     {"logins_per_second", static_cast<double>(connected) / login_s},
                     {"messages_published", published},
                     {"messages_acked", acked},
                     {"publish_seconds", publish_s},
                     {"messages_per_second", static_cast<double>(acked) / publish_s},
                     {"broker_rss_kb_before", broker_before},
                     {"broker_rss_kb_online", broker_online},
                     {"broker_cpu_login_seconds", broker_cpu1 - broker_cpu0},
                     {"broker_cpu_publish_seconds", broker_cpu2 - broker_cpu1},
                     {"load_peak_rss_kb", rss_kb("self", "VmHWM:")}};
  std::cout << out.dump() << "\n";
  return connected == devs.size() && acked == devs.size() * static_cast<std::size_t>(messages) ? 0
                                                                                               : 1;
}
