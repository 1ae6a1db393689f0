// libaliot_emu.so: the local Aliyun IoT platform as a mosquitto 2.0 (plugin API v5) plugin.
// `aliot emulate cloud` writes the config that loads it (emulator/cloud/launcher.cpp). The broker
// facts the design rests on, measured on mosquitto 2.0.11: MOSQ_EVT_TICK comes only with
// `per_listener_settings false` and about every 100 ms when idle, so work handed over from the
// HTTP threads wakes the broker's loop with a real-time signal (pthread_kill); only the broker
// thread calls mosquitto_*; sessions are keyed by `struct mosquitto*`, not clientId (a takeover
// carries the same clientId on both); a kick comes a loop iteration after a publish to the
// client, or the message is lost; httplib needs TCP_NODELAY and a listen backlog above 5.
//
// What it emulates (spec sections 2-6):
//  - device logins (BASIC_AUTH): `id|k=v,...|` client ids, user `dn&pk`, HMAC md5/sha1/sha256
//    passwords with or without clientId/timestamp in the sign content, keepalive 30-1200 s,
//    custom clientId <= 64 characters, disabled/unknown devices refused; one connection per
//    device (a newer login kicks the older one even with a different clientId);
//  - MQTT dynamic registration on the TLS listener only (authType=register -> /ext/register,
//    regnwl -> /ext/regnwl, both compact JSON, then the connection is closed; on the plain TCP
//    listener it is refused) and token logins (authType=connwl);
//  - topic rights (ACL_CHECK) per spec 3.5: refused SUBSCRIBE -> SUBACK 0x80, refused or
//    oversized (> 256 KB) PUBLISH dropped;
//  - RRPC (system and custom topic), Pub, RegisterDevice, QueryDeviceDetail, GetDeviceStatus over
//    the OpenAPI (RPC signature v1) on plain HTTP, and HTTPS dynamic registration
//    (http_api.cpp);
//  - the thing model (thing.cpp, tsl.cpp, http_thing.cpp): `_reply` to every Alink request of a
//    device, checked against the product's TSL when it has one; property values and events for
//    the QueryDevice* actions; NTP; SetDeviceProperty, InvokeThingService, PubBroadcast; the
//    automatic subscription of `_ss=1` client ids (system downlinks sent straight to a device
//    that holds no matching filter).
//
// CONNACK codes: mosquitto 2.0.11 lets a plugin refuse a login only with "not authorized", so
// every refused login (bad sign, unknown/disabled device, bad keepalive, bad clientId, malformed
// user name) is CONNACK 0x05 here (MQTT 5: 0x87). The broker log names the precise reason, and
// so does the emulator's terminal: with plugin_opt_report_fd N each refusal (and each takeover
// kick) is also one line written to descriptor N (the launcher makes it a pipe to itself and
// prints the lines on its stderr): `login refused: client 'ID' user 'USER': REASON`, the client
// id and user name escaped (enc::printable), never the password. The descriptor is made
// non-blocking and each line is one write() of at most PIPE_BUF bytes, so a line arrives whole
// or not at all, and a launcher that stops reading never stalls the broker (lines are dropped).
//
// Operator view (what devices sent, for tests and CI scripts):
//  (a) HTTP: GET <ALIOT_API_ENDPOINT>/emu/messages?topic=FILTER&since=SEQ&limit=N, with HTTP
//      Basic authentication by an AccessKey (`curl -u AKID:SECRET`), returns
//      {"messages":[{"seq":N,"ts":"<RFC 3339>","ts_ms":N,"topic":"...","qos":0,
//      "payload_base64":"...","client":"<clientId>"}...],"next":SEQ} for the last 10000 messages
//      clients published (after the topic rights check); poll with since=<next>.
//  (b) MQTT: log in with user name `operator/<AccessKeyId>` and the AccessKey secret as password
//      (any client id, no keepalive rule); an operator may subscribe and publish to any topic
//      (e.g. `mosquitto_sub -t '#'`). AccessKeys come from `aliot emulate cloud add-access-key`.
//  GET /emu/health answers "ok" once the plugin is up.
//
// Threading: only mosquitto's thread calls mosquitto_*; HTTP threads post jobs and wake the loop
// with a real-time signal (pthread_kill(SIGRTMIN+3) interrupts epoll_wait), so a job runs
// within microseconds instead of at the next 100 ms tick.
#include "amqp_server.hpp"
#include "ota.hpp"
#include "state.hpp"
#include "thing.hpp"

// mosquitto_broker.h must come before mosquitto_plugin.h in 2.0.11.

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/sign.hpp>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace aliot::emu {

namespace {

constexpr std::size_t k_max_payload = 256 * 1024;
constexpr std::size_t k_max_custom_client_id = 64;

enum class Kind { device, reg, operator_ };

struct Session {
  Kind kind = Kind::device;
  std::string pk, dn;
  std::string client_id;
  bool ext_rrpc = false;
  bool ss = false;                  // `_ss=1`: subscribed to its own system topics on login
  std::vector<std::string> filters; // the filters it was granted (SUBSCRIBE), at most 1000
};

struct Online {
  mosquitto* client = nullptr;
  std::string client_id;
};

struct Kick {
  std::string client_id;
  mosquitto* client = nullptr; // only kicked while this session still exists
  int ticks = 0;               // ticks seen since queued
  long long not_before_ms = 0;
};

// Broker-thread state.
struct Broker {
  mosquitto_plugin_id_t* id = nullptr;
  pthread_t main_thread{};
  int wake_signal = 0;
  std::unordered_map<mosquitto*, Session> sessions;
  // The sessions by client id (two share one for a moment at a takeover): a login asks who holds
  // its client id without walking every session (10,000 online: a walk per CONNECT).
  std::unordered_multimap<std::string, mosquitto*> by_client_id;
  std::map<std::string, Online> online;       // "pk/dn"
  std::map<std::string, DeviceStatus> status; // "pk/dn"
  std::vector<Kick> kicks;
};

Broker& broker() {
  static Broker* b = new Broker(); // never destroyed: see notes, pitfall 9
  return *b;
}

void forget_client_id(Broker& b, mosquitto* client, const std::string& cid) {
  auto [from, to] = b.by_client_id.equal_range(cid);
  for (auto it = from; it != to; ++it) {
    if (it->second == client) {
      b.by_client_id.erase(it);
      return;
    }
  }
}

// A logged-in client's session (replacing one it held, if any).
void set_session(mosquitto* client, Session s) {
  auto& b = broker();
  auto it = b.sessions.find(client);
  if (it != b.sessions.end()) {
    forget_client_id(b, client, it->second.client_id);
  }
  b.by_client_id.emplace(s.client_id, client);
  b.sessions[client] = std::move(s);
}

void log(int level, const std::string& text) {
  mosquitto_log_printf(level, "aliot-emu: %s", text.c_str());
}

// plugin_opt_report_fd: where refusal lines go besides the log (-1: nowhere).
int g_report_fd = -1;

// One line on the report descriptor: bounded, a single write (atomic on a pipe up to PIPE_BUF),
// dropped when the pipe is full or gone.
void report(std::string line) {
  if (g_report_fd < 0) {
    return;
  }
  constexpr std::size_t k_max = PIPE_BUF - 1;
  if (line.size() > k_max) {
    line.resize(k_max - 3);
    line += "...";
  }
  line += '\n';
  const ssize_t n = ::write(g_report_fd, line.data(), line.size());
  (void)n; // best effort: the broker log has the line too
}

// A refused device login, on the log and the report descriptor. `user` is the MQTT user name
// (deviceName&productKey, or operator/<AccessKeyId>): no secret in it.
void refused(const std::string& cid, const std::string& user, const std::string& why) {
  log(MOSQ_LOG_NOTICE, "login of '" + cid + "' refused: " + why);
  report("login refused: client '" + enc::printable(cid) + "' user '" + enc::printable(user)
         + "': " + enc::printable(why));
}

std::string key_of(const std::string& pk, const std::string& dn) {
  return pk + "/" + dn;
}

void on_wake_signal(int /*sig*/) {}

void set_status(const std::string& key, bool online, const std::string& address) {
  auto& st = broker().status[key];
  st.online = online;
  st.changed_ms = now_ms();
  st.last_ms = st.changed_ms;
  if (!address.empty()) {
    st.address = address;
  }
}

// Marks the device as activated on its first login with its secret or token.
void activate(const std::string& pk, const std::string& dn) {
  auto view = emu().registry().cached();
  const Device* d = view->device(pk, dn);
  if (d == nullptr || d->activated) {
    return;
  }
  auto r = emu().registry().activate(pk, dn);
  if (!r) {
    log(MOSQ_LOG_WARNING, "cannot record activation: " + r.error().message());
  }
}

std::string iot_id_of(const std::string& pk, const std::string& dn) {
  auto view = emu().registry().cached();
  const Device* d = view->device(pk, dn);
  return d != nullptr ? d->iot_id : "";
}

// The status message the platform forwards to the consumer groups that asked for them.
// `last_ms`: the device's last communication (its login, or its last PUBLISH).
void forward_status(const std::string& pk,
                    const std::string& dn,
                    bool online,
                    long long last_ms,
                    const std::string& ip) {
  const auto m = status_message(pk, dn, iot_id_of(pk, dn), online, now_ms(), last_ms, ip);
  amqp_publish_status(pk, m.topic, m.payload);
}

// LinkSDK 4 and the Python SDK put `_ss=1` in the client id: the platform then subscribes the
// device to its own system topics itself (docs/protocol.md, "Automatic subscription").
bool wants_auto_subscription(const std::string& cid) {
  auto parts = sign::parse_client_id(cid);
  return parts && parts->option("_ss").value_or("") == "1";
}

// A successful device login: session, status, and the takeover of an older connection.
void device_logged_in(mosquitto* client,
                      const std::string& pk,
                      const std::string& dn,
                      const std::string& cid,
                      bool ext_rrpc) {
  auto& b = broker();
  const std::string key = key_of(pk, dn);
  auto it = b.online.find(key);
  if (it != b.online.end() && it->second.client != client) {
    if (it->second.client_id != cid) {
      // Aliyun keeps one connection per device; mosquitto only replaces identical client ids.
      b.kicks.push_back({it->second.client_id, it->second.client, 0, 0});
      log(MOSQ_LOG_NOTICE,
          "device " + key + " logged in again as " + cid + ": kicking " + it->second.client_id);
      report("device " + enc::printable(key) + " already online as client '"
             + enc::printable(it->second.client_id) + "': kicked by a new login as client '"
             + enc::printable(cid) + "' (one connection per device)");
    }
  }
  b.online[key] = {client, cid};
  set_session(client, {Kind::device, pk, dn, cid, ext_rrpc, wants_auto_subscription(cid), {}});
  const char* addr = mosquitto_client_address(client);
  set_status(key, true, addr != nullptr ? addr : "");
  activate(pk, dn);
  forward_status(pk, dn, true, now_ms(), addr != nullptr ? addr : "");
}

// The local port of the listener `client` connected to, or 0 when it cannot be told.
// mosquitto 2.0.11 has no accessor for a client's listener or transport (one came in later
// releases), so the plugin reads the client's socket descriptor from the broker's struct
// mosquitto, which in 2.0's Linux (epoll) build starts with `int ident; int sock;` (and with
// `int sock;` in a poll build), and asks the kernel for the socket's local port. The guess is
// checked before it is believed: the descriptor must be a connected socket whose peer address is
// the client's address.
int client_listener_port(const mosquitto* client) {
  const char* addr = mosquitto_client_address(client);
  if (client == nullptr || addr == nullptr) {
    return 0;
  }
  const auto* words = reinterpret_cast<const int*>(client);
  for (int i : {1, 0}) {
    const int fd = words[i];
    sockaddr_storage local{}, peer{};
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0
        || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
      continue;
    }
    char host[NI_MAXHOST];
    char port[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&peer), plen, host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST)
            != 0
        || std::strcmp(host, addr) != 0
        || ::getnameinfo(reinterpret_cast<sockaddr*>(&local), llen, nullptr, 0, port, sizeof port,
                         NI_NUMERICSERV)
               != 0) {
      continue;
    }
    return std::atoi(port);
  }
  return 0;
}

std::string compact(const nlohmann::json& j) {
  return j.dump();
}

// authType=register / regnwl (spec 4.4). Returns MOSQ_ERR_SUCCESS with the reply queued.
int dynreg_login(mosquitto* client,
                 const sign::ClientIdParts& parts,
                 const std::string& cid,
                 const std::string& pk,
                 const std::string& dn,
                 const std::string& password,
                 bool nwl) {
  // A refused registration, on the log and the report descriptor.
  auto note = [&](int level, const std::string& text) {
    log(level, text);
    if (const auto at = text.find(" refused: "); at != std::string::npos) {
      report("registration refused: client '" + enc::printable(cid) + "' user '"
             + enc::printable(dn + "&" + pk) + "': " + enc::printable(text.substr(at + 10)));
    }
  };
  auto view = emu().registry().current();
  const Product* p = view->product(pk);
  if (p == nullptr) {
    note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: unknown product");
    return MOSQ_ERR_AUTH;
  }
  if (!p->dynreg) {
    note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: dynamic registration is off");
    return MOSQ_ERR_AUTH;
  }
  const auto random = parts.option("random");
  if (!random || random->empty()) {
    note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: no random option");
    return MOSQ_ERR_AUTH;
  }
  auto method = sign::parse_method(parts.option("signmethod").value_or("hmacmd5"));
  if (!method) {
    note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: unknown signmethod");
    return MOSQ_ERR_AUTH;
  }
  const auto expected = sign::dynreg_sign(*method, Secret(p->secret), pk, dn, *random);
  if (!expected) {
    note(MOSQ_LOG_WARNING, "register " + pk + "/" + dn + ": " + expected.error().message());
    return MOSQ_ERR_AUTH;
  }
  if (!sign::digest_equal(*expected, password)) {
    note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: sign mismatch");
    return MOSQ_ERR_AUTH;
  }
  const Device* d = view->device(pk, dn);
  std::string topic;
  std::string payload;
  if (!nwl) {
    if (d == nullptr) {
      note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: device not pre-registered");
      return MOSQ_ERR_AUTH;
    }
    if (!d->enabled || d->activated) {
      note(MOSQ_LOG_NOTICE, "register " + pk + "/" + dn + " refused: device "
                                + (d->enabled ? "already activated" : "disabled"));
      return MOSQ_ERR_AUTH;
    }
    const auto ds = crypto::random_alnum(32);
    if (!ds) {
      note(MOSQ_LOG_WARNING, "register: " + ds.error().message());
      return MOSQ_ERR_AUTH;
    }
    auto r = emu().registry().set_device_secret(pk, dn, *ds);
    if (!r) {
      note(MOSQ_LOG_WARNING, "register: " + r.error().message());
      return MOSQ_ERR_AUTH;
    }
    topic = "/ext/register";
    payload = compact({{"productKey", pk}, {"deviceName", dn}, {"deviceSecret", *ds}});
  } else {
    if (d != nullptr && !d->enabled) {
      note(MOSQ_LOG_NOTICE, "regnwl " + pk + "/" + dn + " refused: device disabled");
      return MOSQ_ERR_AUTH;
    }
    const auto assigned = crypto::random_alnum(24);
    const auto token = assigned ? crypto::random_hex(16) : Result<std::string>(assigned.error());
    if (!token) {
      note(MOSQ_LOG_WARNING, "regnwl: " + token.error().message());
      return MOSQ_ERR_AUTH;
    }
    auto r = emu().registry().add_token(pk, dn, *assigned, *token);
    if (!r) {
      note(MOSQ_LOG_WARNING, "regnwl: " + r.error().message());
      return MOSQ_ERR_AUTH;
    }
    topic = "/ext/regnwl";
    payload = compact(
        {{"clientId", *assigned}, {"productKey", pk}, {"deviceName", dn}, {"deviceToken", *token}});
  }
  // Legal here: BASIC_AUTH runs on the broker thread; the message goes out right after CONNACK.
  mosquitto_broker_publish_copy(cid.c_str(), topic.c_str(), static_cast<int>(payload.size()),
                                payload.data(), 0, false, nullptr);
  auto& b = broker();
  set_session(client, {Kind::reg, pk, dn, cid, false});
  // One-shot connection: closed a while after the reply (spec 4.4: "close after ~5 s").
  b.kicks.push_back({cid, client, 0, now_ms() + 5000});
  note(MOSQ_LOG_NOTICE, std::string(nwl ? "regnwl" : "register") + " " + pk + "/" + dn + " ok");
  return MOSQ_ERR_SUCCESS;
}

// The platform binds a session to the device that authenticated it: a client id that another
// device (or an operator, or a registration) holds right now is not taken over by this login.
// mosquitto would otherwise disconnect the holder as soon as this login is accepted, so one
// device could knock another offline with nothing but the other's client id.
std::optional<std::string> held_by_another(const mosquitto* client,
                                           const std::string& cid,
                                           const std::string& pk,
                                           const std::string& dn) {
  auto& b = broker();
  auto [from, to] = b.by_client_id.equal_range(cid);
  for (auto h = from; h != to; ++h) {
    const mosquitto* other = h->second;
    auto found = b.sessions.find(h->second);
    if (other == client || found == b.sessions.end()) {
      continue;
    }
    const Session& s = found->second;
    if (s.kind != Kind::device) {
      return std::string(s.kind == Kind::reg ? "a registration" : "an operator");
    }
    if (s.pk != pk || s.dn != dn) {
      return "device " + key_of(s.pk, s.dn);
    }
  }
  return std::nullopt;
}

// The identity part of a client id that names another device of the registry ("pk.dn",
// "dn.pk", "dn&pk", as the SDKs form it): a device may choose its client id, but not another
// device's, so it cannot take (or squat) the session that device would open.
std::optional<std::string> names_another_device(const Snapshot& view,
                                                const std::string& id,
                                                const std::string& pk,
                                                const std::string& dn) {
  for (std::size_t i = id.find_first_of(".&"); i != std::string::npos;
       i = id.find_first_of(".&", i + 1)) {
    const std::string left = id.substr(0, i);
    const std::string right = id.substr(i + 1);
    for (const auto& [opk, odn] : {std::pair{left, right}, std::pair{right, left}}) {
      if ((opk != pk || odn != dn) && view.device(opk, odn) != nullptr) {
        return key_of(opk, odn);
      }
    }
  }
  return std::nullopt;
}

int on_basic_auth(int /*event*/, void* event_data, void* /*userdata*/) {
  auto* ed = static_cast<mosquitto_evt_basic_auth*>(event_data);
  mosquitto* client = ed->client;
  const char* cid_c = mosquitto_client_id(client);
  const std::string cid = cid_c != nullptr ? cid_c : "";
  const std::string user = ed->username != nullptr ? ed->username : "";
  const std::string password = ed->password != nullptr ? ed->password : "";
  auto view = emu().registry().current();
  auto refuse = [&](const std::string& why) {
    refused(cid, user, why);
    return MOSQ_ERR_AUTH;
  };

  // Operator login: user `operator/<AccessKeyId>`, password = the AccessKey secret.
  if (user.starts_with("operator/")) {
    auto it = view->access_keys.find(user.substr(9));
    if (it == view->access_keys.end() || !crypto::equal_ct(it->second, password)) {
      return refuse("unknown AccessKey or wrong secret for the operator login");
    }
    set_session(client, {Kind::operator_, "", "", cid, false});
    return MOSQ_ERR_SUCCESS;
  }

  auto parts = sign::parse_client_id(cid);
  if (!parts) {
    return refuse("malformed client id (" + parts.error().message() + ")");
  }
  if (parts->client_id.size() > k_max_custom_client_id) {
    return refuse("client id part longer than 64 characters");
  }
  const auto amp = user.find('&');
  if (amp == std::string::npos || amp == 0 || amp + 1 == user.size()) {
    return refuse("user name is not deviceName&productKey");
  }
  const std::string dn = user.substr(0, amp);
  const std::string pk = user.substr(amp + 1);
  if (password.empty()) {
    return refuse("empty password");
  }
  if (const auto holder = held_by_another(client, cid, pk, dn)) {
    return refuse("client id in use by " + *holder + ", not by " + key_of(pk, dn));
  }
  if (const auto other = names_another_device(*view, parts->client_id, pk, dn)) {
    return refuse("client id names device " + *other + ", not " + key_of(pk, dn));
  }
  const std::string auth_type = enc::to_lower(parts->option("authtype").value_or(""));
  if (auth_type == "register" || auth_type == "regnwl") {
    // The platform serves MQTT registration over TLS only (securemode=2): on the plain TCP
    // listener it is refused, and so is any client whose listener cannot be told.
    if (const int port = client_listener_port(client); port != emu().mqtt_tls_port) {
      return refuse(auth_type + " over plain TCP (port " + std::to_string(port)
                    + "): dynamic registration needs the TLS port "
                    + std::to_string(emu().mqtt_tls_port));
    }
    return dynreg_login(client, *parts, cid, pk, dn, password, auth_type == "regnwl");
  }
  const int ka = mosquitto_client_keepalive(client);
  if (ka < 30 || ka > 1200) {
    return refuse("keepalive " + std::to_string(ka) + " s outside 30-1200");
  }
  const Product* p = view->product(pk);
  const Device* d = view->device(pk, dn);
  if (p == nullptr) {
    return refuse("unknown product " + pk + " (no such ProductKey)");
  }
  if (d == nullptr) {
    return refuse("unknown device " + dn + " in product " + pk);
  }
  if (!d->enabled) {
    return refuse("device " + pk + "/" + dn + " is disabled");
  }
  const auto ext = parts->option("ext");
  const bool ext_rrpc = ext && !ext->empty() && ((std::atoi(ext->c_str()) & 1) != 0);
  if (auth_type == "connwl") {
    for (const auto& [tcid, token] : d->tokens) {
      if (tcid == parts->client_id && crypto::equal_ct(token, password)) {
        device_logged_in(client, pk, dn, cid, ext_rrpc);
        return MOSQ_ERR_SUCCESS;
      }
    }
    return refuse("wrong device token or client id for " + pk + "/" + dn);
  }
  if (!auth_type.empty()) {
    return refuse("unsupported authType " + auth_type);
  }
  auto method = sign::parse_method(parts->option("signmethod").value_or("hmacmd5"));
  if (!method) {
    return refuse("unsupported sign method '" + parts->option("signmethod").value_or("")
                  + "' (hmacmd5, hmacsha1, hmacsha256)");
  }
  if (d->secret.empty()) {
    return refuse("device " + pk + "/" + dn + " has no DeviceSecret (token device)");
  }
  const auto ts = parts->option("timestamp");
  const Secret ds(d->secret);
  std::optional<std::string_view> tsv;
  if (ts) {
    tsv = *ts;
  }
  // The device chooses whether its clientId takes part in the sign content.
  for (bool with_cid : {true, false}) {
    std::optional<std::string_view> cv;
    if (with_cid) {
      cv = parts->client_id;
    }
    const auto content = sign::mqtt_sign_content(pk, dn, cv, tsv);
    const auto expected = sign::mqtt_password(*method, ds, content);
    if (!expected) {
      return refuse(expected.error().message());
    }
    if (sign::digest_equal(*expected, password)) {
      device_logged_in(client, pk, dn, cid, ext_rrpc);
      return MOSQ_ERR_SUCCESS;
    }
  }
  return refuse("wrong signature for " + pk + "/" + dn
                + ": the password is not signed with this device's DeviceSecret");
}

// The filters a device holds, so a system downlink reaches it once: routed when it subscribed,
// sent to it directly when it did not (automatic subscription, broadcasts).
void remember_filter(Session& s, const std::string& filter) {
  constexpr std::size_t k_max_filters = 1000;
  if (std::find(s.filters.begin(), s.filters.end(), filter) == s.filters.end()
      && s.filters.size() < k_max_filters) {
    s.filters.push_back(filter);
  }
}

int on_acl_check(int /*event*/, void* event_data, void* /*userdata*/) {
  auto* ed = static_cast<mosquitto_evt_acl_check*>(event_data);
  auto& b = broker();
  auto it = b.sessions.find(ed->client);
  if (it == b.sessions.end()) {
    return MOSQ_ERR_ACL_DENIED;
  }
  const Session& s = it->second;
  if (ed->access == MOSQ_ACL_UNSUBSCRIBE) {
    auto& f = it->second.filters;
    f.erase(std::remove(f.begin(), f.end(), std::string(ed->topic != nullptr ? ed->topic : "")),
            f.end());
    return MOSQ_ERR_SUCCESS;
  }
  const std::string topic = ed->topic != nullptr ? ed->topic : "";
  if (ed->access == MOSQ_ACL_WRITE && ed->payloadlen > k_max_payload) {
    log(MOSQ_LOG_NOTICE, "dropped " + std::to_string(ed->payloadlen) + "-byte message from "
                             + s.client_id + " on " + topic + ": over 256 KB");
    return MOSQ_ERR_ACL_DENIED;
  }
  if (s.kind == Kind::operator_) {
    return MOSQ_ERR_SUCCESS;
  }
  if (s.kind == Kind::reg) {
    // mosquitto_sub needs its SUBSCRIBE to the reply topic granted.
    const bool reply = topic == "/ext/register" || topic == "/ext/regnwl";
    return reply && ed->access != MOSQ_ACL_WRITE ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
  }
  auto view = emu().registry().cached();
  const Product* p = view->product(s.pk);
  static const std::vector<Category> none;
  const auto& cats = p != nullptr ? p->cats : none;
  const bool allowed = device_allowed(
      cats, s.pk, s.dn, topic, ed->access == MOSQ_ACL_WRITE ? Need::publish : Need::subscribe,
      ed->access == MOSQ_ACL_SUBSCRIBE);
  if (allowed && ed->access == MOSQ_ACL_SUBSCRIBE) {
    remember_filter(it->second, topic);
  }
  if (!allowed && ed->access != MOSQ_ACL_READ) {
    log(MOSQ_LOG_NOTICE,
        std::string(ed->access == MOSQ_ACL_WRITE ? "dropped publish" : "refused subscribe") + " of "
            + s.pk + "/" + s.dn + " on " + topic + ": no right");
  }
  return allowed ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}

void complete_rrpc(const std::string& mid, const Session& s, const std::string& payload) {
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lk(emu().pending_mu);
    auto it = emu().pending.find(mid);
    if (it == emu().pending.end()) {
      return;
    }
    p = it->second;
  }
  if (p->pk == s.pk && p->dn == s.dn) {
    p->finish("SUCCESS", payload);
  }
}

int on_message(int /*event*/, void* event_data, void* /*userdata*/) {
  auto* ed = static_cast<mosquitto_evt_message*>(event_data);
  const std::string topic = ed->topic != nullptr ? ed->topic : "";
  std::string payload(static_cast<const char*>(ed->payload), ed->payloadlen);
  auto& b = broker();
  auto it = b.sessions.find(ed->client);
  std::string client;
  if (const char* c = mosquitto_client_id(ed->client)) {
    client = c;
  }
  if (it != b.sessions.end() && it->second.kind == Kind::device) {
    const Session& s = it->second;
    const std::string sys = "/sys/" + s.pk + "/" + s.dn + "/rrpc/response/";
    if (topic.starts_with(sys)) {
      complete_rrpc(topic.substr(sys.size()), s, payload);
    } else if (topic.starts_with("/ext/rrpc/")) {
      const auto rest = topic.substr(10);
      complete_rrpc(rest.substr(0, rest.find('/')), s, payload);
    }
    broker().status[key_of(s.pk, s.dn)].last_ms = now_ms(); // lastTime of its status messages
    bool forwarded = false;
    const std::string opk = s.pk, odn = s.dn; // `s` may not outlive a publish
    auto ota = ota_device_message(emu().dir, opk, odn, topic, payload, now_ms());
    for (const auto& o : ota.replies) {
      broker_deliver(opk, odn, o.topic, o.payload, false);
    }
    if (ota.handled) {
      // Version reports and progress reach the consumer groups as the device sent them.
    } else if (topic.starts_with("/sys/" + opk + "/" + odn + "/thing/")
               || topic == "/ext/ntp/" + opk + "/" + odn + "/request") {
      const std::string& pk = opk;
      const std::string& dn = odn;
      auto outcome =
          thing_device_message(emu().dir, pk, dn, iot_id_of(pk, dn), topic, payload, now_ms());
      for (const auto& o : outcome.replies) {
        broker_deliver(pk, dn, o.topic, o.payload, false);
      }
      // The backend gets thing-model data in the platform's forwarding format, not raw.
      for (const auto& f : outcome.forwards) {
        amqp_publish(pk, f.topic, f.payload);
      }
      forwarded = outcome.handled;
    }
    if (!forwarded) {
      amqp_publish(opk, topic, payload); // server-side subscription (consumer groups)
    }
  }
  emu().messages.add({0, now_ms(), topic, ed->qos, std::move(payload), client});
  return MOSQ_ERR_SUCCESS;
}

int on_tick(int /*event*/, void* /*event_data*/, void* /*userdata*/) {
  std::vector<std::function<void()>> jobs;
  {
    std::lock_guard lk(emu().jobs_mu);
    jobs.swap(emu().jobs);
  }
  for (auto& j : jobs) {
    j();
  }
  auto& b = broker();
  if (!b.kicks.empty()) {
    const long long now = now_ms();
    std::vector<Kick> keep;
    for (auto& k : b.kicks) {
      // At least two loop iterations after queueing, so a reply published to the client has
      // been written before the socket closes.
      if (++k.ticks < 2 || now < k.not_before_ms) {
        keep.push_back(k);
        continue;
      }
      auto s = b.sessions.find(k.client);
      if (s != b.sessions.end() && s->second.client_id == k.client_id) {
        mosquitto_kick_client_by_clientid(k.client_id.c_str(), false);
      }
    }
    b.kicks.swap(keep);
  }
  return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int /*event*/, void* event_data, void* /*userdata*/) {
  auto* ed = static_cast<mosquitto_evt_disconnect*>(event_data);
  auto& b = broker();
  auto it = b.sessions.find(ed->client);
  if (it == b.sessions.end()) {
    return MOSQ_ERR_SUCCESS;
  }
  if (it->second.kind == Kind::device) {
    const std::string key = key_of(it->second.pk, it->second.dn);
    auto o = b.online.find(key);
    if (o != b.online.end() && o->second.client == ed->client) {
      b.online.erase(o);
      const std::string ip = b.status[key].address;
      const long long last = b.status[key].last_ms;
      set_status(key, false, "");
      forward_status(it->second.pk, it->second.dn, false, last, ip);
    }
  }
  forget_client_id(b, ed->client, it->second.client_id);
  b.sessions.erase(it);
  return MOSQ_ERR_SUCCESS;
}

} // namespace

// ---- pieces used by http_api.cpp (broker thread only) ----

DeviceStatus broker_device_status(const std::string& pk, const std::string& dn) {
  auto& b = broker();
  auto it = b.status.find(key_of(pk, dn));
  DeviceStatus st = it != b.status.end() ? it->second : DeviceStatus{};
  st.online = b.online.count(key_of(pk, dn)) != 0;
  return st;
}

std::optional<std::pair<std::string, bool>> broker_device_session(const std::string& pk,
                                                                  const std::string& dn) {
  auto& b = broker();
  auto it = b.online.find(key_of(pk, dn));
  if (it == b.online.end()) {
    return std::nullopt;
  }
  auto s = b.sessions.find(it->second.client);
  return std::make_pair(it->second.client_id, s != b.sessions.end() && s->second.ext_rrpc);
}

void broker_deliver(const std::string& pk,
                    const std::string& dn,
                    const std::string& topic,
                    const std::string& payload,
                    bool always) {
  broker_publish("", topic, payload, 0); // to whoever subscribed (the device, an operator)
  auto& b = broker();
  auto o = b.online.find(key_of(pk, dn));
  if (o == b.online.end()) {
    return;
  }
  auto s = b.sessions.find(o->second.client);
  if (s == b.sessions.end() || !(always || s->second.ss)) {
    return;
  }
  for (const auto& f : s->second.filters) {
    if (filter_matches(f, topic)) {
      return; // the routed copy reaches it
    }
  }
  broker_publish(o->second.client_id, topic, payload, 0);
}

BrokerCounts broker_counts() {
  const auto& b = broker();
  BrokerCounts c;
  c.online = b.online.size();
  c.sessions = b.sessions.size();
  return c;
}

std::vector<std::string> broker_online_devices(const std::string& pk) {
  std::vector<std::string> out;
  const std::string prefix = pk + "/";
  for (auto it = broker().online.lower_bound(prefix);
       it != broker().online.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->first.substr(prefix.size()));
  }
  return out;
}

void broker_publish(const std::string& client_id,
                    const std::string& topic,
                    const std::string& payload,
                    int qos) {
  mosquitto_broker_publish_copy(client_id.empty() ? nullptr : client_id.c_str(), topic.c_str(),
                                static_cast<int>(payload.size()), payload.data(), qos, false,
                                nullptr);
}

void Emu::post_job(std::function<void()> job) {
  {
    std::lock_guard lk(jobs_mu);
    jobs.push_back(std::move(job));
  }
  pthread_kill(broker().main_thread, broker().wake_signal);
}

// ---- shared state ----

Emu& emu() {
  static Emu* e = new Emu(); // never destroyed (threads may outlive a failed start)
  return *e;
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t Emu::next_message_id() {
  // 64-bit decimal ids like the platform's: milliseconds shifted left, plus a sequence.
  std::lock_guard lk(id_mu);
  std::uint64_t id = (static_cast<std::uint64_t>(now_ms()) << 20);
  if (id <= last_id) {
    id = last_id + 1;
  }
  last_id = id;
  return id;
}

void MessageRing::add(Message m) {
  std::lock_guard lk(m_mu);
  m.seq = m_next++;
  m_items.push_back(std::move(m));
  while (m_items.size() > k_capacity) {
    m_items.pop_front();
  }
}

std::vector<Message> MessageRing::since(std::uint64_t seq,
                                        const std::string& filter,
                                        std::size_t limit,
                                        std::uint64_t& next) const {
  std::vector<Message> out;
  std::lock_guard lk(m_mu);
  next = m_next;
  for (const auto& m : m_items) {
    if (m.seq < seq || !filter_matches(filter, m.topic)) {
      continue;
    }
    if (out.size() >= limit) {
      next = m.seq;
      break;
    }
    out.push_back(m);
  }
  return out;
}

} // namespace aliot::emu

using namespace aliot::emu; // NOLINT

EMU_EXPORT int mosquitto_plugin_version(int count, const int* versions) {
  for (int i = 0; i < count; ++i) {
    if (versions[i] == 5) {
      return 5;
    }
  }
  return -1;
}

EMU_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* id,
                                     void** userdata,
                                     struct mosquitto_opt* opts,
                                     int opt_count) {
  *userdata = nullptr;
  auto& e = emu();
  AmqpOptions amqp;
  long launcher = 0;
  for (int i = 0; i < opt_count; ++i) {
    const std::string k = opts[i].key != nullptr ? opts[i].key : "";
    const std::string v(aliot::enc::trim(opts[i].value != nullptr ? opts[i].value : ""));
    if (k == "dir") {
      e.dir = v;
    } else if (k == "api_port") {
      e.api_port = std::atoi(v.c_str());
    } else if (k == "https_port") {
      e.https_port = std::atoi(v.c_str());
    } else if (k == "mqtt_tls_port") {
      e.mqtt_tls_port = std::atoi(v.c_str());
    } else if (k == "cert_file") {
      e.cert_file = v;
    } else if (k == "key_file") {
      e.key_file = v;
    } else if (k == "amqp_port") {
      amqp.port = std::atoi(v.c_str());
    } else if (k == "launcher_pid") {
      launcher = std::atol(v.c_str());
    } else if (k == "report_fd") {
      const int fd = std::atoi(v.c_str());
      const int fl = fd > 0 ? ::fcntl(fd, F_GETFL) : -1;
      if (fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
        g_report_fd = fd;
      }
    }
  }
  // The broker never outlives `aliot emulate cloud` (a kill -9 of it included): SIGTERM when the
  // launcher goes, set here because the launcher starts the broker with posix_spawn (nothing of
  // ours runs in the child before exec). A launcher gone already is seen in getppid().
  if (launcher > 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != static_cast<pid_t>(launcher)) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "aliot-emu: the launcher (pid %ld) is gone", launcher);
      return MOSQ_ERR_UNKNOWN;
    }
  }
  if (e.dir.empty() || e.api_port <= 0 || e.https_port <= 0 || e.mqtt_tls_port <= 0
      || e.cert_file.empty() || e.key_file.empty()) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "aliot-emu: plugin_opt_dir, _api_port, _https_port, "
                                       "_mqtt_tls_port, _cert_file and _key_file are required");
    return MOSQ_ERR_INVAL;
  }
  e.reg = std::make_unique<Registry>(e.dir);
  if (auto r = e.registry().load(); !r) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "aliot-emu: %s", r.error().message().c_str());
    return MOSQ_ERR_INVAL;
  }

  auto& b = broker();
  b.id = id;
  b.main_thread = pthread_self();
  b.wake_signal = SIGRTMIN + 3;
  struct sigaction sa {};
  sa.sa_handler = on_wake_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(b.wake_signal, &sa, nullptr);

  std::string why;
  if (!start_http(e, why)) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "aliot-emu: %s", why.c_str());
    return MOSQ_ERR_UNKNOWN;
  }
  amqp.cert_file = e.cert_file;
  amqp.key_file = e.key_file;
  if (amqp.port > 0 && !start_amqp(amqp, why)) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "aliot-emu: %s", why.c_str());
    stop_http();
    return MOSQ_ERR_UNKNOWN;
  }
  mosquitto_callback_register(id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr, nullptr);
  mosquitto_callback_register(id, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr, nullptr);
  mosquitto_callback_register(id, MOSQ_EVT_MESSAGE, on_message, nullptr, nullptr);
  mosquitto_callback_register(id, MOSQ_EVT_TICK, on_tick, nullptr, nullptr);
  mosquitto_callback_register(id, MOSQ_EVT_DISCONNECT, on_disconnect, nullptr, nullptr);
  mosquitto_log_printf(MOSQ_LOG_NOTICE,
                       "aliot-emu: OpenAPI on 127.0.0.1:%d, registration on "
                       "127.0.0.1:%d, state in %s",
                       e.api_port, e.https_port, e.dir.c_str());
  return MOSQ_ERR_SUCCESS;
}

EMU_EXPORT int
mosquitto_plugin_cleanup(void* /*userdata*/, struct mosquitto_opt* /*opts*/, int /*opt_count*/) {
  auto& b = broker();
  if (b.id != nullptr) {
    mosquitto_callback_unregister(b.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr);
    mosquitto_callback_unregister(b.id, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr);
    mosquitto_callback_unregister(b.id, MOSQ_EVT_MESSAGE, on_message, nullptr);
    mosquitto_callback_unregister(b.id, MOSQ_EVT_TICK, on_tick, nullptr);
    mosquitto_callback_unregister(b.id, MOSQ_EVT_DISCONNECT, on_disconnect, nullptr);
  }
  stop_amqp();
  stop_http();
  return MOSQ_ERR_SUCCESS;
}
