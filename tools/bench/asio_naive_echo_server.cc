// Copyright netman authors.
//
// asio_naive_echo_server: the naive Asio baseline of the benchmark. An echo
// server for netman frames (uint32 LE body length, uint32 LE id, body) written
// the way a typical Asio user would write it: per connection a session object
// owned by shared_ptr that loops async_read(8-byte header) -> async_read(body)
// -> async_write(header + body) -> ... One message at a time per connection
// (a pipelined request waits until the previous reply is written, and costs
// its own read and write system calls); the body vector keeps its capacity
// between messages. The expert version, which batches, is
// asio_batched_echo_server.cc; docs/BENCHMARKS.md compares the two.
//
//   asio_naive_echo_server --port=0 --threads=1     # prints "... listening on"
//
// The io_context pool (--threads=N), the acceptor and the signal handling are
// asio_server_pool.h, shared with the batched server.
//
// Threading: each session lives on the io_context (thread) its socket was
// created on. SIGINT/SIGTERM stop every context and the process exits 0.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

// Standalone Asio (libasio-dev): the Asio baselines only.
#include <asio.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/bench/asio_server_pool.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 9001, "TCP port (0 = any free port).");
ABSL_FLAG(int, threads, 1, "io_contexts, one thread each.");
ABSL_FLAG(uint64_t, max_body, 64u << 20,
          "Largest accepted body; larger closes.");

namespace {

using asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, uint64_t max_body)
      : socket_(std::move(socket)), max_body_(max_body) {}

  void Start() {
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    ReadHeader();
  }

 private:
  void ReadHeader() {
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(header_),
                     [this, self](std::error_code ec, std::size_t) {
                       if (ec) return;  // closed or failed: the session ends
                       uint32_t body_len;
                       std::memcpy(&body_len, header_.data(),
                                   4);  // little-endian host
                       if (body_len > max_body_) return;
                       body_.resize(body_len);
                       ReadBody();
                     });
  }

  void ReadBody() {
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(body_),
                     [this, self](std::error_code ec, std::size_t) {
                       if (ec) return;
                       WriteReply();
                     });
  }

  void WriteReply() {
    auto self = shared_from_this();
    // The reply has the request's length and id: send the header back as is.
    std::array<asio::const_buffer, 2> reply = {asio::buffer(header_),
                                               asio::buffer(body_)};
    asio::async_write(socket_, reply,
                      [this, self](std::error_code ec, std::size_t) {
                        if (ec) return;
                        ReadHeader();
                      });
  }

  tcp::socket socket_;
  const uint64_t max_body_;
  std::array<char, 8> header_;
  std::vector<char> body_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Naive Asio echo server for netman frames, one message at a time per "
      "connection (benchmark baseline).");
  absl::ParseCommandLine(argc, argv);
  const uint64_t max_body = absl::GetFlag(FLAGS_max_body);
  return netman::bench::ServeAsio(
      "asio_naive_echo_server", absl::GetFlag(FLAGS_host),
      absl::GetFlag(FLAGS_port), absl::GetFlag(FLAGS_threads),
      [max_body](tcp::socket socket) {
        std::make_shared<Session>(std::move(socket), max_body)->Start();
      });
}
