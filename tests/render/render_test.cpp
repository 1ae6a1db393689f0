// The message renderer (cli/render): pretty output against golden files (colour on and off),
// mosquitto_sub's bytes, -F letters, untrusted payloads. ALIOT_UPDATE_GOLDEN=1 rewrites the
// golden files (then read them and commit them on purpose).
#include "render/message.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace {

using namespace aliot::cli::render;
using namespace std::chrono_literals;

// 2026-12-07T10:12:46.123456789Z
const auto k_time = std::chrono::system_clock::time_point(
    std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::nanoseconds(1796638366123456789LL)));

class Render : public ::testing::Test {
protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

Message msg(std::string topic, std::string payload, int qos = 0) {
  Message m;
  m.topic = std::move(topic);
  m.payload = std::move(payload);
  m.qos = qos;
  m.time = k_time;
  m.direction = Direction::cloud_to_device;
  return m;
}

Options pretty(bool color, int width = 80) {
  Options o;
  o.mode = Mode::pretty;
  o.color = color;
  o.width = width;
  o.product_key = "a1FakePK";
  o.device_name = "dev1";
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares with tests/data/render/NAME (written instead under ALIOT_UPDATE_GOLDEN=1).
void golden(const std::string& name, const std::string& got) {
  const std::string path = std::string(ALIOT_TEST_DATA) + "/render/" + name;
  if (std::getenv("ALIOT_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << got;
    return;
  }
  EXPECT_EQ(read_file(path), got) << "golden file " << path;
}

// The messages the golden files show, in order.
std::string all_messages(const Renderer& r) {
  std::string out;
  out += r.render(
      msg("/a1FakePK/dev1/user/get",
          R"({"cmd":"on","level":3,"ok":true,"n":null,"tags":["a","b"],"nested":{"x":1.5,"e":{}}})",
          1));
  out += r.render(msg("/a1FakePK/dev1/user/get", "hello world"));
  auto retained = msg("/sys/a1FakePK/dev1/thing/service/property/set", R"({"params":{"on":1}})");
  retained.retained = true;
  out += r.render(retained);
  out += r.render(msg("/a1FakePK/dev1/user/get", ""));
  out += r.render(
      msg("/a1FakePK/dev1/user/get", std::string("\x00\x01\x02\xff\xfeGET /\x1b[2J\r\n", 14)));
  out += r.render(msg("/a1FakePK/dev1/user/get", "line one\nline two\r\nline three\n"));
  out += r.render(msg("/other/dev2/user/get", std::string(150, 'x')));
  auto up = msg("/sys/a1FakePK/dev1/rrpc/request/1234", "ping 中文 \xc2\x9b");
  up.direction = Direction::device_to_cloud;
  up.note = "request 1234";
  out += r.render(up);
  out += r.render(
      msg("/a1FakePK/dev1/user/get", R"({"s":"esc \u001b[31m red \u0007 bell","u":"中文"})"));
  return out;
}

TEST_F(Render, PrettyMatchesGoldenWithoutColour) {
  golden("pretty.txt", all_messages(Renderer(pretty(false))));
}

TEST_F(Render, PrettyMatchesGoldenWithColour) {
  golden("pretty-color.txt", all_messages(Renderer(pretty(true))));
}

TEST_F(Render, PrettyFoldsToANarrowTerminal) {
  golden("pretty-40.txt", all_messages(Renderer(pretty(false, 40))));
}

TEST_F(Render, PrettyNeverWritesAControlByteOfThePayload) {
  const Renderer r(pretty(false));
  std::string bytes;
  for (int c = 0; c < 256; ++c) {
    bytes += static_cast<char>(c);
  }
  for (const auto& p : {bytes, std::string("{\"a\":\"\x1b[2J\"}"), std::string("\x1b]0;title\x07"),
                        std::string("ok \xc2\x9b"
                                    "31m")}) {
    const auto out = r.render(msg("/a1FakePK/dev1/user/get", p));
    for (const char ch : out) {
      const auto c = static_cast<unsigned char>(ch);
      EXPECT_TRUE(c >= 0x20 || c == '\n') << "control byte " << int(c) << " in " << out;
    }
    EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
  }
}

TEST_F(Render, PrettyBoundsHugeAndDeepPayloads) {
  const Renderer r(pretty(false));
  const auto text = r.render(msg("/a1FakePK/dev1/user/get", std::string(1 << 20, 'a')));
  EXPECT_LT(text.size(), 40000u);
  EXPECT_NE(text.find("more"), std::string::npos);
  const auto bin = r.render(msg("/a1FakePK/dev1/user/get", std::string(1 << 20, '\x01')));
  EXPECT_LT(bin.size(), 10000u);
  EXPECT_NE(bin.find("1048576 bytes"), std::string::npos);
  // A million nested arrays: shown as text (cut), never parsed recursively.
  const auto deep = r.render(msg("/a1FakePK/dev1/user/get", std::string(1000000, '[')));
  EXPECT_LT(deep.size(), 40000u);
  // Many short lines: at most 200 shown.
  std::string lines;
  for (int k = 0; k < 1000; ++k) {
    lines += "l\n";
  }
  const auto many = r.render(msg("/a1FakePK/dev1/user/get", lines));
  EXPECT_NE(many.find("800 more lines"), std::string::npos) << many.substr(0, 200);
}

// Random bytes as payloads, topics and -F strings, in every mode and width: no crash, no
// exception, and pretty output never carries a control byte but the newline.
TEST_F(Render, RandomBytesInEveryMode) {
  std::mt19937 rng(29);
  auto bytes = [&](std::size_t max, bool jsonish) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, max)(rng), '\0');
    const std::string alphabet = "{}[]\":,\\ 0123456789.eEtrufalsn\xc2\x9b\xe4\xb8\xad\x1b\n";
    for (auto& c : s) {
      c = jsonish
              ? alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)]
              : static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    return s;
  };
  const std::string letters = "%tpqrlmxXIUjJ@HN\\n-0123.AaZ";
  for (int round = 0; round < 3000; ++round) {
    Message m = msg(round % 3 == 0 ? bytes(40, false) : "/a1FakePK/dev1/user/get",
                    bytes(round % 10 == 0 ? 5000 : 300, round % 2 == 0), round % 2);
    m.retained = round % 5 == 0;
    m.note = round % 7 == 0 ? bytes(20, false) : "";
    Options o = pretty(round % 4 == 0, 20 + round % 150);
    EXPECT_NO_THROW({
      const auto out = Renderer(o).render(m);
      for (const char ch : out) {
        const auto c = static_cast<unsigned char>(ch);
        ASSERT_TRUE(c >= 0x20 || c == '\n' || (o.color && c == 0x1b)) << int(c);
      }
    });
    std::string f;
    for (int k = 0; k < 12; ++k) {
      f += letters[std::uniform_int_distribution<std::size_t>(0, letters.size() - 1)(rng)];
    }
    for (const Mode mode : {Mode::payload, Mode::verbose, Mode::format, Mode::json}) {
      Options fo;
      fo.mode = mode;
      fo.format = f;
      EXPECT_NO_THROW((void)Renderer(fo).render(m)) << f;
    }
  }
}

TEST_F(Render, TopicAbbreviation) {
  EXPECT_EQ(abbreviate_topic("/a1FakePK/dev1/user/get", "a1FakePK", "dev1"), "/…/user/get");
  EXPECT_EQ(abbreviate_topic("/sys/a1FakePK/dev1/rrpc/request/1", "a1FakePK", "dev1"),
            "/sys/…/rrpc/request/1");
  EXPECT_EQ(abbreviate_topic("/ota/device/upgrade/a1FakePK/dev1", "a1FakePK", "dev1"),
            "/ota/device/upgrade/a1FakePK/dev1");
  EXPECT_EQ(abbreviate_topic("/a1FakePK/dev10/user/get", "a1FakePK", "dev1"),
            "/a1FakePK/dev10/user/get");
  EXPECT_EQ(abbreviate_topic("/a1FakePK/dev1/user/get", "", ""), "/a1FakePK/dev1/user/get");
}

TEST_F(Render, PayloadAndVerboseAreMosquittoSubBytes) {
  Options o;
  o.mode = Mode::payload;
  const Renderer p(o);
  EXPECT_EQ(p.render(msg("t/a", "hi")), "hi\n");
  EXPECT_EQ(p.render(msg("t/a", "")), ""); // mosquitto_sub prints nothing for an empty payload
  EXPECT_EQ(p.render(msg("t/a", std::string("\x00\xff", 2))), std::string("\x00\xff\n", 3));
  o.mode = Mode::verbose;
  const Renderer v(o);
  EXPECT_EQ(v.render(msg("t/a", "hi there")), "t/a hi there\n");
  EXPECT_EQ(v.render(msg("t/a", "")), "t/a (null)\n");
}

TEST_F(Render, FormatLetters) {
  auto f = [](const std::string& format, const Message& m) {
    Options o;
    o.mode = Mode::format;
    o.format = format;
    return Renderer(o).render(m);
  };
  auto m = msg("/a1FakePK/dev1/user/get", "h\"i\n\x01", 1);
  m.mid = 7;
  EXPECT_EQ(f("%t %p", m), "/a1FakePK/dev1/user/get h\"i\n\x01\n");
  EXPECT_EQ(f("%q %r %l %m %%", m), "1 0 5 7 %\n");
  EXPECT_EQ(f("%x|%X", msg("t", "\x0a\xfe")), "0afe|0AFE\n");
  EXPECT_EQ(f("%I", m), "2026-12-07T10:12:46+0000\n");
  EXPECT_EQ(f("%U", m), "1796638366.123456789\n");
  EXPECT_EQ(f("@Y-@m-@d @H:@M:@S.@N @@", m), "2026-12-07 10:12:46.123456789 @\n");
  EXPECT_EQ(f("a\\tb\\\\c\\nd\\e\\0\\q", m), std::string("a\tb\\c\nd\033\0\n", 10));
  EXPECT_EQ(
      f("%j", m),
      "{\"tst\":\"2026-12-07T10:12:46.123456Z+0000\",\"topic\":\"/a1FakePK/dev1/user/get\","
      "\"qos\":1,\"retain\":0,\"payloadlen\":5,\"mid\":7,\"payload\":\"h\\\"i\\n\\u0001\"}\n");
  EXPECT_EQ(f("%J", msg("t", "{ \"a\" : [1, 2.50, 1e2, true, null, \"x\"] }")),
            "{\"tst\":\"2026-12-07T10:12:46.123456Z+0000\",\"topic\":\"t\",\"qos\":0,\"retain\":0,"
            "\"payloadlen\":41,\"payload\":{\"a\":[1,2.5,100,true,null,\"x\"]}}\n");
  EXPECT_EQ(f("%j", msg("t", "")),
            "{\"tst\":\"2026-12-07T10:12:46.123456Z+0000\",\"topic\":\"t\",\"qos\":0,\"retain\":0,"
            "\"payloadlen\":0,\"payload\":null}\n");
  // Field width, alignment, zero padding and precision as mosquitto_sub has them.
  EXPECT_EQ(f("[%5l][%-5l][%05l][%8t][%-8t|][%.3t][%6.2t]", msg("topic", "abc")),
            "[    3][3    ][00003][   topic][topic   |][top][    to]\n");
  EXPECT_EQ(f("[%6p][%-6p][%2p]", msg("t", "abc")), "[   abc][abc   ][ab]\n");
  EXPECT_EQ(f("%060l", msg("t", "abc")), std::string(59, '0') + "3\n");
  // An unknown letter, a dangling % or \ print nothing (and are refused by format_error).
  EXPECT_EQ(f("a%Zb%", m), "ab\n");
}

TEST_F(Render, FormatErrorsAreMosquittoSubs) {
  EXPECT_EQ(format_error("%t %p %-10.3t %05l %% @H \\n\\0 %j %J %U %I %x %X %A %P"), "");
  EXPECT_NE(format_error("%Z").find("'%Z'"), std::string::npos);
  EXPECT_NE(format_error("abc%").find("incomplete"), std::string::npos);
  EXPECT_NE(format_error("%-").find("incomplete"), std::string::npos);
  EXPECT_NE(format_error("%10").find("incomplete"), std::string::npos);
  EXPECT_NE(format_error("x@").find("incomplete"), std::string::npos);
  EXPECT_NE(format_error("\\q").find("'\\q'"), std::string::npos);
  EXPECT_NE(format_error("\\").find("incomplete"), std::string::npos);
}

TEST_F(Render, FormatJWarnsOnAPayloadThatIsNotJson) {
  std::string warned;
  Options o;
  o.mode = Mode::format;
  o.format = "<%J>";
  o.warn = [&](std::string_view w) {
    warned = std::string(w);
  };
  EXPECT_EQ(Renderer(o).render(msg("t/x", "not json")), "<>\n");
  EXPECT_NE(warned.find("t/x"), std::string::npos);
}

TEST_F(Render, JsonLineIsSubsShape) {
  Options o;
  o.mode = Mode::json;
  const Renderer r(o);
  EXPECT_EQ(r.render(msg("t", "hi", 1)),
            "{\"ts\":\"2026-12-07T10:12:46.123Z\",\"topic\":\"t\",\"qos\":1,\"payload\":\"hi\"}\n");
  EXPECT_EQ(r.render(msg("t", "\xff")), "{\"ts\":\"2026-12-07T10:12:46.123Z\",\"topic\":\"t\","
                                        "\"qos\":0,\"payload_base64\":\"/w==\"}\n");
}

TEST_F(Render, ChooseMode) {
  Choice c;
  EXPECT_EQ(choose_mode(c), Mode::payload); // piped
  c.stdout_tty = true;
  EXPECT_EQ(choose_mode(c), Mode::pretty); // a terminal
  c.output_given = true;
  EXPECT_EQ(choose_mode(c), Mode::payload); // -o text on a terminal: today's bytes
  c.pretty = true;
  EXPECT_EQ(choose_mode(c), Mode::pretty);
  c = Choice{};
  c.stdout_tty = true;
  c.raw = true;
  c.verbose_topic = true;
  EXPECT_EQ(choose_mode(c), Mode::verbose);
  c = Choice{};
  c.pretty = true;
  EXPECT_EQ(choose_mode(c), Mode::pretty); // --pretty into a pipe
  c.json = true;
  EXPECT_EQ(choose_mode(c), Mode::json);
  c.format_given = true;
  EXPECT_EQ(choose_mode(c), Mode::format);
  EXPECT_FALSE(color_wanted(false, false, false));
  EXPECT_TRUE(color_wanted(false, false, true));
  EXPECT_FALSE(color_wanted(true, false, true));
  EXPECT_FALSE(color_wanted(false, true, true));
}

} // namespace
