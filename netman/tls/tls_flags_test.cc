// Copyright netman authors.
//
// The --tls_* flags: off by default, every bad value an InvalidArgument
// naming its flag, a good set builds a TlsContext.
#include "netman/tls/tls_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netman/tls/testing/test_certs.h"

namespace netman {
namespace {

using ::netman::testing::TestCa;
using ::netman::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class TlsFlagsTest : public ::testing::Test {
 protected:
  TlsFlagsTest() {
    const testing::KeyPair pair = ca_.Issue({});
    good_.cert = WriteTestFile("flags_cert.pem", pair.cert_pem);
    good_.key = WriteTestFile("flags_key.pem", pair.key_pem);
  }
  void ExpectError(const TlsFlagValues& v, const std::string& flag) {
    absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContextFromFlagValues(v);
    ASSERT_FALSE(tls.ok());
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(tls.status().message()), StartsWith("--" + flag)) << tls.status();
  }
  TestCa ca_{"flags CA"};
  TlsFlagValues good_;
};

TEST_F(TlsFlagsTest, OffByDefault) {
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContextFromFlagValues(TlsFlagValues());
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(*tls, nullptr);
}

TEST_F(TlsFlagsTest, GoodFlagsBuildAContext) {
  TlsFlagValues v = good_;
  v.min_version = "1.3";
  v.client_ca = WriteTestFile("flags_ca.pem", ca_.cert_pem());
  v.alpn = "netman,http/1.1";
  v.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContextFromFlagValues(v);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_NE(*tls, nullptr);
  absl::StatusOr<std::optional<TlsServerConfig>> config = TlsConfigFromFlags(v);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ((*config)->alpn, (std::vector<std::string>{"netman", "http/1.1"}));
  EXPECT_EQ((*config)->min_version, TlsVersion::k1_3);
}

TEST_F(TlsFlagsTest, EveryBadValueNamesItsFlag) {
  TlsFlagValues v = good_;
  v.min_version = "1.1";
  ExpectError(v, "tls_min_version");
  v = good_;
  v.key.clear();
  ExpectError(v, "tls_key");
  v = good_;
  v.key = "/nonexistent.pem";
  ExpectError(v, "tls_key");
  v = good_;
  v.cert = "/nonexistent.pem";
  ExpectError(v, "tls_cert");
  v = good_;
  v.key = WriteTestFile("flags_other_key.pem", ca_.Issue({}).key_pem);
  ExpectError(v, "tls_key");
  v = good_;
  v.cert = WriteTestFile("flags_bad_cert.pem", "not pem");
  ExpectError(v, "tls_cert");
  v = good_;
  v.ciphers = "NOT-A-CIPHER";
  ExpectError(v, "tls_ciphers");
  v = good_;
  v.alpn = "a,,b";
  ExpectError(v, "tls_alpn");
  v = good_;
  v.client_ca = "/nonexistent.pem";
  ExpectError(v, "tls_client_ca");
  v = good_;
  v.client_ca = WriteTestFile("flags_bad_ca.pem", "garbage");
  ExpectError(v, "tls_client_ca");
  v = TlsFlagValues();
  v.client_ca = "x.pem";
  ExpectError(v, "tls_client_ca");
}

}  // namespace
}  // namespace netman
