// Copyright netman authors.
#include "netman/net/acceptor.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "netman/base/status.h"
#include "netman/net/socket_ops.h"

namespace netman {
namespace {

// Errors that mean "out of descriptors or memory": expected under load.
bool IsResourceShortage(int error_number) {
  return error_number == EMFILE || error_number == ENFILE || error_number == ENOBUFS ||
         error_number == ENOMEM;
}

}  // namespace

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
  if (shortage_.timer != 0) {
    loop_->Cancel(shortage_.timer);
    shortage_.timer = 0;
  }
  if (listening_) {
    (void)loop_->RemoveFd(fd_.get());
    listening_ = false;
  }
  *alive_ = nullptr;
  fd_.reset();
}

void Acceptor::OnIoEvent(uint32_t events) {
  for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
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
      default:  // unexpected errors pause too; Pause() logs them as errors
        Pause(errno);
        return;
    }
  }
}

void Acceptor::Pause(int error_number) {
  if (paused_.exchange(true, std::memory_order_acq_rel)) return;
  const Logger& logger = loop_->logger();
  if (++shortage_.pauses == 1) {
    shortage_.began = loop_->clock().Now();
    logger.Log(IsResourceShortage(error_number) ? LogLevel::kWarning : LogLevel::kError,
               "accept on %s: %s; pausing accepts for up to %s (until a descriptor is "
               "freed); repeated pauses are logged at debug level until accepting has "
               "run for %s without one",
               local_address_.ToString(), std::strerror(error_number),
               absl::FormatDuration(options_.retry_delay),
               absl::FormatDuration(kShortageQuietPeriod));
    shortage_.timer = loop_->RunAfter(kShortageQuietPeriod, [this] { OnShortageTimer(); });
  } else {
    logger.Debug("accept on %s: %s; pausing accepts again (pause %d of this shortage)",
                 local_address_.ToString(), std::strerror(error_number), shortage_.pauses);
  }
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
  shortage_.last_resume = loop_->clock().Now();
  if (shortage_.pauses == 1) {
    loop_->logger().Info("accept on %s: resuming", local_address_.ToString());
  } else {
    loop_->logger().Debug("accept on %s: resuming (after pause %d of this shortage)",
                          local_address_.ToString(), shortage_.pauses);
  }
  (void)loop_->ModifyFd(fd_.get(), kPollReadable, this);
}

void Acceptor::OnShortageTimer() {
  shortage_.timer = 0;
  absl::Duration wait = kShortageQuietPeriod;  // while still paused
  if (!paused()) {
    const absl::Duration quiet = loop_->clock().Now() - shortage_.last_resume;
    if (quiet >= kShortageQuietPeriod) {
      if (shortage_.pauses > 1) {
        loop_->logger().Info(
            "accept on %s: descriptor shortage over: accepting was paused %d times in %s",
            local_address_.ToString(), shortage_.pauses,
            absl::FormatDuration(
                absl::Trunc(shortage_.last_resume - shortage_.began, absl::Milliseconds(1))));
      }
      shortage_ = Shortage();
      return;
    }
    wait = kShortageQuietPeriod - quiet;
  }
  shortage_.timer = loop_->RunAfter(wait, [this] { OnShortageTimer(); });
}

}  // namespace netman
