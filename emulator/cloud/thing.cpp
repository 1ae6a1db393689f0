// The thing-model replies and the property store: see thing.hpp. Formats (docs/protocol.md,
// "Thing model (Alink)"): a device request {"id","version","params","method","sys":{"ack"}} is
// answered on its topic + "_reply" with {"code","data","id","message","method","version"};
// sys.ack 0 asks for no reply. NTP: {"deviceSendTime"} on /ext/ntp/PK/DN/request is answered on
// .../response with deviceSendTime, serverRecvTime, serverSendTime (ms, as strings).
#include "thing.hpp"

#include <aliot/config.hpp>
#include <aliot/time.hpp>

#include <sys/stat.h>

#include <cstdio>

namespace aliot::emu {

namespace {

using json = nlohmann::json;

std::string key_of(const std::string& pk, const std::string& dn) {
  return pk + "/" + dn;
}

template <class T>
void push_bounded(std::deque<T>& d, T v, std::size_t cap) {
  d.push_back(std::move(v));
  while (d.size() > cap) {
    d.pop_front();
  }
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string reply(const tsl::Request& r, const tsl::Verdict& v, json data = json::object()) {
  json j{{"code", v.code},       {"data", std::move(data)}, {"id", r.id},
         {"message", v.message}, {"method", r.method},      {"version", "1.0"}};
  return dump(j);
}

struct CachedModel {
  long long mtime_ns = -1;
  long long size = -1;
  std::shared_ptr<const tsl::Model> model;
};

std::mutex g_models_mu;
std::map<std::string, CachedModel> g_models; // by path

std::string ms_text(const json& v, long long fallback) {
  if (v.is_string()) {
    return v.get<std::string>().substr(0, 20);
  }
  if (v.is_number_integer()) {
    return std::to_string(v.get<long long>());
  }
  return std::to_string(fallback);
}

} // namespace

ThingStore& things() {
  static ThingStore* s = new ThingStore(); // never destroyed: HTTP threads may outlive cleanup
  return *s;
}

void ThingStore::record_properties(const std::string& pk,
                                   const std::string& dn,
                                   const json& items) {
  std::lock_guard lk(m_mu);
  auto& d = m_devices[key_of(pk, dn)];
  for (const auto& [id, v] : items.items()) {
    if (d.props.size() >= k_max_properties && d.props.count(id) == 0) {
      continue;
    }
    push_bounded(d.props[id], PropPoint{v["value"], v["time"].get<long long>()}, k_history);
  }
}

void ThingStore::record_event(const std::string& pk,
                              const std::string& dn,
                              const std::string& id,
                              json output,
                              long long time,
                              std::string type) {
  std::lock_guard lk(m_mu);
  push_bounded(m_devices[key_of(pk, dn)].events,
               EventPoint{id, std::move(output), time, std::move(type)}, k_history);
}

std::map<std::string, PropPoint> ThingStore::latest(const std::string& pk,
                                                    const std::string& dn) const {
  std::map<std::string, PropPoint> out;
  std::lock_guard lk(m_mu);
  auto it = m_devices.find(key_of(pk, dn));
  if (it != m_devices.end()) {
    for (const auto& [id, h] : it->second.props) {
      if (!h.empty()) {
        out[id] = h.back();
      }
    }
  }
  return out;
}

std::vector<PropPoint>
ThingStore::history(const std::string& pk, const std::string& dn, const std::string& id) const {
  std::lock_guard lk(m_mu);
  auto it = m_devices.find(key_of(pk, dn));
  if (it == m_devices.end()) {
    return {};
  }
  auto p = it->second.props.find(id);
  if (p == it->second.props.end()) {
    return {};
  }
  return {p->second.begin(), p->second.end()};
}

std::vector<EventPoint> ThingStore::events(const std::string& pk, const std::string& dn) const {
  std::lock_guard lk(m_mu);
  auto it = m_devices.find(key_of(pk, dn));
  if (it == m_devices.end()) {
    return {};
  }
  return {it->second.events.begin(), it->second.events.end()};
}

json ThingStore::desired(const std::string& pk, const std::string& dn, const json& ids) const {
  json out = json::object();
  std::lock_guard lk(m_mu);
  auto it = m_devices.find(key_of(pk, dn));
  if (it == m_devices.end() || !ids.is_array()) {
    return out;
  }
  for (const auto& id : ids) {
    if (!id.is_string()) {
      continue;
    }
    auto d = it->second.desired.find(id.get<std::string>());
    if (d != it->second.desired.end()) {
      out[d->first] = d->second;
    }
  }
  return out;
}

void ThingStore::delete_desired(const std::string& pk, const std::string& dn, const json& ids) {
  std::lock_guard lk(m_mu);
  auto it = m_devices.find(key_of(pk, dn));
  if (it == m_devices.end() || !ids.is_object()) {
    return;
  }
  for (const auto& [id, v] : ids.items()) {
    it->second.desired.erase(id);
  }
}

std::string tsl_path(const std::string& dir, const std::string& pk) {
  return dir + "/tsl/" + pk + ".json";
}

std::shared_ptr<const tsl::Model> thing_model(const std::string& dir, const std::string& pk) {
  const std::string path = tsl_path(dir, pk);
  struct stat st {};
  std::lock_guard lk(g_models_mu);
  if (::stat(path.c_str(), &st) != 0) {
    g_models.erase(path);
    return nullptr;
  }
  const long long mtime =
      static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  auto& c = g_models[path];
  if (c.mtime_ns == mtime && c.size == static_cast<long long>(st.st_size)) {
    return c.model;
  }
  c.mtime_ns = mtime;
  c.size = static_cast<long long>(st.st_size);
  c.model = nullptr;
  auto text = config::read_bounded(path, tsl::k_max_tsl_bytes, "thing model", Errc::io);
  if (text) {
    auto m = tsl::parse(*text);
    if (m) {
      c.model = std::make_shared<const tsl::Model>(std::move(*m));
    }
  }
  return c.model;
}

std::string alink_request(const std::string& id, const std::string& method, const json& params) {
  return dump(json{{"id", id}, {"version", "1.0"}, {"params", params}, {"method", method}});
}

namespace {

std::string gmt_ms(long long ms) {
  const std::chrono::system_clock::time_point t{std::chrono::milliseconds(ms)};
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03lld", ms % 1000);
  return utc_datetime(t + std::chrono::hours(8)) + frac; // the platform's "Gmt" times: UTC+8
}

std::string utc_ms(long long ms) {
  return utc_iso8601(std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)}, true);
}

} // namespace

Outgoing status_message(const std::string& pk,
                        const std::string& dn,
                        const std::string& iot_id,
                        bool online,
                        long long now_ms,
                        long long last_ms,
                        const std::string& client_ip) {
  json j{{"status", online ? "online" : "offline"},
         {"iotId", iot_id},
         {"productKey", pk},
         {"deviceName", dn},
         {"time", gmt_ms(now_ms)},
         {"utcTime", utc_ms(now_ms)},
         {"lastTime", gmt_ms(last_ms)},
         {"utcLastTime", utc_ms(last_ms)},
         {"clientIp", client_ip}};
  return {"/as/mqtt/status/" + pk + "/" + dn, dump(j)};
}

ThingOutcome thing_device_message(const std::string& dir,
                                  const std::string& pk,
                                  const std::string& dn,
                                  const std::string& iot_id,
                                  const std::string& topic,
                                  const std::string& payload,
                                  long long now_ms) {
  ThingOutcome result;
  auto& out = result.replies;
  const std::string ntp = "/ext/ntp/" + pk + "/" + dn + "/";
  if (topic == ntp + "request") {
    auto j = tsl::parse_json(payload, 4096);
    json send =
        j && j->is_object() && j->contains("deviceSendTime") ? (*j)["deviceSendTime"] : json();
    const std::string now = std::to_string(now_ms);
    out.push_back({ntp + "response", dump(json{{"deviceSendTime", ms_text(send, 0)},
                                               {"serverRecvTime", now},
                                               {"serverSendTime", now}})});
    result.handled = true;
    return result;
  }
  const std::string sys = "/sys/" + pk + "/" + dn + "/thing/";
  if (!topic.starts_with(sys)) {
    return result;
  }
  const std::string rest = topic.substr(sys.size());
  if (rest.ends_with("_reply") || rest.starts_with("service/")) {
    return result; // the device's answers to the platform's downlinks: nothing to reply
  }
  const std::string fwd = "/" + pk + "/" + dn + "/thing/";
  json base{{"iotId", iot_id},
            {"productKey", pk},
            {"deviceName", dn},
            {"gmtCreate", now_ms},
            {"checkFailedData", json::object()}};
  auto req = tsl::parse_request(payload);
  if (!req) {
    // Not an Alink request: answered with 460 (no id to echo) where a reply topic exists.
    tsl::Request none;
    out.push_back({topic + "_reply", reply(none, {460, "request parameter error"})});
    result.handled = true;
    return result;
  }
  base["requestId"] = req->id;
  const auto model = thing_model(dir, pk);
  json data = json::object();
  tsl::Verdict v;
  if (rest == "event/property/post") {
    v = tsl::check_properties(model.get(), req->params);
    if (v.ok()) {
      json items = tsl::normalize_items(req->params, now_ms);
      things().record_properties(pk, dn, items);
      json f = base;
      f["items"] = std::move(items);
      result.forwards.push_back({fwd + "event/property/post", dump(f)});
    }
  } else if (rest == "event/property/batch/post") {
    // {"properties": {"Id": [{"value", "time"}...]}, "events": {"Id": [{"value", "time"}...]}}
    const json& p = req->params;
    if (!p.is_object()) {
      v = {460, "request parameter error: params is not an object"};
    }
    std::vector<std::tuple<std::string, json, long long, std::string>> evs;
    if (v.ok() && p.contains("properties")) {
      const json& props = p["properties"];
      if (!props.is_object()) {
        v = {460, "request parameter error: properties is not an object"};
      }
      for (auto it = props.begin(); v.ok() && it != props.end(); ++it) {
        if (!it->is_array()) {
          v = {460, "request parameter error: properties." + it.key() + " is not a list"};
          break;
        }
        for (const auto& point : *it) {
          json one = json::object();
          one[it.key()] = point;
          v = tsl::check_properties(model.get(), one);
          if (!v.ok()) {
            break;
          }
          json n = tsl::normalize_items(one, now_ms);
          things().record_properties(pk, dn, n);
        }
      }
    }
    if (v.ok() && p.contains("events")) {
      const json& es = p["events"];
      if (!es.is_object()) {
        v = {460, "request parameter error: events is not an object"};
      }
      for (auto it = es.begin(); v.ok() && it != es.end(); ++it) {
        const std::vector<tsl::Field>* fields = nullptr;
        std::string type = "info";
        if (model) {
          auto e = model->events.find(it.key());
          if (e == model->events.end()) {
            v = {6321, "tsl parse: event " + it.key() + " is not defined in the thing model"};
            break;
          }
          fields = &e->second.output;
          type = e->second.type;
        }
        if (!it->is_array()) {
          v = {460, "request parameter error: events." + it.key() + " is not a list"};
          break;
        }
        for (const auto& point : *it) {
          const json value = point.is_object() && point.contains("value") ? point["value"] : json();
          v = tsl::check_params(fields, value);
          if (!v.ok()) {
            break;
          }
          long long t = now_ms;
          if (point.contains("time") && point["time"].is_number_integer()) {
            t = point["time"].get<long long>();
          }
          evs.emplace_back(it.key(), value, t, type);
        }
      }
    }
    for (auto& [id, value, t, type] : evs) {
      if (v.ok()) {
        things().record_event(pk, dn, id, value, t, type);
      }
    }
    if (v.ok()) {
      json f = base;
      f["items"] = p; // UNCONFIRMED: the batch forwarding format is the posted params as they came
      result.forwards.push_back({fwd + "property/batch/post", dump(f)});
    }
  } else if (rest.starts_with("event/") && rest.ends_with("/post")) {
    const std::string id = rest.substr(6, rest.size() - 6 - 5);
    const std::vector<tsl::Field>* fields = nullptr;
    std::string type = "info"; // without a thing model the platform cannot know better
    if (model) {
      auto e = model->events.find(id);
      if (e == model->events.end()) {
        v = {6321, "tsl parse: event " + id + " is not defined in the thing model"};
      } else {
        fields = &e->second.output;
        type = e->second.type;
      }
    }
    if (v.ok()) {
      v = tsl::check_params(fields, req->params);
    }
    if (v.ok()) {
      long long t = now_ms;
      if (req->params.is_object() && req->params.contains("time")
          && req->params["time"].is_number_integer()) {
        t = req->params["time"].get<long long>();
      }
      things().record_event(pk, dn, id, req->params, t, type);
      json f = base;
      f["identifier"] = id;
      f["name"] = id;
      f["type"] = type;
      f["value"] = req->params;
      f["time"] = t;
      result.forwards.push_back({fwd + "event/" + id + "/post", dump(f)});
    }
  } else if (rest == "property/desired/get") {
    if (!req->params.is_array()) {
      v = {460, "request parameter error: params is not a list of identifiers"};
    } else {
      data = things().desired(pk, dn, req->params);
    }
  } else if (rest == "property/desired/delete") {
    if (!req->params.is_object()) {
      v = {460, "request parameter error: params is not an object"};
    } else {
      things().delete_desired(pk, dn, req->params);
    }
  } else {
    return result; // another thing topic the emulator does not serve (e.g. thing/model/up_raw)
  }
  result.handled = true;
  if (req->ack) {
    out.push_back({topic + "_reply", reply(*req, v, std::move(data))});
  }
  return result;
}

} // namespace aliot::emu
