// Copyright netman authors.
//
// Fuzz target for the TLS glue (netman/tls TlsTransport): peer bytes into
// the server transport's read side, before and after a handshake, over a
// socketpair (the transport reads its socket itself). The input is a
// SplitInput (split_input.h); its flags pick the mode:
//
//   flags & 1 == 0  before the handshake: the stream is what a "client"
//                   sends instead of (or as) its ClientHello, in chunks.
//   flags & 3 == 1  after a real handshake with an in-process BoringSSL
//                   client: the stream is raw bytes on the wire (forged or
//                   broken records), in chunks.
//   flags & 3 == 3  after a real handshake: the client seals each chunk as
//                   application data; the server must read back exactly the
//                   stream, echo it with one Write() and the client must
//                   read it back; then a graceful close sends close_notify.
//   flags & 4       TLS 1.2 instead of 1.3.
//
// Invariants: no crash, leak or sanitizer report; Read/Write errors are
// statuses; in the sealed mode the bytes round-trip exactly.
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "fuzz/split_input.h"
#include "netman/buffer/buffer.h"
#include "netman/tls/testing/test_certs.h"
#include "netman/tls/tls_context.h"
#include "netman/tls/tls_transport.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace {

using netman::Buffer;
using netman::TlsContext;
using netman::Transport;

// Chunks per input (bounds the work of one input).
constexpr size_t kMaxChunks = 64;
constexpr int kHandshakeRounds = 16;

struct Fixture {
  std::unique_ptr<TlsContext> server;
  bssl::UniquePtr<SSL_CTX> client;
};

Fixture& GetFixture() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;  // lives for the process (fuzzer harness)
    netman::testing::TestCa ca("fuzz CA");
    const netman::testing::KeyPair pair = ca.Issue({});
    netman::TlsServerConfig config;
    config.certificates.push_back(netman::TlsCertificate::FromPem(pair.cert_pem, pair.key_pem));
    f->server = *netman::TlsContext::Create(config);
    f->client.reset(SSL_CTX_new(TLS_method()));
    return f;
  }();
  return *fixture;
}

struct Pair {
  int client = -1;
  int server = -1;
  ~Pair() {
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }
};

char scratch[64 * 1024];

// Reads everything the server socket has; false on an error status.
bool ServerReadAll(Transport& t, int fd, Buffer& plaintext, bool* peer_closed) {
  for (int i = 0; i < 1024; ++i) {
    absl::StatusOr<Transport::ReadResult> r = t.Read(fd, scratch, plaintext);
    if (!r.ok()) return false;
    if (r->outcome == Transport::ReadOutcome::kPeerClosed) {
      *peer_closed = true;
      return true;
    }
    if (r->outcome == Transport::ReadOutcome::kWouldBlock) return true;
  }
  return true;
}

void WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = GetFixture();
  const netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
  Pair pair;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) return 0;
  pair.client = fds[0];
  pair.server = fds[1];
  const int big = 1 << 20;
  ::setsockopt(pair.client, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  ::setsockopt(pair.server, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  absl::StatusOr<std::unique_ptr<Transport>> made = f.server->TransportFactory()();
  NETMAN_FUZZ_CHECK(made.ok(), "transport: %s", made.status().ToString().c_str());
  Transport& server = **made;
  Buffer plaintext;
  bool peer_closed = false;
  netman::fuzz::Chunker chunks(input.stream, input.chunk_lengths, kMaxChunks);

  if ((input.flags & 1) == 0) {
    for (std::string_view chunk; chunks.Next(chunk);) {
      WriteAll(pair.client, chunk);
      if (!ServerReadAll(server, pair.server, plaintext, &peer_closed) || peer_closed) break;
    }
    NETMAN_FUZZ_CHECK(plaintext.empty() || server.ready(), "plaintext before the handshake");
    return 0;
  }

  bssl::UniquePtr<SSL> client(SSL_new(f.client.get()));
  const uint16_t version = (input.flags & 4) != 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_set_min_proto_version(client.get(), version);
  SSL_set_max_proto_version(client.get(), version);
  SSL_set_fd(client.get(), pair.client);
  SSL_set_connect_state(client.get());
  bool done = false;
  for (int i = 0; i < kHandshakeRounds && !done; ++i) {
    const int rc = SSL_do_handshake(client.get());
    const bool ok = ServerReadAll(server, pair.server, plaintext, &peer_closed);
    NETMAN_FUZZ_CHECK(ok, "handshake failed on the server side");
    // Server flight bytes written during Read() are already on the socket.
    absl::StatusOr<Transport::WriteResult> w = server.Write(pair.server, plaintext);
    NETMAN_FUZZ_CHECK(w.ok(), "server write during the handshake");
    done = rc == 1 && server.ready();
  }
  NETMAN_FUZZ_CHECK(done, "in-process handshake did not complete");

  if ((input.flags & 2) == 0) {
    for (std::string_view chunk; chunks.Next(chunk);) {
      WriteAll(pair.client, chunk);
      if (!ServerReadAll(server, pair.server, plaintext, &peer_closed) || peer_closed) break;
    }
    return 0;
  }

  // Sealed application data: must come through exactly.
  for (std::string_view chunk; chunks.Next(chunk);) {
    const int rc = SSL_write(client.get(), chunk.data(), static_cast<int>(chunk.size()));
    NETMAN_FUZZ_CHECK(rc == static_cast<int>(chunk.size()), "client SSL_write");
    const bool ok = ServerReadAll(server, pair.server, plaintext, &peer_closed);
    NETMAN_FUZZ_CHECK(ok && !peer_closed, "server read of sealed data failed");
  }
  // Chunker's max_chunks folds the tail into the last chunk: all the stream.
  NETMAN_FUZZ_CHECK(plaintext.readable() == input.stream, "read %zu of %zu bytes",
                    plaintext.size(), input.stream.size());
  absl::StatusOr<Transport::WriteResult> w = server.Write(pair.server, plaintext);
  NETMAN_FUZZ_CHECK(w.ok() && plaintext.empty(), "echo write");
  std::string echoed;
  char buf[4096];
  for (int i = 0; i < 4096 && echoed.size() < input.stream.size(); ++i) {
    const int rc = SSL_read(client.get(), buf, sizeof(buf));
    if (rc <= 0) {
      NETMAN_FUZZ_CHECK(SSL_get_error(client.get(), rc) == SSL_ERROR_WANT_READ,
                        "client read of the echo");
      // Pending wire bytes go out as the socket takes them.
      absl::StatusOr<Transport::WriteResult> more = server.Write(pair.server, plaintext);
      NETMAN_FUZZ_CHECK(more.ok(), "flush");
      continue;
    }
    echoed.append(buf, static_cast<size_t>(rc));
  }
  NETMAN_FUZZ_CHECK(echoed == input.stream, "echo mismatch: %zu of %zu bytes", echoed.size(),
                    input.stream.size());
  server.OnClosing();
  w = server.Write(pair.server, plaintext);
  NETMAN_FUZZ_CHECK(w.ok() && w->pending == 0, "close_notify write");
  const int rc = SSL_read(client.get(), buf, sizeof(buf));
  NETMAN_FUZZ_CHECK(rc == 0 && SSL_get_error(client.get(), rc) == SSL_ERROR_ZERO_RETURN,
                    "no close_notify");
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
