// Shared checks for aliot's fuzz targets: what every parser of outside bytes promises.
#pragma once

#include <aliot/encoding.hpp>
#include <aliot/error.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace aliot::fuzz {

// Stops the run with a message libFuzzer shows next to the crashing input.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "aliot fuzz: broken promise: %s\n", what);
  std::abort();
}

// An error that reaches a person (stderr, a JSON error line, the journal) is text: it must be
// valid UTF-8 whatever bytes the peer sent, so printing it can never fail or garble a log.
inline void check_error(const Error& e) {
  if (!enc::is_valid_utf8(e.message()) || !enc::is_valid_utf8(e.hint())) {
    fail("an Error's message or hint is not valid UTF-8");
  }
  if (e.message().empty()) {
    fail("an Error has an empty message");
  }
}

template <class T>
void check(const Result<T>& r) {
  if (!r) {
    check_error(r.error());
  }
}

} // namespace aliot::fuzz
