#include <aliot/config.hpp>
#include <aliot/encoding.hpp>
#include <aliot/topic.hpp>
#include <aliot/topic_classes.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

namespace aliot::topic {

namespace {

using nlohmann::json;

Error bad_file(std::string_view origin, const std::string& why) {
  return Error(Errc::config, std::string(origin) + ": " + why,
               "give QueryProductTopic's JSON reply (or its Data list), or one topic template a "
               "line with pub, sub or all after it");
}

// Operation of ProductTopicInfo: 0 publish, 1 subscribe, 2 both (as a string or a number), or
// PUB / SUB / ALL as other Aliyun tools write it.
bool set_access(TopicClass& c, std::string_view op) {
  const std::string o = enc::to_lower(enc::trim(op));
  if (o == "0" || o == "pub") {
    c.pub = true;
    c.sub = false;
  } else if (o == "1" || o == "sub") {
    c.pub = false;
    c.sub = true;
  } else if (o == "2" || o == "all") {
    c.pub = c.sub = true;
  } else {
    return false;
  }
  return true;
}

Result<std::vector<TopicClass>> from_json(const json& doc, std::string_view origin) {
  const json* list = &doc;
  if (list->is_object() && list->contains("Data")) {
    list = &(*list)["Data"];
  }
  if (list->is_object() && list->contains("ProductTopicInfo")) {
    list = &(*list)["ProductTopicInfo"];
  }
  if (!list->is_array()) {
    return bad_file(origin, "no list of topic classes (Data.ProductTopicInfo) in this JSON");
  }
  std::vector<TopicClass> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    TopicClass c;
    if (e.is_string()) {
      c.name = e.get<std::string>();
    } else if (e.is_object() && e.contains("TopicShortName") && e["TopicShortName"].is_string()) {
      c.name = e["TopicShortName"].get<std::string>();
      if (e.contains("Operation")) {
        const json& op = e["Operation"];
        const std::string v = op.is_string()   ? op.get<std::string>()
                              : op.is_number() ? op.dump()
                                               : std::string("?");
        if (!set_access(c, v)) {
          return bad_file(origin, "entry " + std::to_string(i + 1) + ": Operation '"
                                      + enc::printable(v) + "' is not 0, 1 or 2");
        }
      }
    } else {
      return bad_file(origin, "entry " + std::to_string(i + 1) + " has no TopicShortName");
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<TopicClass>> from_lines(std::string_view text, std::string_view origin) {
  std::vector<TopicClass> out;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string_view l = enc::trim(line);
    if (l.empty() || l.front() == '#') {
      continue;
    }
    const auto blank = l.find_first_of(" \t");
    TopicClass c;
    c.name = std::string(l.substr(0, blank));
    if (blank != std::string_view::npos && !set_access(c, l.substr(blank))) {
      return bad_file(origin, "line " + std::to_string(n) + ": '"
                                  + enc::printable(enc::trim(l.substr(blank)))
                                  + "' after the topic is not pub, sub or all");
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Edit distance, for "did you mean" (topics are at most 128 bytes).
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

} // namespace

Result<std::vector<TopicClass>> parse_classes(std::string_view text, std::string_view origin) {
  std::string_view t = text;
  if (t.starts_with("\xEF\xBB\xBF")) { // a UTF-8 BOM, as Windows editors write
    t.remove_prefix(3);
  }
  t = enc::trim(t);
  if (!enc::is_valid_utf8(text)) {
    return bad_file(origin, "is not UTF-8 text");
  }
  if (!t.empty() && (t.front() == '{' || t.front() == '[')) {
    const json doc = json::parse(t, nullptr, false);
    if (doc.is_discarded()) {
      return bad_file(origin, "is not valid JSON");
    }
    return from_json(doc, origin);
  }
  return from_lines(t, origin);
}

Result<std::vector<TopicClass>> read_classes(const std::string& path) {
  const std::string origin = "--topic-classes " + path;
  ALIOT_TRY_ASSIGN(auto text, config::read_text_file(path, origin));
  return parse_classes(text, origin);
}

PublishCheck check_publish(const std::vector<TopicClass>& classes,
                           std::string_view full,
                           std::string_view pk,
                           std::string_view dn) {
  PublishCheck r;
  const std::string own = "/" + std::string(pk) + "/" + std::string(dn) + "/";
  if (!full.starts_with(own)) {
    return r;
  }
  r.verdict = PublishCheck::Verdict::no_class;
  std::size_t best = 4; // a class at most 3 edits away is worth naming
  for (const auto& c : classes) {
    const std::string t = expand(c.name, pk, dn);
    if (matches(t, full)) {
      if (c.pub) {
        r.verdict = PublishCheck::Verdict::allowed;
        r.matched = c.name;
        return r;
      }
      r.verdict = PublishCheck::Verdict::subscribe_only;
      r.matched = c.name;
    } else if (c.pub && r.verdict == PublishCheck::Verdict::no_class) {
      if (const auto d = distance(t, full); d < best) {
        best = d;
        r.nearest = c.name;
      }
    }
  }
  if (r.verdict != PublishCheck::Verdict::no_class) {
    r.nearest.clear();
  }
  return r;
}

} // namespace aliot::topic
