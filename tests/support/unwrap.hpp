// Unwrapping a library Result in a test: an Error fails the current test, naming the message.
#pragma once

#include <aliot/error.hpp>

#include <gtest/gtest.h>

#include <utility>

namespace aliot::test {

// The value of `r`; when `r` holds an Error, the test fails and T{} stands in for the value.
template <class T>
T unwrap(Result<T> r) {
  if (!r) {
    ADD_FAILURE() << "unexpected error (" << errc_name(r.error().code())
                  << "): " << r.error().message();
    return T{};
  }
  return std::move(r).value();
}

} // namespace aliot::test
