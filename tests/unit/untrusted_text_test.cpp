// Bytes from outside become text only through one rule (enc::printable): well-formed UTF-8
// stays, control characters (C0, DEL, C1) and every byte that is not UTF-8 are shown as \xHH.
// Error messages apply it, so no reply or device answer can make an error line unprintable (or a
// JSON error line throw), clear the screen, ring the bell or forge a log line.
#include "support.hpp"

#include <aliot/encoding.hpp>
#include <aliot/error.hpp>

#include <gtest/gtest.h>

#include <chrono>

using namespace aliot;
using namespace aliot::test;

TEST(UntrustedText, ValidUtf8IsKeptByteForByte) {
  // Two- three- and four-byte characters, including U+00A0 and U+00FF right after the C1 range,
  // U+2028 and the last code point.
  const std::string s = "ok \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 \xc2\xa0\xc3\xbf "
                        "\xe2\x80\xa8 \xf4\x8f\xbf\xbf ~!";
  EXPECT_EQ(enc::printable(s), s);
  EXPECT_EQ(enc::printable(""), "");
}

TEST(UntrustedText, EachInvalidByteBecomesHexEscape) {
  // A 503 page cut in the middle of a character, a lone continuation byte, an overlong '/',
  // a surrogate and a code point past U+10FFFF.
  EXPECT_EQ(enc::printable("page \xe4\xb8"), "page \\xE4\\xB8");
  EXPECT_EQ(enc::printable("\x80x"), "\\x80x");
  EXPECT_EQ(enc::printable("\xc0\xaf"), "\\xC0\\xAF");
  EXPECT_EQ(enc::printable("\xed\xa0\x80"), "\\xED\\xA0\\x80");
  EXPECT_EQ(enc::printable("\xf4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");
  EXPECT_TRUE(enc::is_valid_utf8(enc::printable("\xff\xfe\xfd")));
}

TEST(UntrustedText, C0ControlsAndDelBecomeHexEscapes) {
  // ESC [2J clears the screen, ESC ]0; sets the window title, BEL rings, CR/LF forge a line.
  EXPECT_EQ(enc::printable("a\x1b[2Jb"), "a\\x1B[2Jb");
  EXPECT_EQ(enc::printable("\x1b]0;owned\x07"), "\\x1B]0;owned\\x07");
  EXPECT_EQ(enc::printable("ok\r\naliot: error: forged"), "ok\\x0D\\x0Aaliot: error: forged");
  const char raw[] = "nul\0tab\tdel\x7f";
  EXPECT_EQ(enc::printable(std::string(raw, sizeof raw - 1)), "nul\\x00tab\\x09del\\x7F");
  for (int c = 0; c < 0x20; ++c) {
    const std::string one(1, static_cast<char>(c));
    EXPECT_EQ(enc::printable(one).size(), 4U) << c;
  }
  EXPECT_EQ(enc::printable(" "), " ");
}

TEST(UntrustedText, C1ControlsInUtf8FormBecomeHexEscapes) {
  // U+0080..U+009F as UTF-8 (C2 80 .. C2 9F): U+009B is a CSI, U+009D an OSC on some terminals.
  EXPECT_EQ(enc::printable("\xc2\x9b"
                           "2J"),
            "\\xC2\\x9B2J");
  EXPECT_EQ(enc::printable("\xc2\x80"), "\\xC2\\x80");
  EXPECT_EQ(enc::printable("\xc2\x9f"), "\\xC2\\x9F");
  EXPECT_EQ(enc::printable("\xc2\x9d"
                           "0;t\xc2\x9c"),
            "\\xC2\\x9D0;t\\xC2\\x9C");
  // The neighbours stay: U+007E, U+00A0, and a C1 byte that is not UTF-8 is escaped anyway.
  EXPECT_EQ(enc::printable("~\xc2\xa0"), "~\xc2\xa0");
  EXPECT_EQ(enc::printable("\x9b"), "\\x9B");
}

TEST(UntrustedText, EscapingTwiceChangesNothing) {
  const std::string once = enc::printable("\x1b[31m\xc2\x9b\xff \xe6\xb5\x8b");
  EXPECT_EQ(enc::printable(once), once);
  EXPECT_TRUE(enc::is_valid_utf8(once));
  for (const char c : once) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u != 0x7F) << once;
  }
}

TEST(UntrustedText, ErrorMessagesHintsAndContextAreAlwaysText) {
  Error e(Errc::remote, "the platform answered \"\xff\xfe device exists\"", "try \xc3");
  EXPECT_EQ(e.message(), "the platform answered \"\\xFF\\xFE device exists\"");
  EXPECT_EQ(e.hint(), "try \\xC3");
  Error up = std::move(e).context("registering d\xffv");
  EXPECT_EQ(up.message().rfind("registering d\\xFFv: the platform", 0), 0U) << up.message();
  EXPECT_TRUE(enc::is_valid_utf8(std::move(up).with_hint("\x80").hint()));
  // A server's message with a clear-screen, a bell and a forged second line.
  Error r(Errc::remote,
          "Code X: \x1b[2J\x07"
          "bad\r\naliot: ok",
          "see \x1b]0;t\x07");
  EXPECT_EQ(r.message(), "Code X: \\x1B[2J\\x07bad\\x0D\\x0Aaliot: ok");
  EXPECT_EQ(r.hint(), "see \\x1B]0;t\\x07");
  EXPECT_EQ(std::move(r).context("a\nb").message().rfind("a\\x0Ab: ", 0), 0U);
}

TEST(UntrustedText, StrictBase64RefusesNonZeroPadBits) {
  EXPECT_EQ(enc::base64_decode("aGk=").value_or("?"), "hi");
  EXPECT_FALSE(enc::base64_decode("aGl=")); // 'l' leaves a 1 bit under the padding
  EXPECT_FALSE(enc::base64_decode("aB=="));
  EXPECT_EQ(enc::base64_decode("aA==").value_or("?"), "h");
}

namespace {

// A loopback HTTP server whose every answer is an error carrying a clear-screen, a window title,
// a bell and a CR/LF that would forge a second log line, in every field aliot prints from an
// OpenAPI or a registration reply (Code, Message, RequestId; code, message). Prints its port.
constexpr const char* k_hostile_server = R"(
import http.server, json, sys
evil = "\x1b[2J\x1b]0;owned\x07\x07\r\naliot: error: forged\x9b"
body = json.dumps({"Code": "iot.Evil" + evil, "Message": "msg" + evil,
                   "RequestId": "req" + evil, "Success": False,
                   "code": 460, "message": "reg" + evil}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
)";

} // namespace

// Through the real binary: a server's error text reaches the terminal with its control
// characters as \xHH, on one line, under text and JSON output.
TEST(UntrustedText, ServerErrorTextIsPrintedEscaped) {
  Background server({"python3", "-c", k_hostile_server});
  const auto port = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << server.err();
  const std::string url = "http://127.0.0.1:" + *port;
  const Env env{{"ALIOT_AUTH_ENDPOINT", url},
                {"ALIOT_API_ENDPOINT", url},
                {"ALIOT_PRODUCT_SECRET", "ps0123456789abcd"},
                {"ALIOT_ACCESS_KEY_ID", "LTAIfakeKey01"},
                {"ALIOT_ACCESS_KEY_SECRET", "akSecret0123456789"}};
  const std::vector<std::vector<std::string>> cases{
      {"cloud", "pub", "-k", "a1FakePK001", "-d", "dev1", "-t", "user/get", "-m", "x"},
      {"rrpc", "call", "-k", "a1FakePK001", "-d", "dev1", "-m", "x"},
      {"register", "-k", "a1FakePK001", "-d", "dev1", "--allow-insecure-http"},
      {"cloud", "pub", "-k", "a1FakePK001", "-d", "dev1", "-t", "user/get", "-m", "x", "-o",
       "json"},
  };
  const std::string shown =
      "\\x1B[2J\\x1B]0;owned\\x07\\x07\\x0D\\x0Aaliot: error: forged\\xC2\\x9B";
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[1] + " " + args[2]);
    const auto r = run_aliot(args, {.env = env, .timeout_s = 30});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.status, 1) << r.err; // a bug's exit status
    EXPECT_NE(r.err.find(shown), std::string::npos) << r.err;
    for (const char c : r.err + r.out) {
      const auto u = static_cast<unsigned char>(c);
      ASSERT_TRUE(u == '\n' || (u >= 0x20 && u != 0x7F)) << "raw control byte " << int(u) << "\n"
                                                         << r.err;
    }
    EXPECT_EQ(r.err.find("\xc2\x9b"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("\naliot: error: forged"), std::string::npos) << r.err;
  }
}
