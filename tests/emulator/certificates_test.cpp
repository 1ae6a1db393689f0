// The emulator's CA and server certificate (aliot/emu/launcher.hpp ensure_certificates), made with
// OpenSSL's API, checked by the openssl command-line tool: a peer we did not write.
#include "support.hpp"

#include <aliot/emu/launcher.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>

using aliot::test::run;
using aliot::test::TempDir;

namespace {

aliot::test::ProcResult openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  return run(args, {.timeout_s = 30});
}

} // namespace

TEST(EmuCertificates, OpensslVerifiesTheChainForLocalhostAnd127001) {
  if (!aliot::test::have_program("openssl")) {
    GTEST_SKIP() << "openssl is needed";
  }
  TempDir tmp;
  auto made = aliot::emu::ensure_certificates(tmp.path());
  ASSERT_TRUE(made) << made.error().message();
  const std::string ca = tmp.file("ca.pem"), server = tmp.file("server.pem");

  for (const std::vector<std::string>& check :
       {std::vector<std::string>{"-verify_hostname", "localhost"},
        std::vector<std::string>{"-verify_ip", "127.0.0.1"}}) {
    std::vector<std::string> args{"verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", ca};
    args.insert(args.end(), check.begin(), check.end());
    args.push_back(server);
    auto v = openssl(args);
    EXPECT_EQ(v.status, 0) << check[1] << ": " << v.out << v.err;
    EXPECT_NE(v.out.find(": OK"), std::string::npos) << v.out;
  }
  // The checks can fail: another name, or the CA as a server certificate.
  auto other = openssl({"verify", "-CAfile", ca, "-verify_hostname", "example.com", server});
  EXPECT_NE(other.status, 0) << other.out;
  auto not_server = openssl({"verify", "-purpose", "sslserver", "-CAfile", server, server});
  EXPECT_NE(not_server.status, 0) << "server.pem is no CA: " << not_server.out;

  auto text = openssl({"x509", "-noout", "-text", "-in", server});
  EXPECT_NE(text.out.find("Public-Key: (2048 bit)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("sha256WithRSAEncryption"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("TLS Web Server Authentication"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("CA:FALSE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Subject: O = aliot emulator, CN = localhost"), std::string::npos)
      << text.out;
  auto ca_text = openssl({"x509", "-noout", "-text", "-in", ca});
  EXPECT_NE(ca_text.out.find("CA:TRUE"), std::string::npos) << ca_text.out;
  EXPECT_NE(ca_text.out.find("Certificate Sign"), std::string::npos) << ca_text.out;

  // Each key matches its certificate, and is an unencrypted RSA key openssl reads.
  for (const std::string name : {"ca", "server"}) {
    auto key = openssl({"pkey", "-in", tmp.file(name + ".key"), "-pubout"});
    auto cert = openssl({"x509", "-noout", "-pubkey", "-in", tmp.file(name + ".pem")});
    EXPECT_EQ(key.status, 0) << key.err;
    EXPECT_FALSE(key.out.empty());
    EXPECT_EQ(key.out, cert.out) << name;
  }
}

TEST(EmuCertificates, WrittenOwnerOnlyAndKeptOnceMade) {
  TempDir tmp;
  ASSERT_TRUE(aliot::emu::ensure_certificates(tmp.path()));
  for (const std::string f : {"ca.key", "ca.pem", "server.key", "server.pem"}) {
    struct stat st {};
    ASSERT_EQ(::stat(tmp.file(f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600U) << f;
  }
  const std::string ca = tmp.read("ca.pem"), server = tmp.read("server.pem");
  EXPECT_NE(ca, server);
  ASSERT_TRUE(aliot::emu::ensure_certificates(tmp.path()));
  EXPECT_EQ(tmp.read("ca.pem"), ca) << "made once per directory";
  EXPECT_EQ(tmp.read("server.pem"), server);
  // A directory that lost its server key gets a whole new set.
  ASSERT_EQ(::unlink(tmp.file("server.key").c_str()), 0);
  ASSERT_TRUE(aliot::emu::ensure_certificates(tmp.path()));
  EXPECT_NE(tmp.read("ca.pem"), ca);
  // Nothing is left of the old way of making them (openssl req's files and log).
  for (const std::string f : {"server.csr", "server.ext", "openssl.log", "ca.srl"}) {
    struct stat st {};
    EXPECT_NE(::stat(tmp.file(f).c_str(), &st), 0) << f;
  }
}

TEST(EmuCertificates, AnUnwritableDirectoryIsAnIoError) {
  TempDir tmp;
  auto r = aliot::emu::ensure_certificates(tmp.file("missing/dir"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), aliot::Errc::io) << r.error().message();
}
