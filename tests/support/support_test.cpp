// The shared test helpers themselves: a helper that cannot fail would make every test using it
// pass for nothing, so each one is shown failing here.
#include "support.hpp"

#include "certs.hpp"
#include "secrets.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

using namespace aliot::test;

TEST(SecretScan, PassesWhenNoSecretIsThere) {
  EXPECT_TRUE(
      no_secret_in({"s3cr3t-value"}, {text("stderr", "all is well\n"), text("stdout", "")}));
}

TEST(SecretScan, NamesThePlaceAndOffsetOfEverySecretFound) {
  const auto r = no_secret_in({"s3cr3t", "other"},
                              {text("stdout", "ok"), text("trace", "AT+IDMAU=s3cr3t\r\nother")});
  ASSERT_FALSE(r);
  const std::string m = r.message();
  EXPECT_NE(m.find("secret 's3cr3t' in trace at byte 9"), std::string::npos) << m;
  EXPECT_NE(m.find("secret 'other' in trace at byte 17"), std::string::npos) << m;
  EXPECT_EQ(m.find("in stdout"), std::string::npos) << m;
}

TEST(SecretScan, ScansFilesBelowADirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("a/b"));
  dir.write("top.txt", "nothing here");
  dir.write("a/b/journal.db", std::string("\x00\x01hidden-key\x02", 13));
  const auto places = files_under(dir.path());
  EXPECT_EQ(places.size(), 2u);
  EXPECT_TRUE(no_secret_in({"absent"}, places));
  const auto r = no_secret_in({"hidden-key"}, places);
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find(dir.file("a/b/journal.db")), std::string::npos);
}

TEST(SecretScan, AScanThatCannotLookFails) {
  TempDir dir;
  EXPECT_FALSE(no_secret_in({""}, {text("stdout", "anything")})) << "empty secret";
  EXPECT_FALSE(no_secret_in({"x"}, {file_bytes(dir.file("missing"))})) << "missing file";
  EXPECT_FALSE(no_secret_in({"x"}, files_under(dir.file("missing-dir")))) << "missing dir";
}

TEST(Ports, OpenOnlyWhileSomethingListens) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  EXPECT_FALSE(port_open(port)) << "bound but not listening";
  ASSERT_EQ(listen(fd, 4), 0);
  EXPECT_TRUE(port_open(port));
  EXPECT_TRUE(wait_port(port, std::chrono::milliseconds(500)));
  close(fd);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_port(port, std::chrono::milliseconds(200)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

namespace {

std::string x509_text(const std::string& pem) {
  const auto r = run({"openssl", "x509", "-in", pem, "-noout", "-text"});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

int verify(const std::string& ca, const std::string& cert, const std::string& host) {
  const bool ip = host.find_first_not_of("0123456789.") == std::string::npos;
  return run({"openssl", "verify", "-CAfile", ca, "-purpose", "sslserver",
              ip ? "-verify_ip" : "-verify_hostname", host, cert})
      .status;
}

} // namespace

TEST(TestCerts, DefaultIsRsa2048SignedWithSha256ForLocalhost) {
  TempDir dir;
  const auto pki = make_test_certs(dir.path());
  const auto server = x509_text(pki.server);
  EXPECT_NE(server.find("rsaEncryption"), std::string::npos) << server;
  EXPECT_NE(server.find("(2048 bit)"), std::string::npos) << server;
  EXPECT_NE(server.find("sha256WithRSAEncryption"), std::string::npos) << server;
  EXPECT_NE(server.find("DNS:localhost, IP Address:127.0.0.1"), std::string::npos) << server;
  EXPECT_NE(x509_text(pki.ca).find("Subject: CN = aliot test CA"), std::string::npos);
  EXPECT_EQ(verify(pki.ca, pki.server, "localhost"), 0);
  EXPECT_EQ(verify(pki.ca, pki.server, "127.0.0.1"), 0);
  EXPECT_NE(verify(pki.ca, pki.server, "example.com"), 0) << "hostname is checked";
  EXPECT_NE(verify(pki.other_ca, pki.server, "localhost"), 0) << "the other CA must not verify";
}

TEST(TestCerts, EcP256OnRequest) {
  TempDir dir;
  const auto pki = make_test_certs(dir.path(), {.key = KeyType::ec_p256, .ca_subject = "/CN=x"});
  const auto server = x509_text(pki.server);
  EXPECT_NE(server.find("id-ecPublicKey"), std::string::npos) << server;
  EXPECT_NE(server.find("prime256v1"), std::string::npos) << server;
  EXPECT_NE(server.find("ecdsa-with-SHA256"), std::string::npos) << server;
  EXPECT_NE(x509_text(pki.ca).find("Subject: CN = x"), std::string::npos);
  EXPECT_EQ(verify(pki.ca, pki.server, "127.0.0.1"), 0);
  EXPECT_NE(verify(pki.other_ca, pki.server, "127.0.0.1"), 0);
}
