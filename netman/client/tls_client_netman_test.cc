// Copyright netman authors.
//
// End to end: netman's Client over TLS against netman's own TcpServer
// serving TLS (netman/tls: TlsContext::TransportFactory()), over real
// sockets on 127.0.0.1, with a test PKI made at test time.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netman/client/client.h"
#include "netman/client/tls_client_config.h"
#include "netman/server/tcp_server.h"
#include "netman/tls/testing/test_certs.h"
#include "netman/tls/tls_context.h"
#include "netman/tls/tls_peer_info.h"

namespace netman {
namespace {

using ::netman::testing::KeyPair;
using ::netman::testing::LeafOptions;
using ::netman::testing::TestCa;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(20);  // never expected to pass
constexpr absl::Duration kShort = absl::Milliseconds(50);
constexpr uint32_t kEcho = 0;
constexpr uint32_t kSilent = 1;  // no reply
constexpr uint32_t kInfo = 2;    // replies "<version>|<resumed>|<subject>"
constexpr uint32_t kClose = 3;   // the server closes gracefully

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  }
  return s;
}

class TlsClientNetmanTest : public ::testing::Test {
 protected:
  void Start(TlsVersion min_version = TlsVersion::k1_2,
             const std::string& client_ca_file = "") {
    const KeyPair leaf = ca_.Issue(LeafOptions());
    TlsServerConfig config;
    config.certificates.push_back(
        TlsCertificate::FromPem(leaf.cert_pem, leaf.key_pem));
    config.min_version = min_version;
    config.client_ca_file = client_ca_file;
    absl::StatusOr<std::unique_ptr<TlsContext>> tls =
        TlsContext::Create(std::move(config));
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);
    ServerOptions options;
    options.transport_factory = tls_->TransportFactory();
    server_ = std::make_unique<TcpServer>(options);
    ASSERT_TRUE(server_->AddRouter(kEcho, [](Request& r) {
      (void)r.connection().Send(kEcho, r.body());
    }).ok());
    ASSERT_TRUE(server_->AddRouter(kSilent, [](Request&) {}).ok());
    ASSERT_TRUE(server_->AddRouter(kInfo, [](Request& r) {
      const TlsPeerInfo* info = TlsInfo(r.connection());
      (void)r.connection().Send(
          kInfo, info == nullptr
                     ? std::string("plain")
                     : absl::StrCat(info->version, "|",
                                    info->resumed ? "resumed" : "full", "|",
                                    info->subject));
    }).ok());
    ASSERT_TRUE(server_->AddRouter(kClose, [](Request& r) {
      r.connection().Close();
    }).ok());
    ASSERT_TRUE(server_->StartInBackground("127.0.0.1:0").ok());
  }

  TlsClientConfig::Options TrustCa() const {
    TlsClientConfig::Options o;
    o.ca_pem = ca_.cert_pem();
    return o;
  }

  absl::StatusOr<std::unique_ptr<Client>> Connect(
      TlsClientConfig::Options o, std::string_view host = "127.0.0.1") {
    absl::StatusOr<std::shared_ptr<const TlsClientConfig>> config =
        TlsClientConfig::Create(std::move(o));
    if (!config.ok()) return config.status();
    return Connect(*config, host);
  }
  absl::StatusOr<std::unique_ptr<Client>> Connect(
      std::shared_ptr<const TlsClientConfig> config,
      std::string_view host = "127.0.0.1") {
    Client::Options options;
    options.tls = std::move(config);
    return Client::Connect(host, server_->port(), std::move(options));
  }

  static void ExpectEcho(Client& client, const std::string& body) {
    ASSERT_TRUE(client.Send(kEcho, body).ok());
    absl::StatusOr<ReceivedMessage> reply = client.Receive(kLong);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->id, kEcho);
    EXPECT_TRUE(reply->body == body) << reply->body.size() << " bytes";
  }

  static std::string Info(Client& client) {
    EXPECT_TRUE(client.Send(kInfo, "").ok());
    absl::StatusOr<ReceivedMessage> reply = client.Receive(kLong);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->body : "";
  }

  TestCa ca_{"netman client test CA"};
  std::unique_ptr<TlsContext> tls_;  // outlives the server
  std::unique_ptr<TcpServer> server_;
};

TEST_F(TlsClientNetmanTest, Tls13EchoVerifiedByIpAndByName) {
  Start();
  absl::StatusOr<std::unique_ptr<Client>> by_ip = Connect(TrustCa());
  ASSERT_TRUE(by_ip.ok()) << by_ip.status();
  EXPECT_EQ((*by_ip)->tls_info()->version, "TLSv1.3");
  ExpectEcho(**by_ip, "hello");
  EXPECT_THAT(Info(**by_ip), HasSubstr("TLSv1.3|full"));

  TlsClientConfig::Options named = TrustCa();
  named.server_name = "localhost";
  absl::StatusOr<std::unique_ptr<Client>> by_name = Connect(named);
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  ExpectEcho(**by_name, "by name");
}

TEST_F(TlsClientNetmanTest, Tls12Echo) {
  Start();
  TlsClientConfig::Options o = TrustCa();
  o.max_version = TlsClientConfig::Version::kTls12;
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(o);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->tls_info()->version, "TLSv1.2");
  ExpectEcho(**client, "twelve");
  EXPECT_THAT(Info(**client), HasSubstr("TLSv1.2|full"));
}

TEST_F(TlsClientNetmanTest, ServerRefusesTls12WhenItsMinimumIs13) {
  Start(TlsVersion::k1_3);
  TlsClientConfig::Options o = TrustCa();
  o.max_version = TlsClientConfig::Version::kTls12;
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(o);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable)
      << client.status();
}

TEST_F(TlsClientNetmanTest, WrongNameAndUntrustedCaAreUnauthenticated) {
  Start();
  TlsClientConfig::Options wrong_name = TrustCa();
  wrong_name.server_name = "not-the-server.example";
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(wrong_name);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated)
      << client.status();

  TestCa other("another CA");
  TlsClientConfig::Options untrusted;
  untrusted.ca_pem = other.cert_pem();
  client = Connect(untrusted);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated)
      << client.status();
}

TEST_F(TlsClientNetmanTest, OneMebibyteMessagesBothWays) {
  Start();
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(TrustCa());
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, Pattern(size_t{1} << 20));
  // Pipelined: all sent before any reply is read.
  const std::string body = Pattern(200000);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE((*client)->Send(kEcho, body).ok());
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<ReceivedMessage> reply = (*client)->Receive(kLong);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_TRUE(reply->body == body);
  }
}

TEST_F(TlsClientNetmanTest, TimeoutThenServerClose) {
  Start();
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(TrustCa());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Send(kSilent, "").ok());
  EXPECT_EQ((*client)->Receive(kShort).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ExpectEcho(**client, "after the timeout");
  ASSERT_TRUE((*client)->Send(kClose, "").ok());
  absl::StatusOr<ReceivedMessage> closed = (*client)->Receive(kLong);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kUnavailable)
      << closed.status();
  EXPECT_THAT(std::string(closed.status().message()),
              HasSubstr("closed by peer"));
}

TEST_F(TlsClientNetmanTest, ShutdownWriteIsAnsweredWithAClose) {
  Start();
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(TrustCa());
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, "before");
  ASSERT_TRUE((*client)->ShutdownWrite().ok());
  EXPECT_TRUE((*client)->WaitForClose(kLong).ok());
}

TEST_F(TlsClientNetmanTest, SessionTicketsResume) {
  Start();
  TlsClientConfig::Options o = TrustCa();
  o.reuse_sessions = true;
  absl::StatusOr<std::shared_ptr<const TlsClientConfig>> config =
      TlsClientConfig::Create(o);
  ASSERT_TRUE(config.ok());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Client>> client = Connect(*config);
    ASSERT_TRUE(client.ok()) << client.status();
    EXPECT_EQ((*client)->tls_info()->session_reused, i > 0) << i;
    EXPECT_THAT(Info(**client), HasSubstr(i > 0 ? "|resumed|" : "|full|"));
  }
}

TEST_F(TlsClientNetmanTest, ClientCertificateIdentityReachesTheHandler) {
  const std::string ca_file =
      netman::testing::WriteTestFile("client_ca.pem", ca_.cert_pem());
  Start(TlsVersion::k1_2, ca_file);
  LeafOptions leaf;
  leaf.common_name = "client-7";
  leaf.dns_names = {};
  leaf.ip_localhost = false;
  const KeyPair client_key = ca_.Issue(leaf);
  TlsClientConfig::Options o = TrustCa();
  o.cert_pem = client_key.cert_pem;
  o.key_pem = client_key.key_pem;
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(o);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_THAT(Info(**client), HasSubstr("client-7"));
}

}  // namespace
}  // namespace netman
