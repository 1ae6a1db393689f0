// The thing model (Alink JSON, docs/protocol.md): properties, events and services of a device,
// its clock (NTP) and the cloud's OpenAPI actions on them.
//
// Device side: the topics under /sys/${pk}/${dn}/thing/, the request every post sends
// ({"id","version":"1.0","params","sys":{"ack"},"method"}), the reply the platform answers on
// `${topic}_reply` ({"id","code","data","message"}), the flows over a connected mqtt::Session
// (post and wait for the reply of that id; NTP; serving property/set and services, async on
// thing/service/${NAME} and sync over RRPC). Everything received is untrusted: bounded, parsed
// without exceptions, invalid UTF-8 is an error, never a crash.
//
// Errors (Errc): a reply whose code is not 200 is Errc::remote carrying the platform's code and
// message; no reply by the deadline is Errc::timeout; a malformed reply is Errc::remote; bad
// K=V pairs, --params JSON or identifiers are Errc::usage.
#pragma once

#include <aliot/config.hpp>
#include <aliot/error.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/openapi.hpp>
#include <aliot/topic.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::thing {

inline constexpr const char* k_version = "1.0";
inline constexpr int k_code_ok = 200;
// A message of the thing model is an ordinary message: the platform's payload limit applies.
inline constexpr std::size_t k_max_message = topic::k_max_payload;
// How long a device waits for a `_reply` unless told otherwise.
inline constexpr std::chrono::seconds k_reply_wait{10};
// TSL identifiers: letters, digits and '_', at most 50 characters (console rule).
inline constexpr std::size_t k_max_identifier = 50;
// The name `thing serve` uses for the property-set downlink (no identifier contains '/').
inline constexpr const char* k_property_set = "property/set";

// ---- Topics and methods ----
std::string property_post_topic(std::string_view pk, std::string_view dn);
std::string event_post_topic(std::string_view pk, std::string_view dn, std::string_view event);
std::string property_set_topic(std::string_view pk, std::string_view dn);
std::string service_topic(std::string_view pk, std::string_view dn, std::string_view service);
// `topic` + "_reply".
std::string reply_topic_of(std::string_view topic);
std::string ntp_request_topic(std::string_view pk, std::string_view dn);
// thing/event/property/batch/post, thing/property/desired/get, thing/property/desired/delete.
std::string property_batch_post_topic(std::string_view pk, std::string_view dn);
std::string desired_get_topic(std::string_view pk, std::string_view dn);
std::string desired_delete_topic(std::string_view pk, std::string_view dn);
std::string ntp_response_topic(std::string_view pk, std::string_view dn);

// "thing.event.property.post", "thing.event.${event}.post".
std::string property_post_method();
std::string event_post_method(std::string_view event);
// "thing.event.property.batch.post", "thing.property.desired.get",
// "thing.property.desired.delete".
std::string property_batch_post_method();
std::string desired_get_method();
std::string desired_delete_method();

// Errc::usage naming `what` ("event", "service", "property") for an identifier that is empty,
// longer than 50 characters or holds anything but letters, digits and '_'.
Result<void> check_identifier(std::string_view name, std::string_view what);

// ---- Params ----
// `K=V` pairs into a JSON object's text. V is JSON when it parses as JSON (21.5, 1, true, null,
// "quoted", {"a":1}, [1,2]), else a string (on, hello world). K must be an identifier; a key twice
// is Errc::usage.
Result<std::string> params_from_pairs(const std::vector<std::string>& pairs);
// JSON text that must be an object (`origin` names where it came from, e.g. "--params").
// Returns it compacted. Errc::usage when it is not JSON or not an object.
Result<std::string> params_from_json(std::string_view text, std::string_view origin);
// Merges `extra` (object text) into `base` (object text); a key in both is Errc::usage.
Result<std::string> merge_params(std::string_view base, std::string_view extra);
// The params of a desired get: the identifiers as a JSON list (["Temp","Power"]; [] asks for all
// of them). A bad identifier or one given twice is Errc::usage.
Result<std::string> desired_get_params(const std::vector<std::string>& ids);
// The params of a desired delete from `ID` or `ID=VERSION` (VERSION a non-negative integer):
// {"ID":{}} or {"ID":{"version":N}}. None, a bad identifier or version, or an ID twice is
// Errc::usage.
Result<std::string> desired_delete_params(const std::vector<std::string>& specs);
// Checks the params object of a batch post (JSON object text) and returns it compacted:
// {"properties": {"Id": [{"value": v, "time": ms}...]}, "events": {"Id": [{"value": {...},
// "time": ms}...]}}, at least one of the two, nothing else beside them, every point an object
// with a "value" and an optional integer "time". Errc::usage naming what does not fit.
Result<std::string> batch_params(std::string_view params);

// A message id: the decimal text of a random number in 1..4294967295 (the platform's range).
std::string new_id();

// ---- Device requests and the platform's replies ----
struct Request {
  std::string id;
  std::string method;
  std::string params = "{}"; // JSON text (object)
  bool ack = true;           // sys.ack: 1 asks for a _reply, 0 fire and forget
};
// {"id","version":"1.0","params",...,"sys":{"ack":0|1},"method"} (compact JSON).
std::string request_payload(const Request& r);

struct Reply {
  std::string id;
  int code = 0;
  std::string message; // may be empty
  std::string data = "{}";
  std::string method; // may be empty
};
// A reply's payload. Errc::remote when it is over k_max_message, not valid UTF-8 JSON, not an
// object, or has no numeric-ish code ("code": 200 or "200").
Result<Reply> parse_reply(std::string_view payload);
// 200 is ok; any other code is Errc::remote "`what` refused: code C: MESSAGE" with a hint for the
// codes the platform documents (460 bad params, 6xxx thing-model errors).
Result<void> check_reply(const Reply& reply, std::string_view what);

// What post() did: the topic and bytes it published, the reply when it waited for one.
struct PostResult {
  std::string topic;
  std::string payload;
  Request request;
  std::optional<Reply> reply;
};
// Publishes `request` on `topic` over the connected session (QoS `qos`). With request.ack it
// first subscribes to `${topic}_reply` and then waits for the reply carrying the request's id
// (other messages are skipped); Errc::timeout when none came by `deadline`. The reply's code is
// not checked here (check_reply).
Result<PostResult> post(mqtt::Session& session,
                        const std::string& topic,
                        Request request,
                        int qos,
                        mqtt::Deadline deadline);

// ---- NTP (/ext/ntp/${pk}/${dn}/request → .../response) ----
struct NtpTimes {
  std::int64_t device_send = 0; // ms since the epoch, the device's clock
  std::int64_t server_recv = 0; // the server's clock
  std::int64_t server_send = 0;
  std::int64_t device_recv = 0;
};
struct ClockOffset {
  double offset_ms = 0;     // server clock minus device clock
  double round_trip_ms = 0; // time on the wire, the server's processing taken out
};
// {"deviceSendTime":"<ms>"}.
std::string ntp_request_payload(std::int64_t device_send_ms);
// The times of a response (strings or numbers); device_recv is filled from the argument.
// Errc::remote when it is malformed.
Result<NtpTimes> parse_ntp_response(std::string_view payload, std::int64_t device_recv_ms);
// offset = ((serverRecv - deviceSend) + (serverSend - deviceRecv)) / 2,
// round trip = (deviceRecv - deviceSend) - (serverSend - serverRecv).
ClockOffset clock_offset(const NtpTimes& t);
// Subscribes to the response topic, sends a request and waits for the response that carries its
// deviceSendTime. Errc::timeout at the deadline.
Result<NtpTimes>
ntp(mqtt::Session& session, std::string_view pk, std::string_view dn, mqtt::Deadline deadline);

// ---- Serving the cloud's requests (the device answers) ----
struct Incoming {
  std::string name;  // the service identifier, or k_property_set
  bool sync = false; // over RRPC (answered on /sys/.../rrpc/response/${messageId})
  std::string id;    // the Alink id of the request
  std::string method;
  std::string params = "{}"; // JSON text
  std::string topic;
  std::string reply_topic;
  std::string payload; // the request as received
};
// What a server subscribes to: /sys/${pk}/${dn}/thing/service/property/set,
// /sys/${pk}/${dn}/thing/service/+ and /sys/${pk}/${dn}/rrpc/request/+.
std::vector<std::string> serve_filters(std::string_view pk, std::string_view dn);
// The request a message carries: nullopt when the topic is none of the device's thing-model
// requests (a `_reply`, another device, a plain RRPC request that is not Alink), Errc::remote
// when it is one but its payload is malformed.
Result<std::optional<Incoming>> parse_incoming(std::string_view topic,
                                               std::string_view payload,
                                               std::string_view pk,
                                               std::string_view dn);

struct Answer {
  int code = k_code_ok;
  std::string data = "{}"; // JSON text
  std::string message;     // empty: "success" for 200
};
// An answer from text: a JSON object with a numeric "code" is the answer itself
// ({"code","data","message"}); any other JSON is the data. Errc::usage when it is not JSON.
Result<Answer> answer_from_json(std::string_view text, std::string_view origin);
// {"id","code","data","message","version":"1.0"} (compact JSON).
std::string reply_payload(const Incoming& request, const Answer& answer);
// Runs `sh -c command` for one request: the request payload on its stdin, its stdout the answer
// (answer_from_json; empty output is {}); ALIOT_THING_NAME, ALIOT_THING_ID and
// ALIOT_THING_SYNC (1|0) in its environment, secret variables left out. Errc::timeout when it runs
// past `limit` (killed), Errc::remote when it fails.
Result<Answer> run_handler(const std::string& command,
                           const Incoming& request,
                           const config::Env& env,
                           std::chrono::milliseconds limit);

// What the serve loop reports: ready (subscribed; topic holds the filters, comma-separated),
// then per request: request (parsed), reply (sent), echo (the property post after a
// property/set), or error (no reply sent, or a message that could not be parsed: request is null
// then).
struct ServeEvent {
  enum class Kind { ready, request, reply, echo, error };
  Kind kind = Kind::request;
  const Incoming* request = nullptr;
  std::string topic;
  std::string payload; // reply/echo: what was published
  std::string error;
};
struct ServeOptions {
  // Answers a request; an error is reported and no reply is sent.
  std::function<Result<Answer>(const Incoming&)> handle;
  std::function<void(const ServeEvent&)> report;
  // After a property/set answered 200, post its params back as the device's properties
  // (thing.event.property.post with sys.ack 0): what the cloud then reads as the status.
  bool echo_property_set = true;
  std::chrono::milliseconds publish_timeout{10000};
  mqtt::RunOptions run;
  std::optional<long> count; // stop after this many requests
};
// Subscribes to serve_filters() on the connected session and answers requests until the count,
// the deadline (Errc::timeout) or the interrupt (Errc::interrupted). A failed publish other than a
// lost connection ends the loop with its error.
Result<void> serve(mqtt::Session& session,
                   std::string_view pk,
                   std::string_view dn,
                   const ServeOptions& options,
                   mqtt::Deadline subscribe_deadline,
                   long* served = nullptr);

// ---- Cloud side (OpenAPI actions of the thing model) ----
namespace cloud {

struct Device {
  std::string product_key;
  std::string device_name;
};

openapi::Params set_property_params(const Device& d, std::string_view items_json);
openapi::Params property_status_params(const Device& d);
struct Window {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  int page_size = 10;
  bool ascending = false;
};
openapi::Params property_data_params(const Device& d, std::string_view identifier, const Window& w);
openapi::Params
invoke_params(const Device& d, std::string_view identifier, std::string_view args_json);
openapi::Params event_data_params(const Device& d,
                                  std::string_view identifier,
                                  const Window& w,
                                  std::string_view event_type);
struct Broadcast {
  std::string product_key;
  std::string payload;              // raw bytes (Base64 on the wire)
  std::optional<std::string> topic; // TopicFullName (/broadcast/${pk}/...)
};
openapi::Params broadcast_params(const Broadcast& b);

struct MessageIdResult {
  std::string message_id;
  std::string request_id;
};
// SetDeviceProperty, PubBroadcast: Data.MessageId or MessageId.
Result<MessageIdResult> parse_message_id(std::string_view body);

struct PropertyStatus {
  std::string identifier;
  std::string name;
  std::string value; // as the platform gives it (text)
  std::string time;  // ms since the epoch (text)
  std::string data_type;
  std::string unit;
  bool reported = false; // a Value is there (the platform lists the TSL's unreported ones too)
};
Result<std::vector<PropertyStatus>> parse_property_status(std::string_view body);

struct Record {
  std::string time;
  std::string value;      // property history: the value; events: OutputData
  std::string identifier; // events
  std::string name;       // events
  std::string event_type; // events
};
struct Page {
  std::vector<Record> records;
  bool next_valid = false;
  std::string next_time;
};
Result<Page> parse_property_data(std::string_view body);
Result<Page> parse_event_data(std::string_view body);

struct InvokeResult {
  std::string message_id;
  std::optional<std::string> result; // Data.Result: the device's data (sync services)
  std::string request_id;
};
Result<InvokeResult> parse_invoke(std::string_view body);

} // namespace cloud

} // namespace aliot::thing
