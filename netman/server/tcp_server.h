// Copyright netman authors.
//
// TcpServer: a netman message server. It is the composition root: it builds
// N event loops (one thread each), an Acceptor spreading connections over
// them round-robin, and the FramedProtocol (packer + router) every
// connection hands its bytes to. Every part can be replaced through
// ServerOptions (poller factory, packer, clock, log sink).
//
// Example:
//   netman::TcpServer server;                       // one loop per core
//   server.AddRouter(0, [](netman::Request& r) {    // echo
//     r.connection().Send(0, r.body());
//   });
//   absl::Status s = server.Start("0.0.0.0:8999");  // blocks until Stop()
//
// Threading: AddRouter(), SetNotFoundHandler(), OnOpen() and OnClose() must
// be called before Start*(). Start() blocks the calling thread (which runs
// loop 0); StartInBackground() returns once the server is listening. Stop()
// and connections() are safe from any thread, including handlers (a Stop()
// from a loop thread starts the shutdown and returns; the Start() caller or
// the destructor joins the threads). Handlers and hooks run on the loop
// thread of their connection.
#ifndef NETMAN_SERVER_TCP_SERVER_H_
#define NETMAN_SERVER_TCP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "netman/base/clock.h"
#include "netman/base/log.h"
#include "netman/codec/packer.h"
#include "netman/net/acceptor.h"
#include "netman/net/connection.h"
#include "netman/net/event_loop.h"
#include "netman/net/socket_address.h"
#include "netman/poller/poller.h"
#include "netman/router/router.h"
#include "netman/server/connection_manager.h"
#include "netman/server/framed_protocol.h"
#include "netman/base/sync.h"

namespace netman {

struct ServerOptions {
  // Event loops (threads); 0 means one per core.
  int loops = 0;
  // Message framing; null means DefaultPacker (Go netman compatible).
  std::shared_ptr<const Packer> packer;
  // Largest accepted message body, enforced for every packer; 0 = unlimited
  // (as in the Go netman). The default keeps one peer from making the server
  // buffer more than 64 MiB for a single message.
  uint64_t max_body = 64u << 20;
  // Unknown message ids are logged and dropped by default (the connection
  // stays open); true closes the connection instead.
  bool close_on_unknown_id = false;
  bool tcp_nodelay = true;
  // listen(2) backlog and SO_REUSEPORT.
  int backlog = 4096;
  bool reuse_port = false;
  // How long accepting pauses after EMFILE/ENFILE when no connection closes.
  absl::Duration accept_retry_delay = absl::Milliseconds(100);
  Logger logger;
  // Null means RealClock. Not owned.
  const Clock* clock = nullptr;
  // Empty means CreateDefaultPoller().
  PollerFactory poller_factory;
};

class TcpServer {
 public:
  using OpenHook = std::function<void(Connection&)>;
  using CloseHook = std::function<void(Connection&, const absl::Status& reason)>;

  explicit TcpServer(ServerOptions options = {});
  // Stops the server if running. Must not run on one of its loop threads.
  ~TcpServer();

  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Routes message `id` to `handler`. AlreadyExists for a duplicate id,
  // FailedPrecondition once started.
  absl::Status AddRouter(uint32_t id, Handler handler);
  void SetNotFoundHandler(Handler handler);
  // Hooks: OnOpen runs before any message of the connection is handled;
  // OnClose runs once, after its last handler, with the close reason.
  void OnOpen(OpenHook hook);
  void OnClose(CloseHook hook);

  // Listens on `address` ("host:port", "[::1]:0", ":8999") and serves until
  // Stop(); the calling thread runs loop 0. Returns the bind error if
  // listening fails.
  absl::Status Start(std::string_view address);
  // Listens and serves on background threads; returns once listening.
  absl::Status StartInBackground(std::string_view address);
  // Stops accepting, closes every connection (OnClose fires for each) and
  // stops the loops; unless called on a loop thread, returns after all loop
  // threads have finished. Idempotent; never deadlocks.
  void Stop();

  // The bound address (the real port when started with port 0).
  const SocketAddress& listen_address() const { return listen_address_; }
  uint16_t port() const { return listen_address_.port(); }
  int loop_count() const { return static_cast<int>(loops_.size()); }

  ConnectionManager& connections() { return connections_; }
  const Logger& logger() const { return options_.logger; }

 private:
  struct LoopThread {
    std::unique_ptr<EventLoop> loop;
    std::thread thread;
    Notification exited;
  };

  absl::Status Listen(std::string_view address);
  void StartLoopThread(LoopThread& slot);
  void OnNewSocket(UniqueFd fd, const SocketAddress& peer);
  void CreateConnection(EventLoop* loop, UniqueFd fd, uint64_t id,
                        const SocketAddress& peer);
  void OnConnectionClosed(Connection& connection, const absl::Status& reason);
  void CloseLoopConnections(EventLoop* loop);
  // Posts the shutdown to every loop (once); does not wait.
  void RequestStop();
  bool OnLoopThread() const;
  void JoinThreads();

  ServerOptions options_;
  std::shared_ptr<const Packer> packer_;
  Router router_;
  OpenHook on_open_;
  CloseHook on_close_;
  std::unique_ptr<FramedProtocol> protocol_;

  std::vector<std::unique_ptr<LoopThread>> loops_;
  std::unique_ptr<Acceptor> acceptor_;  // lives on loop 0
  ConnectionManager connections_;
  SocketAddress listen_address_;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> blocking_{false};  // Start() runs loop 0 on its caller
  std::atomic<uint64_t> next_id_{1};
  size_t next_loop_ = 0;  // loop 0 only
  Mutex join_mu_;
};

}  // namespace netman

#endif  // NETMAN_SERVER_TCP_SERVER_H_
