// `aliot pub` / `aliot sub` against a plain Debian mosquitto with a password file (an
// independent broker we did not write), over plain TCP and over TLS with certificates made by
// openssl at test time; and the peers we did not write: mosquitto_sub sees what aliot pub
// sends, aliot sub sees what mosquitto_pub sends.
#include "broker.hpp"
#include "secrets.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <thread>

using namespace aliot::test;
using nlohmann::json;

namespace {

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// mosquitto_sub logged in as the operator, printing "topic payload" lines.
std::unique_ptr<Background> operator_sub(const Mosquitto& b, const std::string& filter, int count) {
  auto p = std::make_unique<Background>(std::vector<std::string>{
      "mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u", "operator",
      "-P", "operator-pass", "-t", filter, "-v", "-C", std::to_string(count), "-W", "20"});
  return p;
}

// Waits until `aliot sub` has subscribed (it says so under -v).
void wait_subscribed(Background& p) {
  for (int i = 0; i < 200; ++i) {
    if (p.err().find("subscribed to") != std::string::npos) {
      return;
    }
    p.wait_for("\x01never", std::chrono::milliseconds(50));
  }
  FAIL() << "aliot sub did not subscribe: " << p.err();
}

Background aliot_bg(const std::vector<std::string>& args, const Env& env) {
  std::vector<std::string> argv{aliot_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Background(argv, {.env = env});
}

// aliot with a pipe on its standard input that the test writes to and closes when it chooses
// (a stream that has not ended, unlike RunOptions::input); stdout and stderr go to files.
class PipedAliot {
public:
  PipedAliot(const std::vector<std::string>& args, const Env& env) {
    std::vector<std::string> argv{aliot_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    ::signal(SIGPIPE, SIG_IGN); // a write after aliot has exited fails instead of killing us
    const char* path = std::getenv("PATH");
    std::vector<std::string> envs{"PATH=" + std::string(path != nullptr ? path : "/usr/bin:/bin"),
                                  "HOME=" + m_dir.path(), "XDG_CONFIG_HOME=" + m_dir.path()};
    for (const auto& [k, v] : env) {
      envs.push_back(k + "=" + v);
    }
    std::vector<char*> av;
    std::vector<char*> ev;
    for (auto& a : argv) {
      av.push_back(a.data());
    }
    av.push_back(nullptr);
    for (auto& e : envs) {
      ev.push_back(e.data());
    }
    ev.push_back(nullptr);
    const std::string out = m_dir.file("out");
    const std::string err = m_dir.file("err");
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    m_pid = ::fork();
    if (m_pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (o < 0 || e < 0 || ::dup2(p[0], 0) < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) {
        ::_exit(127);
      }
      ::execve(av[0], av.data(), ev.data());
      ::_exit(127);
    }
    ::close(p[0]);
    m_in = p[1];
  }
  ~PipedAliot() {
    close_input();
    if (!m_status) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  PipedAliot(const PipedAliot&) = delete;
  PipedAliot& operator=(const PipedAliot&) = delete;

  // Writes all of `data` (blocking while the reader is slow).
  bool write(std::string_view data) const {
    while (!data.empty()) {
      const ssize_t n = ::write(m_in, data.data(), data.size());
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Writes without blocking for up to `patience`; returns how many bytes the pipe took.
  std::size_t write_while_read(std::string_view data, std::chrono::milliseconds patience) const {
    std::size_t took = 0;
    const auto end = std::chrono::steady_clock::now() + patience;
    while (took < data.size() && std::chrono::steady_clock::now() < end) {
      pollfd p{m_in, POLLOUT, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      ::fcntl(m_in, F_SETFL, O_NONBLOCK);
      const ssize_t n =
          ::write(m_in, data.data() + took, std::min<std::size_t>(4096, data.size() - took));
      if (n > 0) {
        took += static_cast<std::size_t>(n);
      }
    }
    return took;
  }
  void close_input() {
    if (m_in >= 0) {
      ::close(m_in);
      m_in = -1;
    }
  }
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!m_status && std::chrono::steady_clock::now() < end) {
      int st = 0;
      if (::waitpid(m_pid, &st, WNOHANG) == m_pid) {
        m_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return m_status;
  }
  std::string out() const { return m_dir.read("out"); }
  std::string err() const { return m_dir.read("err"); }

private:
  TempDir m_dir;
  pid_t m_pid = -1;
  int m_in = -1;
  std::optional<int> m_status;
};

} // namespace

TEST(PubMosquitto, MosquittoSubSeesWhatAliotPubSendsOverTcpQos0AndQos1) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devPub/user/update";
  auto sub = operator_sub(b, topic, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // mosquitto_sub has no ready signal
  auto r0 =
      run_aliot(cat({"pub", "-t", "user/update", "-m", "hello qos0"}, b.device_args("devPub")),
                {.env = b.env()});
  ASSERT_EQ(r0.status, 0) << r0.err;
  auto r1 = run_aliot(cat({"pub", "-t", "user/update", "-q", "1", "-m", "hello qos1", "-o", "json"},
                          b.device_args("devPub")),
                      {.env = b.env()});
  ASSERT_EQ(r1.status, 0) << r1.err;
  const json j = json::parse(r1.out);
  EXPECT_EQ(j["acknowledged"], 1);
  EXPECT_EQ(j["topic"], topic);
  ASSERT_TRUE(sub->wait(std::chrono::seconds(20)).has_value());
  EXPECT_EQ(sub->out(), topic + " hello qos0\n" + topic + " hello qos1\n");
}

TEST(PubMosquitto, PublishesOverTlsVerifiedWithTheGivenCa) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devPub/user/update";
  auto sub = operator_sub(b, topic, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = run_aliot(
      cat({"pub", "-t", "user/update", "-q", "1", "-m", "over tls"}, b.device_args("devPub", true)),
      {.env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(sub->wait(std::chrono::seconds(20)).has_value());
  EXPECT_EQ(sub->out(), topic + " over tls\n");
}

TEST(PubMosquitto, TlsWithTheWrongCaIsANetworkError) {
  Mosquitto b;
  auto args = b.device_args("devPub", true);
  args.back() = b.other_ca();
  auto r = run_aliot(cat({"pub", "-t", "user/update", "-m", "x"}, args), {.env = b.env()});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
  // --insecure accepts any certificate
  args.emplace_back("--insecure");
  auto r2 = run_aliot(cat({"pub", "-t", "user/update", "-m", "x"}, args), {.env = b.env()});
  EXPECT_EQ(r2.status, 0) << r2.err;
}

TEST(PubMosquitto, WrongSecretIsRefusedWithExit4AndAnAliyunExplanation) {
  Mosquitto b;
  auto r = run_aliot(cat({"pub", "-t", "user/update", "-m", "x"}, b.device_args("devPub")),
                     {.env = {{"ALIOT_DEVICE_SECRET", "ffffffffffffffffffffffffffffffff"}}});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("CONNACK 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("clock is not the cause"), std::string::npos) << r.err;
  EXPECT_TRUE(no_secret_in({k_secret}, {text("stderr", r.err), text("stdout", r.out)}));
}

TEST(PubMosquitto, ClosedPortIsANetworkError) {
  auto r = run_aliot({"pub", "-k", k_pk, "-d", "devPub", "--host", "127.0.0.1", "--tcp", "--port",
                      std::to_string(free_port()), "-t", "user/update", "-m", "x"},
                     {.env = {{"ALIOT_DEVICE_SECRET", k_secret}}});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
}

TEST(PubChecks, RefusedBeforeConnectingWithExit2NamingTheRule) {
  // no broker at all: every check must fail before any connection attempt
  const Env env{{"ALIOT_DEVICE_SECRET", k_secret}};
  const std::vector<std::string> dev{"-k",        k_pk,    "-d",     "devPub", "--host",
                                     "127.0.0.1", "--tcp", "--port", "1"};
  auto q2 = run_aliot(cat({"pub", "-t", "user/update", "-q", "2", "-m", "x"}, dev), {.env = env});
  EXPECT_EQ(q2.status, 2);
  EXPECT_NE(q2.err.find("QoS 2"), std::string::npos) << q2.err;

  auto big = run_aliot(cat({"pub", "-t", "user/update", "-s"}, dev),
                       {.input = std::string(256 * 1024 + 1, 'x'), .env = env});
  EXPECT_EQ(big.status, 2);
  EXPECT_NE(big.err.find("256 KB"), std::string::npos) << big.err;

  auto other = run_aliot(cat({"pub", "-t", "/a1FakePK001/someoneElse/user/update", "-m", "x"}, dev),
                         {.env = env});
  EXPECT_EQ(other.status, 2);
  EXPECT_NE(other.err.find("namespace"), std::string::npos) << other.err;

  auto wild = run_aliot(cat({"pub", "-t", "user/#", "-m", "x"}, dev), {.env = env});
  EXPECT_EQ(wild.status, 2) << wild.err;

  auto longt =
      run_aliot(cat({"pub", "-t", "user/" + std::string(130, 'a'), "-m", "x"}, dev), {.env = env});
  EXPECT_EQ(longt.status, 2);
  EXPECT_NE(longt.err.find("128"), std::string::npos) << longt.err;

  auto none = run_aliot(cat({"pub", "-t", "user/update"}, dev), {.env = env});
  EXPECT_EQ(none.status, 2) << none.err;

  auto two =
      run_aliot(cat({"pub", "-t", "user/update", "-m", "a", "--hex", "00"}, dev), {.env = env});
  EXPECT_EQ(two.status, 2) << two.err;

  auto hex = run_aliot(cat({"pub", "-t", "user/update", "--hex", "zz"}, dev), {.env = env});
  EXPECT_EQ(hex.status, 2) << hex.err;
}

TEST(SubMosquitto, AliotSubSeesWhatMosquittoPubSendsAsJsonLines) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devSub/user/get";
  auto sub =
      aliot_bg(cat({"sub", "-v", "-t", "user/get", "-C", "3", "-W", "30", "-o", "json", "-q", "1"},
                   b.device_args("devSub")),
               b.env());
  wait_subscribed(sub);
  auto mp = [&](std::vector<std::string> extra) {
    auto r = run(cat({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                      "operator", "-P", "operator-pass", "-t", topic},
                     extra));
    ASSERT_EQ(r.status, 0) << r.err;
  };
  mp({"-m", "text message"});
  mp({"-q", "1", "-m", "{\"a\":1}"});
  // binary, not UTF-8
  TempDir d;
  mp({"-f", d.write("bin", std::string("\xff\x00\x01\xfe", 4))});
  auto st = sub.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << sub.err();
  std::vector<json> lines;
  std::istringstream in(sub.out());
  for (std::string l; std::getline(in, l);) {
    lines.push_back(json::parse(l));
  }
  // The first line says the subscriber is ready; the messages follow it.
  ASSERT_FALSE(lines.empty()) << sub.out();
  EXPECT_EQ(lines.front()["event"], "ready") << sub.out();
  lines.erase(lines.begin());
  ASSERT_EQ(lines.size(), 3U) << sub.out();
  EXPECT_EQ(lines[0]["topic"], topic);
  EXPECT_EQ(lines[0]["payload"], "text message");
  EXPECT_EQ(lines[0]["qos"], 0);
  EXPECT_EQ(lines[1]["payload"], "{\"a\":1}");
  EXPECT_EQ(lines[1]["qos"], 1);
  EXPECT_FALSE(lines[2].contains("payload"));
  EXPECT_EQ(lines[2]["payload_base64"], "/wAB/g==");
  const std::string ts = lines[0]["ts"];
  EXPECT_EQ(ts.size(), 24U) << ts; // 2026-01-02T03:04:05.678Z
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(ts[10], 'T');
}

TEST(SubMosquitto, WaitEndsWithExit6WhenNothingArrives) {
  Mosquitto b;
  auto r = run_aliot(cat({"sub", "-t", "user/get", "-W", "1"}, b.device_args("devSub")),
                     {.env = b.env(), .timeout_s = 20});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("within 1s"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(SubMosquitto, UntilStopsAtTheMatchAndCountStopsAfterExactlyN) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devSub/user/get";
  auto until = aliot_bg(
      cat({"sub", "-v", "--verbose-topic", "-t", "user/#", "--until", "st.*ok", "-W", "30"},
          b.device_args("devSub")),
      b.env());
  wait_subscribed(until);
  for (const char* m : {"one", "status ok", "three"}) {
    auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u",
                  "operator", "-P", "operator-pass", "-t", topic, "-q", "1", "-m", m});
    ASSERT_EQ(r.status, 0);
  }
  auto st = until.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << until.err();
  EXPECT_EQ(until.out(), topic + " one\n" + topic + " status ok\n");
}

TEST(SubMosquitto, AliotPubToAliotSubRoundTripWithBinaryAnd256KB) {
  Mosquitto b;
  // two devices of the product, meeting on an /ext/ topic both may use
  auto sub = aliot_bg(
      cat({"sub", "-v", "-t", "/ext/aliot-test/#", "-C", "3", "-W", "30", "-o", "json", "-q", "1"},
          b.device_args("devSub", true)),
      b.env());
  wait_subscribed(sub);
  TempDir d;
  std::string big(256 * 1024, 'b');
  for (std::size_t i = 0; i < big.size(); i += 1000) {
    big[i] = static_cast<char>('a' + (i / 1000) % 26);
  }
  const std::string bigf = d.write("big", big);
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"-m", "text"}, {"--hex", "00ff10"}, {"-f", bigf, "-q", "1"}}) {
    auto r = run_aliot(cat(cat({"pub", "-t", "/ext/aliot-test/x"}, extra), b.device_args("devPub")),
                       {.env = b.env()});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  auto st = sub.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << sub.err();
  std::istringstream in(sub.out());
  std::vector<json> lines;
  for (std::string l; std::getline(in, l);) {
    lines.push_back(json::parse(l));
  }
  // The first line says the subscriber is ready; the messages follow it.
  ASSERT_FALSE(lines.empty()) << sub.out();
  EXPECT_EQ(lines.front()["event"], "ready") << sub.out();
  lines.erase(lines.begin());
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0]["payload"], "text");
  EXPECT_EQ(lines[1]["payload_base64"], "AP8Q");
  EXPECT_EQ(lines[2]["payload"], big);
  EXPECT_EQ(lines[2]["qos"], 1);
}

TEST(PubMosquitto, LinesStreamOneMessagePerLine) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devPub/user/update";
  auto sub = operator_sub(b, topic, 500);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string input;
  for (int i = 0; i < 500; ++i) {
    input += "line " + std::to_string(i) + "\n";
  }
  auto r = run_aliot(cat({"pub", "-t", "user/update", "-l", "-q", "1"}, b.device_args("devPub")),
                     {.input = input, .env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(sub->wait(std::chrono::seconds(20)).has_value());
  std::string expect;
  for (int i = 0; i < 500; ++i) {
    expect += topic + " line " + std::to_string(i) + "\n";
  }
  EXPECT_EQ(sub->out(), expect);
}

TEST(PubMosquitto, FiveThousandLinesAtQos1ArriveCompleteAndInOrder) {
  // More lines than the window of outstanding publishes (100) and more than one read of the
  // input (64 KB): mosquitto_sub, a peer we did not write, gets every line once, in order. The
  // input ends with a CRLF line and a last line without a newline.
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devPub/user/update";
  constexpr int n = 5000;
  auto sub = operator_sub(b, topic, n);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string input;
  std::string expect;
  for (int i = 0; i < n; ++i) {
    const std::string line = "line " + std::to_string(i) + " " + std::string(i % 50, 'x');
    input += line + (i == n - 2 ? "\r\n" : i == n - 1 ? "" : "\n");
    expect += topic + " " + line + "\n";
  }
  auto r = run_aliot(
      cat({"-o", "json", "pub", "-t", "user/update", "-l", "-q", "1"}, b.device_args("devPub")),
      {.input = input, .env = b.env()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["published"], n);
  EXPECT_EQ(j["acknowledged"], n);
  ASSERT_TRUE(sub->wait(std::chrono::seconds(30)).has_value());
  EXPECT_EQ(sub->out(), expect);
}

TEST(PubMosquitto, LinesFromAStreamThatEndsEarlyOrNeverAndAnEmptyOne) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devPub/user/update";
  // An empty input publishes nothing and succeeds.
  auto none = run_aliot(
      cat({"-o", "json", "pub", "-t", "user/update", "-l", "-q", "1"}, b.device_args("devPub")),
      {.input = "", .env = b.env()});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_EQ(json::parse(none.out)["published"], 0);
  // A stream that pauses: each line is published as it comes, before the input ends, and the
  // writer closing its end finishes the run with every line acknowledged.
  auto sub = operator_sub(b, topic, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  PipedAliot p(
      cat({"-o", "json", "pub", "-t", "user/update", "-l", "-q", "1"}, b.device_args("devPub")),
      b.env());
  ASSERT_TRUE(p.write("first\nsecond\n"));
  EXPECT_TRUE(sub->wait_for("second", std::chrono::seconds(10)).has_value());
  EXPECT_FALSE(p.wait(std::chrono::milliseconds(200)).has_value()) << "ended before its input";
  ASSERT_TRUE(p.write("third"));
  p.close_input();
  auto st = p.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0) << p.err();
  EXPECT_EQ(json::parse(p.out())["published"], 3);
  ASSERT_TRUE(sub->wait(std::chrono::seconds(10)).has_value());
  EXPECT_EQ(sub->out(), topic + " first\n" + topic + " second\n" + topic + " third\n");
}

TEST(PubMosquitto, LinesWithTheBrokerKilledMidStreamIsExit5) {
  Mosquitto b;
  PipedAliot p(cat({"pub", "-t", "user/update", "-l", "-q", "1"}, b.device_args("devPub")),
               b.env());
  std::string lines;
  for (int i = 0; i < 200; ++i) {
    lines += "before " + std::to_string(i) + "\n";
  }
  ASSERT_TRUE(p.write(lines));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  b.stop(); // SIGKILL: the connection drops while the input is still open
  auto st = p.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value()) << "still running after the broker died";
  EXPECT_EQ(*st, 5) << p.err();
  EXPECT_NE(p.err().find("connection lost"), std::string::npos) << p.err();
}

TEST(PubMosquitto, LinesStopReadingWhileTheWindowIsFullAndTimeOutWithExit6) {
  // The broker stops answering (SIGSTOP: its socket stays open, no PUBACK comes): aliot holds at
  // most its window of publishes, so it stops reading its input (the writer's pipe fills up)
  // instead of taking all of it into memory, and ends with exit 6 after --timeout.
  Mosquitto b;
  PipedAliot p(
      cat({"pub", "-t", "user/update", "-l", "-q", "1", "--timeout", "2"}, b.device_args("devPub")),
      b.env());
  ASSERT_TRUE(p.write("connected?\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  b.signal(SIGSTOP);
  const std::string line = std::string(999, 'x') + "\n";
  std::string input;
  for (int i = 0; i < 4000; ++i) {
    input += line; // 4 MB
  }
  const std::size_t took = p.write_while_read(input, std::chrono::milliseconds(1500));
  auto st = p.wait(std::chrono::seconds(10));
  b.signal(SIGCONT);
  // The window (100 lines), one 64 KB read and the pipe's buffer (64 KB): well under 1 MB.
  EXPECT_LT(took, 1024U * 1024U) << "aliot read " << took << " bytes with no PUBACK coming";
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 6) << p.err();
  EXPECT_NE(p.err().find("not acknowledged"), std::string::npos) << p.err();
}

TEST(SubMosquitto, SurvivesTheBrokerBeingKilledAndRestarted) {
  Mosquitto b;
  const std::string topic = std::string("/") + k_pk + "/devSub/user/get";
  auto sub = aliot_bg(cat({"sub", "-v", "-t", "user/get"}, b.device_args("devSub")), b.env());
  wait_subscribed(sub);
  b.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  b.start();
  // reconnected and subscribed again: a message published now must arrive
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(b.tcp_port()), "-u", "operator",
         "-P", "operator-pass", "-t", topic, "-m", "after restart"});
    seen = sub.wait_for("after restart", std::chrono::milliseconds(500)).has_value();
  }
  EXPECT_TRUE(seen) << sub.err();
  EXPECT_NE(sub.err().find("reconnected"), std::string::npos) << sub.err();
  sub.signal(SIGINT);
  auto st = sub.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0);
}

TEST(ConnectMosquitto, StagesAndTheAliyunRootCaHint) {
  // a server chain anchored at a CA named like Aliyun's 8883 root, which the system store lacks
  Mosquitto b({"devPub"}, "/C=CN/O=Aliyun IoT/OU=Root CA/CN=Aliyun IoT Root CA");
  auto args = b.device_args("devPub", true);
  auto good = run_aliot(cat({"connect", "--check-sub", "/ext/x/#"}, args), {.env = b.env()});
  ASSERT_EQ(good.status, 0) << good.err;
  for (const char* stage : {"dns ", "tcp ", "tls ", "mqtt ", "sub "}) {
    EXPECT_NE(good.out.find(stage), std::string::npos) << stage << good.out;
  }
  EXPECT_NE(good.out.find("chain verified"), std::string::npos) << good.out;
  // without --ca-file: the system store
  args.pop_back();
  args.pop_back();
  auto bad = run_aliot(cat({"connect"}, args), {.env = b.env()});
  EXPECT_EQ(bad.status, 5) << bad.err;
  EXPECT_NE(bad.out.find("tls      FAIL"), std::string::npos) << bad.out;
  EXPECT_NE(bad.err.find("Aliyun IoT Root CA"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("--ca-file"), std::string::npos) << bad.err;
}
