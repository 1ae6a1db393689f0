// The stop rules of the streaming commands (`sub`, `cloud sub`): -C N, -W SECONDS, --until REGEX,
// checked once for both so they mean and say the same.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <regex>
#include <string>

namespace aliot::cli {

// Errc::usage for -C below 1, a -W that is not positive, or an --until that is not an ECMAScript
// regular expression; the compiled --until otherwise.
Result<std::optional<std::regex>> check_stream_limits(const std::optional<long>& count,
                                                      const std::optional<double>& wait_s,
                                                      const std::optional<std::string>& until);

} // namespace aliot::cli
