// Copyright netman authors.
//
// Microbenchmark (Google Benchmark) of TlsTransport's write side: sealing
// and sending a batch of 64 B replies with one Write() (what the connection
// does at the end of a read) against one Write() per reply (what a
// transport without batching would do), over a socketpair after a real
// in-process TLS 1.3 handshake (ECDSA P-256, TLS_AES_128_GCM_SHA256). The
// reader drains the ciphertext without decrypting it.
//
// BM_AeadSealOpen is the floor under every TLS echo: the cipher suite's
// AEAD alone (BoringSSL's EVP_AEAD, no record layer, no BIO, no socket)
// sealing and opening one record of the given plaintext size, i.e. what a
// TLS echo must spend per message on top of the plain echo (docs/
// BENCHMARKS.md, "Reading the TLS results").
//
//   bazel run -c opt //netman/tls:tls_transport_benchmark
#include <openssl/aead.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "netman/buffer/buffer.h"
#include "netman/tls/testing/test_certs.h"
#include "netman/tls/tls_context.h"
#include "netman/tls/tls_transport.h"

namespace netman {
namespace {

constexpr size_t kMessageBytes = 64 + 8;  // a 64 B body and its frame header

struct Session {
  std::unique_ptr<TlsContext> context;
  bssl::UniquePtr<SSL_CTX> client_ctx;
  bssl::UniquePtr<SSL> client;
  std::unique_ptr<Transport> server;
  int client_fd = -1;
  int server_fd = -1;

  Session() {
    testing::TestCa ca("bench CA");
    const testing::KeyPair pair = ca.Issue({});
    TlsServerConfig config;
    config.certificates.push_back(TlsCertificate::FromPem(pair.cert_pem, pair.key_pem));
    context = *TlsContext::Create(config);
    server = *context->TransportFactory()();
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) std::abort();
    client_fd = fds[0];
    server_fd = fds[1];
    const int big = 4 << 20;
    ::setsockopt(server_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    client_ctx.reset(SSL_CTX_new(TLS_method()));
    client.reset(SSL_new(client_ctx.get()));
    SSL_set_fd(client.get(), client_fd);
    SSL_set_connect_state(client.get());
    static char scratch[64 * 1024];
    Buffer plaintext;
    for (int i = 0; i < 16 && !(SSL_do_handshake(client.get()) == 1 && server->ready()); ++i) {
      (void)server->Read(server_fd, scratch, plaintext);
    }
    if (!server->ready()) std::abort();
    Drain();  // tickets
  }
  ~Session() {
    client.reset();
    ::close(client_fd);
    ::close(server_fd);
  }
  void Drain() const {
    char buf[64 * 1024];
    while (::read(client_fd, buf, sizeof(buf)) > 0) {
    }
  }
};

void Fill(Buffer& out, int messages) {
  for (int i = 0; i < messages; ++i) {
    char* p = out.Writable(kMessageBytes);
    std::memset(p, 'm', kMessageBytes);
    out.Commit(kMessageBytes);
  }
}

// Every reply of one read sealed and sent by one Write().
void BM_WriteBatch(benchmark::State& state) {
  Session s;
  const int messages = static_cast<int>(state.range(0));
  Buffer out;
  for (auto _ : state) {
    Fill(out, messages);
    benchmark::DoNotOptimize(s.server->Write(s.server_fd, out));
    state.PauseTiming();
    s.Drain();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * messages);
}
BENCHMARK(BM_WriteBatch)->Arg(1)->Arg(16)->Arg(64);

// The same replies, one Write() (one record, one send) each.
void BM_WriteEach(benchmark::State& state) {
  Session s;
  const int messages = static_cast<int>(state.range(0));
  Buffer out;
  for (auto _ : state) {
    for (int i = 0; i < messages; ++i) {
      Fill(out, 1);
      benchmark::DoNotOptimize(s.server->Write(s.server_fd, out));
    }
    state.PauseTiming();
    s.Drain();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * messages);
}
BENCHMARK(BM_WriteEach)->Arg(16)->Arg(64);

// Read side: the client seals `messages` replies-worth of requests in one
// record, the server reads and opens them with one Read().
void BM_ReadBatch(benchmark::State& state) {
  Session s;
  const int messages = static_cast<int>(state.range(0));
  const std::string batch(kMessageBytes * static_cast<size_t>(messages), 'q');
  static char scratch[256 * 1024];
  Buffer plaintext;
  for (auto _ : state) {
    state.PauseTiming();
    SSL_write(s.client.get(), batch.data(), static_cast<int>(batch.size()));
    state.ResumeTiming();
    benchmark::DoNotOptimize(s.server->Read(s.server_fd, scratch, plaintext));
    plaintext.Clear();
  }
  state.SetItemsProcessed(state.iterations() * messages);
}
BENCHMARK(BM_ReadBatch)->Arg(1)->Arg(16)->Arg(64);

// One record's seal (what the server's reply costs) and open (its request):
// AES-128-GCM for the TLS_AES_128_GCM_SHA256 suite the echo benchmarks
// negotiate, ChaCha20-Poly1305 for comparison. Arg: plaintext bytes (16
// framed 64 B messages = 1152; one framed 4 KiB message = 4104).
void AeadSealOpen(benchmark::State& state, const EVP_AEAD* aead) {
  const size_t len = static_cast<size_t>(state.range(0));
  const std::string key(EVP_AEAD_key_length(aead), 'k');
  const std::string nonce(EVP_AEAD_nonce_length(aead), 'n');
  const uint8_t header[5] = {23, 3, 3, 0, 0};  // the record header is the AAD
  bssl::ScopedEVP_AEAD_CTX ctx;
  if (!EVP_AEAD_CTX_init(ctx.get(), aead, reinterpret_cast<const uint8_t*>(key.data()),
                         key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr)) {
    state.SkipWithError("EVP_AEAD_CTX_init failed");
    return;
  }
  const auto* n = reinterpret_cast<const uint8_t*>(nonce.data());
  std::string plain(len, 'p');
  std::string sealed(len + EVP_AEAD_max_overhead(aead), '\0');
  for (auto _ : state) {
    size_t sealed_len = 0;
    size_t opened_len = 0;
    auto* s = reinterpret_cast<uint8_t*>(sealed.data());
    auto* p = reinterpret_cast<uint8_t*>(plain.data());
    if (!EVP_AEAD_CTX_seal(ctx.get(), s, &sealed_len, sealed.size(), n, nonce.size(), p, len,
                           header, sizeof(header)) ||
        !EVP_AEAD_CTX_open(ctx.get(), p, &opened_len, len, n, nonce.size(), s, sealed_len,
                           header, sizeof(header))) {
      state.SkipWithError("seal/open failed");
      return;
    }
    benchmark::DoNotOptimize(opened_len);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(len));
}
void BM_AeadSealOpen_Aes128Gcm(benchmark::State& state) {
  AeadSealOpen(state, EVP_aead_aes_128_gcm());
}
void BM_AeadSealOpen_ChaCha20Poly1305(benchmark::State& state) {
  AeadSealOpen(state, EVP_aead_chacha20_poly1305());
}
BENCHMARK(BM_AeadSealOpen_Aes128Gcm)->Arg(1152)->Arg(4104)->Arg(16384);
BENCHMARK(BM_AeadSealOpen_ChaCha20Poly1305)->Arg(1152)->Arg(4104);

}  // namespace
}  // namespace netman
