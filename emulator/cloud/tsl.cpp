// The thing model (TSL) and its checks: see aliot/emu/tsl.hpp.
//
// Reply codes. The platform's "error codes for devices" page names 460 (empty data, a parameter
// format that is invalid, too many parameters); the TSL-check codes below (63xx, 6106) follow the
// numbering the platform's device logs use, but the stored documentation does not list them one
// by one: each is UNCONFIRMED and chosen here, kept in one place so a correction is one line.
#include <aliot/emu/tsl.hpp>

#include <cmath>
#include <cstdlib>

namespace aliot::emu::tsl {

namespace {

using json = nlohmann::json;

constexpr int k_bad_params = 460;      // documented: parameter format invalid
constexpr int k_too_many = 6106;       // UNCONFIRMED: more properties than one post may carry
constexpr int k_wrong_type = 6301;     // UNCONFIRMED: the value's JSON type does not fit dataType
constexpr int k_missing = 6302;        // UNCONFIRMED: a required parameter is missing
constexpr int k_unknown_member = 6304; // UNCONFIRMED: a struct member / parameter not in the TSL
constexpr int k_int_range = 6306;      // UNCONFIRMED: int outside min..max
constexpr int k_float_range = 6307;    // UNCONFIRMED: float outside min..max
constexpr int k_double_range = 6308;   // UNCONFIRMED: double outside min..max
constexpr int k_text_length = 6310;    // UNCONFIRMED: text longer than its length
constexpr int k_enum_value = 6311;     // UNCONFIRMED: enum value not defined
constexpr int k_bool_value = 6312;     // UNCONFIRMED: bool other than its 0/1
constexpr int k_date_value = 6313;     // UNCONFIRMED: date not a UTC millisecond timestamp
constexpr int k_unknown_id = 6321;     // UNCONFIRMED: identifier not in the thing model
constexpr int k_array_size = 6324;     // UNCONFIRMED: array longer than its size

Error bad(const std::string& what) {
  return Error(Errc::usage, "thing model: " + what,
               "give the TSL JSON the console exports (Product > Define Feature > Export)");
}

// Deepest [ / { nesting of a JSON text, strings skipped; stops counting past `limit`.
bool depth_within(std::string_view s, int limit) {
  int depth = 0;
  bool in_str = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_str = false;
      }
      continue;
    }
    if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) {
        return false;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::optional<double> number_of(const json& j) {
  if (j.is_number()) {
    return j.get<double>();
  }
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s.empty() || s.size() > 64) {
      return std::nullopt;
    }
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !std::isfinite(d)) {
      return std::nullopt;
    }
    return d;
  }
  return std::nullopt;
}

std::string str_of(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::shared_ptr<const Type>> parse_type(const json& dt, const std::string& where, int depth);

Result<std::vector<Field>> parse_fields(const json& list, const std::string& where, int depth) {
  std::vector<Field> out;
  if (list.is_null()) {
    return out;
  }
  if (!list.is_array()) {
    return bad(where + " is not a list");
  }
  for (const auto& f : list) {
    if (!f.is_object()) {
      return bad(where + " holds something other than an object");
    }
    Field field;
    field.id = str_of(f, "identifier");
    if (field.id.empty() || field.id.size() > 128) {
      return bad(where + " has a member without identifier (or one over 128 characters)");
    }
    auto req = f.find("required");
    field.required = req != f.end() && req->is_boolean() && req->get<bool>();
    auto dt = f.find("dataType");
    if (dt == f.end()) {
      return bad(where + "." + field.id + " has no dataType");
    }
    ALIOT_TRY_ASSIGN(auto t, parse_type(*dt, where + "." + field.id, depth + 1));
    field.type = std::move(t);
    out.push_back(std::move(field));
  }
  return out;
}

Result<std::shared_ptr<const Type>>
parse_type(const json& dt, const std::string& where, int depth) {
  if (depth > k_max_depth) {
    return bad(where + " nests too deep");
  }
  if (!dt.is_object()) {
    return bad(where + ".dataType is not an object");
  }
  auto t = std::make_shared<Type>();
  const std::string type = str_of(dt, "type");
  static const std::map<std::string, Kind> kinds{
      {"int", Kind::int_},  {"float", Kind::float_},   {"double", Kind::double_},
      {"text", Kind::text}, {"enum", Kind::enum_},     {"bool", Kind::bool_},
      {"date", Kind::date}, {"struct", Kind::struct_}, {"array", Kind::array}};
  auto k = kinds.find(type);
  if (k == kinds.end()) {
    return bad(where + " has dataType '" + type.substr(0, 32)
               + "' (int, float, double, text, enum, bool, date, struct or array)");
  }
  t->kind = k->second;
  static const json none = json::object();
  auto sp = dt.find("specs");
  const json& specs = sp != dt.end() ? *sp : none;
  switch (t->kind) {
  case Kind::int_:
  case Kind::float_:
  case Kind::double_: {
    if (!specs.is_object()) {
      return bad(where + ".specs is not an object");
    }
    for (const char* key : {"min", "max"}) {
      auto it = specs.find(key);
      if (it == specs.end() || (it->is_string() && it->get<std::string>().empty())) {
        continue;
      }
      auto n = number_of(*it);
      if (!n) {
        return bad(where + ".specs." + key + " is not a number");
      }
      (std::string(key) == "min" ? t->min : t->max) = *n;
    }
    if (t->min && t->max && *t->min > *t->max) {
      return bad(where + ".specs has min above max");
    }
    break;
  }
  case Kind::text: {
    if (specs.is_object() && specs.contains("length")) {
      auto n = number_of(specs["length"]);
      if (!n || *n < 1 || *n > 1e7) {
        return bad(where + ".specs.length is not a positive number");
      }
      t->length = static_cast<std::size_t>(*n);
    }
    break;
  }
  case Kind::enum_:
  case Kind::bool_: {
    if (!specs.is_object()) {
      return bad(where + ".specs is not an object of value: name");
    }
    for (const auto& [key, name] : specs.items()) {
      char* end = nullptr;
      const long long v = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || key.size() > 18) {
        return bad(where + ".specs has the value '" + key.substr(0, 32) + "', not an integer");
      }
      t->values.insert(v);
    }
    if (t->kind == Kind::bool_ && t->values.empty()) {
      t->values = {0, 1};
    }
    break;
  }
  case Kind::date: break;
  case Kind::struct_: {
    ALIOT_TRY_ASSIGN(auto members, parse_fields(specs.is_array() ? specs : json(), where, depth));
    t->members = std::move(members);
    break;
  }
  case Kind::array: {
    if (!specs.is_object() || !specs.contains("item")) {
      return bad(where + ".specs has no item");
    }
    auto n = specs.contains("size") ? number_of(specs["size"]) : std::optional<double>(512);
    if (!n || *n < 1 || *n > 100000) {
      return bad(where + ".specs.size is not a positive number");
    }
    t->size = static_cast<std::size_t>(*n);
    ALIOT_TRY_ASSIGN(auto item, parse_type(specs["item"], where + "[]", depth + 1));
    t->item = std::move(item);
    break;
  }
  }
  return std::shared_ptr<const Type>(std::move(t));
}

std::string num_text(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  std::string s = std::to_string(d);
  while (!s.empty() && s.back() == '0') {
    s.pop_back();
  }
  return s;
}

Verdict fail(int code, std::string message) {
  return {code, std::move(message)};
}

Verdict check_range(const Type& t, double v, int code, const std::string& path) {
  if ((t.min && v < *t.min) || (t.max && v > *t.max)) {
    return fail(code, "tsl parse: " + std::string(kind_name(t.kind)) + " value of " + path
                          + " is out of range [" + (t.min ? num_text(*t.min) : "") + ", "
                          + (t.max ? num_text(*t.max) : "") + "]");
  }
  return {};
}

Verdict check_fields(const std::vector<Field>& fields, const json& v, const std::string& path) {
  if (!v.is_object()) {
    return fail(k_wrong_type, "tsl parse: " + path + " is not an object");
  }
  for (const auto& [key, val] : v.items()) {
    const Field* f = nullptr;
    for (const auto& c : fields) {
      if (c.id == key) {
        f = &c;
        break;
      }
    }
    if (f == nullptr) {
      return fail(k_unknown_member, "tsl parse: " + (path.empty() ? "" : path + ".") + key
                                        + " is not defined in the thing model");
    }
    auto r = check_value(*f->type, val, path.empty() ? key : path + "." + key);
    if (!r.ok()) {
      return r;
    }
  }
  for (const auto& f : fields) {
    if (f.required && !v.contains(f.id)) {
      return fail(k_missing, "tsl parse: required parameter " + (path.empty() ? "" : path + ".")
                                 + f.id + " is missing");
    }
  }
  return {};
}

} // namespace

std::string_view kind_name(Kind k) {
  switch (k) {
  case Kind::int_: return "int";
  case Kind::float_: return "float";
  case Kind::double_: return "double";
  case Kind::text: return "text";
  case Kind::enum_: return "enum";
  case Kind::bool_: return "bool";
  case Kind::date: return "date";
  case Kind::struct_: return "struct";
  case Kind::array: return "array";
  }
  return "?";
}

std::optional<json> parse_json(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes || !depth_within(text, k_max_depth)) {
    return std::nullopt;
  }
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  return j;
}

Result<Model> parse(std::string_view text) {
  if (text.size() > k_max_tsl_bytes) {
    return bad("the file is larger than 1 MiB");
  }
  if (!depth_within(text, k_max_depth)) {
    return bad("JSON nested deeper than " + std::to_string(k_max_depth));
  }
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return bad("not a JSON object (or not UTF-8)");
  }
  Model m;
  if (auto p = j.find("properties"); p != j.end()) {
    ALIOT_TRY_ASSIGN(auto props, parse_fields(*p, "properties", 0));
    for (auto& f : props) {
      std::string id = f.id;
      if (!m.properties.emplace(id, std::move(f)).second) {
        return bad("property " + id + " is defined twice");
      }
    }
  }
  if (auto e = j.find("events"); e != j.end()) {
    if (!e->is_array()) {
      return bad("events is not a list");
    }
    for (const auto& ev : *e) {
      if (!ev.is_object() || str_of(ev, "identifier").empty()) {
        return bad("an event has no identifier");
      }
      Event out{str_of(ev, "identifier"), {}};
      if (const auto t = str_of(ev, "type"); t == "alert" || t == "error") {
        out.type = t;
      }
      auto od = ev.find("outputData");
      ALIOT_TRY_ASSIGN(auto fields,
                       parse_fields(od != ev.end() ? *od : json(), "events." + out.id, 0));
      out.output = std::move(fields);
      m.events[out.id] = std::move(out);
    }
  }
  if (auto s = j.find("services"); s != j.end()) {
    if (!s->is_array()) {
      return bad("services is not a list");
    }
    for (const auto& sv : *s) {
      if (!sv.is_object() || str_of(sv, "identifier").empty()) {
        return bad("a service has no identifier");
      }
      Service out;
      out.id = str_of(sv, "identifier");
      out.sync = str_of(sv, "callType") == "sync";
      auto in = sv.find("inputData");
      ALIOT_TRY_ASSIGN(auto input,
                       parse_fields(in != sv.end() ? *in : json(), "services." + out.id, 0));
      auto od = sv.find("outputData");
      ALIOT_TRY_ASSIGN(auto output,
                       parse_fields(od != sv.end() ? *od : json(), "services." + out.id, 0));
      out.input = std::move(input);
      out.output = std::move(output);
      m.services[out.id] = std::move(out);
    }
  }
  return m;
}

Verdict check_value(const Type& t, const json& v, const std::string& path) {
  const std::string kind(kind_name(t.kind));
  auto wrong = [&] {
    return fail(k_wrong_type,
                "tsl parse: " + path + " is not of the thing model's dataType " + kind);
  };
  switch (t.kind) {
  case Kind::int_:
    if (!v.is_number_integer()) {
      return wrong();
    }
    return check_range(t, v.get<double>(), k_int_range, path);
  case Kind::float_:
  case Kind::double_:
    if (!v.is_number()) {
      return wrong();
    }
    return check_range(t, v.get<double>(), t.kind == Kind::float_ ? k_float_range : k_double_range,
                       path);
  case Kind::text: {
    if (!v.is_string()) {
      return wrong();
    }
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > t.length) {
      return fail(k_text_length, "tsl parse: text value of " + path + " is longer than "
                                     + std::to_string(t.length) + " bytes");
    }
    return {};
  }
  case Kind::enum_:
  case Kind::bool_:
    if (!v.is_number_integer()) {
      return wrong();
    }
    if (t.values.count(v.get<long long>()) == 0) {
      return fail(t.kind == Kind::enum_ ? k_enum_value : k_bool_value,
                  "tsl parse: " + kind + " value of " + path + " is not one the thing model "
                      + "defines");
    }
    return {};
  case Kind::date: {
    bool ok = v.is_number_unsigned();
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      ok = !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
    }
    if (!ok) {
      return fail(k_date_value,
                  "tsl parse: date value of " + path + " is not a UTC timestamp in milliseconds");
    }
    return {};
  }
  case Kind::struct_: return check_fields(t.members, v, path);
  case Kind::array: {
    if (!v.is_array()) {
      return wrong();
    }
    if (v.size() > t.size) {
      return fail(k_array_size, "tsl parse: array " + path + " has more than "
                                    + std::to_string(t.size) + " elements");
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto r = check_value(*t.item, v[i], path + "[" + std::to_string(i) + "]");
      if (!r.ok()) {
        return r;
      }
    }
    return {};
  }
  }
  return wrong();
}

namespace {

// {"value": v, "time": t} (the extended form of a property post), else nullptr.
const json* extended_value(const json& v) {
  if (!v.is_object() || !v.contains("value")) {
    return nullptr;
  }
  for (const auto& [k, x] : v.items()) {
    if (k != "value" && k != "time") {
      return nullptr;
    }
  }
  return &v["value"];
}

} // namespace

Verdict check_properties(const Model* model, const json& params) {
  if (!params.is_object()) {
    return fail(k_bad_params, "request parameter error: params is not an object");
  }
  if (params.size() > k_max_props_per_post) {
    return fail(k_too_many, "request parameter error: more than "
                                + std::to_string(k_max_props_per_post) + " properties");
  }
  if (model == nullptr) {
    return {};
  }
  for (const auto& [key, v] : params.items()) {
    auto p = model->properties.find(key);
    if (p == model->properties.end()) {
      return fail(k_unknown_id,
                  "tsl parse: property " + key + " is not defined in the thing " + "model");
    }
    const json* inner =
        p->second.type->kind == Kind::struct_ && !v.contains("time") ? &v : extended_value(v);
    auto r = check_value(*p->second.type, inner != nullptr ? *inner : v, key);
    if (!r.ok()) {
      return r;
    }
  }
  return {};
}

Verdict check_params(const std::vector<Field>* fields, const json& params) {
  if (!params.is_object()) {
    return fail(k_bad_params, "request parameter error: params is not an object");
  }
  if (fields == nullptr) {
    return {};
  }
  return check_fields(*fields, params, "");
}

json normalize_items(const json& params, long long now_ms) {
  json out = json::object();
  if (!params.is_object()) {
    return out;
  }
  for (const auto& [key, v] : params.items()) {
    const json* inner = extended_value(v);
    long long t = now_ms;
    if (inner != nullptr) {
      auto it = v.find("time");
      if (it != v.end() && it->is_number_integer()) {
        t = it->get<long long>();
      }
    }
    out[key] = {{"value", inner != nullptr ? *inner : v}, {"time", t}};
  }
  return out;
}

std::optional<Request> parse_request(std::string_view payload) {
  auto j = parse_json(payload, 256 * 1024);
  if (!j || !j->is_object()) {
    return std::nullopt;
  }
  Request r;
  auto id = j->find("id");
  if (id != j->end()) {
    if (id->is_string()) {
      // Echoed whole in the _reply: the official Node SDK's ids are "N|exp-topic|<reply topic>"
      // (well past 64 characters) and its callbacks match the whole id. The documented id is a
      // number as text, but the platform answers the SDK, so the emulator bounds the id only
      // loosely (the payload itself is bounded above).
      r.id = id->get<std::string>().substr(0, 4096);
    } else if (id->is_number_integer()) {
      r.id = std::to_string(id->get<long long>());
    }
  }
  r.method = str_of(*j, "method").substr(0, 256);
  auto p = j->find("params");
  r.params = p != j->end() ? *p : json();
  auto sys = j->find("sys");
  if (sys != j->end() && sys->is_object()) {
    auto ack = sys->find("ack");
    if (ack != sys->end() && ack->is_number_integer() && ack->get<long long>() == 0) {
      r.ack = false;
    }
  }
  return r;
}

} // namespace aliot::emu::tsl
