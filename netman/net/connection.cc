// Copyright netman authors.
#include "netman/net/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/net/socket_ops.h"

namespace netman {
namespace {

// Error statuses of the send paths, out of line: building one calls into
// abseil, and keeping that out of Send() keeps its fast path small.
[[gnu::cold, gnu::noinline]] absl::Status NotOpenError() {
  return absl::FailedPreconditionError("connection is not open");
}
[[gnu::cold, gnu::noinline]] absl::Status OutputLimitClosedError() {
  return absl::ResourceExhaustedError("output limit exceeded; connection closed");
}
[[gnu::cold, gnu::noinline]] absl::Status BodyTooLargeError() {
  return absl::InvalidArgumentError("message body larger than 4 GiB");
}

}  // namespace

Connection::Connection(EventLoop* loop, UniqueFd fd, uint64_t id,
                       const SocketAddress& peer, ConnectionHandler* handler,
                       const Packer* packer, const ConnectionLimits* limits)
    : loop_(loop),
      fd_(std::move(fd)),
      handler_(handler),
      packer_(packer),
      limits_(limits),
      id_(id),
      peer_(peer) {}

Connection::~Connection() {
  // Normally CloseNow() already unregistered and closed the fd; this covers a
  // connection dropped before Start() or by a stopping server.
  if (fd_.valid() && loop_->IsInLoopThread()) (void)loop_->RemoveFd(fd_.get());
}

absl::Status Connection::Start() {
  return loop_->AddFd(fd_.get(), kPollReadable, this);
}

absl::StatusOr<SocketAddress> Connection::local_address() const {
  if (state() == State::kClosed) {
    return absl::FailedPreconditionError("connection is closed");
  }
  return LocalAddressOf(fd_.get());
}

void Connection::OnIoEvent(uint32_t events) {
  if (state() == State::kClosed) return;
  if (!wants_read() && (events & (kPollError | kPollHangup))) {
    // Not reading (closing with output pending): a level-triggered error or
    // hang-up would be reported forever, and nothing can be written anyway.
    if (events & kPollError) {
      CloseNow(ErrnoStatus(PendingSocketError(fd_.get()), "socket error"));
    } else {
      CloseNow(absl::UnavailableError("peer hung up before output was flushed"));
    }
    return;
  }
  if (events & kPollReadable) HandleRead();
  if ((events & kPollWritable) && state() != State::kClosed) HandleWrite();
}

void Connection::HandleRead() {
  if (!wants_read()) return;
  char* const spare = loop_->read_buffer();
  ssize_t n;
  const bool had_input = !input_.empty();
  if (!had_input) {
    n = ::read(fd_.get(), spare, EventLoop::kReadBufferSize);
  } else {
    // Fill the space the partial message already has, then the scratch
    // buffer: no per-connection allocation beyond what the data needs.
    const size_t room = input_.writable_size();
    struct iovec iov[2];
    iov[0].iov_base = room > 0 ? input_.Writable(room) : nullptr;
    iov[0].iov_len = room;
    iov[1].iov_base = spare;
    iov[1].iov_len = EventLoop::kReadBufferSize;
    n = ::readv(fd_.get(), iov, 2);
    if (n > 0) {
      const size_t got = static_cast<size_t>(n);
      if (got <= room) {
        input_.Commit(got);
      } else {
        input_.Commit(room);
        input_.Append(spare, got - room);
      }
    }
  }

  if (n > 0) {
    loop_->counters().bytes_read.Add(static_cast<uint64_t>(n));
    TouchUnixNanos(loop_->iteration_unix_nanos());  // heartbeat: any inbound byte counts
    // Replies produced while handling this read go into the loop's output
    // scratch buffer unless older output is still queued.
    if (output_.capacity() == 0) {
      output_ = loop_->TakeOutputScratch();
      output_borrowed_ = true;
    }
    in_read_ = true;
    absl::StatusOr<size_t> consumed;
    if (!had_input) {
      const std::string_view data(spare, static_cast<size_t>(n));
      consumed = handler_->OnData(*this, data);
      if (consumed.ok() && *consumed < data.size() && state() != State::kClosed) {
        input_.Append(data.substr(*consumed));  // keep the partial message
      }
    } else {
      consumed = handler_->OnData(*this, input_.readable());
      if (consumed.ok() && state() != State::kClosed) {
        input_.Consume(*consumed);
        if (input_.empty()) input_.Release();
      }
    }
    in_read_ = false;
    if (!consumed.ok()) {
      // Replies to the valid messages before the bad one still go out.
      if (state() == State::kOpen) {
        CloseInLoop(consumed.status());
      } else if (state() == State::kClosing) {
        close_reason_ = consumed.status();
      }
      input_.Release();
    } else {
      if (state() != State::kOpen) input_.Release();  // closed or closing
      // Replies produced while handling this read leave in one write.
      if (state() != State::kClosed && !output_.empty() && !writing_) Flush();
    }
    ReturnOutputScratch();
    return;
  }
  if (n == 0) {  // peer finished sending
    reading_ = false;
    if (!input_.empty()) {
      loop_->logger().Debug("connection %d: peer closed mid-message (%d bytes dropped)",
                            id_, input_.size());
    }
    input_.Release();
    if (output_.empty()) {
      CloseNow(absl::OkStatus());
    } else {
      // Deliver what is queued (half-close), then close.
      state_.store(State::kClosing, std::memory_order_release);
      if (!writing_) {
        Flush();
      } else {
        UpdateInterest();
      }
    }
    return;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
  CloseNow(ErrnoStatus(errno, "read"));
}

void Connection::ReturnOutputScratch() {
  if (!output_borrowed_) return;
  output_borrowed_ = false;
  if (output_.empty()) {
    loop_->ReturnOutputScratch(std::move(output_));
    return;
  }
  // The kernel did not take everything: keep only the unsent tail.
  Buffer tail;
  tail.Append(output_.readable());
  loop_->ReturnOutputScratch(std::exchange(output_, std::move(tail)));
}

void Connection::HandleWrite() { Flush(); }

void Connection::Flush() {
  if (state() == State::kClosed) return;
  if (!output_.empty()) {
    ssize_t n = ::send(fd_.get(), output_.data(), output_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      output_.Consume(static_cast<size_t>(n));
      loop_->counters().bytes_written.Add(static_cast<uint64_t>(n));
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      CloseNow(ErrnoStatus(errno, "write"));
      return;
    }
  }
  if (!output_.empty()) {
    if (!writing_) {
      writing_ = true;
      UpdateInterest();
    }
    if (limits_ != nullptr) AfterFlush(output_.size());
    return;
  }
  if (!output_borrowed_) output_.Release();  // else HandleRead returns it
  if (writing_) {
    writing_ = false;
    UpdateInterest();
  }
  if (limits_ != nullptr) {
    // With nothing left, AfterFlush only has work if a limit had tripped.
    if (above_high_water_ || read_paused_) AfterFlush(0);
    if (limits_->notify_write_complete && state() != State::kClosed) {
      handler_->OnWriteComplete(*this);
    }
  }
  if (state() == State::kClosing) {
    CloseNow(std::move(close_reason_));
    return;
  }
  if (shutdown_after_flush_) {
    shutdown_after_flush_ = false;
    ShutdownWriteInLoop();
  }
}

void Connection::QueueFlush() {
  if (in_read_ || flush_queued_ || writing_) return;
  flush_queued_ = true;
  loop_->Post([self = shared_from_this()]() {
    self->flush_queued_ = false;
    self->Flush();
  });
}

void Connection::AppendOutput(std::string_view bytes) {
  output_.Append(bytes);
  if (OutputWithinLimits()) QueueFlush();
}

bool Connection::CheckOutputLimit() {
  const size_t limit = limits_->max_output_bytes;
  const size_t queued = output_.size();
  // Already backed up (the kernel refused bytes): what is queued now is
  // unsent output, so the high-water mark applies. Before the first refusal
  // a batch of replies is just waiting for this read's flush.
  if (writing_ && limits_->high_water_mark != 0 && !above_high_water_ &&
      queued >= limits_->high_water_mark) {
    above_high_water_ = true;
    loop_->counters().high_water_events.Add();
    handler_->OnHighWaterMark(*this, queued);
  }
  if (limit == 0 || queued <= limit) return true;
  if (limits_->output_limit_policy == OutputLimitPolicy::kClose || queued > 2 * limit) {
    loop_->counters().output_limit_closes.Add();
    CloseNow(absl::ResourceExhaustedError(absl::StrCat(
        "output queue of ", queued, " bytes exceeds the limit of ", limit,
        " (peer not reading)")));
    return false;
  }
  if (!read_paused_) {
    read_paused_ = true;
    loop_->counters().read_pauses.Add();
    UpdateInterest();
  }
  return true;
}

void Connection::AfterFlush(size_t remaining) {
  if (limits_->high_water_mark != 0) {
    if (remaining >= limits_->high_water_mark) {
      if (!above_high_water_) {
        above_high_water_ = true;
        loop_->counters().high_water_events.Add();
        handler_->OnHighWaterMark(*this, remaining);
      }
    } else {
      above_high_water_ = false;
    }
  }
  if (read_paused_ && remaining <= limits_->max_output_bytes / 2 &&
      state() == State::kOpen) {
    read_paused_ = false;
    UpdateInterest();
  }
}

absl::Status Connection::Send(uint32_t message_id, std::string_view body) {
  if (body.size() > std::numeric_limits<uint32_t>::max()) return BodyTooLargeError();
  if (state() != State::kOpen) return NotOpenError();
  if (loop_->IsInLoopThread()) {
    loop_->counters().messages_out.Add();
    packer_->Encode(message_id, body, output_);
    if (!OutputWithinLimits()) return OutputLimitClosedError();
    // Inside a read, the read's own flush sends it.
    if (!in_read_) QueueFlush();
    return absl::OkStatus();
  }
  return SendFromOtherThread(message_id, body);
}

absl::Status Connection::SendFromOtherThread(uint32_t message_id,
                                             std::string_view body) {
  // Encode here, on the caller's thread; the loop only moves the frame in.
  Buffer frame;
  packer_->Encode(message_id, body, frame);
  loop_->Post([self = shared_from_this(), frame = std::move(frame)]() mutable {
    if (self->state() != State::kOpen) return;
    self->loop_->counters().messages_out.Add();
    if (self->output_.empty()) {
      self->output_ = std::move(frame);
      if (self->OutputWithinLimits()) self->QueueFlush();
    } else {
      self->AppendOutput(frame.readable());
    }
  });
  return absl::OkStatus();
}

absl::Status Connection::SendBytes(std::string_view bytes) {
  if (state() != State::kOpen) return NotOpenError();
  if (loop_->IsInLoopThread()) {
    AppendOutput(bytes);
    return state() == State::kClosed ? OutputLimitClosedError() : absl::OkStatus();
  }
  Buffer copy;
  copy.Append(bytes);
  loop_->Post([self = shared_from_this(), copy = std::move(copy)]() mutable {
    if (self->state() != State::kOpen) return;
    self->AppendOutput(copy.readable());
  });
  return absl::OkStatus();
}

void Connection::Close() {
  if (state() != State::kOpen) return;
  loop_->RunInLoop([self = shared_from_this()]() { self->CloseInLoop(); });
}

void Connection::CloseInLoop(absl::Status reason) {
  if (state() != State::kOpen) return;
  reading_ = false;
  if (!in_read_) input_.Release();  // else HandleRead drops it afterwards
  if (output_.empty()) {
    CloseNow(std::move(reason));
    return;
  }
  close_reason_ = std::move(reason);
  state_.store(State::kClosing, std::memory_order_release);
  if (!writing_) {
    Flush();  // arms write interest if needed
  } else {
    UpdateInterest();
  }
}

void Connection::ForceClose(absl::Status reason) {
  if (state() == State::kClosed) return;
  loop_->RunInLoop([self = shared_from_this(), reason = std::move(reason)]() mutable {
    self->CloseNow(std::move(reason));
  });
}

void Connection::ShutdownWrite() {
  loop_->RunInLoop([self = shared_from_this()]() { self->ShutdownWriteInLoop(); });
}

void Connection::ShutdownWriteInLoop() {
  if (state() == State::kClosed || write_shut_) return;
  if (!output_.empty()) {
    shutdown_after_flush_ = true;
    return;
  }
  write_shut_ = true;
  ::shutdown(fd_.get(), SHUT_WR);
}

void Connection::UpdateInterest() {
  uint32_t interest = (wants_read() ? uint32_t{kPollReadable} : 0u) |
                      (writing_ ? uint32_t{kPollWritable} : 0u);
  absl::Status s = loop_->ModifyFd(fd_.get(), interest, this);
  if (!s.ok()) loop_->logger().Error("connection %d: %s", id_, s.ToString());
}

void Connection::CloseNow(absl::Status reason) {
  if (state() == State::kClosed) return;
  state_.store(State::kClosed, std::memory_order_release);
  Unlink();  // leave the heartbeat wheel
  (void)loop_->RemoveFd(fd_.get());
  fd_.reset();
  // A handler on the stack may still look at its message body, which points
  // into input_: HandleRead releases it once the handler has returned.
  if (!in_read_) input_.Release();
  if (output_borrowed_) {
    output_.Clear();  // HandleRead gives it back to the loop
  } else {
    output_.Release();
  }
  // OnClosed runs after whatever handler call is on the stack has returned;
  // the task's reference keeps the connection alive until then.
  loop_->Post([self = shared_from_this(), reason = std::move(reason)]() {
    self->handler_->OnClosed(*self, reason);
  });
}

}  // namespace netman
