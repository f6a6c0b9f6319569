// Copyright netman authors.
#include "netman/net/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
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
[[gnu::cold, gnu::noinline]] absl::Status InputCapError(size_t held, size_t cap) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "received ", held, " bytes the protocol has not consumed, over the input cap of ",
      cap, " (max_input_bytes)"));
}

}  // namespace

Connection::Connection(EventLoop* loop, UniqueFd fd, uint64_t id,
                       const SocketAddress& peer, const ConnectionContext* context,
                       std::unique_ptr<Transport> transport)
    : loop_(loop),
      fd_(std::move(fd)),
      transport_(std::move(transport)),
      context_(context),
      id_(id),
      peer_(peer) {}

Connection::~Connection() {
  // Normally CloseNow() already unregistered and closed the fd; this covers a
  // connection dropped before Start() or by a stopping server.
  if (fd_.valid() && loop_->IsInLoopThread()) (void)loop_->RemoveFd(fd_.get());
}

absl::Status Connection::Start(ProtocolPtr protocol) {
  NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
  if (!protocol) return absl::InvalidArgumentError("Connection::Start without a protocol");
  protocol_ = std::move(protocol);
  if (fd_.valid()) {  // else its owner delivers its input (DeliverReceived)
    absl::Status s = loop_->AddFd(fd_.get(), kPollReadable, this);
    if (!s.ok()) return s;
  }
  protocol_ready_ = protocol_->OnAttach(*this);
  MaybeOpen();
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> Connection::local_address() const {
  if (state() == State::kClosed) {
    return absl::FailedPreconditionError("connection is closed");
  }
  return LocalAddressOf(fd_.get());
}

void Connection::MaybeOpen() {
  if (state() != State::kHandshaking || !protocol_ready_) return;
  if (transport_ != nullptr && !transport_->ready()) return;
  state_.store(State::kOpen, std::memory_order_release);
  opened_ = true;
  context_->events->OnOpen(*this);
}

void Connection::MarkProtocolReady() {
  NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
  protocol_ready_ = true;
  MaybeOpen();
}

void Connection::SwitchProtocol(ProtocolPtr next) {
  NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
  if (!next || state() == State::kClosed) return;
  ProtocolPtr old = std::exchange(protocol_, std::move(next));
  // The old protocol may be running (this is often called from its
  // OnData()): it is destroyed from a task, after that call has returned.
  if (old.owned()) loop_->Post([old = std::move(old)]() {});
  protocol_ready_ = protocol_->OnAttach(*this);
  MaybeOpen();
  // Outside a read, bytes already buffered would otherwise wait for the
  // peer's next bytes: offer them to the new protocol now.
  if (!in_read_ && !input_.empty()) {
    loop_->Post([self = shared_from_this()] { self->ProcessBufferedInput(); });
  }
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
  if (transport_ != nullptr) [[unlikely]] {
    HandleTransportRead();
    return;
  }
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
    ProcessInput(had_input ? std::span<char>() : std::span<char>(spare, static_cast<size_t>(n)));
    return;
  }
  if (n == 0) {
    HandlePeerClosed();
    return;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
  CloseNow(ErrnoStatus(errno, "read"));
}

void Connection::HandleTransportRead() {
  // Application bytes go straight behind a partial message, or else into the
  // loop's input scratch buffer for this read.
  const bool had_input = !input_.empty();
  Buffer scratch;
  if (!had_input) scratch = loop_->TakeInputScratch();
  // Gives the loop its scratch back (only if it was taken: returning an
  // empty Buffer would replace, and free, the loop's).
  auto return_scratch = [&] {
    if (!had_input) loop_->ReturnInputScratch(std::move(scratch));
  };
  Buffer& sink = had_input ? input_ : scratch;
  absl::StatusOr<Transport::ReadResult> r = transport_->Read(
      fd_.get(), std::span<char>(loop_->read_buffer(), EventLoop::kReadBufferSize), sink);
  if (!r.ok()) {
    return_scratch();
    CloseNow(r.status());
    return;
  }
  if (r->wire_bytes > 0) {
    loop_->counters().bytes_read.Add(r->wire_bytes);
    TouchUnixNanos(loop_->iteration_unix_nanos());
  }
  MaybeOpen();  // the transport's handshake may have completed
  if (!sink.empty() && is_receiving()) {
    ProcessInput(had_input ? std::span<char>()
                           : std::span<char>(scratch.mutable_data(), scratch.size()));
  } else if (has_output() && !writing_ && state() != State::kClosed) {
    Flush();  // handshake bytes
  }
  return_scratch();
  if (r->outcome == Transport::ReadOutcome::kPeerClosed && is_receiving()) {
    HandlePeerClosed();
  }
}

bool Connection::DeliverReceived(std::span<char> bytes) {
  NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
  if (!is_receiving() || !wants_read() || in_read_ || !input_.empty()) return false;
  loop_->counters().bytes_read.Add(bytes.size());
  TouchUnixNanos(loop_->iteration_unix_nanos());
  ProcessInput(bytes);
  return true;
}

void Connection::ProcessInput(std::span<char> fresh) {
  // Replies produced while handling this read go into the loop's output
  // scratch buffer unless older output is still queued.
  if (output_.capacity() == 0) {
    output_ = loop_->TakeOutputScratch();
    output_borrowed_ = true;
  }
  in_read_ = true;
  const bool buffered = !input_.empty();
  const std::span<char> data =
      buffered ? std::span<char>(input_.mutable_data(), input_.size()) : fresh;
  Protocol* const protocol = protocol_.get();
  absl::StatusOr<size_t> consumed = protocol->OnData(*this, data);
  // The protocol handed the connection over mid-read: the rest of the bytes
  // belong to its successor.
  if (protocol_.get() != protocol) [[unlikely]] DeliverToSuccessors(protocol, data, consumed);
  if (!buffered) {
    if (consumed.ok() && *consumed < fresh.size() && state() != State::kClosed) {
      input_.Append(fresh.data() + *consumed, fresh.size() - *consumed);  // partial message
    }
  } else if (consumed.ok() && state() != State::kClosed) {
    input_.Consume(*consumed);
    if (input_.empty()) input_.Release();
  }
  // Bytes left unconsumed because reading paused are consumable, not a
  // protocol stuck on an incomplete unit: the cap does not apply to them.
  const size_t cap = context_->limits.max_input_bytes;
  if (consumed.ok() && cap != 0 && input_.size() > cap && !read_paused_) [[unlikely]] {
    loop_->counters().input_cap_closes.Add();
    consumed = InputCapError(input_.size(), cap);
  }
  in_read_ = false;
  if (!consumed.ok()) {
    // Replies to the valid messages before the bad one still go out.
    if (is_receiving()) {
      CloseInLoop(consumed.status());
    } else if (state() == State::kClosing) {
      cold().close_reason = consumed.status();
    }
    input_.Release();
  } else {
    if (!is_receiving()) input_.Release();  // closed or closing
    // Replies produced while handling this read leave in one write.
    if (state() != State::kClosed && has_output() && !writing_) Flush();
  }
  ReturnOutputScratch();
}

void Connection::DeliverToSuccessors(Protocol* previous, std::span<char> input,
                                     absl::StatusOr<size_t>& consumed) {
  while (protocol_.get() != previous && consumed.ok() && *consumed < input.size() &&
         is_receiving()) {
    previous = protocol_.get();
    absl::StatusOr<size_t> more = previous->OnData(*this, input.subspan(*consumed));
    if (!more.ok()) {
      consumed = more.status();
      return;
    }
    *consumed += *more;
  }
}

void Connection::ProcessBufferedInput() {
  if (!is_receiving() || !wants_read() || input_.empty() || in_read_) return;
  ProcessInput(std::span<char>());
}

void Connection::HandlePeerClosed() {
  reading_ = false;
  if (!input_.empty()) {
    loop_->logger().Debug("connection %d: peer closed mid-message (%d bytes dropped)",
                          id_, input_.size());
  }
  input_.Release();
  if (transport_ != nullptr) transport_->OnClosing();
  if (!has_output()) {
    CloseNow(absl::OkStatus());
    return;
  }
  // Deliver what is queued (half-close), then close.
  state_.store(State::kClosing, std::memory_order_release);
  if (!writing_) {
    Flush();
  } else {
    UpdateInterest();
  }
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
  size_t remaining;
  if (transport_ == nullptr) [[likely]] {
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
    remaining = output_.size();
  } else {
    absl::StatusOr<Transport::WriteResult> w = transport_->Write(fd_.get(), output_);
    if (!w.ok()) {
      CloseNow(w.status());
      return;
    }
    loop_->counters().bytes_written.Add(w->wire_bytes);
    remaining = w->pending + output_.size();
  }
  if (remaining > 0) {
    if (!writing_) {
      writing_ = true;
      UpdateInterest();
    }
    AfterFlush(remaining);
    return;
  }
  if (!output_borrowed_) output_.Release();  // else HandleRead returns it
  if (writing_) {
    writing_ = false;
    UpdateInterest();
  }
  // With nothing left, AfterFlush only has work if a limit had tripped.
  if (above_high_water_ || read_paused_) AfterFlush(0);
  if (context_->limits.notify_write_complete && state() != State::kClosed) {
    context_->events->OnWriteComplete(*this);
  }
  if (state() == State::kClosing) {
    CloseNow(TakeCloseReason());
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

bool Connection::CheckOutputLimit(size_t queued, size_t before) {
  const ConnectionLimits& limits = context_->limits;
  // Already backed up (the kernel refused bytes): what is queued now is
  // unsent output, so the high-water mark applies. Before the first refusal
  // a batch of replies is just waiting for this read's flush.
  if (writing_ && limits.high_water_mark != 0 && !above_high_water_ &&
      queued >= limits.high_water_mark) {
    above_high_water_ = true;
    loop_->counters().high_water_events.Add();
    context_->events->OnHighWaterMark(*this, queued);
  }
  const size_t limit = limits.max_output_bytes;
  if (limit == 0 || queued <= limit) return true;
  if (limits.output_limit_policy == OutputLimitPolicy::kClose) {
    // The cap applies to the backlog a message joins, not to the message: a
    // reply as large as the largest accepted request always goes out.
    if (before <= limit) return true;
    loop_->counters().output_limit_closes.Add();
    CloseNow(absl::ResourceExhaustedError(absl::StrCat(
        "peer not reading: ", before, " bytes of earlier output still unsent, over "
        "max_output_bytes of ", limit, " (policy: close)")));
    return false;
  }
  if (before > 2 * limit) {
    loop_->counters().output_limit_closes.Add();
    CloseNow(absl::ResourceExhaustedError(absl::StrCat(
        "peer not reading: ", before, " bytes of output still unsent, over twice "
        "max_output_bytes of ", limit, " while reading from it was paused")));
    return false;
  }
  // This message crossed the cap: it is kept, and no more are read (or
  // dispatched from this read: wants_messages()) until the peer catches up.
  if (!read_paused_) {
    read_paused_ = true;
    loop_->counters().read_pauses.Add();
    UpdateInterest();
  }
  return true;
}

void Connection::AfterFlush(size_t remaining) {
  const ConnectionLimits& limits = context_->limits;
  if (limits.high_water_mark != 0) {
    if (remaining >= limits.high_water_mark) {
      if (!above_high_water_) {
        above_high_water_ = true;
        loop_->counters().high_water_events.Add();
        context_->events->OnHighWaterMark(*this, remaining);
      }
    } else {
      above_high_water_ = false;
    }
  }
  if (read_paused_ && remaining <= limits.max_output_bytes / 2 &&
      state() == State::kOpen) {
    read_paused_ = false;
    UpdateInterest();
    // Messages that arrived with the read that paused it are waiting.
    if (!input_.empty()) {
      loop_->Post([self = shared_from_this()] { self->ProcessBufferedInput(); });
    }
  }
}

absl::Status Connection::OutputLimitClosed() { return OutputLimitClosedError(); }

absl::Status Connection::Send(uint32_t message_id, std::string_view body) {
  if (state() != State::kOpen) return NotOpenError();
  if (!loop_->IsInLoopThread()) [[unlikely]] return SendFromOtherThread(message_id, body);
  const size_t before = output_.size();
  absl::Status encoded = protocol_->Encode(message_id, body, output_);
  if (!encoded.ok()) [[unlikely]] return encoded;
  return AfterEncode(before);
}

absl::Status Connection::SendFromOtherThread(uint32_t message_id, std::string_view body) {
  Buffer copy;
  copy.Append(body);
  return SendFromOtherThread(message_id, std::move(copy));
}

absl::Status Connection::SendWith(uint32_t message_id, size_t size, BodyWriter writer) {
  if (state() != State::kOpen) return NotOpenError();
  if (loop_->IsInLoopThread()) {
    const size_t before = output_.size();
    absl::Status encoded = protocol_->EncodeWith(message_id, size, writer, output_);
    if (!encoded.ok()) return encoded;
    return AfterEncode(before);
  }
  Buffer body;
  if (size > 0) {
    writer(body.Writable(size));
    body.Commit(size);
  }
  return SendFromOtherThread(message_id, std::move(body));
}

absl::Status Connection::SendFromOtherThread(uint32_t message_id, Buffer body) {
  // Encoded on the loop, in posting order: a stateful encoder (deflate, a
  // sequence number) sees one message at a time.
  loop_->Post([self = shared_from_this(), message_id, body = std::move(body)]() {
    if (self->state() != State::kOpen) return;
    const size_t before = self->output_.size();
    absl::Status encoded = self->protocol_->Encode(message_id, body.readable(), self->output_);
    if (!encoded.ok()) {
      self->loop_->logger().Warning("connection %d: message %d sent from another thread "
                                    "not sent: %s",
                                    self->id_, message_id, encoded.ToString());
      return;
    }
    (void)self->AfterEncode(before);
  });
  return absl::OkStatus();
}

void Connection::SendEncoded(const void* encoding_key, std::string_view frame,
                             uint32_t message_id, std::string_view body) {
  NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
  if (state() != State::kOpen) return;
  const size_t before = output_.size();
  const bool shared_frame = encoding_key != nullptr && protocol_->encoding_key() == encoding_key;
  if (shared_frame && frame.size() >= kDirectSendMinBytes && before == 0 && !writing_ &&
      !in_read_ && transport_ == nullptr) {
    // Nothing queued: write the shared frame itself, keeping only what the
    // kernel does not take. For a large frame the copy into a buffer per
    // recipient would cost more than this write.
    loop_->counters().messages_out.Add();
    ssize_t n = ::send(fd_.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        CloseNow(ErrnoStatus(errno, "write"));
        return;
      }
      n = 0;
    }
    loop_->counters().bytes_written.Add(static_cast<uint64_t>(n));
    if (static_cast<size_t>(n) == frame.size()) {
      if (context_->limits.notify_write_complete) context_->events->OnWriteComplete(*this);
      return;
    }
    output_.AppendExact(frame.substr(static_cast<size_t>(n)));
    if (OutputWithinLimits(output_.size())) Flush();  // arms write interest
    return;
  }
  if (shared_frame) {
    // An idle connection gets a buffer of the frame's size, not 1 KiB: a
    // broadcast to many idle connections touches as little memory as it can.
    output_.AppendExact(frame);
  } else if (!protocol_->Encode(message_id, body, output_).ok()) {
    return;
  }
  loop_->counters().messages_out.Add();
  if (!OutputWithinLimits(output_.size() - before)) return;
  // The caller's single task flushes it (FlushIfQueued), unless a read's
  // flush or write interest will.
  if (!in_read_ && !writing_) flush_queued_ = true;
}

void Connection::FlushIfQueued() {
  NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
  if (!flush_queued_) return;
  flush_queued_ = false;
  Flush();
}

absl::Status Connection::SendBytes(std::string_view bytes) {
  if (!is_receiving()) return NotOpenError();
  if (loop_->IsInLoopThread()) {
    output_.Append(bytes);
    if (!OutputWithinLimits(bytes.size())) return OutputLimitClosedError();
    if (!in_read_) QueueFlush();
    return absl::OkStatus();
  }
  Buffer copy;
  copy.Append(bytes);
  loop_->Post([self = shared_from_this(), copy = std::move(copy)]() mutable {
    if (!self->is_receiving()) return;
    self->output_.Append(copy.readable());
    if (self->OutputWithinLimits(copy.size())) self->QueueFlush();
  });
  return absl::OkStatus();
}

void Connection::Close() {
  if (!is_receiving()) return;
  loop_->RunInLoop([self = shared_from_this()]() { self->CloseInLoop(); });
}

void Connection::CloseInLoop(absl::Status reason) {
  if (!is_receiving()) return;
  reading_ = false;
  if (!in_read_) input_.Release();  // else ProcessInput drops it afterwards
  if (transport_ != nullptr) transport_->OnClosing();
  if (!has_output()) {
    CloseNow(std::move(reason));
    return;
  }
  if (!reason.ok()) cold().close_reason = std::move(reason);
  state_.store(State::kClosing, std::memory_order_release);
  if (!writing_) {
    // Inside a read, ProcessInput's flush sends it.
    if (!in_read_) Flush();  // arms write interest if needed
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
  if (has_output()) {
    shutdown_after_flush_ = true;
    return;
  }
  write_shut_ = true;
  ::shutdown(fd_.get(), SHUT_WR);
}

void Connection::UpdateInterest() {
  if (!fd_.valid()) return;  // no socket: nothing to poll (a UDP session)
  uint32_t interest = (wants_read() ? uint32_t{kPollReadable} : 0u) |
                      (writing_ ? uint32_t{kPollWritable} : 0u);
  absl::Status s = loop_->ModifyFd(fd_.get(), interest, this);
  if (!s.ok()) loop_->logger().Error("connection %d: %s", id_, s.ToString());
}

void Connection::CloseNow(absl::Status reason) {
  if (state() == State::kClosed) return;
  state_.store(State::kClosed, std::memory_order_release);
  Unlink();  // leave the heartbeat wheel
  if (fd_.valid()) (void)loop_->RemoveFd(fd_.get());
  fd_.reset();
  // A handler on the stack may still look at its message body, which points
  // into input_: ProcessInput releases it once the handler has returned.
  if (!in_read_) input_.Release();
  if (output_borrowed_) {
    output_.Clear();  // ProcessInput gives it back to the loop
  } else {
    output_.Release();
  }
  // OnClosed runs after whatever handler call is on the stack has returned;
  // the task's reference keeps the connection alive until then.
  loop_->Post([self = shared_from_this(), reason = std::move(reason)]() {
    if (self->protocol_) self->protocol_->OnConnectionClosed(*self, reason);
    self->context_->events->OnClosed(*self, reason);
  });
}

}  // namespace netman
