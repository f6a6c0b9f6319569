// Copyright netman authors.
//
// Client over TLS against a TLS stack no one here wrote: Python's ssl module
// (OpenSSL) serving a netman-framed echo (testing/tls_echo_server.py), over
// real sockets on 127.0.0.1, with a throw-away PKI made by the openssl CLI.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netman/base/unique_fd.h"
#include "netman/client/client.h"
#include "netman/client/tls_client_config.h"

extern char** environ;

namespace netman {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(10);  // never expected to pass
constexpr absl::Duration kShort = absl::Milliseconds(50);

// Ids that make tls_echo_server.py misbehave (see its docstring).
constexpr uint32_t kNoReply = 0xFFFF0001;
constexpr uint32_t kCloseNotify = 0xFFFF0002;
constexpr uint32_t kCloseFin = 0xFFFF0003;
constexpr uint32_t kCloseReset = 0xFFFF0004;

std::string Script() {
  const char* root = std::getenv("TEST_SRCDIR");
  return absl::StrCat(root == nullptr ? "." : root,
                      "/netman/netman/client/testing/tls_echo_server.py");
}

std::string CertDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp == nullptr ? "/tmp" : tmp, "/tls_client_certs");
}

std::string Cert(std::string_view name) {
  return absl::StrCat(CertDir(), "/", std::string(name));
}

// Debian's Python starts in a fraction of the time pyenv's shim takes.
std::string Python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                 : "python3";
}

// Runs `args` (argv[0] searched on PATH); returns the pid, or -1. With
// `in_fd`/`out_fd` >= 0 they become the child's stdin/stdout.
pid_t Spawn(const std::vector<std::string>& args, int in_fd, int out_fd) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.data()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in_fd >= 0) posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(),
                                environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// tls_echo_server.py serving on a port of its own, for one test. It exits
// when its stdin closes (the destructor, or this process dying).
class PythonTlsServer {
 public:
  explicit PythonTlsServer(std::vector<std::string> extra) {
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    UniqueFd in_read(in[0]);
    UniqueFd out_write(out[1]);
    stdin_.reset(in[1]);
    UniqueFd out_read(out[0]);
    std::vector<std::string> args = {Python(),     Script(),     "serve",
                                     "--cert",      Cert("server.pem"),
                                     "--key",       Cert("server.key")};
    for (std::string& e : extra) args.push_back(std::move(e));
    pid_ = Spawn(args, in_read.get(), out_write.get());
    if (pid_ < 0) return;
    out_write.reset();
    // The server's first line is "PORT <n>"; read it (blocking).
    std::string line;
    char c;
    while (::read(out_read.get(), &c, 1) == 1 && c != '\n') line += c;
    if (line.rfind("PORT ", 0) == 0) port_ = std::atoi(line.c_str() + 5);
  }
  ~PythonTlsServer() {
    stdin_.reset();
    if (pid_ > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  uint16_t port() const { return static_cast<uint16_t>(port_); }

 private:
  UniqueFd stdin_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::shared_ptr<const TlsClientConfig> Config(TlsClientConfig::Options o) {
  absl::StatusOr<std::shared_ptr<const TlsClientConfig>> config =
      TlsClientConfig::Create(std::move(o));
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

TlsClientConfig::Options TrustTestCa() {
  TlsClientConfig::Options o;
  o.ca_file = Cert("ca.pem");
  return o;
}

absl::StatusOr<std::unique_ptr<Client>> ConnectTls(
    uint16_t port, std::shared_ptr<const TlsClientConfig> config,
    std::string_view host = "127.0.0.1") {
  Client::Options options;
  options.tls = std::move(config);
  return Client::Connect(host, port, std::move(options));
}

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  }
  return s;
}

void ExpectEcho(Client& client, uint32_t id, const std::string& body) {
  ASSERT_TRUE(client.Send(id, body).ok());
  absl::StatusOr<ReceivedMessage> reply = client.Receive(kLong);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->id, id);
  EXPECT_EQ(reply->body.size(), body.size());
  EXPECT_TRUE(reply->body == body);
}

class TlsClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const pid_t pid = Spawn({Python(), Script(), "make_certs", CertDir()},
                            -1, -1);
    ASSERT_GT(pid, 0) << "cannot run python3";
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "make_certs failed (is the openssl CLI installed?)";
  }
};

TEST_F(TlsClientTest, Tls13RoundTripVerifiesIpAddress) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->tls_info().has_value());
  EXPECT_EQ((*client)->tls_info()->version, "TLSv1.3");
  EXPECT_EQ((*client)->tls_info()->cipher.rfind("TLS_", 0), 0u)
      << (*client)->tls_info()->cipher;
  EXPECT_FALSE((*client)->tls_info()->session_reused);
  for (uint32_t id = 1; id <= 3; ++id) {
    ExpectEcho(**client, id, absl::StrCat("hello ", id));
  }
  ExpectEcho(**client, 4, "");
}

TEST_F(TlsClientTest, Tls12RoundTrip) {
  PythonTlsServer server({"--max", "1.2"});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->tls_info()->version, "TLSv1.2");
  EXPECT_THAT((*client)->tls_info()->cipher, HasSubstr("ECDHE_ECDSA"));
  ExpectEcho(**client, 7, "over TLS 1.2");
}

TEST_F(TlsClientTest, NoCommonVersionIsUnavailable) {
  PythonTlsServer server({"--max", "1.2"});
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o = TrustTestCa();
  o.min_version = TlsClientConfig::Version::kTls13;
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable)
      << client.status();
}

TEST_F(TlsClientTest, UntrustedCaIsUnauthenticated) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o;
  o.ca_file = Cert("other_ca.pem");
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated)
      << client.status();
  EXPECT_THAT(client.status().message(), HasSubstr("certificate verify"));
}

TEST_F(TlsClientTest, SystemRootsDoNotTrustTheTestCa) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TlsClientConfig::Options()));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated)
      << client.status();
}

TEST_F(TlsClientTest, WrongHostnameIsUnauthenticated) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o = TrustTestCa();
  o.server_name = "not-localhost.example";
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated)
      << client.status();
  EXPECT_THAT(std::string(client.status().message()),
              HasSubstr("Hostname mismatch"));
}

TEST_F(TlsClientTest, ServerNameOverridesHost) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o = TrustTestCa();
  o.server_name = "localhost";
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o), "127.0.0.1");
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "named");
}

TEST_F(TlsClientTest, InsecureModeAcceptsAnyCertificate) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o;
  o.verify_peer = false;
  o.server_name = "not-localhost.example";
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "unverified");
}

TEST_F(TlsClientTest, OneMebibyteMessageEchoes) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  // Over several records; Send() reads the echo while it writes, or a peer
  // that echoes as it reads would fill both directions and stall.
  ExpectEcho(**client, 9, Pattern(size_t{1} << 20));
  // Four more back to back, then their replies.
  const std::string body = Pattern(300000);
  for (uint32_t id = 10; id < 14; ++id) {
    ASSERT_TRUE((*client)->Send(id, body).ok());
  }
  for (uint32_t id = 10; id < 14; ++id) {
    absl::StatusOr<ReceivedMessage> reply = (*client)->Receive(kLong);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->id, id);
    EXPECT_TRUE(reply->body == body);
  }
}

TEST_F(TlsClientTest, ReceiveTimesOutAndContinues) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Send(kNoReply, "ignored").ok());
  absl::StatusOr<ReceivedMessage> none = (*client)->Receive(kShort);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDeadlineExceeded)
      << none.status();
  ExpectEcho(**client, 2, "still alive");
}

TEST_F(TlsClientTest, CloseNotifyIsAnOrderlyClose) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "before");
  ASSERT_TRUE((*client)->Send(kCloseNotify, "").ok());
  absl::StatusOr<ReceivedMessage> closed = (*client)->Receive(kLong);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(closed.status().message(), HasSubstr("closed by peer"));
}

TEST_F(TlsClientTest, TcpCloseWithoutCloseNotifyIsAnOrderlyClose) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Send(kCloseFin, "").ok());
  absl::StatusOr<ReceivedMessage> closed = (*client)->Receive(kLong);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(closed.status().message(), HasSubstr("closed by peer"));
  EXPECT_TRUE((*client)->WaitForClose(kLong).ok());
}

TEST_F(TlsClientTest, ResetIsReported) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "before");
  ASSERT_TRUE((*client)->Send(kCloseReset, "").ok());
  absl::StatusOr<ReceivedMessage> reset = (*client)->Receive(kLong);
  ASSERT_FALSE(reset.ok());
  EXPECT_THAT(reset.status().message(), HasSubstr("reset by peer"));
}

TEST_F(TlsClientTest, ShutdownWriteSendsCloseNotify) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "before");
  ASSERT_TRUE((*client)->ShutdownWrite().ok());
  // The server reads the end of the stream and closes its side.
  EXPECT_TRUE((*client)->WaitForClose(kLong).ok());
}

TEST_F(TlsClientTest, HandshakeTimeoutIsDeadlineExceeded) {
  // A listener that never accepts: the kernel completes the TCP handshake,
  // nobody answers the ClientHello.
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  ASSERT_EQ(::listen(fd.get(), 4), 0);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &length), 0);
  Client::Options options;
  options.tls = Config(TrustTestCa());
  options.connect_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1", ntohs(addr.sin_port), options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kDeadlineExceeded)
      << client.status();
  EXPECT_THAT(client.status().message(), HasSubstr("TLS handshake"));
}

TEST_F(TlsClientTest, AlpnIsNegotiated) {
  PythonTlsServer server({"--alpn", "netman"});
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o = TrustTestCa();
  o.alpn = {"h2", "netman"};
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->tls_info()->alpn, "netman");
  ExpectEcho(**client, 1, "alpn");
}

TEST_F(TlsClientTest, ClientCertificateWhenTheServerAsks) {
  PythonTlsServer server({"--client_ca", Cert("ca.pem")});
  ASSERT_NE(server.port(), 0);
  // Without a certificate the server refuses us (in TLS 1.3 the alert
  // arrives after our side of the handshake is done: on the first read).
  {
    absl::StatusOr<std::unique_ptr<Client>> client =
        ConnectTls(server.port(), Config(TrustTestCa()));
    absl::Status status = client.status();
    if (client.ok()) {
      (void)(*client)->Send(1, "no cert");
      status = (*client)->Receive(kLong).status();
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  TlsClientConfig::Options o = TrustTestCa();
  o.cert_file = Cert("client.pem");
  o.key_file = Cert("client.key");
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "with cert");
}

void ExpectResumption(const std::vector<std::string>& server_args) {
  PythonTlsServer server(server_args);
  ASSERT_NE(server.port(), 0);
  TlsClientConfig::Options o = TrustTestCa();
  o.reuse_sessions = true;
  std::shared_ptr<const TlsClientConfig> config = Config(o);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Client>> client =
        ConnectTls(server.port(), config);
    ASSERT_TRUE(client.ok()) << client.status();
    EXPECT_EQ((*client)->tls_info()->session_reused, i > 0) << "connection "
                                                            << i;
    // The echo also reads the TLS 1.3 tickets sent after the handshake.
    ExpectEcho(**client, 1, "resume");
  }
  // A config without reuse never resumes.
  absl::StatusOr<std::unique_ptr<Client>> fresh =
      ConnectTls(server.port(), Config(TrustTestCa()));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE((*fresh)->tls_info()->session_reused);
}

TEST_F(TlsClientTest, SessionResumptionTls13) { ExpectResumption({}); }

TEST_F(TlsClientTest, SessionResumptionTls12) {
  ExpectResumption({"--max", "1.2"});
}

TEST_F(TlsClientTest, ConfigurationErrors) {
  TlsClientConfig::Options missing;
  missing.ca_file = Cert("no-such-file.pem");
  EXPECT_EQ(TlsClientConfig::Create(missing).status().code(),
            absl::StatusCode::kNotFound);

  TlsClientConfig::Options mismatch = TrustTestCa();
  mismatch.cert_file = Cert("client.pem");
  mismatch.key_file = Cert("server.key");
  absl::Status status = TlsClientConfig::Create(mismatch).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("key_file"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("MISMATCH"));

  TlsClientConfig::Options half = TrustTestCa();
  half.cert_file = Cert("client.pem");
  EXPECT_EQ(TlsClientConfig::Create(half).status().code(),
            absl::StatusCode::kInvalidArgument);

  TlsClientConfig::Options versions = TrustTestCa();
  versions.min_version = TlsClientConfig::Version::kTls13;
  versions.max_version = TlsClientConfig::Version::kTls12;
  EXPECT_EQ(TlsClientConfig::Create(versions).status().code(),
            absl::StatusCode::kInvalidArgument);

  TlsClientConfig::Options bad_pem;
  bad_pem.ca_pem = "not a certificate";
  EXPECT_EQ(TlsClientConfig::Create(bad_pem).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsClientTest, CaAsPemText) {
  PythonTlsServer server({});
  ASSERT_NE(server.port(), 0);
  FILE* f = std::fopen(Cert("ca.pem").c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string pem;
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) pem.append(chunk, n);
  std::fclose(f);
  TlsClientConfig::Options o;
  o.ca_pem = pem;
  absl::StatusOr<std::unique_ptr<Client>> client =
      ConnectTls(server.port(), Config(o));
  ASSERT_TRUE(client.ok()) << client.status();
  ExpectEcho(**client, 1, "pem");
}

}  // namespace
}  // namespace netman
