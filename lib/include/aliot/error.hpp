// Errors and results: every fallible library call returns Result<T>. The Errc of an Error maps
// one-to-one onto the exit-code table of the command line (spec/cli.md).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace aliot {

enum class Errc {
  internal = 1,     // a bug
  usage = 2,        // bad command line or bad input value
  config = 3,       // credentials/profile/config missing or invalid
  auth = 4,         // the platform rejected the identity
  network = 5,      // DNS, TCP, TLS, connection lost
  timeout = 6,      // nothing arrived in time
  remote = 7,       // the peer answered with an error
  device = 8,       // serial port / device protocol
  verify = 9,       // the unit does not hold what was burned
  io = 10,          // a local file or journal could not be read or written
  interrupted = 130 // SIGINT/SIGTERM during a one-shot command
};

// The exit status of a code (identical to its numeric value) and its stable name ("auth").
int exit_status(Errc code);
std::string_view errc_name(Errc code);

namespace detail {
// `text` through enc::printable (control characters and bytes that are not UTF-8 as `\xHH`):
// messages often quote what a server or a device sent, and must stay one line of printable text
// that cannot act on a terminal (an ESC sequence, BEL, a CR/LF forging a log line).
std::string as_text(std::string text);
} // namespace detail

class Error {
public:
  Error(Errc code, std::string message, std::string hint = {})
      : m_code(code)
      , m_message(detail::as_text(std::move(message)))
      , m_hint(detail::as_text(std::move(hint))) {}

  Errc code() const { return m_code; }

  // "what failed: why", lower case, no trailing period.
  const std::string& message() const { return m_message; }

  // Optional "what to do next".
  const std::string& hint() const { return m_hint; }

  // Prefixes "what: " as the error travels up.
  Error context(std::string_view what) const& {
    Error e = *this;
    e.m_message = detail::as_text(std::string(what)) + ": " + e.m_message;
    return e;
  }

  Error context(std::string_view what) && {
    m_message = detail::as_text(std::string(what)) + ": " + m_message;
    return std::move(*this);
  }

  Error with_hint(std::string text) && {
    m_hint = detail::as_text(std::move(text));
    return std::move(*this);
  }

private:
  Errc m_code;
  std::string m_message;
  std::string m_hint;
};

template <class T>
class [[nodiscard]] Result {
public:
  Result(T value)
      : m_v(std::in_place_index<0>, std::move(value)) {} // NOLINT(google-explicit-constructor)
  Result(Error error)
      : m_v(std::in_place_index<1>, std::move(error)) {} // NOLINT

  bool has_value() const { return m_v.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(m_v); }
  Error&& error() && { return std::get<1>(std::move(m_v)); }

  T value_or(T other) const& { return has_value() ? value() : std::move(other); }

private:
  std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error)
      : m_error(std::move(error))
      , m_ok(false) {} // NOLINT(google-explicit-constructor)

  bool has_value() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const Error& error() const& { return m_error; }
  Error&& error() && { return std::move(m_error); }

private:
  Error m_error{Errc::internal, {}};
  bool m_ok = true;
};

inline Result<void> ok() {
  return {};
}

} // namespace aliot

// Propagates the error of a Result-returning expression. Each use has its own name for the
// result, so uses nest (an ALIOT_TRY inside a lambda given to an ALIOT_TRY) without shadowing.
#define ALIOT_TRY(expr) ALIOT_TRY_IMPL_(ALIOT_TRY_CAT_(aliot_try_r_, __COUNTER__), expr)
#define ALIOT_TRY_IMPL_(r, expr)                                                                   \
  do {                                                                                             \
    if (auto r = (expr); !r) {                                                                     \
      return std::move(r).error();                                                                 \
    }                                                                                              \
  } while (false)

#define ALIOT_TRY_CAT2_(a, b) a##b
#define ALIOT_TRY_CAT_(a, b) ALIOT_TRY_CAT2_(a, b)
#define ALIOT_TRY_ASSIGN_IMPL_(tmp, lhs, expr)                                                     \
  auto tmp = (expr);                                                                               \
  if (!tmp) {                                                                                      \
    return std::move(tmp).error();                                                                 \
  }                                                                                                \
  lhs = std::move(tmp).value()

// Declares or assigns `lhs` from the value of a Result-returning expression, or returns its error:
//   ALIOT_TRY_ASSIGN(auto pk, field("ProductKey"));   // pk is the value, not the Result
//   ALIOT_TRY_ASSIGN(d.secret, text(j, "device_secret"));
// It expands to statements (a declaration that must stay in the caller's scope), so it cannot
// stand alone as the body of an `if` without braces.
#define ALIOT_TRY_ASSIGN(lhs, expr)                                                                \
  ALIOT_TRY_ASSIGN_IMPL_(ALIOT_TRY_CAT_(aliot_try_assign_, __COUNTER__), lhs, expr)
