// Copyright netman authors.
//
// TlsTestClient: a blocking BoringSSL client for tests (with a receive
// timeout, so a broken server fails the test instead of hanging it). It
// speaks raw bytes and netman frames (DefaultPacker).
//
// Example:
//   TlsClientOptions o;
//   o.ca_pem = ca.cert_pem();
//   absl::StatusOr<std::unique_ptr<TlsTestClient>> c = TlsTestClient::Connect(port, o);
//   ASSERT_TRUE(c.ok()) << c.status();
//   (*c)->SendFrame(0, "hello");
//   EXPECT_EQ(*(*c)->ReadFrame(), "hello");
//
// Threading: one thread at a time per client.
#ifndef NETMAN_TLS_TESTING_TLS_TEST_CLIENT_H_
#define NETMAN_TLS_TESTING_TLS_TEST_CLIENT_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace netman::testing {

struct TlsClientOptions {
  std::string ca_pem;  // trust anchor for the server's certificate; empty: no check
  std::string cert_pem, key_pem;  // client certificate, optional
  std::string server_name = "localhost";  // SNI (empty: none) and the name checked
  std::vector<std::string> alpn;
  uint16_t min_version = TLS1_2_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
  std::string ciphers;  // TLS 1.2 cipher string; empty: defaults
  SSL_SESSION* session = nullptr;  // to resume
  absl::Duration timeout = absl::Seconds(10);
};

class TlsTestClient {
 public:
  // Connects to 127.0.0.1:`port` and completes the handshake.
  static absl::StatusOr<std::unique_ptr<TlsTestClient>> Connect(uint16_t port,
                                                                const TlsClientOptions& options);
  ~TlsTestClient();

  absl::Status Send(std::string_view bytes);
  absl::Status SendFrame(uint32_t id, std::string_view body);
  absl::StatusOr<std::string> ReadExactly(size_t n);
  // One frame's body (its id in *id if given).
  absl::StatusOr<std::string> ReadFrame(uint32_t* id = nullptr);
  // True if the server's next record is close_notify (SSL_read returns 0
  // cleanly); false on a TCP EOF without it or data.
  absl::StatusOr<bool> ReadCloseNotify();
  // Sends close_notify.
  void Shutdown();
  // The session to resume with (valid after a round trip for TLS 1.3,
  // whose tickets arrive after the handshake).
  bssl::UniquePtr<SSL_SESSION> session() const;
  SSL* ssl() const { return ssl_.get(); }
  int fd() const { return fd_; }

 private:
  TlsTestClient() = default;
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<SSL> ssl_;
  int fd_ = -1;
  bssl::UniquePtr<SSL_SESSION> last_session_;  // the newest ticket
};

// A plain TCP socket connected to 127.0.0.1:`port` (for garbage and
// stalled handshakes); -1 on error.
int ConnectTcp(uint16_t port);

}  // namespace netman::testing

#endif  // NETMAN_TLS_TESTING_TLS_TEST_CLIENT_H_
