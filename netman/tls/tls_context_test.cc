// Copyright netman authors.
//
// TlsContext: every configuration error is a specific absl::Status with a
// message naming the problem (never a crash); a good configuration builds,
// reloads, and a failed reload keeps the old certificate.
#include "netman/tls/tls_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netman/tls/testing/test_certs.h"

namespace netman {
namespace {

using ::netman::testing::KeyPair;
using ::netman::testing::TestCa;
using ::netman::testing::WriteTestFile;
using ::testing::HasSubstr;

class TlsContextTest : public ::testing::Test {
 protected:
  TestCa ca_{"context test CA"};
  KeyPair leaf_ = ca_.Issue({});
};

TlsServerConfig FromPem(const KeyPair& pair) {
  TlsServerConfig config;
  config.certificates.push_back(TlsCertificate::FromPem(pair.cert_pem, pair.key_pem));
  return config;
}

TEST_F(TlsContextTest, BuildsFromMemoryAndFromFiles) {
  EXPECT_TRUE(TlsContext::Create(FromPem(leaf_)).ok());
  TlsServerConfig files;
  files.certificates.push_back(TlsCertificate::FromFiles(
      WriteTestFile("ctx_cert.pem", leaf_.cert_pem), WriteTestFile("ctx_key.pem", leaf_.key_pem)));
  files.client_ca_file = WriteTestFile("ctx_ca.pem", ca_.cert_pem());
  files.min_version = TlsVersion::k1_3;
  files.alpn = {"netman", "h2"};
  files.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305";
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(files);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE((*tls)->NewSsl().ok());
}

TEST_F(TlsContextTest, NoCertificate) {
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(TlsServerConfig());
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("no certificate"));
}

TEST_F(TlsContextTest, MissingCertificateFile) {
  TlsServerConfig config;
  config.certificates.push_back(TlsCertificate::FromFiles("/nonexistent/cert.pem", "k.pem"));
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(config);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tls.status().message(), HasSubstr("cannot read certificate file '/nonexistent/cert.pem'"));
}

TEST_F(TlsContextTest, MissingKeyFile) {
  TlsServerConfig config;
  config.certificates.push_back(TlsCertificate::FromFiles(
      WriteTestFile("mk_cert.pem", leaf_.cert_pem), "/nonexistent/key.pem"));
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(config);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tls.status().message(), HasSubstr("cannot read private key file"));
}

TEST_F(TlsContextTest, NotPem) {
  absl::StatusOr<std::unique_ptr<TlsContext>> tls =
      TlsContext::Create(FromPem({"not a certificate", leaf_.key_pem}));
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("holds no PEM certificate"));
  tls = TlsContext::Create(FromPem({leaf_.cert_pem, "not a key"}));
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("is not a PEM private key"));
}

TEST_F(TlsContextTest, KeyDoesNotMatchCertificate) {
  const KeyPair other = ca_.Issue({});
  absl::StatusOr<std::unique_ptr<TlsContext>> tls =
      TlsContext::Create(FromPem({leaf_.cert_pem, other.key_pem}));
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("private key does not match certificate"));
}

TEST_F(TlsContextTest, BadCipherString) {
  TlsServerConfig config = FromPem(leaf_);
  config.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:NO-SUCH-CIPHER";
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(config);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("bad cipher string"));
}

TEST_F(TlsContextTest, BadAlpnName) {
  TlsServerConfig config = FromPem(leaf_);
  config.alpn = {""};
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(config);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("ALPN"));
}

TEST_F(TlsContextTest, UnreadableClientCa) {
  TlsServerConfig config = FromPem(leaf_);
  config.client_ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(config);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tls.status().message(), HasSubstr("cannot read client CA file"));
  config.client_ca_file = WriteTestFile("garbage_ca.pem", "garbage");
  tls = TlsContext::Create(config);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("holds no usable certificate"));
}

TEST_F(TlsContextTest, FailedReloadKeepsTheOldCertificateAndIsCounted) {
  const std::string cert = WriteTestFile("reload_cert.pem", leaf_.cert_pem);
  const std::string key = WriteTestFile("reload_key.pem", leaf_.key_pem);
  TlsServerConfig config;
  config.certificates.push_back(TlsCertificate::FromFiles(cert, key));
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(config);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE((*tls)->Reload().ok());
  WriteTestFile("reload_key.pem", ca_.Issue({}).key_pem);  // mismatched now
  const absl::Status s = (*tls)->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("does not match"));
  EXPECT_EQ((*tls)->stats().reloads, 1u);
  EXPECT_EQ((*tls)->stats().failed_reloads, 1u);
  EXPECT_TRUE((*tls)->NewSsl().ok());  // still serving with the old one
}

TEST(TlsStatsTest, Json) {
  TlsStats s;
  s.handshakes = 3;
  s.failures[static_cast<int>(TlsHandshakeFailure::kProtocolError)] = 2;
  EXPECT_THAT(s.ToJson(), HasSubstr("\"handshakes\":3"));
  EXPECT_THAT(s.ToJson(), HasSubstr("\"protocol_error\":2"));
  EXPECT_EQ(s.failures_total(), 2u);
}

}  // namespace
}  // namespace netman
