// RRPC, the cloud's synchronous request to a device (spec section 5): the topic grammar of
// system-topic RRPC (/sys/${pk}/${dn}/rrpc/request/${id} answered on .../rrpc/response/${id}) and
// of custom-topic RRPC (/ext/rrpc/${id}${topic}, answered on the identical topic), and running a
// local command as the device's answerer within the platform's deadline.
#pragma once

#include <aliot/config.hpp>
#include <aliot/error.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/topic.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::rrpc {

// The platform waits this long for the device's answer, then reports TIMEOUT.
inline constexpr std::chrono::seconds k_deadline{8};
// An answer is an ordinary message: the platform's payload limit applies.
inline constexpr std::size_t k_max_reply = topic::k_max_payload;
// The client-id option (`ext=1`, bit0) that announces custom-topic RRPC support.
inline constexpr const char* k_ext_option = "ext";
inline constexpr const char* k_ext_custom_rrpc = "1";

// ---- System-topic RRPC (5.1) ----
// `/sys/${pk}/${dn}/rrpc/request/+`, the filter a device subscribes.
std::string request_filter(std::string_view pk, std::string_view dn);
std::string request_topic(std::string_view pk, std::string_view dn, std::string_view id);
std::string response_topic(std::string_view pk, std::string_view dn, std::string_view id);

// ---- Custom-topic RRPC (5.2); `custom` is a full topic with its leading '/' ----
// `/ext/rrpc/+${custom}`.
std::string custom_filter(std::string_view custom);
// `/ext/rrpc/${id}${custom}`: the request topic and the response topic at once.
std::string custom_topic(std::string_view id, std::string_view custom);

// The filters of a device answering RRPC: the system filter first, then `/ext/rrpc/+${topic}`
// for each custom topic (relative topics are under /${pk}/${dn}/). A custom topic outside the
// device's namespace or of a bad shape is Errc::usage naming the rule.
Result<std::vector<std::string>>
serve_filters(std::string_view pk, std::string_view dn, const std::vector<std::string>& custom);

// An incoming request as the device sees it.
struct Request {
  std::string id;          // the platform's messageId
  std::string reply_topic; // where the answer goes
  bool custom = false;     // custom-topic RRPC (request and reply on the same topic)
};

// The request a message on `topic` carries for device pk/dn, or nullopt when the topic is no RRPC
// request of that device.
std::optional<Request>
parse_request(std::string_view topic, std::string_view pk, std::string_view dn);

// The messageId of an answer on `topic` from device pk/dn (system response topic or custom-topic
// RRPC), or nullopt when the topic is no RRPC answer of that device.
std::optional<std::string>
parse_response(std::string_view topic, std::string_view pk, std::string_view dn);

// Runs `sh -c command` as the answerer of one request: `input` (the request payload) on its
// standard input, its standard output is the answer; the environment is `env` without the
// variables of secret settings (ALIOT_DEVICE_SECRET, ALIOT_PRODUCT_SECRET, ...), with
// ALIOT_RRPC_ID and ALIOT_RRPC_TOPIC set to the request's id and topic. Errors: Errc::io (cannot
// start it), Errc::timeout (it ran longer than `limit`, by default the platform's deadline, and was
// killed), Errc::remote (it failed or was killed by a signal), Errc::usage (its answer is over
// k_max_reply).
Result<std::string> run_command(const std::string& command,
                                const std::string& input,
                                const config::Env& env,
                                const Request& request,
                                std::string_view request_topic,
                                std::chrono::milliseconds limit = k_deadline);

} // namespace aliot::rrpc
