// Copyright netman authors.
#include "netman/server/server_core.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/net/socket_ops.h"

namespace netman {
namespace {

// Reasons worth a warning: the peer sent something we refuse. Everything
// else (orderly close, heartbeat kick, shutdown, resets) is routine: debug.
bool IsProtocolError(const absl::Status& reason) {
  switch (reason.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

// The heartbeat's check interval when none is given: a quarter of the idle
// time, so kicks come at most 25% late.
constexpr int kHeartbeatChecksPerIdleTime = 4;
// The wheel's resolution floor.
constexpr absl::Duration kMinHeartbeatCheckInterval = absl::Milliseconds(1);
// Handshake timeouts are checked this many times per timeout, so a
// connection is closed at most an eighth of the timeout late.
constexpr int kHandshakeChecksPerTimeout = 8;

}  // namespace

ServerCore::ServerCore(ServerOptions options, ProtocolFactory protocol_factory)
    : options_(std::move(options)),
      protocol_factory_(std::move(protocol_factory)) {
  if (options_.loops == 0) {
    options_.loops = static_cast<int>(std::thread::hardware_concurrency());
    if (options_.loops <= 0) options_.loops = 1;
  }
  if (options_.clock == nullptr) options_.clock = &RealClock::Instance();
  if (!options_.poller_factory) options_.poller_factory = CreateDefaultPoller;
}

ServerCore::~ServerCore() { Stop(); }

absl::Status ServerCore::AddRouter(uint32_t id, Handler handler) {
  return router_.AddRouter(id, std::move(handler));
}

absl::Status ServerCore::Use(Middleware middleware) {
  return router_.Use(std::move(middleware));
}

RouteGroup& ServerCore::Group(std::vector<Middleware> middleware) {
  return router_.Group(std::move(middleware));
}

absl::Status ServerCore::SetNotFoundHandler(Handler handler) {
  return router_.SetNotFoundHandler(std::move(handler));
}

template <typename Hook>
absl::Status ServerCore::SetHook(Hook& slot, Hook hook, const char* name) {
  MutexLock lock(&config_mu_);
  if (configured_) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, " after the server started: hooks are fixed once it runs"));
  }
  slot = std::move(hook);
  return absl::OkStatus();
}

absl::Status ServerCore::OnOpen(OpenHook hook) {
  return SetHook(on_open_, std::move(hook), "OnOpen");
}
absl::Status ServerCore::OnClose(CloseHook hook) {
  return SetHook(on_close_, std::move(hook), "OnClose");
}
absl::Status ServerCore::OnHighWaterMark(HighWaterHook hook) {
  return SetHook(on_high_water_mark_, std::move(hook), "OnHighWaterMark");
}
absl::Status ServerCore::OnWriteComplete(WriteCompleteHook hook) {
  return SetHook(on_write_complete_, std::move(hook), "OnWriteComplete");
}

absl::Status ServerCore::ValidateOptions() const {
  const ServerOptions& o = options_;
  if (o.loops < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("loops is ", o.loops, ": use a positive count, or 0 for one per core"));
  }
  if (!protocol_factory_) return absl::InvalidArgumentError("no protocol factory");
  if (o.heartbeat_idle_time < absl::ZeroDuration() ||
      o.heartbeat_check_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("heartbeat durations must not be negative");
  }
  if (o.heartbeat_check_interval > absl::ZeroDuration() &&
      o.heartbeat_idle_time == absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "heartbeat_check_interval is set but heartbeat_idle_time is 0: set the "
        "idle time after which a silent connection is closed (or clear the "
        "interval to disable heartbeats)");
  }
  if (o.heartbeat_check_interval > o.heartbeat_idle_time) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heartbeat_check_interval (", absl::FormatDuration(o.heartbeat_check_interval),
        ") is longer than heartbeat_idle_time (", absl::FormatDuration(o.heartbeat_idle_time),
        "): silent connections would be closed up to an interval late"));
  }
  if (o.tcp_keepalive < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("tcp_keepalive must not be negative");
  }
  if (o.tcp_keepalive > absl::ZeroDuration() &&
      (o.tcp_keepalive_interval <= absl::ZeroDuration() ||
       o.tcp_keepalive_probes <= 0)) {
    return absl::InvalidArgumentError(
        "tcp_keepalive needs a positive tcp_keepalive_interval and tcp_keepalive_probes");
  }
  if (o.handshake_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("handshake_timeout must not be negative");
  }
  return absl::OkStatus();
}

absl::Status ServerCore::Listen(std::string_view address) {
  if (stopping_.load() || draining_.load()) {
    return absl::FailedPreconditionError("server was stopped");
  }
  if (started_.exchange(true)) {
    return absl::FailedPreconditionError("server already started");
  }
  // From here on the configuration is fixed: the loops read it unlocked.
  router_.Freeze();
  {
    MutexLock lock(&config_mu_);
    configured_ = true;
  }
  if (absl::Status valid = ValidateOptions(); !valid.ok()) return valid;
  absl::StatusOr<SocketAddress> addr = SocketAddress::Parse(address);
  if (!addr.ok()) return addr.status();
  if (absl::Status s = OnStarting(); !s.ok()) return s;
  if (options_.async_logging) {
    // Before any loop exists: from now on the loops log without blocking
    // (facades holding &logger() see the same Logger object).
    log_sink_ = std::make_shared<AsyncLogSink>(options_.logger.sink());
    options_.logger = Logger(log_sink_, options_.logger.min_level());
  }

  // What every connection shares.
  context_.events = this;
  ConnectionLimits& limits = context_.limits;
  limits.max_output_bytes = options_.max_output_bytes;
  limits.output_limit_policy = options_.output_limit_policy;
  limits.high_water_mark = on_high_water_mark_ ? options_.output_high_water_mark : 0;
  limits.notify_write_complete = static_cast<bool>(on_write_complete_);
  if (options_.max_input_bytes.has_value()) {
    limits.max_input_bytes = *options_.max_input_bytes;
  } else {
    limits.max_input_bytes =
        options_.max_body == 0 ? 0 : options_.max_body + kInputCapHeadroom;
  }

  for (int i = 0; i < options_.loops; ++i) {
    auto slot = std::make_unique<LoopThread>();
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(
        {options_.poller_factory, options_.clock, options_.logger});
    if (!loop.ok()) return loop.status();
    slot->loop = std::move(*loop);
    if (options_.heartbeat_idle_time > absl::ZeroDuration()) StartHeartbeat(*slot);
    if (options_.handshake_timeout > absl::ZeroDuration()) {
      slot->handshakes = std::make_unique<IdleWheel>(
          options_.handshake_timeout,
          std::max(options_.handshake_timeout / kHandshakeChecksPerTimeout,
                   kMinHeartbeatCheckInterval),
          options_.clock->Now(), IdleWheel::Expiry::kSinceAdded);
    }
    loops_.push_back(std::move(slot));
  }
  absl::StatusOr<SocketAddress> bound = OpenListener(*addr);
  if (!bound.ok()) return bound.status();
  listen_address_ = *bound;
  options_.logger.Info("listening on %s with %d loop(s)",
                       listen_address_.ToString(), options_.loops);
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> ServerCore::OpenListener(const SocketAddress& address) {
  absl::StatusOr<std::unique_ptr<Acceptor>> acceptor = Acceptor::Create(
      loops_[0]->loop.get(), address,
      Acceptor::Options{options_.backlog, options_.reuse_port,
                        options_.accept_retry_delay},
      [this](UniqueFd fd, const SocketAddress& peer) {
        OnNewSocket(std::move(fd), peer);
      });
  if (!acceptor.ok()) return acceptor.status();
  acceptor_ = std::move(*acceptor);
  // The loop is not running yet, so registering from here is safe.
  absl::Status s = acceptor_->Listen();
  if (!s.ok()) return s;
  return acceptor_->local_address();
}

void ServerCore::CloseListener(int index) {
  if (index == 0 && acceptor_ != nullptr) acceptor_->Close();
}

void ServerCore::StartHeartbeat(LoopThread& slot) {
  const absl::Duration idle = options_.heartbeat_idle_time;
  absl::Duration interval = options_.heartbeat_check_interval;
  if (interval == absl::ZeroDuration()) interval = idle / kHeartbeatChecksPerIdleTime;
  if (interval < kMinHeartbeatCheckInterval) interval = kMinHeartbeatCheckInterval;
  EventLoop* loop = slot.loop.get();
  slot.heartbeat = std::make_unique<IdleWheel>(idle, interval, options_.clock->Now());
  IdleWheel* wheel = slot.heartbeat.get();
  const std::string reason = absl::StrCat("no data received for ",
                                          absl::FormatDuration(idle));
  loop->Post([loop, wheel, interval, reason] {
    loop->RunEvery(interval, [loop, wheel, reason] {
      wheel->Advance(loop->iteration_time(), [loop, &reason](IdleWheel::Entry* entry) {
        auto* c = static_cast<Connection*>(entry);
        // Waiting on the peer to read is not idleness on its part, unless
        // the connection is closing: then nothing more is coming from it.
        if (c->is_receiving() && (c->output_bytes() > 0 || c->read_paused())) return false;
        loop->counters().idle_closes.Add();
        c->ForceClose(absl::DeadlineExceededError(reason));
        return true;
      });
    });
  });
}

void ServerCore::StartLoopThread(LoopThread& slot) {
  slot.thread = std::thread([&slot] {
    slot.loop->Run();
    slot.exited.Notify();
  });
}

absl::Status ServerCore::StartInBackground(std::string_view address) {
  absl::Status s = Listen(address);
  if (s.ok()) {
    for (auto& slot : loops_) StartLoopThread(*slot);
  }
  set_up_.Notify();
  return s;
}

absl::Status ServerCore::Start(std::string_view address) {
  absl::Status s = Listen(address);
  if (!s.ok()) {
    set_up_.Notify();
    return s;
  }
  blocking_.store(true);
  for (size_t i = 1; i < loops_.size(); ++i) StartLoopThread(*loops_[i]);
  set_up_.Notify();
  loops_[0]->loop->Run();
  loops_[0]->exited.Notify();
  RequestStop();  // the other loops, if loop 0 ended first
  JoinThreads(absl::Now() + kLogFlushTimeout);
  return absl::OkStatus();
}

void ServerCore::OnNewSocket(UniqueFd fd, const SocketAddress& peer) {
  if (stopping_.load(std::memory_order_acquire) ||
      draining_.load(std::memory_order_acquire)) {
    return;  // fd closes here
  }
  const uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  LoopThread& slot = *loops_[next_loop_++ % loops_.size()];
  if (slot.loop->IsInLoopThread()) {
    CreateConnection(slot, std::move(fd), id, peer);
    return;
  }
  slot.loop->Post([this, &slot, fd = std::move(fd), id, peer]() mutable {
    CreateConnection(slot, std::move(fd), id, peer);
  });
}

void ServerCore::CreateConnection(LoopThread& slot, UniqueFd fd, uint64_t id,
                                  const SocketAddress& peer) {
  // Checked on the connection's own loop, after any shutdown task posted to
  // it earlier: a connection either exists when that task runs or never.
  if (stopping_.load(std::memory_order_acquire) ||
      draining_.load(std::memory_order_acquire)) {
    return;
  }
  if (options_.tcp_nodelay) {
    absl::Status s = SetTcpNoDelay(fd.get(), true);
    if (!s.ok()) options_.logger.Debug("connection %d: %s", id, s.ToString());
  }
  if (options_.tcp_keepalive > absl::ZeroDuration()) {
    absl::Status s = SetTcpKeepAlive(fd.get(), options_.tcp_keepalive,
                                     options_.tcp_keepalive_interval,
                                     options_.tcp_keepalive_probes);
    if (!s.ok()) options_.logger.Warning("connection %d: %s", id, s.ToString());
  }
  std::unique_ptr<Transport> transport;
  if (options_.transport_factory) {
    absl::StatusOr<std::unique_ptr<Transport>> made = options_.transport_factory();
    if (!made.ok() || *made == nullptr) {
      options_.logger.Error("connection %d from %s dropped: no transport: %s", id,
                            peer.ToString(),
                            made.ok() ? "the factory returned null" : made.status().ToString());
      return;
    }
    transport = std::move(*made);
  }
  (void)StartConnection(slot, std::move(fd), id, peer, std::move(transport));
}

ConnectionPtr ServerCore::AddConnection(int index, UniqueFd fd, const SocketAddress& peer,
                                        std::unique_ptr<Transport> transport) {
  LoopThread& slot = *loops_[static_cast<size_t>(index)];
  NETMAN_DCHECK_IN_LOOP_THREAD(slot.loop.get());
  if (stopping_.load(std::memory_order_acquire) ||
      draining_.load(std::memory_order_acquire)) {
    return nullptr;
  }
  const uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  return StartConnection(slot, std::move(fd), id, peer, std::move(transport));
}

ConnectionPtr ServerCore::StartConnection(LoopThread& slot, UniqueFd fd, uint64_t id,
                                          const SocketAddress& peer,
                                          std::unique_ptr<Transport> transport) {
  EventLoop* loop = slot.loop.get();
  auto connection = std::make_shared<Connection>(loop, std::move(fd), id, peer, &context_,
                                                 std::move(transport));
  // Books first: Start() may open the connection, and OnOpen may close it.
  connections_.Add(connection);
  loop->counters().connections_accepted.Add();
  absl::Status s = connection->Start(protocol_factory_(*connection));
  if (!s.ok()) {
    options_.logger.Error("connection %d from %s: %s", id, peer.ToString(), s.ToString());
    connection->ForceClose(s);
    return nullptr;
  }
  // Timed from here: by the heartbeat once open (OnOpen moves a connection
  // that opens later), by the handshake timeout until then.
  if (connection->state() == Connection::State::kHandshaking && slot.handshakes != nullptr) {
    TrackHandshake(slot, *connection);
  } else if (connection->state() != Connection::State::kClosed && slot.heartbeat != nullptr) {
    slot.heartbeat->Add(connection.get(), loop->iteration_time());
  }
  return connection;
}

void ServerCore::TrackHandshake(LoopThread& slot, Connection& connection) {
  EventLoop* loop = slot.loop.get();
  slot.handshakes->Add(&connection, loop->iteration_time());
  if (slot.handshake_sweep_armed) return;
  slot.handshake_sweep_armed = true;
  loop->RunAfter(slot.handshakes->tick(), [this, &slot] { SweepHandshakes(slot); });
}

void ServerCore::SweepHandshakes(LoopThread& slot) {
  EventLoop* loop = slot.loop.get();
  const std::string reason = absl::StrCat("handshake not finished within ",
                                          absl::FormatDuration(options_.handshake_timeout));
  slot.handshakes->Advance(loop->iteration_time(), [loop, &reason](IdleWheel::Entry* entry) {
    auto* c = static_cast<Connection*>(entry);
    loop->counters().handshake_timeouts.Add();
    c->ForceClose(absl::DeadlineExceededError(reason));
    return true;
  });
  if (slot.handshakes->empty()) {
    slot.handshake_sweep_armed = false;
    return;
  }
  loop->RunAfter(slot.handshakes->tick(), [this, &slot] { SweepHandshakes(slot); });
}

ServerCore::LoopThread& ServerCore::SlotOf(const EventLoop* loop) {
  for (const std::unique_ptr<LoopThread>& slot : loops_) {
    if (slot->loop.get() == loop) return *slot;
  }
  std::abort();  // every connection belongs to one of this server's loops
}

void ServerCore::OnOpen(Connection& connection) {
  // Opened after a handshake (one that opens in Start() is in no wheel
  // yet): from the handshake wheel to the heartbeat.
  if (connection.in_wheel()) {
    LoopThread& slot = SlotOf(connection.loop());
    if (slot.heartbeat != nullptr) {
      slot.heartbeat->Add(&connection, connection.loop()->iteration_time());
    } else {
      connection.Unlink();
    }
  }
  connection.loop()->counters().connections_opened.Add();
  options_.logger.Debug("connection %d from %s opened", connection.id(),
                        connection.peer_address().ToString());
  if (on_open_) on_open_(connection);
}

void ServerCore::OnClosed(Connection& connection, const absl::Status& reason) {
  const bool opened = connection.has_opened();
  // Counters first: whoever sees the log line sees them updated.
  IoCounters& counters = connection.loop()->counters();
  counters.CountClose(reason);
  if (!opened) counters.handshake_failures.Add();
  if (IsProtocolError(reason)) {
    // One line per connection (per-message lines are rate-limited where
    // they are logged); a flood of them is bounded by the async sink.
    options_.logger.Warning("connection %d (%s) closed%s: %s", connection.id(),
                            connection.peer_address().ToString(),
                            opened ? "" : " during its handshake", reason.ToString());
  } else {
    options_.logger.Debug("connection %d (%s) closed%s: %s", connection.id(),
                          connection.peer_address().ToString(),
                          opened ? "" : " during its handshake",
                          reason.ok() ? std::string("orderly close") : reason.ToString());
  }
  if (opened && on_close_) on_close_(connection, reason);
  // Remove last: the manager may hold the final reference.
  ConnectionPtr keep = connections_.Remove(connection.id());
  // A descriptor was freed: accepting may resume after EMFILE.
  if (acceptor_ != nullptr && acceptor_->paused()) acceptor_->Resume();
  // A graceful shutdown ends when the last connection has gone.
  if (draining_.load(std::memory_order_acquire) && connections_.Count() == 0) {
    RequestStop();
  }
}

void ServerCore::OnHighWaterMark(Connection& connection, size_t queued_bytes) {
  if (on_high_water_mark_) on_high_water_mark_(connection, queued_bytes);
}

void ServerCore::OnWriteComplete(Connection& connection) {
  if (on_write_complete_) on_write_complete_(connection);
}

bool ServerCore::OnLoopThread() const {
  for (const auto& slot : loops_) {
    if (slot->loop->IsInLoopThread()) return true;
  }
  return false;
}

void ServerCore::WaitUntilSetUp() {
  if (started_.load()) set_up_.WaitForNotification();
}

void ServerCore::Stop() {
  WaitUntilSetUp();
  RequestStop();
  if (OnLoopThread()) return;  // the Start() caller or destructor joins
  JoinThreads(absl::Now() + kLogFlushTimeout);
}

void ServerCore::Shutdown(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  WaitUntilSetUp();
  if (!started_.load() || loops_.empty() || stopping_.load()) {
    Stop();
    return;
  }
  if (!draining_.exchange(true, std::memory_order_acq_rel)) {
    options_.logger.Info("shutting down: closing %d connection(s) gracefully (up to %s)",
                         connections_.Count(), absl::FormatDuration(timeout));
    for (size_t i = 0; i < loops_.size(); ++i) {
      EventLoop* loop = loops_[i]->loop.get();
      loop->Post([this, loop, i, timeout] {
        CloseListener(static_cast<int>(i));
        if (i == 0) {
          loop->RunAfter(timeout, [this] {
            if (connections_.Count() > 0) {
              options_.logger.Warning(
                  "shutdown deadline passed: closing %d remaining connection(s)",
                  connections_.Count());
            }
            RequestStop();
          });
        }
        // Handlers running on this loop have returned by now; Close() lets
        // queued output reach the peer first.
        for (const ConnectionPtr& c : connections_.Snapshot()) {
          if (c->loop() == loop) c->Close();
        }
        if (connections_.Count() == 0) RequestStop();
      });
    }
  }
  if (OnLoopThread()) return;
  // Logs get what is left of the timeout, and at least kLogFlushTimeout.
  JoinThreads(std::max(deadline, absl::Now() + kLogFlushTimeout));
}

void ServerCore::RequestStop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  for (size_t i = 0; i < loops_.size(); ++i) {
    EventLoop* loop = loops_[i]->loop.get();
    loop->Post([this, loop, i] {
      CloseListener(static_cast<int>(i));
      for (const ConnectionPtr& c : connections_.Snapshot()) {
        if (c->loop() == loop) c->ForceClose(absl::CancelledError("server stopping"));
      }
      loop->Quit();
    });
  }
}

void ServerCore::JoinThreads(absl::Time log_deadline) {
  MutexLock lock(&join_mu_);
  for (auto& slot : loops_) {
    if (slot->thread.joinable()) {
      slot->thread.join();
    } else if (&slot == &loops_[0] && blocking_.load()) {
      // Loop 0 of a blocking Start() runs on the caller's thread.
      slot->exited.WaitForNotification();
    }
  }
  // The loops have stopped: write what they logged, but never wait for a
  // stuck sink beyond the deadline (the sink's thread is then left behind).
  if (log_sink_ != nullptr) {
    absl::Duration budget = log_deadline - absl::Now();
    if (budget > kLogFlushTimeout) budget = kLogFlushTimeout;
    if (budget < absl::ZeroDuration()) budget = absl::ZeroDuration();
    (void)log_sink_->Stop(budget);
  }
}

ServerStats ServerCore::stats() const {
  ServerStats s;
  for (const auto& slot : loops_) s.Add(slot->loop->counters());
  s.connections_open = connections_.Count();
  if (log_sink_ != nullptr) s.log_lines_dropped = log_sink_->dropped();
  return s;
}

}  // namespace netman
