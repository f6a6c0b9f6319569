// Copyright netman authors.
//
// ServerCore: what every netman server has, whatever its protocol. It builds
// N event loops (one thread each) and an Acceptor spreading connections over
// them round-robin; it owns the connection manager, the per-loop heartbeat
// wheels, TCP keepalive, the handshake timeout, the input and output limits,
// graceful shutdown, the stats, the hooks, and the Router (message id ->
// handler, with middleware) that protocols dispatch to. A server facade
// gives it a ProtocolFactory (how a new connection's bytes become messages:
// TcpServer passes the framed protocol, the WebSocket server an HTTP upgrade
// handshake) and the user may give it a TransportFactory
// (ServerOptions::transport_factory: TLS). No feature lives in a facade.
//
//   accept ─▶ ServerCore::OnNewSocket (loop 0) ─▶ pick a loop (round-robin)
//          ─▶ on that loop: Connection(transport?) ─▶ Start(protocol factory)
//          ─▶ protocol and transport ready ─▶ OnOpen ─▶ messages ─▶ OnClose
//
// Example (a facade; see TcpServer for the real one):
//   class EchoLines : public netman::ServerCore {
//    public:
//     EchoLines() : ServerCore({}, [this](netman::Connection&) {
//       return netman::ProtocolPtr::Shared(&lines_);
//     }) {}
//    private:
//     LineProtocol lines_;
//   };
//
// Threading: configuration (AddRouter, Use, Group, SetNotFoundHandler and
// the On* hooks) is safe from any thread until Start*(); from then on it
// returns FailedPrecondition and changes nothing. Start() blocks the
// calling thread, which runs loop 0; StartInBackground() returns once the
// server is listening. Stop(), Shutdown(), stats() and connections() are
// safe from any thread, including handlers: from a loop thread, Stop() and
// Shutdown() start the shutdown and return, and the Start() caller or the
// destructor joins the threads. Handlers and hooks run on the loop thread
// of their connection.
#ifndef NETMAN_SERVER_SERVER_CORE_H_
#define NETMAN_SERVER_SERVER_CORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/async_log_sink.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"
#include "netman/net/acceptor.h"
#include "netman/net/connection.h"
#include "netman/net/connection_context.h"
#include "netman/net/event_loop.h"
#include "netman/net/idle_wheel.h"
#include "netman/net/protocol.h"
#include "netman/net/socket_address.h"
#include "netman/net/transport.h"
#include "netman/router/router.h"
#include "netman/server/connection_manager.h"
#include "netman/server/server_options.h"
#include "netman/server/server_stats.h"

namespace netman {

class ServerCore : private ConnectionEvents {
 public:
  using OpenHook = std::function<void(Connection&)>;
  using CloseHook = std::function<void(Connection&, const absl::Status& reason)>;
  using HighWaterHook = std::function<void(Connection&, size_t queued_bytes)>;
  using WriteCompleteHook = std::function<void(Connection&)>;

  // `protocol_factory` makes the protocol of each accepted connection (on
  // its loop thread); it is first called after Start*() has frozen the
  // configuration.
  ServerCore(ServerOptions options, ProtocolFactory protocol_factory);
  // Stops the server if running. Must not run on one of its loop threads.
  // A facade that owns what its connections use (its protocol, a packer)
  // must call Stop() in its own destructor, before those members go.
  virtual ~ServerCore();

  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  // Routing (see Router). Each returns FailedPrecondition once started.
  // Routes message `id` to `handler` (through the global middleware);
  // AlreadyExists for a duplicate id.
  absl::Status AddRouter(uint32_t id, Handler handler);
  // Global middleware, run for every routed message in Use() order.
  absl::Status Use(Middleware middleware);
  // A group of routes with its own middleware (after the global ones).
  RouteGroup& Group(std::vector<Middleware> middleware = {});
  absl::Status SetNotFoundHandler(Handler handler);
  const Router& router() const { return router_; }

  // Hooks; each returns FailedPrecondition once started. OnOpen runs when a
  // connection can carry messages (after its TLS or WebSocket handshake, if
  // any), before any of its messages is handled. OnClose runs exactly once
  // for every connection that opened, after its last handler has returned,
  // whoever closed it, with the reason: OK for an orderly close (peer EOF,
  // Close()), DeadlineExceeded for a heartbeat kick, Cancelled for server
  // shutdown, the error otherwise. A connection that never finished its
  // handshake gets neither (stats count it as a handshake failure).
  absl::Status OnOpen(OpenHook hook);
  absl::Status OnClose(CloseHook hook);
  absl::Status OnHighWaterMark(HighWaterHook hook);
  // All queued output of a connection has been handed to the kernel.
  absl::Status OnWriteComplete(WriteCompleteHook hook);

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
  // once stopped (unless called on a loop thread, see above), within
  // `timeout` plus at most kLogFlushTimeout to write the last log lines,
  // whatever the log sink does.
  void Shutdown(absl::Duration timeout);
  // The longest Stop()/Shutdown() wait, after the loops have stopped, for
  // queued log lines to reach the sink.
  static constexpr absl::Duration kLogFlushTimeout = absl::Seconds(1);

  // The bound address (the real port when started with port 0).
  const SocketAddress& listen_address() const { return listen_address_; }
  uint16_t port() const { return listen_address_.port(); }
  int loop_count() const { return static_cast<int>(loops_.size()); }

  // Every accepted connection not yet closed (handshaking ones included;
  // ForEach and Broadcast skip those).
  ConnectionManager& connections() { return connections_; }
  // Counters since start. Safe from any thread once started.
  ServerStats stats() const;
  const Logger& logger() const { return options_.logger; }
  const ServerOptions& options() const { return options_; }

 protected:
  // For facades whose protocol needs the configuration frozen: called by
  // Start*() after freezing and before any connection exists. Default: OK.
  virtual absl::Status OnStarting() { return absl::OkStatus(); }

  // The listener seam. By default the server takes peers from a TCP
  // Acceptor on loop 0; a facade that receives them otherwise (UdpServer: a
  // socket per loop) overrides both.
  // Binds `address` once the loops exist, before they run (registering
  // with them from here is safe); returns the bound address.
  virtual absl::StatusOr<SocketAddress> OpenListener(const SocketAddress& address);
  // On loop `index`'s thread when the server stops or starts draining:
  // stop taking new peers there.
  virtual void CloseListener(int index);
  // The loop `index` (0 <= index < loop_count()), once started.
  EventLoop* loop(int index) const { return loops_[static_cast<size_t>(index)]->loop.get(); }
  // For listeners of their own: makes a connection for `peer` on loop
  // `index` with the server's books (a new id, the manager, the heartbeat,
  // the limits, the hooks) and starts it with the protocol factory. `fd` may
  // be invalid for a connection whose input its listener delivers
  // (Connection::DeliverReceived). Loop `index`'s thread only. Null while
  // stopping or draining, or if the connection failed to start.
  ConnectionPtr AddConnection(int index, UniqueFd fd, const SocketAddress& peer,
                              std::unique_ptr<Transport> transport);

 private:
  struct LoopThread {
    std::unique_ptr<EventLoop> loop;
    std::thread thread;
    Notification exited;
    std::unique_ptr<IdleWheel> heartbeat;  // null when heartbeats are off
    // Connections still in their handshake, until they open (then they move
    // to `heartbeat`) or time out; null when handshake_timeout is zero. Its
    // sweep timer runs only while it holds a connection.
    std::unique_ptr<IdleWheel> handshakes;
    bool handshake_sweep_armed = false;
  };

  // ConnectionEvents (called by connections on their loop threads).
  void OnOpen(Connection& connection) override;
  void OnClosed(Connection& connection, const absl::Status& reason) override;
  void OnHighWaterMark(Connection& connection, size_t queued_bytes) override;
  void OnWriteComplete(Connection& connection) override;

  // Sets a hook unless started.
  template <typename Hook>
  absl::Status SetHook(Hook& slot, Hook hook, const char* name);
  absl::Status ValidateOptions() const;
  absl::Status Listen(std::string_view address);
  void StartLoopThread(LoopThread& slot);
  void StartHeartbeat(LoopThread& slot);
  void OnNewSocket(UniqueFd fd, const SocketAddress& peer);
  void CreateConnection(LoopThread& slot, UniqueFd fd, uint64_t id,
                        const SocketAddress& peer);
  // The part of CreateConnection every listener shares.
  ConnectionPtr StartConnection(LoopThread& slot, UniqueFd fd, uint64_t id,
                                const SocketAddress& peer,
                                std::unique_ptr<Transport> transport);
  // Puts a connection that is still handshaking into its loop's handshake
  // wheel (no per-connection timer: an idle connection costs no more than
  // it did) and arms the loop's sweep if needed.
  void TrackHandshake(LoopThread& slot, Connection& connection);
  void SweepHandshakes(LoopThread& slot);
  LoopThread& SlotOf(const EventLoop* loop);
  // Posts the shutdown to every loop (once); does not wait.
  void RequestStop();
  // Blocks until a Start() in progress on another thread has set up.
  void WaitUntilSetUp();
  bool OnLoopThread() const;
  // Joins the loop threads, then gives queued log lines until
  // `log_deadline` (at most kLogFlushTimeout) to reach the sink.
  void JoinThreads(absl::Time log_deadline);

  ServerOptions options_;
  const ProtocolFactory protocol_factory_;
  // Between the loops and the user's log sink (ServerOptions::async_logging).
  std::shared_ptr<AsyncLogSink> log_sink_;
  Router router_;
  // Hooks and the started flag: set under config_mu_ before start, read
  // without it on the loops afterwards (thread start orders them).
  Mutex config_mu_;
  bool configured_ ABSL_GUARDED_BY(config_mu_) = false;
  OpenHook on_open_;
  CloseHook on_close_;
  HighWaterHook on_high_water_mark_;
  WriteCompleteHook on_write_complete_;
  ConnectionContext context_;

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

#endif  // NETMAN_SERVER_SERVER_CORE_H_
