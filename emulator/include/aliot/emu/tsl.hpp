// A product's thing model (TSL, the console's JSON export) and the checks the platform makes on
// Alink requests against it (docs/protocol.md, "Thing model (Alink)"). Everything here reads
// untrusted bytes: inputs are bounded in size and nesting before they are parsed, and a value
// that does not fit is a verdict (code + message), never an exception.
#pragma once

#include <aliot/error.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::emu::tsl {

constexpr std::size_t k_max_tsl_bytes = 1024 * 1024; // a TSL file
constexpr int k_max_depth = 32;                      // JSON nesting, TSL and requests
constexpr std::size_t k_max_props_per_post = 200;    // properties in one post (code 6106)
constexpr std::size_t k_default_text_length = 10240;

enum class Kind { int_, float_, double_, text, enum_, bool_, date, struct_, array };

struct Type;

struct Field {
  std::string id;
  bool required = false;
  std::shared_ptr<const Type> type;
};

struct Type {
  Kind kind = Kind::text;
  std::optional<double> min, max;
  std::size_t length = k_default_text_length; // text
  std::set<long long> values;                 // enum, bool
  std::vector<Field> members;                 // struct
  std::size_t size = 0;                       // array: most elements
  std::shared_ptr<const Type> item;           // array
};

struct Event {
  std::string id;
  std::vector<Field> output;
  std::string type = "info"; // the TSL's "type": info, alert or error
};

struct Service {
  std::string id;
  bool sync = false; // callType "sync"
  std::vector<Field> input, output;
};

struct Model {
  std::map<std::string, Field> properties;
  std::map<std::string, Event> events;
  std::map<std::string, Service> services;
};

std::string_view kind_name(Kind k); // "int", "float", ... as the TSL spells it

// Parses a TSL export: Errc::usage naming what is wrong (too big, too deep, not JSON, a
// property without identifier or with an unknown dataType, bad specs).
Result<Model> parse(std::string_view text);

// JSON from outside: nullopt when larger than `max_bytes`, nested deeper than k_max_depth,
// not JSON or not valid UTF-8.
std::optional<nlohmann::json> parse_json(std::string_view text, std::size_t max_bytes);

// The outcome of a check: the code the platform puts in the reply (200 = accepted).
struct Verdict {
  int code = 200;
  std::string message = "success";
  bool ok() const { return code == 200; }
};

// One value against its type; `path` names it in the message.
Verdict check_value(const Type& t, const nlohmann::json& v, const std::string& path);

// thing.event.property.post params ({"Id": value} or {"Id": {"value": v, "time": ms}}): with no
// model, any object is accepted; with one, every identifier must be a property and every value
// fit its type.
Verdict check_properties(const Model* model, const nlohmann::json& params);

// Event output / service input params: an object; each key a declared field fitting its type,
// each required field present. With `fields` unknown (no model) anything is accepted.
Verdict check_params(const std::vector<Field>* fields, const nlohmann::json& params);

// A property post's params as {"Id": {"value": v, "time": ms}} (the time `now_ms` when absent).
nlohmann::json normalize_items(const nlohmann::json& params, long long now_ms);

// An Alink request as a device sends it: {"id": "...", "version", "params", "method", "sys"}.
struct Request {
  std::string id; // the request's id (a number is taken as its decimal text)
  std::string method;
  nlohmann::json params;
  bool ack = true; // sys.ack (0 = the device wants no reply)
};
std::optional<Request> parse_request(std::string_view payload);

} // namespace aliot::emu::tsl
