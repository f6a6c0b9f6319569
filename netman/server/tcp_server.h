// Copyright netman authors.
//
// TcpServer: a netman message server. It is the composition root: it builds
// N event loops (one thread each), an Acceptor spreading connections over
// them round-robin, the FramedProtocol (packer + router with middleware) that
// every connection hands its bytes to, and per-loop heartbeat wheels. Every
// part can be replaced through ServerOptions: the poller factory, packer,
// clock and log sink.
//
// Example:
//   netman::TcpServer server({.loops = 4, .heartbeat_idle_time = absl::Seconds(30)});
//   server.Use([](netman::Request& r, const netman::Next& next) {
//     if (Authorised(r.connection())) next(); else r.connection().Close();
//   });
//   server.AddRouter(0, [](netman::Request& r) {    // echo
//     r.connection().Send(0, r.body());
//   });
//   absl::Status s = server.Start("0.0.0.0:8999");  // blocks until Stop()
//
// Threading: configuration (AddRouter, Use, Group, SetNotFoundHandler and
// the On* hooks) must happen before Start*(). Start() blocks the calling
// thread, which runs loop 0; StartInBackground() returns once the server is
// listening. Stop(), Shutdown() and connections() are safe from any thread,
// including handlers: from a loop thread, Stop()/Shutdown() start the
// shutdown and return, and the Start() caller or the destructor joins the
// threads. Handlers and hooks run on the loop thread of their connection.
#ifndef NETMAN_SERVER_TCP_SERVER_H_
#define NETMAN_SERVER_TCP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "netman/base/clock.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"
#include "netman/codec/packer.h"
#include "netman/net/acceptor.h"
#include "netman/net/connection.h"
#include "netman/net/event_loop.h"
#include "netman/net/idle_wheel.h"
#include "netman/net/socket_address.h"
#include "netman/poller/poller.h"
#include "netman/router/router.h"
#include "netman/server/connection_manager.h"
#include "netman/server/framed_protocol.h"

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

  // Heartbeat: a connection that sends no byte for `heartbeat_idle_time` is
  // closed (reason DeadlineExceeded; OnClose fires). Any inbound bytes count,
  // including part of a message. A connection whose output is backed up, or
  // whose reading is paused by the output limit, is not idle. Zero disables.
  // The check runs every `heartbeat_check_interval` (zero: idle_time / 4),
  // so kicks are late by at most one interval. An interval without an idle
  // time is a configuration error.
  absl::Duration heartbeat_idle_time = absl::ZeroDuration();
  absl::Duration heartbeat_check_interval = absl::ZeroDuration();

  // TCP keepalive on accepted sockets (SO_KEEPALIVE): first probe after
  // `tcp_keepalive` idle, then every `tcp_keepalive_interval`, giving up after
  // `tcp_keepalive_probes`. Zero disables.
  absl::Duration tcp_keepalive = absl::ZeroDuration();
  absl::Duration tcp_keepalive_interval = absl::Seconds(10);
  int tcp_keepalive_probes = 3;

  // Backpressure. Output the peer has not taken is capped at
  // `max_output_bytes` per connection (0 = unlimited): with kPauseReading the
  // server stops reading from that connection until its output drains to
  // half the cap (and closes it past twice the cap); with kClose it closes it.
  // Either way a client that never reads cannot grow server memory without
  // bound. OnHighWaterMark fires when unsent output reaches
  // `output_high_water_mark`.
  size_t max_output_bytes = 64u << 20;
  OutputLimitPolicy output_limit_policy = OutputLimitPolicy::kPauseReading;
  size_t output_high_water_mark = 4u << 20;

  Logger logger;
  // Null means RealClock. Not owned.
  const Clock* clock = nullptr;
  // Empty means CreateDefaultPoller().
  PollerFactory poller_factory;
};

// A snapshot of a server's counters, summed over its loops.
struct ServerStats {
  uint64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_closed = 0;
  // Closes by reason: "OK" (orderly), "DEADLINE_EXCEEDED" (heartbeat),
  // "CANCELLED" (server stopping), "RESOURCE_EXHAUSTED" (limits), ...
  std::map<std::string, uint64_t> closed_by_reason;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t decode_errors = 0;  // malformed or oversize messages
  uint64_t high_water_events = 0;
  uint64_t read_pauses = 0;
  uint64_t output_limit_closes = 0;
  uint64_t idle_closes = 0;

  // One line of JSON.
  std::string ToJson() const;
};

class TcpServer {
 public:
  using OpenHook = std::function<void(Connection&)>;
  using CloseHook = std::function<void(Connection&, const absl::Status& reason)>;
  using HighWaterHook = std::function<void(Connection&, size_t queued_bytes)>;
  using WriteCompleteHook = std::function<void(Connection&)>;

  explicit TcpServer(ServerOptions options = {});
  // Stops the server if running. Must not run on one of its loop threads.
  ~TcpServer();

  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Routes message `id` to `handler` (through the global middleware).
  // AlreadyExists for a duplicate id, FailedPrecondition once started.
  absl::Status AddRouter(uint32_t id, Handler handler);
  // Global middleware, run for every routed message in Use() order.
  TcpServer& Use(Middleware middleware);
  // A group of routes with its own middleware (after the global ones).
  RouteGroup& Group(std::vector<Middleware> middleware = {});
  void SetNotFoundHandler(Handler handler);

  // Hooks. OnOpen runs before any message of the connection is handled.
  // OnClose runs exactly once per connection, after its last handler has
  // returned, whoever closed it, with the reason: OK for an orderly close
  // (peer EOF, Close()), DeadlineExceeded for a heartbeat kick, Cancelled for
  // server shutdown, the error otherwise.
  void OnOpen(OpenHook hook);
  void OnClose(CloseHook hook);
  void OnHighWaterMark(HighWaterHook hook);
  // All queued output of a connection has been handed to the kernel.
  void OnWriteComplete(WriteCompleteHook hook);

  // Listens on `address` ("host:port", "[::1]:0", ":8999") and serves until
  // Stop() or Shutdown(); the calling thread runs loop 0. Returns the bind or
  // configuration error if it cannot start.
  absl::Status Start(std::string_view address);
  // Listens and serves on background threads; returns once listening.
  absl::Status StartInBackground(std::string_view address);
  // Stops accepting, closes every connection now (OnClose fires for each)
  // and stops the loops. Unless called on a loop thread, returns after all
  // loop threads have finished. Idempotent; never deadlocks.
  void Stop();
  // Graceful: stops accepting, lets running handlers finish, closes every
  // connection after flushing what was already queued for it, then stops.
  // Connections still open after `timeout` are closed as by Stop(). Returns
  // once stopped (unless called on a loop thread, see above).
  void Shutdown(absl::Duration timeout);

  // The bound address (the real port when started with port 0).
  const SocketAddress& listen_address() const { return listen_address_; }
  uint16_t port() const { return listen_address_.port(); }
  int loop_count() const { return static_cast<int>(loops_.size()); }

  ConnectionManager& connections() { return connections_; }
  // Counters since start. Safe from any thread once started.
  ServerStats stats() const;
  const Logger& logger() const { return options_.logger; }

 private:
  struct LoopThread {
    std::unique_ptr<EventLoop> loop;
    std::thread thread;
    Notification exited;
    std::unique_ptr<IdleWheel> heartbeat;  // null when heartbeats are off
  };

  absl::Status ValidateOptions();
  absl::Status Listen(std::string_view address);
  void StartLoopThread(LoopThread& slot);
  void StartHeartbeat(LoopThread& slot);
  void OnNewSocket(UniqueFd fd, const SocketAddress& peer);
  void CreateConnection(LoopThread& slot, UniqueFd fd, uint64_t id,
                        const SocketAddress& peer);
  void OnConnectionClosed(Connection& connection, const absl::Status& reason);
  // Posts the shutdown to every loop (once); does not wait.
  void RequestStop();
  // Blocks until a Start() in progress on another thread has set up.
  void WaitUntilSetUp();
  bool OnLoopThread() const;
  void JoinThreads();

  ServerOptions options_;
  std::shared_ptr<const Packer> packer_;
  Router router_;
  OpenHook on_open_;
  CloseHook on_close_;
  HighWaterHook on_high_water_mark_;
  WriteCompleteHook on_write_complete_;
  ConnectionLimits limits_;
  std::unique_ptr<FramedProtocol> protocol_;

  std::vector<std::unique_ptr<LoopThread>> loops_;
  std::unique_ptr<Acceptor> acceptor_;  // lives on loop 0
  ConnectionManager connections_;
  SocketAddress listen_address_;

  std::atomic<bool> started_{false};
  std::atomic<bool> draining_{false};  // Shutdown(): no new connections
  std::atomic<bool> stopping_{false};
  std::atomic<bool> blocking_{false};  // Start() runs loop 0 on its caller
  std::atomic<uint64_t> next_id_{1};
  size_t next_loop_ = 0;  // loop 0 only
  Mutex join_mu_;
  // Notified once Start()/StartInBackground() has built the loops and
  // spawned their threads (or failed): Stop() and Shutdown() from another
  // thread wait for it instead of racing with the set-up.
  Notification set_up_;
};

}  // namespace netman

#endif  // NETMAN_SERVER_TCP_SERVER_H_
