// Copyright netman authors.
#include "netman/net/acceptor.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "netman/base/status.h"
#include "netman/net/socket_ops.h"

namespace netman {

absl::StatusOr<std::unique_ptr<Acceptor>> Acceptor::Create(
    EventLoop* loop, const SocketAddress& address, Options options,
    NewConnectionCallback callback) {
  absl::StatusOr<UniqueFd> fd =
      CreateListenSocket(address, options.backlog, options.reuse_port);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<SocketAddress> local = LocalAddressOf(fd->get());
  if (!local.ok()) return local.status();
  return std::unique_ptr<Acceptor>(new Acceptor(
      loop, std::move(*fd), *local, options, std::move(callback)));
}

Acceptor::Acceptor(EventLoop* loop, UniqueFd fd, SocketAddress local,
                   Options options, NewConnectionCallback callback)
    : loop_(loop),
      fd_(std::move(fd)),
      local_address_(local),
      options_(options),
      callback_(std::move(callback)),
      alive_(std::make_shared<Acceptor*>(this)) {}

Acceptor::~Acceptor() { Close(); }

absl::Status Acceptor::Listen() {
  absl::Status s = loop_->AddFd(fd_.get(), kPollReadable, this);
  if (s.ok()) listening_ = true;
  return s;
}

void Acceptor::Close() {
  if (retry_timer_ != 0) {
    loop_->Cancel(retry_timer_);
    retry_timer_ = 0;
  }
  if (listening_) {
    (void)loop_->RemoveFd(fd_.get());
    listening_ = false;
  }
  *alive_ = nullptr;
  fd_.reset();
}

void Acceptor::OnIoEvent(uint32_t events) {
  // Bounded per event so a connection storm cannot starve established
  // connections on this loop; level triggering brings us back.
  for (int i = 0; i < 1024; ++i) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = ::accept4(fd_.get(), reinterpret_cast<struct sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      callback_(UniqueFd(fd),
                SocketAddress::FromSockaddr(reinterpret_cast<struct sockaddr*>(&ss), len));
      continue;
    }
    switch (errno) {
      case EAGAIN:
#if EWOULDBLOCK != EAGAIN
      case EWOULDBLOCK:
#endif
        return;
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case EPERM:
        continue;  // this one connection failed; others may be waiting
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        Pause(errno);
        return;
      default:
        loop_->logger().Error("accept on %s: %s", local_address_.ToString(),
                              std::strerror(errno));
        Pause(errno);
        return;
    }
  }
}

void Acceptor::Pause(int error_number) {
  if (paused_.exchange(true, std::memory_order_acq_rel)) return;
  loop_->logger().Warning(
      "accept on %s: %s; pausing accepts for up to %s (until a descriptor is freed)",
      local_address_.ToString(), std::strerror(error_number),
      absl::FormatDuration(options_.retry_delay));
  (void)loop_->ModifyFd(fd_.get(), 0, this);
  retry_timer_ = loop_->RunAfter(options_.retry_delay, [this] {
    retry_timer_ = 0;
    ResumeInLoop();
  });
}

void Acceptor::Resume() {
  if (!paused()) return;
  std::weak_ptr<Acceptor*> alive = alive_;
  loop_->RunInLoop([alive] {
    if (auto p = alive.lock(); p && *p) (*p)->ResumeInLoop();
  });
}

void Acceptor::ResumeInLoop() {
  if (!paused_.exchange(false, std::memory_order_acq_rel) || !listening_) return;
  if (retry_timer_ != 0) {
    loop_->Cancel(retry_timer_);
    retry_timer_ = 0;
  }
  loop_->logger().Info("accept on %s: resuming", local_address_.ToString());
  (void)loop_->ModifyFd(fd_.get(), kPollReadable, this);
}

}  // namespace netman
