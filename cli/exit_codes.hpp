// The one exit-code table of the command line (spec/cli.md "Exit codes"): the man page's
// EXIT STATUS section and the policy test both read it. Codes and names come from lib's Errc
// (exit_status, errc_name); only the prose lives here.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace aliot::cli {

struct ExitCodeDoc {
  std::optional<Errc> errc; // nullopt: success (0)
  std::string_view meaning;

  int code() const { return errc ? exit_status(*errc) : 0; }
  std::string_view name() const { return errc ? errc_name(*errc) : std::string_view("ok"); }
};

// In ascending order of code: 0 ok, then every Errc exactly once.
std::span<const ExitCodeDoc> exit_codes();

} // namespace aliot::cli
