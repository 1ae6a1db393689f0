// lib's one subprocess helper (lib/src/util/subprocess.hpp, posix_spawn), which starts the
// emulator's broker and `rrpc serve --exec`'s commands: real programs (sh, env, grep, sleep).
#include "util/subprocess.hpp"

#include "support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

using aliot::Errc;
namespace proc = aliot::proc;
using namespace std::chrono_literals;

namespace {

proc::Options sh(const std::string& script) {
  proc::Options o;
  o.argv = {"/bin/sh", "-c", script};
  return o;
}

auto in(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}

// Gone, or a zombie of whoever adopted it (not ours to reap): /proc/PID/stat is "pid (comm) S".
bool dead(pid_t p) {
  std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
  long pid = 0;
  std::string comm; // (sleep): no spaces
  char state = 0;
  return !(stat >> pid >> comm >> state) || state == 'Z';
}

bool becomes_dead(pid_t p) {
  for (int i = 0; i < 500; ++i) {
    if (dead(p)) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

} // namespace

TEST(Subprocess, ExitStatusInputAndOutput) {
  auto r = proc::run(sh("cat; echo out; exit 3"), "in\n", 1024, in(30s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->out, "in\nout\n");
  EXPECT_EQ(r->exit.code, 3);
  EXPECT_EQ(r->exit.signal, 0);
  EXPECT_FALSE(r->exit.ok());
  EXPECT_EQ(r->exit.describe(), "exit status 3");

  auto ok = proc::run(sh("exit 0"), std::string(1 << 20, 'x'), 1024, in(30s));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_TRUE(ok->exit.ok()) << "input it does not read is fine: " << ok->exit.describe();
}

// The child closes its stdin at once and answers later: writing the input then fails with EPIPE,
// which must not raise SIGPIPE in a program that has not ignored it (this test binary keeps the
// default action, which would kill it).
TEST(Subprocess, InputToAChildThatClosedItsStdinRaisesNoSigpipe) {
  struct sigaction dfl {
  }, old{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, &old);
  auto r =
      proc::run(sh("exec 0<&-; sleep 0.3; echo done"), std::string(1 << 20, 'x'), 1024, in(30s));
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out, "done\n");
  EXPECT_TRUE(r->exit.ok()) << r->exit.describe();
}

TEST(Subprocess, DeathBySignalIsReportedAsSuch) {
  auto r = proc::run(sh("kill -TERM $$"), "", 1024, in(30s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit.signal, SIGTERM);
  EXPECT_EQ(r->exit.code, -1);
  EXPECT_EQ(r->exit.describe().rfind("signal 15", 0), 0U) << r->exit.describe();
}

TEST(Subprocess, OutputIsBoundedAndTheRestDrained) {
  auto r = proc::run(sh("head -c 300000 /dev/zero; echo done >&2"), "", 1000, in(30s));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->truncated);
  EXPECT_LE(r->out.size(), 1000U);
  EXPECT_TRUE(r->exit.ok()) << "not blocked on a full pipe: " << r->exit.describe();
}

// The environment is exactly what is given: nothing of ours leaks in (secrets included).
TEST(Subprocess, TheChildGetsOnlyTheGivenEnvironment) {
  ::setenv("ALIOT_DEVICE_SECRET", "must-not-leak", 1);
  proc::Options o;
  o.argv = {"/usr/bin/env"};
  o.env = std::vector<std::string>{"A=1", "B=two words"};
  auto r = proc::run(o, "", 4096, in(30s));
  ::unsetenv("ALIOT_DEVICE_SECRET");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out, "A=1\nB=two words\n");
}

// A parent that blocks or ignores signals (aliot's threads block them) does not pass that on.
TEST(Subprocess, TheChildStartsWithDefaultSignals) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  struct sigaction ign {
  }, old_pipe{}, old_int{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old_pipe);
  ::sigaction(SIGINT, &ign, &old_int);
  proc::Options o;
  o.argv = {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
  o.env = std::vector<std::string>{};
  auto r = proc::run(o, "", 4096, in(30s));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);
  ASSERT_TRUE(r) << r.error().message();
  unsigned long long blk = ~0ULL, ignored = ~0ULL;
  ASSERT_EQ(std::sscanf(r->out.c_str(), "SigBlk: %llx SigIgn: %llx", &blk, &ignored), 2) << r->out;
  EXPECT_EQ(blk, 0ULL) << r->out;
  const auto bit = [](int sig) {
    return 1ULL << (sig - 1);
  };
  EXPECT_EQ(ignored & (bit(SIGPIPE) | bit(SIGINT) | bit(SIGTERM)), 0ULL) << r->out;
}

// At the deadline the whole process group goes: the shell and what it started.
TEST(Subprocess, TheDeadlineKillsTheChildsProcessGroup) {
  aliot::test::TempDir tmp;
  const std::string pid_file = tmp.file("grandchild");
  auto o = sh("sleep 30 & echo $! > " + pid_file + "; wait");
  o.own_group = true;
  auto r = proc::run(o, "", 1024, in(500ms));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit.signal, SIGKILL);
  std::ifstream f(pid_file);
  pid_t grandchild = 0;
  ASSERT_TRUE(f >> grandchild);
  EXPECT_TRUE(becomes_dead(grandchild)) << "the command's child " << grandchild << " outlived it";
}

TEST(Subprocess, AProgramThatCannotStartIsAnErrorNamingIt) {
  proc::Options o;
  o.argv = {"/nonexistent/aliot-no-such-program", "x"};
  auto r = proc::Child::spawn(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  EXPECT_NE(r.error().message().find("/nonexistent/aliot-no-such-program"), std::string::npos);
  EXPECT_NE(r.error().message().find("No such file"), std::string::npos) << r.error().message();

  o.argv = {"aliot-no-such-program-in-path"};
  auto searched = proc::run(o, "", 10, in(30s));
  ASSERT_FALSE(searched);
  EXPECT_NE(searched.error().message().find("aliot-no-such-program-in-path"), std::string::npos);

  aliot::test::TempDir tmp;
  const std::string plain = tmp.write("not-executable", "#!/bin/sh\n", 0600);
  o.argv = {plain};
  auto denied = proc::Child::spawn(o);
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message().find("Permission denied"), std::string::npos)
      << denied.error().message();
}

TEST(Subprocess, StderrToAFileAndAnUnwritableFileIsOurError) {
  aliot::test::TempDir tmp;
  auto o = sh("echo to-log >&2");
  o.err = proc::Stdio::file(tmp.file("log"));
  auto c = proc::Child::spawn(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->wait().ok());
  EXPECT_EQ(tmp.read("log"), "to-log\n");
  struct stat st {};
  ASSERT_EQ(::stat(tmp.file("log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);

  o.err = proc::Stdio::file(tmp.file("no/such/dir/log"));
  auto bad = proc::Child::spawn(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::io);
  EXPECT_NE(bad.error().message().find("no/such/dir/log"), std::string::npos)
      << bad.error().message();
}

// stop(): SIGTERM, then SIGKILL after the grace for a child that ignores it; and a Child dropped
// while running is killed and reaped, never left behind.
TEST(Subprocess, StopEscalatesAndADroppedChildIsKilled) {
  auto o = sh("trap '' TERM; echo ready; while :; do sleep 1; done");
  o.own_group = true;
  o.out = proc::Stdio::pipe();
  auto c = proc::Child::spawn(o);
  ASSERT_TRUE(c) << c.error().message();
  char buf[6] = {};
  ASSERT_EQ(::read(c->out_fd(), buf, 6), 6) << "the trap is set";
  const auto e = c->stop(200ms);
  EXPECT_EQ(e.signal, SIGKILL);

  auto polite = proc::Child::spawn(sh("exec sleep 30"));
  ASSERT_TRUE(polite) << polite.error().message();
  EXPECT_EQ(polite->stop(30s).signal, SIGTERM);

  pid_t pid = 0;
  {
    auto dropped = proc::Child::spawn(sh("exec sleep 30"));
    ASSERT_TRUE(dropped) << dropped.error().message();
    pid = dropped->pid();
    EXPECT_FALSE(dropped->poll());
  }
  EXPECT_NE(::kill(pid, 0), 0) << "killed and reaped";
}
