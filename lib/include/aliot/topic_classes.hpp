// A product's topic classes (its custom topics, "Topic classes" in the console): which topics
// under /${productKey}/${deviceName}/ a device may publish or subscribe to. The platform
// acknowledges (PUBACK) a publish to a topic of no class and drops it, so a mistyped topic
// "succeeds"; knowing the classes, `aliot pub --topic-classes FILE` can tell.
//
// The file: what QueryProductTopic returns (its whole JSON reply, its Data, or the list of
// ProductTopicInfo: {"TopicShortName":"/${productKey}/${deviceName}/user/update","Operation":"0"}
// with Operation 0 publish, 1 subscribe, 2 both; PUB, SUB, ALL accepted too), or plain text: one
// topic template a line, optionally followed by pub, sub or all (default all); blank lines and
// lines starting with '#' skipped. A template is absolute (/${productKey}/${deviceName}/user/get,
// or with the ProductKey written out) or relative to the device (user/get); '+' and '#' match as
// in MQTT.
#pragma once

#include <aliot/error.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace aliot::topic {

struct TopicClass {
  std::string name; // the template as the file gives it
  bool pub = true;  // devices may publish on it
  bool sub = true;  // devices may subscribe to it
};

// Errc::config naming `origin` (and the line or entry) for a file that is neither form.
Result<std::vector<TopicClass>> parse_classes(std::string_view text, std::string_view origin);
// Reads and parses a file of at most 1 MiB (Errc::config naming it).
Result<std::vector<TopicClass>> read_classes(const std::string& path);

// What the classes say of a publish on `full` (an expanded topic) by device pk/dn.
struct PublishCheck {
  enum class Verdict {
    not_a_class_topic, // outside /${pk}/${dn}/ (system topics): classes do not apply
    allowed,           // a class lets devices publish there
    no_class,          // no class matches: the platform drops the publish
    subscribe_only,    // only classes devices may subscribe to match: dropped as well
  };
  Verdict verdict = Verdict::not_a_class_topic;
  std::string matched; // the class for allowed and subscribe_only
  std::string nearest; // no_class: the publishable class closest in spelling, if one is close
};
PublishCheck check_publish(const std::vector<TopicClass>& classes,
                           std::string_view full,
                           std::string_view pk,
                           std::string_view dn);

} // namespace aliot::topic
