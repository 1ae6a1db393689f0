// The RRPC topic grammar (spec section 5) and the command answerer, against real /bin/sh.
#include <aliot/rrpc.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

using namespace aliot;

TEST(Rrpc, SystemTopicsFollowTheSpec) {
  EXPECT_EQ(rrpc::request_filter("a1FakePK001", "FakeDevice01"),
            "/sys/a1FakePK001/FakeDevice01/rrpc/request/+");
  EXPECT_EQ(rrpc::request_topic("a1FakePK001", "FakeDevice01", "889455942124347392"),
            "/sys/a1FakePK001/FakeDevice01/rrpc/request/889455942124347392");
  EXPECT_EQ(rrpc::response_topic("a1FakePK001", "FakeDevice01", "889455942124347392"),
            "/sys/a1FakePK001/FakeDevice01/rrpc/response/889455942124347392");
}

TEST(Rrpc, CustomTopicsKeepTheTopicsLeadingSlash) {
  // spec 5.2: /ext/rrpc/${messageId} followed by the custom topic including its leading '/'
  EXPECT_EQ(rrpc::custom_topic("889455942124347392", "/a1FakePK001/FakeDevice01/user/get"),
            "/ext/rrpc/889455942124347392/a1FakePK001/FakeDevice01/user/get");
  EXPECT_EQ(rrpc::custom_filter("/a1FakePK001/FakeDevice01/user/get"),
            "/ext/rrpc/+/a1FakePK001/FakeDevice01/user/get");
}

TEST(Rrpc, ServeFiltersExpandAndCheckCustomTopics) {
  auto f = rrpc::serve_filters("pk1", "dev1", {"user/get", "/pk1/dev1/user/set"});
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(
      *f, (std::vector<std::string>{"/sys/pk1/dev1/rrpc/request/+", "/ext/rrpc/+/pk1/dev1/user/get",
                                    "/ext/rrpc/+/pk1/dev1/user/set"}));
  auto only_sys = rrpc::serve_filters("pk1", "dev1", {});
  ASSERT_TRUE(only_sys);
  EXPECT_EQ(only_sys->size(), 1U);

  auto other = rrpc::serve_filters("pk1", "dev1", {"/pk1/dev2/user/get"});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Errc::usage);
  EXPECT_NE(other.error().message().find("namespace"), std::string::npos)
      << other.error().message();
  EXPECT_FALSE(rrpc::serve_filters("pk1", "dev1", {"user//get"}));
}

TEST(Rrpc, SystemRequestIsAnsweredOnTheResponseTopic) {
  auto r = rrpc::parse_request("/sys/pk1/dev1/rrpc/request/42", "pk1", "dev1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "42");
  EXPECT_EQ(r->reply_topic, "/sys/pk1/dev1/rrpc/response/42");
  EXPECT_FALSE(r->custom);
}

TEST(Rrpc, CustomRequestIsAnsweredOnTheIdenticalTopic) {
  const std::string t = "/ext/rrpc/889455942124347392/pk1/dev1/user/get";
  auto r = rrpc::parse_request(t, "pk1", "dev1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "889455942124347392");
  EXPECT_EQ(r->reply_topic, t);
  EXPECT_TRUE(r->custom);
}

TEST(Rrpc, OtherTopicsAreNoRequests) {
  EXPECT_FALSE(rrpc::parse_request("/pk1/dev1/user/get", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/sys/pk1/dev2/rrpc/request/42", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/sys/pk1/dev1/rrpc/response/42", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/sys/pk1/dev1/rrpc/request/", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/sys/pk1/dev1/rrpc/request/4/2", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/ext/rrpc/42", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/ext/rrpc//pk1/dev1/user/get", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_request("/ext/register", "pk1", "dev1"));
}

TEST(Rrpc, ResponsesNameTheirRequest) {
  EXPECT_EQ(rrpc::parse_response("/sys/pk1/dev1/rrpc/response/42", "pk1", "dev1"), "42");
  EXPECT_EQ(rrpc::parse_response("/ext/rrpc/42/pk1/dev1/user/get", "pk1", "dev1"), "42");
  EXPECT_FALSE(rrpc::parse_response("/sys/pk1/dev1/rrpc/request/42", "pk1", "dev1"));
  EXPECT_FALSE(rrpc::parse_response("/sys/pk2/dev1/rrpc/response/42", "pk1", "dev1"));
}

TEST(Rrpc, CommandAnswersFromItsStandardOutput) {
  const rrpc::Request req{"42", "/sys/pk1/dev1/rrpc/response/42", false};
  const config::Env env{{"PATH", "/usr/bin:/bin"}, {"GREETING", "hi"}, {"ALIOT_RRPC_ID", "stale"}};
  auto r = rrpc::run_command(
      R"(printf '%s|%s|%s|' "$GREETING" "$ALIOT_RRPC_ID" "$ALIOT_RRPC_TOPIC"; cat)",
      "payload bytes", env, req, "/sys/pk1/dev1/rrpc/request/42");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "hi|42|/sys/pk1/dev1/rrpc/request/42|payload bytes");
}

TEST(Rrpc, CommandFailuresAreReported) {
  const rrpc::Request req{"7", "/sys/pk1/dev1/rrpc/response/7", false};
  const config::Env env{{"PATH", "/usr/bin:/bin"}};
  auto failed = rrpc::run_command("exit 3", "", env, req, "t");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Errc::remote);
  EXPECT_EQ(failed.error().message(), "the command failed with exit status 3");

  auto killed = rrpc::run_command("kill -9 $$", "", env, req, "t");
  ASSERT_FALSE(killed);
  EXPECT_EQ(killed.error().code(), Errc::remote);
  EXPECT_EQ(killed.error().message(), "the command was killed by signal 9");

  const auto start = std::chrono::steady_clock::now();
  auto slow = rrpc::run_command("exec sleep 5", "", env, req, "t", std::chrono::milliseconds(300));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code(), Errc::timeout);
  EXPECT_NE(slow.error().message().find("was killed"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));

  // What the command started dies with it at the deadline: a backgrounded child holding the
  // answer pipe open would otherwise outlive the request (and hold the pipe).
  const std::string pid_file =
      ::testing::TempDir() + "/rrpc-grandchild-" + std::to_string(::getpid());
  auto group = rrpc::run_command("sleep 30 & echo $! > " + pid_file + "; wait", "", env, req, "t",
                                 std::chrono::milliseconds(300));
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code(), Errc::timeout);
  {
    std::ifstream in(pid_file);
    pid_t grandchild = 0;
    ASSERT_TRUE(in >> grandchild);
    // Killed by SIGKILL at once; it is not our child, so it is gone or a zombie until whoever
    // adopted it reaps it.
    const auto dead = [](pid_t p) {
      std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) {
        return true;
      }
      const auto close = line.rfind(')');
      return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
    };
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = dead(grandchild);
      if (!gone) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    EXPECT_TRUE(gone) << "the command's child " << grandchild << " outlived the deadline";
    std::remove(pid_file.c_str());
  }

  auto big = rrpc::run_command("head -c 262145 /dev/zero", "", env, req, "t");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), Errc::usage);
  EXPECT_NE(big.error().message().find("256 KB"), std::string::npos);
}
