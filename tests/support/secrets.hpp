// Test support: asserting that no secret reached a place it must not (a process's output, a log,
// a trace, a journal, a state directory).
//
//   EXPECT_TRUE(no_secret_in({k_ds}, {text("stderr", r.err), text("stdout", r.out)}));
//   EXPECT_TRUE(no_secret_in({k_ds, k_aks}, files_under(state_dir)));
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aliot::test {

// One place to scan: a name for the failure message and the bytes to look through.
struct Scanned {
  std::string name;
  std::string bytes;
  bool readable = true; // false: a file that could not be read (the scan then fails)
};

Scanned text(std::string name, std::string bytes);
// The file's bytes (named by its path).
Scanned file_bytes(const std::string& path);
// Every regular file below `dir`, recursively (an unreadable or missing dir fails the scan).
std::vector<Scanned> files_under(const std::string& dir);

// Success when no secret occurs in any place; the failure names each secret, the place and the
// offset with a little context. An empty secret, or a place that could not be read, fails too:
// a scan that cannot look proves nothing.
::testing::AssertionResult no_secret_in(const std::vector<std::string>& secrets,
                                        const std::vector<Scanned>& places);

} // namespace aliot::test
