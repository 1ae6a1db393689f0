#include "stream_limits.hpp"

namespace aliot::cli {

Result<std::optional<std::regex>> check_stream_limits(const std::optional<long>& count,
                                                      const std::optional<double>& wait_s,
                                                      const std::optional<std::string>& until) {
  if (count && *count < 1) {
    return Error(Errc::usage, "-C must be at least 1");
  }
  if (wait_s && *wait_s <= 0) {
    return Error(Errc::usage, "-W must be a positive number of seconds");
  }
  std::optional<std::regex> re;
  if (until) {
    try {
      re.emplace(*until, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Error(Errc::usage,
                   "--until '" + *until + "' is not a valid regular expression: " + e.what());
    }
  }
  return re;
}

} // namespace aliot::cli
