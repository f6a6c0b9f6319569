// Copyright netman authors.
//
// asio_server_pool.h: what the two Asio baselines of the benchmark share
// (asio_naive_echo_server.cc, asio_batched_echo_server.cc): the io_context
// pool, the acceptor, the signal handling and the "listening on" line. They
// differ only in what a connection does with its socket, so a difference
// between them in the benchmark is their per-connection I/O and nothing else.
//
// --threads=N: one io_context per thread (the "io_context pool" design of
// Asio's HTTP server 2 example, which scales better than one io_context run
// by N threads and needs no strands); the acceptor runs on the first context
// and hands sockets to the contexts round-robin.
//
// Example:
//
//   int main(int argc, char** argv) {
//     ...flags...
//     return netman::bench::ServeAsio(
//         "my_server", host, port, threads, [](asio::ip::tcp::socket s) {
//           std::make_shared<Session>(std::move(s))->Start();
//         });
//   }
//
// Standalone Asio (Debian's libasio-dev, header-only, ASIO_STANDALONE) is used
// for these baselines ONLY: netman itself does not depend on Asio.
//
// Threading: `start_session` runs on the thread of the io_context the socket
// was created on (a session lives on that context); the acceptor and the
// signal set live on context 0. SIGINT/SIGTERM stop every context and
// ServeAsio returns 0.
#ifndef NETMAN_TOOLS_BENCH_ASIO_SERVER_POOL_H_
#define NETMAN_TOOLS_BENCH_ASIO_SERVER_POOL_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

// Standalone Asio (libasio-dev): the Asio baselines only.
#include <asio.hpp>

namespace netman::bench {

// Accepts on one endpoint and hands each socket, created on the next context
// of the pool, to `start_session`. Lives on (and is used from) context 0.
template <typename StartSession>
class AsioAcceptor {
 public:
  // Throws std::system_error if it cannot listen (a constructor's only way
  // to fail in Asio; caught by ServeAsio).
  AsioAcceptor(std::vector<std::unique_ptr<asio::io_context>>& contexts,
               const asio::ip::tcp::endpoint& at, StartSession start_session)
      : contexts_(contexts),
        acceptor_(*contexts[0], at),
        start_session_(std::move(start_session)) {}

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Accept() {
    asio::io_context& target = *contexts_[next_++ % contexts_.size()];
    acceptor_.async_accept(
        target, [this](std::error_code ec, asio::ip::tcp::socket socket) {
          // Accept errors (EMFILE, ECONNABORTED, ...) drop that connection
          // only; the acceptor keeps going until it is closed.
          if (!ec) start_session_(std::move(socket));
          if (ec != asio::error::operation_aborted) Accept();
        });
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>>& contexts_;
  asio::ip::tcp::acceptor acceptor_;
  StartSession start_session_;
  size_t next_ = 0;
};

// Listens on host:port (port 0: any free port) with `threads` io_contexts,
// prints "<name> listening on <address>:<port>" on stdout once accepting, and
// runs until SIGINT/SIGTERM. Returns the process exit status (0, or 1/2 with
// a message on stderr if it cannot start). Call from main.
template <typename StartSession>
int ServeAsio(const char* name, const std::string& host, int port, int threads,
              StartSession start_session) {
  if (threads < 1) {
    std::fprintf(stderr, "%s: --threads must be >= 1\n", name);
    return 2;
  }
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(
        std::make_unique<asio::io_context>(1));  // concurrency hint: 1 thread
  }
  std::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    std::fprintf(stderr, "%s: bad --host: %s\n", name, ec.message().c_str());
    return 2;
  }
  std::unique_ptr<AsioAcceptor<StartSession>> acceptor;
  try {
    acceptor = std::make_unique<AsioAcceptor<StartSession>>(
        contexts,
        asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port)),
        std::move(start_session));
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "%s: cannot listen: %s\n", name, e.what());
    return 1;
  }
  acceptor->Accept();

  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&contexts](std::error_code, int) {
    for (auto& context : contexts) context->stop();
  });
  // Keep every context running while it has no connections.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  for (auto& context : contexts)
    guards.push_back(asio::make_work_guard(*context));

  std::printf("%s listening on %s:%u\n", name, address.to_string().c_str(),
              static_cast<unsigned>(acceptor->port()));
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

}  // namespace netman::bench

#endif  // NETMAN_TOOLS_BENCH_ASIO_SERVER_POOL_H_
