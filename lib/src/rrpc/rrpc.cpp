#include <aliot/rrpc.hpp>

namespace aliot::rrpc {

namespace {

constexpr std::string_view k_ext_prefix = "/ext/rrpc/";

std::string sys_prefix(std::string_view pk, std::string_view dn, std::string_view kind) {
  std::string s = "/sys/";
  s.append(pk).append("/").append(dn).append("/rrpc/").append(kind).append("/");
  return s;
}

// The id of `/ext/rrpc/${id}/...`: one non-empty level followed by the custom topic.
std::optional<std::string> custom_id(std::string_view topic) {
  if (!topic.starts_with(k_ext_prefix)) {
    return std::nullopt;
  }
  const auto rest = topic.substr(k_ext_prefix.size());
  const auto slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == rest.size()) {
    return std::nullopt;
  }
  return std::string(rest.substr(0, slash));
}

// The last level after `prefix`: non-empty and without '/'.
std::optional<std::string> id_after(std::string_view topic, const std::string& prefix) {
  if (!topic.starts_with(prefix)) {
    return std::nullopt;
  }
  const auto id = topic.substr(prefix.size());
  if (id.empty() || id.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(id);
}

} // namespace

std::string request_filter(std::string_view pk, std::string_view dn) {
  return sys_prefix(pk, dn, "request") + "+";
}

std::string request_topic(std::string_view pk, std::string_view dn, std::string_view id) {
  return sys_prefix(pk, dn, "request").append(id);
}

std::string response_topic(std::string_view pk, std::string_view dn, std::string_view id) {
  return sys_prefix(pk, dn, "response").append(id);
}

std::string custom_filter(std::string_view custom) {
  return custom_topic("+", custom);
}

std::string custom_topic(std::string_view id, std::string_view custom) {
  std::string s(k_ext_prefix);
  s.append(id).append(custom);
  return s;
}

Result<std::vector<std::string>>
serve_filters(std::string_view pk, std::string_view dn, const std::vector<std::string>& custom) {
  std::vector<std::string> filters{request_filter(pk, dn)};
  for (const auto& c : custom) {
    const std::string t = topic::expand(c, pk, dn);
    ALIOT_TRY(topic::validate(t, topic::Use::subscribe, pk, dn));
    filters.push_back(custom_filter(t));
  }
  return filters;
}

std::optional<Request>
parse_request(std::string_view topic, std::string_view pk, std::string_view dn) {
  if (auto id = id_after(topic, sys_prefix(pk, dn, "request"))) {
    Request r;
    r.reply_topic = response_topic(pk, dn, *id);
    r.id = std::move(*id);
    return r;
  }
  if (auto id = custom_id(topic)) {
    Request r;
    r.id = std::move(*id);
    r.reply_topic = std::string(topic); // custom-topic RRPC answers on the identical topic
    r.custom = true;
    return r;
  }
  return std::nullopt;
}

std::optional<std::string>
parse_response(std::string_view topic, std::string_view pk, std::string_view dn) {
  if (auto id = id_after(topic, sys_prefix(pk, dn, "response"))) {
    return id;
  }
  return custom_id(topic);
}

} // namespace aliot::rrpc
