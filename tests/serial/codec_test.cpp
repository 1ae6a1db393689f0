// The host codec against the spec's reference session: every CRC, fingerprint and HMAC byte for
// byte, escapes, malformed lines.
#include <aliot/serial/codec.hpp>

#include <gtest/gtest.h>

using namespace aliot;
using namespace aliot::serial;

namespace {

const Secret k_ds("0123456789abcdefABCDEF0123456789");
const std::string k_pk = "a1BcDeFgHiJ";
const std::string k_dn = "SW-0C8B95A1F3E2";

} // namespace

TEST(Crc16, CheckValue) {
  EXPECT_EQ(crc16("123456789"), 0x29B1);
}

TEST(Crc16, EveryCrcOfTheReferenceSession) {
  // (text, line as sent) for every CRC-carrying line of the spec's reference session.
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"AT+CRC=1", "AT+CRC=1*2B69"},
      {"OK", "OK*F952"},
      {"AT+DEVINFO?", "AT+DEVINFO?*007F"},
      {"+DEVINFO:\"ALSW-1\",\"B2\",\"1.4.0\",\"0C:8B:95:A1:F3:E2\",\"0C8B95A1F3E2\","
       "\"SN2401000123\"",
       "+DEVINFO:\"ALSW-1\",\"B2\",\"1.4.0\",\"0C:8B:95:A1:F3:E2\",\"0C8B95A1F3E2\","
       "\"SN2401000123\"*527C"},
      {"AT+IDMAU?", "AT+IDMAU?*BCB5"},
      {"+IDMAU:0,\"\",\"\",0,0,\"\"", "+IDMAU:0,\"\",\"\",0,0,\"\"*0113"},
      {"AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",\"0123456789abcdefABCDEF0123456789\"",
       "AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",\"0123456789abcdefABCDEF0123456789\"*90FD"},
      {"+IDMAU:1,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"",
       "+IDMAU:1,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"*94A0"},
      {"AT+IDMCHK=\"00112233445566778899aabbccddeeff\"",
       "AT+IDMCHK=\"00112233445566778899aabbccddeeff\"*FF33"},
      {"+IDMCHK:\"c2e77d16a97f9fc59b32f52f54b209c577f0ad454b58062fda3f5aaebc0684bc\",\"\"",
       "+IDMCHK:\"c2e77d16a97f9fc59b32f52f54b209c577f0ad454b58062fda3f5aaebc0684bc\",\"\"*6409"},
      {"AT+IDMCOMMIT", "AT+IDMCOMMIT*FE16"},
      {"+IDMCOMMIT:\"ee0cc379bbf0398d\"", "+IDMCOMMIT:\"ee0cc379bbf0398d\"*317C"},
      {"AT+RST", "AT+RST*E5F6"},
      {"+IDMAU:2,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"",
       "+IDMAU:2,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"*24AE"},
      {"AT+IDMCHK=\"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"",
       "AT+IDMCHK=\"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"*A852"},
      {"+IDMCHK:\"4aec7804b34fe57f5d7ac6efc737a62b4bf96102666372e9f612dfb377419ed4\",\"\"",
       "+IDMCHK:\"4aec7804b34fe57f5d7ac6efc737a62b4bf96102666372e9f612dfb377419ed4\",\"\"*D990"},
      {"AT+IDMLOCK=1", "AT+IDMLOCK=1*D371"},
      {"+IDMAU:3,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"",
       "+IDMAU:3,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"*BB4B"},
      {"+CME ERROR:801", "+CME ERROR:801*E827"},
      {"+CME ERROR:50", "+CME ERROR:50*8CDC"},
      {"ERROR", "ERROR*EC8B"},
  };
  for (const auto& [text, sent] : lines) {
    EXPECT_EQ(with_crc(text), sent);
    const auto c = check_crc(sent);
    EXPECT_TRUE(c.has_crc) << sent;
    EXPECT_TRUE(c.crc_ok) << sent;
    EXPECT_EQ(c.text, text);
  }
}

TEST(Crc16, DetectsAFlippedBitAndIgnoresNonSuffixes) {
  auto c = check_crc("OK*F953");
  EXPECT_TRUE(c.has_crc);
  EXPECT_FALSE(c.crc_ok);
  c = check_crc("OK*f952"); // lower case is not a CRC suffix
  EXPECT_FALSE(c.has_crc);
  EXPECT_EQ(c.text, "OK*f952");
  c = check_crc("+X:\"a*BEEF\""); // a '*' inside quotes, not at the end
  EXPECT_FALSE(c.has_crc);
}

TEST(Digest, FingerprintAndChallengesOfTheReferenceSession) {
  EXPECT_EQ(fingerprint(k_pk, k_dn, k_ds, Secret()), "ee0cc379bbf0398d");
  EXPECT_EQ(challenge_response(k_ds, k_pk, k_dn, "00112233445566778899aabbccddeeff"),
            "c2e77d16a97f9fc59b32f52f54b209c577f0ad454b58062fda3f5aaebc0684bc");
  EXPECT_EQ(challenge_response(k_ds, k_pk, k_dn, "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
            "4aec7804b34fe57f5d7ac6efc737a62b4bf96102666372e9f612dfb377419ed4");
}

TEST(Escape, QuoteEscapesQuoteBackslashAndNonAscii) {
  EXPECT_EQ(quote("Lab \"A\",\\x"), "\"Lab \\22A\\22,\\5Cx\"");
  EXPECT_EQ(quote("a*b"), "\"a*b\"");
  EXPECT_EQ(quote(std::string("\x01\xff", 2)), "\"\\01\\FF\"");
  EXPECT_EQ(quote(""), "\"\"");
}

TEST(Escape, ParseIsQuoteAwareAndUnescapes) {
  auto p = parse_params("1,\"Lab \\22A\\22,\\5Cx\",\"a*b,c\",,42");
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 5U);
  EXPECT_EQ((*p)[0].value, "1");
  EXPECT_FALSE((*p)[0].quoted);
  EXPECT_EQ((*p)[1].value, "Lab \"A\",\\x");
  EXPECT_TRUE((*p)[1].quoted);
  EXPECT_EQ((*p)[2].value, "a*b,c");
  EXPECT_EQ((*p)[3].value, "");
  EXPECT_EQ((*p)[4].value, "42");
  // round trip of every byte value
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  auto rt = parse_params(quote(all));
  ASSERT_TRUE(rt);
  EXPECT_EQ((*rt)[0].value, all);
}

TEST(Escape, MalformedParametersAreErrors) {
  for (const char* bad : {"\"abc", "\"a\\2\"", "\"a\\zz\"", "\"a\"b", "ab\"c\"", "\"a\"\"b\"",
                          "\"\\\"", "\"tab\there\""}) {
    auto p = parse_params(bad);
    EXPECT_FALSE(p) << bad;
    if (!p) {
      EXPECT_EQ(p.error().code(), Errc::device);
    }
  }
}
