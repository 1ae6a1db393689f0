// What the OpenAPI's action files share (http_api.cpp: the gateway checks and the device
// actions; http_thing.cpp: the thing-model actions): one verified call, its parameters and the
// platform's two reply envelopes.
#pragma once

#include "state.hpp"

#include <nlohmann/json.hpp>

#include <httplib.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aliot::emu {

using json = nlohmann::ordered_json;
using Params = std::vector<std::pair<std::string, std::string>>;

// One OpenAPI call whose signature, timestamp, nonce and version were checked.
struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  const Params& ps;
  std::string rid;
  std::shared_ptr<const Snapshot> view;
};

void send_json(httplib::Response& res, int status, const json& j);
// The gateway's envelope (HTTP `status`, Code/Message/Recommend).
void pop_error(httplib::Response& res,
               int status,
               const std::string& rid,
               const std::string& code,
               const std::string& message);
// The business envelope (HTTP 200, Success false, Code, ErrorMessage).
void biz_error(httplib::Response& res,
               const std::string& rid,
               const std::string& code,
               const std::string& message);
std::optional<std::string> param(const Params& ps, const std::string& name);
// Missing<Name> for the first absent or empty parameter.
bool require(Call& c, std::initializer_list<const char*> names);
// (ProductKey + DeviceName) or IotId; writes the business error otherwise.
bool find_device(Call& c, std::string& pk, std::string& dn, const Device*& d);
// 2026-11-28T10:09:51.123Z (utc) or the platform's UTC+8 "Gmt" form.
std::string format_time(long long ms, bool utc);

// Runs `fn` on the broker thread and waits for its result (bounded).
template <class T>
std::optional<T> on_broker(std::function<T()> fn) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  emu().post_job([p, fn] { p->set_value(fn()); });
  if (f.wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
    return std::nullopt;
  }
  return f.get();
}

// The thing-model actions (http_thing.cpp): false when `action` is none of them.
bool thing_action(const std::string& action, Call& c);
// The OTA actions (http_ota.cpp): false when `action` is none of them.
bool ota_action(const std::string& action, Call& c);
// The firmware upload (POST /ota/upload) and download (GET /ota/files/NAME, with Range) on the
// HTTPS server.
void ota_routes(httplib::SSLServer& sv, const std::string& dir);

} // namespace aliot::emu
