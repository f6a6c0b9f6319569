// Copyright netman authors.
//
// TcpServer serving TLS through TlsContext::TransportFactory(), tested over
// real sockets on 127.0.0.1 with a BoringSSL client: TLS 1.2 and 1.3 round
// trips, several messages in one record and one message over many records,
// close_notify both ways, peer identity for handlers (TlsInfo), SNI,
// client certificates (trusted, untrusted, expired, missing), ALPN,
// versions, session resumption, certificate reload, garbage instead of a
// ClientHello and a stalled handshake beside 100 healthy clients.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/server/tcp_server.h"
#include "netman/tls/testing/test_certs.h"
#include "netman/tls/testing/tls_test_client.h"
#include "netman/tls/tls_context.h"
#include "netman/tls/tls_peer_info.h"

namespace netman {
namespace {

using ::netman::testing::ConnectTcp;
using ::netman::testing::KeyPair;
using ::netman::testing::LeafOptions;
using ::netman::testing::TestCa;
using ::netman::testing::TlsClientOptions;
using ::netman::testing::TlsTestClient;
using ::netman::testing::WriteTestFile;
using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(20);
constexpr uint32_t kEcho = 0;
constexpr uint32_t kInfo = 2;   // replies with TlsInfo() as text
constexpr uint32_t kClose = 3;  // the server closes gracefully

std::string PeerCommonName(SSL* ssl) {
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl));
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn));
  return cn;
}

class TlsServerTest : public ::testing::Test {
 protected:
  TlsServerTest() : server_key_(ca_.Issue({})) {}

  TlsServerConfig BaseConfig() const {
    TlsServerConfig config;
    config.certificates.push_back(
        TlsCertificate::FromPem(server_key_.cert_pem, server_key_.key_pem));
    return config;
  }

  // Starts a TcpServer over TLS with `config`.
  void Start(TlsServerConfig config, absl::Duration handshake_timeout = absl::Seconds(10)) {
    absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(std::move(config));
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);
    ServerOptions options;
    options.transport_factory = tls_->TransportFactory();
    options.handshake_timeout = handshake_timeout;
    options.logger = Logger(sink_, LogLevel::kDebug);
    server_ = std::make_unique<TcpServer>(options);
    ASSERT_TRUE(server_->AddRouter(kEcho, [](Request& r) {
      (void)r.connection().Send(kEcho, r.body());
    }).ok());
    ASSERT_TRUE(server_->AddRouter(kInfo, [](Request& r) {
      const TlsPeerInfo* info = TlsInfo(r.connection());
      (void)r.connection().Send(
          kInfo, info == nullptr
                     ? std::string("plain")
                     : absl::StrCat(info->version, "|", info->cipher, "|", info->alpn, "|",
                                    info->server_name, "|", info->resumed ? "resumed" : "full",
                                    "|", info->client_verified ? "verified" : "anonymous", "|",
                                    info->subject, "|",
                                    absl::StrJoin(info->subject_alt_names, ",")));
    }).ok());
    ASSERT_TRUE(server_->AddRouter(kClose, [](Request& r) { r.connection().Close(); }).ok());
    ASSERT_TRUE(server_->OnClose([this](Connection&, const absl::Status& reason) {
      MutexLock lock(&mu_);
      close_reasons_.push_back(reason.ToString());
    }).ok());
    ASSERT_TRUE(server_->StartInBackground("127.0.0.1:0").ok());
  }

  TlsClientOptions ClientOptions() const {
    TlsClientOptions o;
    o.ca_pem = ca_.cert_pem();
    return o;
  }

  absl::StatusOr<std::unique_ptr<TlsTestClient>> Connect(const TlsClientOptions& o) {
    return TlsTestClient::Connect(server_->port(), o);
  }

  // One echo round trip.
  static void ExpectEcho(TlsTestClient& c, const std::string& body) {
    ASSERT_TRUE(c.SendFrame(kEcho, body).ok());
    absl::StatusOr<std::string> reply = c.ReadFrame();
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(*reply, body);
  }

  static std::string Info(TlsTestClient& c) {
    EXPECT_TRUE(c.SendFrame(kInfo, "").ok());
    absl::StatusOr<std::string> reply = c.ReadFrame();
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : "";
  }

  // TLS 1.3 clients learn that the server refused their certificate on
  // their first read after the handshake.
  static void ExpectRefused(const absl::StatusOr<std::unique_ptr<TlsTestClient>>& c) {
    if (!c.ok()) return;
    const bool round_trip = (*c)->SendFrame(kEcho, "x").ok() && (*c)->ReadFrame().ok();
    EXPECT_FALSE(round_trip);
  }

  // After the client's close_notify: the server answers with its own and
  // the connection closes with an OK reason.
  void ExpectCloseNotifyAnsweredAndClosedOk(TlsTestClient& c) {
    absl::StatusOr<bool> close_notify = c.ReadCloseNotify();
    ASSERT_TRUE(close_notify.ok()) << close_notify.status();
    EXPECT_TRUE(*close_notify);
    MutexLock lock(&mu_);
    auto closed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !close_reasons_.empty(); };
    ASSERT_TRUE(mu_.AwaitWithTimeout(closed, kTimeout));
    EXPECT_EQ(close_reasons_, std::vector<std::string>{"OK"});
  }

  uint64_t Failures(TlsHandshakeFailure kind) const {
    return tls_->stats().failures[static_cast<int>(kind)];
  }

  TestCa ca_{"netman test CA"};
  KeyPair server_key_;
  std::shared_ptr<CapturingLogSink> sink_ = std::make_shared<CapturingLogSink>();
  // Before the server: its connections' OnClose runs while it stops.
  Mutex mu_;
  std::vector<std::string> close_reasons_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TlsContext> tls_;  // outlives the server
  std::unique_ptr<TcpServer> server_;
};

TEST_F(TlsServerTest, EchoOverTls13) {
  Start(BaseConfig());
  TlsClientOptions o = ClientOptions();
  o.min_version = TLS1_3_VERSION;
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEcho(**c, "hello over TLS 1.3");
  ExpectEcho(**c, "");
  EXPECT_THAT(Info(**c), HasSubstr("TLSv1.3|TLS_"));
  EXPECT_EQ(tls_->stats().handshakes, 1u);
}

TEST_F(TlsServerTest, EchoOverTls12WithAConfiguredCipher) {
  TlsServerConfig config = BaseConfig();
  config.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
  Start(config);
  TlsClientOptions o = ClientOptions();
  o.max_version = TLS1_2_VERSION;
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEcho(**c, "hello over TLS 1.2");
  EXPECT_THAT(Info(**c), HasSubstr("TLSv1.2|TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256|"));
}

TEST_F(TlsServerTest, PlainConnectionHasNoTlsInfo) {
  // The same handler on a server without a transport factory.
  TcpServer plain;
  ASSERT_TRUE(plain.AddRouter(kInfo, [](Request& r) {
    (void)r.connection().Send(kInfo, TlsInfo(r.connection()) == nullptr ? "plain" : "tls");
  }).ok());
  ASSERT_TRUE(plain.StartInBackground("127.0.0.1:0").ok());
  const int fd = ConnectTcp(plain.port());
  ASSERT_GE(fd, 0);
  const std::string frame("\0\0\0\0\2\0\0\0", 8);
  ASSERT_EQ(::write(fd, frame.data(), frame.size()), 8);
  char reply[13];
  size_t got = 0;
  while (got < sizeof(reply)) {
    const ssize_t n = ::read(fd, reply + got, sizeof(reply) - got);
    ASSERT_GT(n, 0);
    got += static_cast<size_t>(n);
  }
  EXPECT_EQ(std::string(reply + 8, 5), "plain");
  ::close(fd);
}

TEST_F(TlsServerTest, SeveralMessagesInOneRecord) {
  Start(BaseConfig());
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  // 50 frames in one SSL_write: one TLS record.
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    const std::string body = absl::StrCat("message ", i);
    std::string frame(8, '\0');
    frame[0] = static_cast<char>(body.size());
    batch += frame + body;
  }
  ASSERT_LT(batch.size(), 16384u);
  ASSERT_TRUE((*c)->Send(batch).ok());
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<std::string> reply = (*c)->ReadFrame();
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(*reply, absl::StrCat("message ", i));
  }
}

TEST_F(TlsServerTest, LargeMessageOverManyRecords) {
  Start(BaseConfig());
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  std::string body(300 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + i / 251);
  ExpectEcho(**c, body);  // ~19 records each way
  ExpectEcho(**c, std::string(64 * 1024 + 1, 'x'));
}

TEST_F(TlsServerTest, GracefulCloseSendsCloseNotifyAfterTheReplies) {
  Start(BaseConfig());
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  // The echo and the close in one record: the reply goes out before the
  // close_notify.
  ASSERT_TRUE((*c)->SendFrame(kEcho, "last words").ok());
  ASSERT_TRUE((*c)->SendFrame(kClose, "").ok());
  absl::StatusOr<std::string> reply = (*c)->ReadFrame();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "last words");
  absl::StatusOr<bool> close_notify = (*c)->ReadCloseNotify();
  ASSERT_TRUE(close_notify.ok()) << close_notify.status();
  EXPECT_TRUE(*close_notify);
}

TEST_F(TlsServerTest, ReceivedCloseNotifyClosesOrderlyAndIsAnswered) {
  Start(BaseConfig());
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEcho(**c, "before close");
  (*c)->Shutdown();  // our close_notify
  ExpectCloseNotifyAnsweredAndClosedOk(**c);
}

// A request record and the close_notify behind it in one TCP segment (so
// one server read): BoringSSL buffers both at once, and the server must
// still see the close_notify after handing on the request, with no further
// read event to prompt it.
TEST_F(TlsServerTest, RequestAndCloseNotifyInOneReadAreBothHandled) {
  Start(BaseConfig());
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEcho(**c, "warm-up");  // the tickets are read; the next bytes are ours
  const int on = 1;
  const int off = 0;
  ASSERT_EQ(::setsockopt((*c)->fd(), IPPROTO_TCP, TCP_CORK, &on, sizeof(on)), 0);
  ASSERT_TRUE((*c)->SendFrame(kEcho, "and goodbye").ok());
  (*c)->Shutdown();  // our close_notify, corked behind the request
  ASSERT_EQ(::setsockopt((*c)->fd(), IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), 0);
  absl::StatusOr<std::string> reply = (*c)->ReadFrame();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "and goodbye");
  ExpectCloseNotifyAnsweredAndClosedOk(**c);
}

TEST_F(TlsServerTest, GarbageInsteadOfClientHelloClosesOnlyThatConnection) {
  Start(BaseConfig());
  absl::StatusOr<std::unique_ptr<TlsTestClient>> healthy = Connect(ClientOptions());
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  const int fd = ConnectTcp(server_->port());
  ASSERT_GE(fd, 0);
  const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  char buffer[256];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
  }
  EXPECT_EQ(n, 0);  // closed by the server
  ::close(fd);
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (protocol_error)", kTimeout));
  EXPECT_EQ(Failures(TlsHandshakeFailure::kProtocolError), 1u);
  EXPECT_EQ(server_->stats().handshake_failures, 1u);
  ExpectEcho(**healthy, "still served");
}

TEST_F(TlsServerTest, StalledHandshakeDoesNotDelayOthersAndTimesOut) {
  Start(BaseConfig(), absl::Seconds(1));
  // Half a ClientHello record header, then nothing.
  const int stalled = ConnectTcp(server_->port());
  ASSERT_GE(stalled, 0);
  ASSERT_EQ(::write(stalled, "\x16\x03\x01\x02", 4), 4);
  std::vector<std::unique_ptr<TlsTestClient>> clients;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
    ASSERT_TRUE(c.ok()) << i << ": " << c.status();
    ExpectEcho(**c, absl::StrCat("client ", i));
    clients.push_back(*std::move(c));
  }
  // The stalled one is closed at the timeout (read blocks until then).
  timeval tv{10, 0};
  ::setsockopt(stalled, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char byte;
  EXPECT_EQ(::read(stalled, &byte, 1), 0);
  ::close(stalled);
  ASSERT_TRUE(sink_->WaitFor("handshake not finished within 1s", kTimeout));
  EXPECT_EQ(server_->stats().handshake_timeouts, 1u);
  for (auto& c : clients) ExpectEcho(*c, "after the timeout");
}

TEST_F(TlsServerTest, SniPicksTheCertificateAndUnknownNamesGetTheDefault) {
  TlsServerConfig config = BaseConfig();
  const KeyPair other = ca_.Issue({.common_name = "other", .dns_names = {"other.test"}});
  const KeyPair wild = ca_.Issue({.common_name = "wild", .dns_names = {"*.wild.test"}});
  config.certificates.push_back(TlsCertificate::FromPem(other.cert_pem, other.key_pem));
  config.certificates.push_back(TlsCertificate::FromPem(wild.cert_pem, wild.key_pem));
  Start(config);
  TlsClientOptions o = ClientOptions();
  o.server_name = "other.test";
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(PeerCommonName((*c)->ssl()), "other");
  EXPECT_THAT(Info(**c), HasSubstr("|other.test|"));

  o.server_name = "a.wild.test";
  c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(PeerCommonName((*c)->ssl()), "wild");

  // Unknown name: the default certificate; a verifying client refuses it.
  o.server_name = "unknown.test";
  c = Connect(o);
  EXPECT_FALSE(c.ok());
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (peer_alert)", kTimeout));
  o.ca_pem.clear();  // not verifying: it sees which certificate it got
  c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(PeerCommonName((*c)->ssl()), "localhost");
  ExpectEcho(**c, "default certificate");
}

class TlsClientCertificateTest : public TlsServerTest {
 protected:
  void SetUp() override {
    TlsServerConfig config = BaseConfig();
    config.client_ca_file = WriteTestFile("client_ca.pem", ca_.cert_pem());
    Start(config);
  }
  TlsClientOptions WithClientCert(const KeyPair& pair) const {
    TlsClientOptions o = ClientOptions();
    o.cert_pem = pair.cert_pem;
    o.key_pem = pair.key_pem;
    return o;
  }
};

TEST_F(TlsClientCertificateTest, VerifiedIdentityReachesHandlers) {
  const KeyPair alice = ca_.Issue({.common_name = "alice", .dns_names = {"alice.test"},
                                   .ip_localhost = false});
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(WithClientCert(alice));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(Info(**c), HasSubstr("|verified|CN=alice,O=netman test|DNS:alice.test"));
}

TEST_F(TlsClientCertificateTest, UntrustedCertificateIsRefused) {
  TestCa stranger("stranger CA");
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c =
      Connect(WithClientCert(stranger.Issue({.common_name = "mallory"})));
  // TLS 1.3: the client learns of the refusal on its first read.
  ExpectRefused(c);
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (bad_client_certificate)", kTimeout));
  EXPECT_TRUE(sink_->Contains("unable to get local issuer certificate"));
  EXPECT_EQ(Failures(TlsHandshakeFailure::kBadClientCertificate), 1u);
}

TEST_F(TlsClientCertificateTest, ExpiredCertificateIsRefused) {
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(WithClientCert(
      ca_.Issue({.common_name = "late", .not_before_seconds = -7200, .not_after_seconds = -3600})));
  ExpectRefused(c);
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (bad_client_certificate)", kTimeout));
  EXPECT_TRUE(sink_->Contains("certificate has expired"));
}

TEST_F(TlsClientCertificateTest, MissingCertificateIsRefused) {
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(ClientOptions());
  ExpectRefused(c);
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (bad_client_certificate)", kTimeout));
  EXPECT_TRUE(sink_->Contains("PEER_DID_NOT_RETURN_A_CERTIFICATE"));
}

TEST_F(TlsServerTest, AlpnNegotiatesOrRefuses) {
  TlsServerConfig config = BaseConfig();
  config.alpn = {"netman", "http/1.1"};
  Start(config);
  TlsClientOptions o = ClientOptions();
  o.alpn = {"h2", "http/1.1", "netman"};
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(Info(**c), HasSubstr("|netman|localhost|"));  // the server's preference
  o.alpn = {"h2"};
  EXPECT_FALSE(Connect(o).ok());
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (no_application_protocol)", kTimeout));
  o.alpn.clear();  // no ALPN at all: served
  c = Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEcho(**c, "no alpn");
}

TEST_F(TlsServerTest, MinimumVersionRefusesOlderClients) {
  TlsServerConfig config = BaseConfig();
  config.min_version = TlsVersion::k1_3;
  Start(config);
  TlsClientOptions o = ClientOptions();
  o.max_version = TLS1_2_VERSION;
  EXPECT_FALSE(Connect(o).ok());
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (version_mismatch)", kTimeout));
  EXPECT_EQ(Failures(TlsHandshakeFailure::kVersionMismatch), 1u);
}

// OpenSSL clients that reject the server's certificate over TLS 1.3 send
// their alert unencrypted (they have not switched to handshake keys yet);
// BoringSSL, expecting ciphertext, reports only BAD_PACKET_LENGTH. The
// server must still count and log it as the client's alert. Here a real
// ClientHello (BoringSSL's, through memory BIOs) goes out on a raw socket,
// the server's flight is read and ignored, and the alert follows in clear.
TEST_F(TlsServerTest, UnencryptedAlertDuringATls13HandshakeIsCountedAsThePeers) {
  Start(BaseConfig());
  bssl::UniquePtr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_method()));
  ASSERT_TRUE(SSL_CTX_set_min_proto_version(client_ctx.get(), TLS1_3_VERSION));
  bssl::UniquePtr<SSL> client(SSL_new(client_ctx.get()));
  BIO* to_server = BIO_new(BIO_s_mem());
  SSL_set_bio(client.get(), BIO_new(BIO_s_mem()), to_server);
  SSL_set_connect_state(client.get());
  ASSERT_EQ(SSL_do_handshake(client.get()), -1);  // wants the server's reply
  const uint8_t* hello = nullptr;
  size_t hello_len = 0;
  ASSERT_TRUE(BIO_mem_contents(to_server, &hello, &hello_len));
  const int fd = ConnectTcp(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, hello, hello_len), static_cast<ssize_t>(hello_len));
  char buffer[4096];
  ASSERT_GT(::read(fd, buffer, sizeof(buffer)), 0);  // ServerHello onwards
  // A fatal unknown_ca (48) alert record in TLS 1.2 record framing.
  const char alert[] = {21, 3, 3, 0, 2, 2, 48};
  ASSERT_EQ(::write(fd, alert, sizeof(alert)), static_cast<ssize_t>(sizeof(alert)));
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
  }
  EXPECT_EQ(n, 0);  // closed by the server
  ::close(fd);
  ASSERT_TRUE(sink_->WaitFor(
      "tls handshake failed (peer_alert): the peer sent alert 48 (unknown CA) unencrypted",
      kTimeout));
  EXPECT_EQ(Failures(TlsHandshakeFailure::kPeerAlert), 1u);
  EXPECT_EQ(Failures(TlsHandshakeFailure::kProtocolError), 0u);
}

TEST_F(TlsServerTest, NoSharedCipherIsCounted) {
  TlsServerConfig config = BaseConfig();
  config.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  Start(config);
  TlsClientOptions o = ClientOptions();
  o.max_version = TLS1_2_VERSION;
  o.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
  EXPECT_FALSE(Connect(o).ok());
  ASSERT_TRUE(sink_->WaitFor("tls handshake failed (no_shared_cipher)", kTimeout));
}

TEST_F(TlsServerTest, SessionTicketsResume) {
  Start(BaseConfig());
  for (const uint16_t version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version);
    TlsClientOptions o = ClientOptions();
    o.min_version = o.max_version = version;
    absl::StatusOr<std::unique_ptr<TlsTestClient>> first = Connect(o);
    ASSERT_TRUE(first.ok()) << first.status();
    ExpectEcho(**first, "first");  // TLS 1.3 tickets arrive after the handshake
    EXPECT_EQ(SSL_session_reused((*first)->ssl()), 0);
    bssl::UniquePtr<SSL_SESSION> session = (*first)->session();
    ASSERT_NE(session, nullptr);
    o.session = session.get();
    absl::StatusOr<std::unique_ptr<TlsTestClient>> second = Connect(o);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(SSL_session_reused((*second)->ssl()), 1);
    EXPECT_THAT(Info(**second), HasSubstr("|resumed|"));
  }
  EXPECT_EQ(tls_->stats().resumed, 2u);
}

TEST_F(TlsServerTest, ReloadServesTheNewCertificateToNewHandshakesOnly) {
  const std::string cert = WriteTestFile("reload_server.pem", server_key_.cert_pem);
  const std::string key = WriteTestFile("reload_server.key", server_key_.key_pem);
  TlsServerConfig config;
  config.certificates.push_back(TlsCertificate::FromFiles(cert, key));
  Start(config);
  TlsClientOptions o = ClientOptions();
  absl::StatusOr<std::unique_ptr<TlsTestClient>> before = Connect(o);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(PeerCommonName((*before)->ssl()), "localhost");
  bssl::UniquePtr<SSL_SESSION> session = (*before)->session();

  const KeyPair renewed = ca_.Issue({.common_name = "renewed", .dns_names = {"localhost"}});
  WriteTestFile("reload_server.pem", renewed.cert_pem);
  WriteTestFile("reload_server.key", renewed.key_pem);
  ASSERT_TRUE(tls_->Reload().ok());

  absl::StatusOr<std::unique_ptr<TlsTestClient>> after = Connect(o);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(PeerCommonName((*after)->ssl()), "renewed");
  ExpectEcho(**before, "old connection still served");
  ExpectEcho(**after, "new connection");
  EXPECT_EQ(tls_->stats().reloads, 1u);
}

}  // namespace
}  // namespace netman
