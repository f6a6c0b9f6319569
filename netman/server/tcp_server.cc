// Copyright netman authors.
#include "netman/server/tcp_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/codec/default_packer.h"
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

}  // namespace

TcpServer::TcpServer(ServerOptions options)
    : options_(std::move(options)),
      packer_(options_.packer ? options_.packer
                              : std::make_shared<const DefaultPacker>()) {
  if (options_.loops <= 0) {
    options_.loops = static_cast<int>(std::thread::hardware_concurrency());
    if (options_.loops <= 0) options_.loops = 1;
  }
  if (options_.clock == nullptr) options_.clock = &RealClock::Instance();
}

TcpServer::~TcpServer() { Stop(); }

absl::Status TcpServer::AddRouter(uint32_t id, Handler handler) {
  if (started_.load()) {
    return absl::FailedPreconditionError("AddRouter after the server started");
  }
  return router_.AddRouter(id, std::move(handler));
}

TcpServer& TcpServer::Use(Middleware middleware) {
  router_.Use(std::move(middleware));
  return *this;
}

RouteGroup& TcpServer::Group(std::vector<Middleware> middleware) {
  return router_.Group(std::move(middleware));
}

void TcpServer::SetNotFoundHandler(Handler handler) {
  router_.SetNotFoundHandler(std::move(handler));
}

void TcpServer::OnOpen(OpenHook hook) { on_open_ = std::move(hook); }
void TcpServer::OnClose(CloseHook hook) { on_close_ = std::move(hook); }
void TcpServer::OnHighWaterMark(HighWaterHook hook) {
  on_high_water_mark_ = std::move(hook);
}
void TcpServer::OnWriteComplete(WriteCompleteHook hook) {
  on_write_complete_ = std::move(hook);
}

absl::Status TcpServer::ValidateOptions() {
  const ServerOptions& o = options_;
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
  if (o.tcp_keepalive < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("tcp_keepalive must not be negative");
  }
  if (o.tcp_keepalive > absl::ZeroDuration() &&
      (o.tcp_keepalive_interval <= absl::ZeroDuration() ||
       o.tcp_keepalive_probes <= 0)) {
    return absl::InvalidArgumentError(
        "tcp_keepalive needs a positive tcp_keepalive_interval and tcp_keepalive_probes");
  }
  return absl::OkStatus();
}

absl::Status TcpServer::Listen(std::string_view address) {
  if (stopping_.load() || draining_.load()) {
    return absl::FailedPreconditionError("server was stopped");
  }
  if (started_.exchange(true)) {
    return absl::FailedPreconditionError("server already started");
  }
  absl::Status valid = ValidateOptions();
  if (!valid.ok()) return valid;
  absl::StatusOr<SocketAddress> addr = SocketAddress::Parse(address);
  if (!addr.ok()) return addr.status();

  // Hooks are final now: build what connections share.
  limits_.max_output_bytes = options_.max_output_bytes;
  limits_.output_limit_policy = options_.output_limit_policy;
  limits_.high_water_mark = on_high_water_mark_ ? options_.output_high_water_mark : 0;
  limits_.notify_write_complete = static_cast<bool>(on_write_complete_);
  protocol_ = std::make_unique<FramedProtocol>(
      packer_.get(), &router_, &options_.logger,
      FramedProtocol::Options{options_.max_body, options_.close_on_unknown_id},
      FramedProtocol::Hooks{
          .on_closed = [this](Connection& c,
                              const absl::Status& reason) { OnConnectionClosed(c, reason); },
          .on_high_water_mark = on_high_water_mark_,
          .on_write_complete = on_write_complete_});

  for (int i = 0; i < options_.loops; ++i) {
    auto slot = std::make_unique<LoopThread>();
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(
        {options_.poller_factory, options_.clock, options_.logger});
    if (!loop.ok()) return loop.status();
    slot->loop = std::move(*loop);
    if (options_.heartbeat_idle_time > absl::ZeroDuration()) StartHeartbeat(*slot);
    loops_.push_back(std::move(slot));
  }
  absl::StatusOr<std::unique_ptr<Acceptor>> acceptor = Acceptor::Create(
      loops_[0]->loop.get(), *addr,
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
  listen_address_ = acceptor_->local_address();
  options_.logger.Info("listening on %s with %d loop(s)",
                       listen_address_.ToString(), options_.loops);
  return absl::OkStatus();
}

void TcpServer::StartHeartbeat(LoopThread& slot) {
  const absl::Duration idle = options_.heartbeat_idle_time;
  absl::Duration interval = options_.heartbeat_check_interval;
  if (interval == absl::ZeroDuration()) interval = idle / 4;
  if (interval < absl::Milliseconds(1)) interval = absl::Milliseconds(1);
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
        if (c->is_open() && (c->output_bytes() > 0 || c->read_paused())) return false;
        loop->counters().idle_closes.Add();
        c->ForceClose(absl::DeadlineExceededError(reason));
        return true;
      });
    });
  });
}

void TcpServer::StartLoopThread(LoopThread& slot) {
  slot.thread = std::thread([&slot] {
    slot.loop->Run();
    slot.exited.Notify();
  });
}

absl::Status TcpServer::StartInBackground(std::string_view address) {
  absl::Status s = Listen(address);
  if (s.ok()) {
    for (auto& slot : loops_) StartLoopThread(*slot);
  }
  set_up_.Notify();
  return s;
}

absl::Status TcpServer::Start(std::string_view address) {
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
  JoinThreads();
  return absl::OkStatus();
}

void TcpServer::OnNewSocket(UniqueFd fd, const SocketAddress& peer) {
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

void TcpServer::CreateConnection(LoopThread& slot, UniqueFd fd, uint64_t id,
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
  EventLoop* loop = slot.loop.get();
  auto connection = std::make_shared<Connection>(
      loop, std::move(fd), id, peer, protocol_.get(), packer_.get(), &limits_);
  absl::Status s = connection->Start();
  if (!s.ok()) {
    options_.logger.Error("connection %d from %s: %s", id, peer.ToString(),
                          s.ToString());
    return;
  }
  connections_.Add(connection);
  loop->counters().connections_opened.Add();
  if (slot.heartbeat != nullptr) slot.heartbeat->Add(connection.get(), loop->iteration_time());
  options_.logger.Debug("connection %d from %s opened", id, peer.ToString());
  if (on_open_) on_open_(*connection);
}

void TcpServer::OnConnectionClosed(Connection& connection,
                                   const absl::Status& reason) {
  if (IsProtocolError(reason)) {
    options_.logger.Warning("connection %d (%s) closed: %s", connection.id(),
                            connection.peer_address().ToString(),
                            reason.ToString());
  } else {
    options_.logger.Debug("connection %d (%s) closed: %s", connection.id(),
                          connection.peer_address().ToString(),
                          reason.ok() ? std::string("orderly close") : reason.ToString());
  }
  connection.loop()->counters().CountClose(reason);
  if (on_close_) on_close_(connection, reason);
  // Remove last: the manager may hold the final reference.
  ConnectionPtr keep = connections_.Remove(connection.id());
  // A descriptor was freed: accepting may resume after EMFILE.
  if (acceptor_ != nullptr && acceptor_->paused()) acceptor_->Resume();
  // A graceful shutdown ends when the last connection has gone.
  if (draining_.load(std::memory_order_acquire) && connections_.Count() == 0) {
    RequestStop();
  }
}

bool TcpServer::OnLoopThread() const {
  for (const auto& slot : loops_) {
    if (slot->loop->IsInLoopThread()) return true;
  }
  return false;
}

void TcpServer::WaitUntilSetUp() {
  if (started_.load()) set_up_.WaitForNotification();
}

void TcpServer::Stop() {
  WaitUntilSetUp();
  RequestStop();
  if (OnLoopThread()) return;  // the Start() caller or destructor joins
  JoinThreads();
}

void TcpServer::Shutdown(absl::Duration timeout) {
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
        if (i == 0) {
          if (acceptor_ != nullptr) acceptor_->Close();
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
  JoinThreads();
}

void TcpServer::RequestStop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  for (size_t i = 0; i < loops_.size(); ++i) {
    EventLoop* loop = loops_[i]->loop.get();
    loop->Post([this, loop, i] {
      if (i == 0 && acceptor_ != nullptr) acceptor_->Close();
      for (const ConnectionPtr& c : connections_.Snapshot()) {
        if (c->loop() == loop) c->ForceClose(absl::CancelledError("server stopping"));
      }
      loop->Quit();
    });
  }
}

void TcpServer::JoinThreads() {
  MutexLock lock(&join_mu_);
  for (auto& slot : loops_) {
    if (slot->thread.joinable()) {
      slot->thread.join();
    } else if (&slot == &loops_[0] && blocking_.load()) {
      // Loop 0 of a blocking Start() runs on the caller's thread.
      slot->exited.WaitForNotification();
    }
  }
}


ServerStats TcpServer::stats() const {
  ServerStats s;
  for (const auto& slot : loops_) {
    const IoCounters& c = slot->loop->counters();
    s.connections_accepted += c.connections_opened.Get();
    s.connections_closed += c.connections_closed.Get();
    for (int code = 0; code < IoCounters::kStatusCodes; ++code) {
      if (uint64_t n = c.closed_by_code[code].Get(); n > 0) {
        s.closed_by_reason[absl::StatusCodeToString(static_cast<absl::StatusCode>(code))] += n;
      }
    }
    s.messages_in += c.messages_in.Get();
    s.messages_out += c.messages_out.Get();
    s.bytes_in += c.bytes_read.Get();
    s.bytes_out += c.bytes_written.Get();
    s.decode_errors += c.decode_errors.Get();
    s.high_water_events += c.high_water_events.Get();
    s.read_pauses += c.read_pauses.Get();
    s.output_limit_closes += c.output_limit_closes.Get();
    s.idle_closes += c.idle_closes.Get();
  }
  s.connections_open = connections_.Count();
  return s;
}

std::string ServerStats::ToJson() const {
  std::string reasons;
  for (const auto& [reason, n] : closed_by_reason) {
    absl::StrAppend(&reasons, reasons.empty() ? "" : ",", "\"", reason, "\":", n);
  }
  return absl::StrCat(
      "{\"connections_open\":", connections_open,
      ",\"connections_accepted\":", connections_accepted,
      ",\"connections_closed\":", connections_closed,
      ",\"closed_by_reason\":{", reasons, "}",
      ",\"messages_in\":", messages_in, ",\"messages_out\":", messages_out,
      ",\"bytes_in\":", bytes_in, ",\"bytes_out\":", bytes_out,
      ",\"decode_errors\":", decode_errors,
      ",\"high_water_events\":", high_water_events,
      ",\"read_pauses\":", read_pauses,
      ",\"output_limit_closes\":", output_limit_closes,
      ",\"idle_closes\":", idle_closes, "}");
}

}  // namespace netman
