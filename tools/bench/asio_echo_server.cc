// Copyright netman authors.
//
// asio_echo_server: the Asio baseline of the benchmark. An echo server for
// netman frames (uint32 LE body length, uint32 LE id, body) written the way a
// typical Asio user would write it: per connection a session object owned by
// shared_ptr that loops async_read(8-byte header) -> async_read(body) ->
// async_write(header + body) -> ... One message at a time per connection; the
// body vector keeps its capacity between messages.
//
// Standalone Asio (Debian's libasio-dev, header-only, ASIO_STANDALONE) is used
// here for this baseline ONLY: netman itself does not depend on Asio.
//
//   asio_echo_server --port=0 --threads=1        # prints "... listening on"
//
// --threads=N: one io_context per thread (the "io_context pool" design of
// Asio's HTTP server 2 example, which scales better than one io_context run
// by N threads and needs no strands); the acceptor runs on the first context
// and hands sockets to the contexts round-robin.
//
// Threading: each session lives on the io_context (thread) its socket was
// created on; the acceptor and the signal set live on context 0.
// SIGINT/SIGTERM stop every context and the process exits 0.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

// Standalone Asio (libasio-dev): this baseline only.
#include <asio.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

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

class Server {
 public:
  Server(std::vector<std::unique_ptr<asio::io_context>>& contexts,
         const tcp::endpoint& at, uint64_t max_body)
      : contexts_(contexts), acceptor_(*contexts[0], at), max_body_(max_body) {}

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Accept() {
    asio::io_context& target = *contexts_[next_++ % contexts_.size()];
    acceptor_.async_accept(
        target, [this](std::error_code ec, tcp::socket socket) {
          if (!ec)
            std::make_shared<Session>(std::move(socket), max_body_)->Start();
          if (ec != asio::error::operation_aborted) Accept();
        });
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>>& contexts_;
  tcp::acceptor acceptor_;
  const uint64_t max_body_;
  size_t next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Asio echo server for netman frames (benchmark baseline).");
  absl::ParseCommandLine(argc, argv);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 1) {
    std::fprintf(stderr, "asio_echo_server: --threads must be >= 1\n");
    return 2;
  }
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(
        std::make_unique<asio::io_context>(1));  // concurrency hint: 1 thread
  }
  std::error_code ec;
  const asio::ip::address address =
      asio::ip::make_address(absl::GetFlag(FLAGS_host), ec);
  if (ec) {
    std::fprintf(stderr, "asio_echo_server: bad --host: %s\n",
                 ec.message().c_str());
    return 2;
  }
  std::unique_ptr<Server> server;
  try {
    server = std::make_unique<Server>(
        contexts,
        tcp::endpoint(address,
                      static_cast<uint16_t>(absl::GetFlag(FLAGS_port))),
        absl::GetFlag(FLAGS_max_body));
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "asio_echo_server: cannot listen: %s\n", e.what());
    return 1;
  }
  server->Accept();

  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&contexts](std::error_code, int) {
    for (auto& context : contexts) context->stop();
  });
  // Keep every context running while it has no connections.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  for (auto& context : contexts)
    guards.push_back(asio::make_work_guard(*context));

  std::printf("asio_echo_server listening on %s:%u\n",
              address.to_string().c_str(),
              static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) {
    workers.emplace_back(
        [&contexts, i] { contexts[static_cast<size_t>(i)]->run(); });
  }
  contexts[0]->run();
  for (auto& context : contexts) context->stop();
  for (auto& worker : workers) worker.join();
  return 0;
}
