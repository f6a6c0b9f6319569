// Copyright netman authors.
#include "netman/server/tcp_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/codec/default_packer.h"
#include "netman/net/socket_ops.h"
#include "netman/base/sync.h"

namespace netman {

TcpServer::TcpServer(ServerOptions options)
    : options_(std::move(options)),
      packer_(options_.packer ? options_.packer
                              : std::make_shared<const DefaultPacker>()) {
  if (options_.loops <= 0) {
    options_.loops = static_cast<int>(std::thread::hardware_concurrency());
    if (options_.loops <= 0) options_.loops = 1;
  }
  if (options_.clock == nullptr) options_.clock = &RealClock::Instance();
  protocol_ = std::make_unique<FramedProtocol>(
      packer_.get(), &router_, &options_.logger,
      FramedProtocol::Options{options_.max_body, options_.close_on_unknown_id},
      [this](Connection& c, const absl::Status& reason) {
        OnConnectionClosed(c, reason);
      });
}

TcpServer::~TcpServer() { Stop(); }

absl::Status TcpServer::AddRouter(uint32_t id, Handler handler) {
  if (started_.load()) {
    return absl::FailedPreconditionError("AddRouter after the server started");
  }
  return router_.AddRouter(id, std::move(handler));
}

void TcpServer::SetNotFoundHandler(Handler handler) {
  router_.SetNotFoundHandler(std::move(handler));
}

void TcpServer::OnOpen(OpenHook hook) { on_open_ = std::move(hook); }
void TcpServer::OnClose(CloseHook hook) { on_close_ = std::move(hook); }

absl::Status TcpServer::Listen(std::string_view address) {
  if (stopping_.load()) return absl::FailedPreconditionError("server was stopped");
  if (started_.exchange(true)) {
    return absl::FailedPreconditionError("server already started");
  }
  absl::StatusOr<SocketAddress> addr = SocketAddress::Parse(address);
  if (!addr.ok()) return addr.status();
  for (int i = 0; i < options_.loops; ++i) {
    auto slot = std::make_unique<LoopThread>();
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(
        {options_.poller_factory, options_.clock, options_.logger});
    if (!loop.ok()) return loop.status();
    slot->loop = std::move(*loop);
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

void TcpServer::StartLoopThread(LoopThread& slot) {
  slot.thread = std::thread([&slot] {
    slot.loop->Run();
    slot.exited.Notify();
  });
}

absl::Status TcpServer::StartInBackground(std::string_view address) {
  absl::Status s = Listen(address);
  if (!s.ok()) return s;
  for (auto& slot : loops_) StartLoopThread(*slot);
  return absl::OkStatus();
}

absl::Status TcpServer::Start(std::string_view address) {
  absl::Status s = Listen(address);
  if (!s.ok()) return s;
  blocking_.store(true);
  for (size_t i = 1; i < loops_.size(); ++i) StartLoopThread(*loops_[i]);
  loops_[0]->loop->Run();
  loops_[0]->exited.Notify();
  RequestStop();  // the other loops, if loop 0 ended first
  JoinThreads();
  return absl::OkStatus();
}

void TcpServer::OnNewSocket(UniqueFd fd, const SocketAddress& peer) {
  if (stopping_.load(std::memory_order_acquire)) return;  // fd closes here
  const uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  EventLoop* loop = loops_[next_loop_++ % loops_.size()]->loop.get();
  if (loop->IsInLoopThread()) {
    CreateConnection(loop, std::move(fd), id, peer);
    return;
  }
  loop->Post([this, loop, fd = std::move(fd), id, peer]() mutable {
    CreateConnection(loop, std::move(fd), id, peer);
  });
}

void TcpServer::CreateConnection(EventLoop* loop, UniqueFd fd, uint64_t id,
                                 const SocketAddress& peer) {
  if (stopping_.load(std::memory_order_acquire)) return;
  if (options_.tcp_nodelay) {
    absl::Status s = SetTcpNoDelay(fd.get(), true);
    if (!s.ok()) options_.logger.Debug("connection %d: %s", id, s.ToString());
  }
  auto connection = std::make_shared<Connection>(loop, std::move(fd), id, peer,
                                                 protocol_.get(), packer_.get());
  absl::Status s = connection->Start();
  if (!s.ok()) {
    options_.logger.Error("connection %d from %s: %s", id, peer.ToString(),
                          s.ToString());
    return;
  }
  connections_.Add(connection);
  options_.logger.Debug("connection %d from %s opened", id, peer.ToString());
  if (on_open_) on_open_(*connection);
}

void TcpServer::OnConnectionClosed(Connection& connection,
                                   const absl::Status& reason) {
  if (reason.ok()) {
    options_.logger.Debug("connection %d (%s) closed", connection.id(),
                          connection.peer_address().ToString());
  } else {
    options_.logger.Warning("connection %d (%s) closed: %s", connection.id(),
                            connection.peer_address().ToString(),
                            reason.ToString());
  }
  if (on_close_) on_close_(connection, reason);
  // Remove last: the manager may hold the final reference.
  ConnectionPtr keep = connections_.Remove(connection.id());
  // A descriptor was freed: accepting may resume after EMFILE.
  if (acceptor_ != nullptr && acceptor_->paused()) acceptor_->Resume();
}

void TcpServer::CloseLoopConnections(EventLoop* loop) {
  for (const ConnectionPtr& c : connections_.Snapshot()) {
    if (c->loop() == loop) c->ForceClose(absl::CancelledError("server stopping"));
  }
}

bool TcpServer::OnLoopThread() const {
  for (const auto& slot : loops_) {
    if (slot->loop->IsInLoopThread()) return true;
  }
  return false;
}

void TcpServer::Stop() {
  RequestStop();
  if (OnLoopThread()) return;  // the Start() caller or destructor joins
  JoinThreads();
}

void TcpServer::RequestStop() {
  if (!stopping_.exchange(true, std::memory_order_acq_rel)) {
    for (size_t i = 0; i < loops_.size(); ++i) {
      EventLoop* loop = loops_[i]->loop.get();
      loop->Post([this, loop, i] {
        if (i == 0 && acceptor_ != nullptr) acceptor_->Close();
        CloseLoopConnections(loop);
        loop->Quit();
      });
    }
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

}  // namespace netman
