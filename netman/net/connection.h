// Copyright netman authors.
//
// Connection: one accepted TCP connection, owned by the EventLoop it was
// assigned to (or one UDP peer's session: a connection without a socket of
// its own, fd -1, whose owner hands it each datagram with DeliverReceived()
// and whose transport hands its replies back to that owner; see
// netman/udp). It reads bytes (itself, or through its Transport such as
// TLS), hands them to its Protocol (the framed protocol: packer + router;
// WebSocket; ...), frames Send() through that protocol, and queues replies
// that are flushed with one write at the end of each read's processing (or
// at the end of the loop iteration for sends that happen outside a read).
//
// Memory: an idle connection holds no input or output buffer; bytes stay in a
// connection only while a message is incomplete or the peer is not reading.
// Replies produced while handling a read are built in the loop's output
// scratch buffer (lent to the connection for that read) and sent with one
// write; only what the kernel does not take is copied into the connection's
// own output buffer. A plain connection has no transport and a shared
// protocol: neither costs it more than a pointer.
//
// States:
//   kHandshaking --protocol and transport ready--> kOpen (OnOpen fires)
//   kHandshaking/kOpen --Close()/peer EOF with output pending--> kClosing
//   kHandshaking/kOpen --protocol error (bad frame, throwing handler)--> kClosing
//   any --flushed / I/O error / ForceClose()--> kClosed
// A protocol error stops reading but still delivers the replies already
// queued (for the valid messages before the bad one), then closes with the
// error as the reason.
// Closing is idempotent. ConnectionEvents::OnClosed() runs exactly once, on
// the loop thread, after the handler call in progress (if any) has
// returned; a connection that never opened reports has_opened() == false.
//
// Threading: Send(), SendWith(), SendBytes(), Close(), ForceClose(),
// ShutdownWrite(), id(), loop(), state(), is_open(), peer_address() are safe
// from any thread. Calls from other threads are posted to the connection's
// loop and encoded there, so bytes of one Send are never interleaved with
// another's, sends from one thread keep their order, and a stateful
// protocol encoder sees messages one at a time in that order. Everything
// else (user_data(), SwitchProtocol(), ...) is loop thread only; debug
// builds check it. Other threads hold a ConnectionPtr (shared_ptr) to keep
// it alive.
#ifndef NETMAN_NET_CONNECTION_H_
#define NETMAN_NET_CONNECTION_H_

#include <any>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/net/connection_context.h"
#include "netman/net/event_loop.h"
#include "netman/net/idle_wheel.h"
#include "netman/net/io_handler.h"
#include "netman/net/protocol.h"
#include "netman/net/socket_address.h"
#include "netman/net/transport.h"

namespace netman {

class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

class Connection final : public IoHandler,
                         public IdleWheel::Entry,
                         public std::enable_shared_from_this<Connection> {
 public:
  enum class State : uint8_t { kHandshaking, kOpen, kClosing, kClosed };

  // Call Start() on the loop thread after construction. `context` must
  // outlive the connection. `transport` null: plain TCP.
  Connection(EventLoop* loop, UniqueFd fd, uint64_t id, const SocketAddress& peer,
             const ConnectionContext* context,
             std::unique_ptr<Transport> transport = nullptr);
  ~Connection() override;

  // Registers with the loop and attaches `protocol`. If the protocol and the
  // transport are ready, the connection opens (ConnectionEvents::OnOpen)
  // before this returns. Loop thread only.
  absl::Status Start(ProtocolPtr protocol);

  uint64_t id() const { return id_; }
  EventLoop* loop() const { return loop_; }
  State state() const { return state_.load(std::memory_order_acquire); }
  // Open: it can carry messages (Send() works).
  bool is_open() const { return state() == State::kOpen; }
  // Reading and handing bytes to the protocol (handshaking or open).
  bool is_receiving() const {
    const State s = state();
    return s == State::kOpen || s == State::kHandshaking;
  }
  // Open and not paused by the output limit: a protocol decoding several
  // messages from one read stops at a message boundary when this turns
  // false (the rest stays buffered and is offered again when reading
  // resumes), so unsent output exceeds max_output_bytes by one reply at most.
  bool wants_messages() const { return is_open() && !read_paused_; }
  // OnOpen has fired (loop thread only).
  bool has_opened() const {
    NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
    return opened_;
  }
  const SocketAddress& peer_address() const { return peer_; }
  // The socket (loop thread only; -1 once closed). For setsockopt() and the
  // like: do not read, write or close it.
  int native_handle() const { return fd_.get(); }
  // getsockname(); an error once closed.
  absl::StatusOr<SocketAddress> local_address() const;

  // Frames (id, body) with the connection's protocol and queues it.
  // FailedPrecondition if the connection is not open (a send racing a close
  // from another thread may be dropped silently instead); the protocol's
  // error if it cannot frame it (e.g. a body over 4 GiB for the default
  // packer).
  absl::Status Send(uint32_t message_id, std::string_view body);
  // The same with the body, exactly `size` bytes, written by `writer`
  // straight into the output buffer (a serialiser needs no intermediate
  // string). From another thread, `writer` runs before this returns, on
  // the calling thread, into a buffer that is then posted.
  absl::Status SendWith(uint32_t message_id, size_t size, BodyWriter writer);
  // Queues raw bytes, bypassing the protocol (e.g. an HTTP response during
  // a handshake). Works while handshaking or open.
  absl::Status SendBytes(std::string_view bytes);
  // Broadcast support (loop thread only): queues `frame`, already encoded
  // for (message_id, body) by a protocol with this connection's
  // encoding_key(), or encodes (message_id, body) itself when its protocol
  // has another key. Counts one message. A large shared frame
  // (kDirectSendMinBytes) to a connection with nothing queued is written at
  // once, without a copy; anything else is queued without a flush of its
  // own: the caller flushes every recipient with FlushIfQueued() from one
  // task (one write per connection per loop iteration, no task per
  // recipient).
  void SendEncoded(const void* encoding_key, std::string_view frame,
                   uint32_t message_id, std::string_view body);
  // Flushes output queued by SendEncoded() (loop thread only).
  void FlushIfQueued();
  // SendEncoded() writes a shared frame of at least this size straight to a
  // connection that has nothing queued, instead of copying it.
  static constexpr size_t kDirectSendMinBytes = 1024;

  // Stops reading, flushes queued output (and the transport's closing
  // bytes), then closes. Idempotent.
  void Close();
  // Closes now, dropping queued output; `reason` reaches OnClosed().
  void ForceClose(absl::Status reason);
  // Half-close: shutdown(SHUT_WR) once queued output is flushed; reading
  // continues.
  void ShutdownWrite();

  // For a connection without a socket (fd -1: a UDP session): its owner
  // received `bytes` for it (one datagram). They are handled as a read: the
  // protocol gets them (they may be modified in place), replies produced
  // meanwhile are flushed through the transport once at the end, and they
  // count as activity for the heartbeat. False (nothing done) unless the
  // connection is receiving, not paused and holds no earlier input. Loop
  // thread only.
  bool DeliverReceived(std::span<char> bytes);

  // Hands the connection to `next` (loop thread only), e.g. after an HTTP
  // upgrade. Called from the current protocol's OnData(), the bytes after
  // the ones it reports consumed go to `next` at once, in the same read;
  // called elsewhere, buffered input is offered to `next` from a posted
  // task. The old protocol is destroyed (if owned) once its call returns.
  void SwitchProtocol(ProtocolPtr next);
  // For a protocol whose OnAttach() returned false: its handshake is done.
  // Opens the connection if the transport is ready too. Loop thread only.
  void MarkProtocolReady();
  Protocol* protocol() const {
    NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
    return protocol_.get();
  }
  // Null for a plain TCP connection. Loop thread only.
  Transport* transport() const {
    NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
    return transport_.get();
  }

  // One slot for application data (loop thread only). Allocated on first
  // use, so connections that never use it do not pay for it.
  std::any& user_data() {
    NETMAN_DCHECK_IN_LOOP_THREAD(loop_);
    return cold().user_data;
  }

  // Bytes queued for the peer, the transport's included (loop thread only).
  size_t output_bytes() const {
    return output_.size() + (transport_ != nullptr ? transport_->pending_bytes() : 0);
  }
  // Reading is paused because the peer is not taking output (loop thread).
  bool read_paused() const { return read_paused_; }
  // Buffer capacity held for input and output (loop thread only; tests).
  size_t buffer_capacity() const { return input_.capacity() + output_.capacity(); }

  void OnIoEvent(uint32_t events) override;

 private:
  void HandleRead();
  // HandleRead() for a connection with a transport.
  void HandleTransportRead();
  // Gives the protocol the received bytes: `fresh` (in a scratch buffer, not
  // in input_) when input_ is empty, else input_ (then `fresh` is empty).
  // Keeps what it does not consume, applies the input cap, then flushes.
  void ProcessInput(std::span<char> fresh);
  // After `previous` switched protocol during OnData(input) and consumed
  // `consumed` bytes: offers the rest to its successor(s) at once, adding
  // what they consume (or their error) to `consumed`.
  [[gnu::noinline]] void DeliverToSuccessors(Protocol* previous, std::span<char> input,
                                             absl::StatusOr<size_t>& consumed);
  // Input buffered while no read was in progress (after a switch).
  void ProcessBufferedInput();
  void HandlePeerClosed();
  void HandleWrite();
  // Send() from a thread other than the loop's: posts the body, which the
  // loop encodes. Out of line so that the loop-thread path stays small.
  [[gnu::noinline]] absl::Status SendFromOtherThread(uint32_t message_id, Buffer body);
  [[gnu::noinline]] absl::Status SendFromOtherThread(uint32_t message_id,
                                                     std::string_view body);
  // After the protocol appended a message to output_, which held
  // `output_before` bytes: counters, limits, flush scheduling. Inlined into
  // Send(). (Encoding only appends to output_: a transport's backlog is
  // the same before and after.)
  [[gnu::always_inline]] absl::Status AfterEncode(size_t output_before) {
    loop_->counters().messages_out.Add();
    if (!OutputWithinLimits(output_.size() - output_before)) [[unlikely]] {
      return OutputLimitClosed();
    }
    // Inside a read, the read's own flush sends it.
    if (!in_read_) QueueFlush();
    return absl::OkStatus();
  }
  [[gnu::cold, gnu::noinline]] static absl::Status OutputLimitClosed();
  // Writes queued output; arms write interest if the kernel will not take
  // it all. Loop thread only.
  void Flush();
  void QueueFlush();
  bool has_output() const {
    return !output_.empty() || (transport_ != nullptr && transport_->pending_bytes() > 0);
  }
  // Opens the connection once the protocol and the transport are ready.
  void MaybeOpen();
  // Stops reading, flushes queued output, then closes with `reason`.
  void CloseInLoop(absl::Status reason = absl::OkStatus());
  void ShutdownWriteInLoop();
  // Tears the socket down and schedules OnClosed().
  void CloseNow(absl::Status reason);
  void UpdateInterest();
  bool wants_read() const { return reading_ && !read_paused_; }
  // Applies ConnectionLimits after `added` bytes joined the output: the
  // cheap threshold test inline, CheckOutputLimit() only once a threshold is
  // reached. False if the connection closed.
  bool OutputWithinLimits(size_t added) {
    const ConnectionLimits& limits = context_->limits;
    const size_t queued = output_bytes();
    const bool at_threshold =
        (limits.high_water_mark != 0 && queued >= limits.high_water_mark) ||
        (limits.max_output_bytes != 0 && queued > limits.max_output_bytes);
    return !at_threshold || CheckOutputLimit(queued, queued - added);
  }
  // `queued`: unsent output now; `before`: the backlog the new bytes joined.
  bool CheckOutputLimit(size_t queued, size_t before);
  // Ends HandleRead's loan of the loop's output scratch buffer (if any),
  // moving unsent bytes into a buffer of the connection's own.
  void ReturnOutputScratch();
  // After a flush: high-water callback and resuming paused reads.
  void AfterFlush(size_t remaining);

  // Hot members first: with the bases (vtable pointer, heartbeat entry, weak
  // self: 48 bytes), everything HandleRead and Send use lies in the first
  // 104 bytes, so a read touches two cache lines of the connection.
  EventLoop* const loop_;
  UniqueFd fd_;
  std::atomic<State> state_{State::kHandshaking};
  // Flags, packed: they are read together on every event.
  bool reading_ : 1 = true;            // read interest wanted
  bool writing_ : 1 = false;           // write interest armed
  bool in_read_ : 1 = false;           // inside a read's processing
  bool flush_queued_ : 1 = false;      // a Flush() task is posted
  bool shutdown_after_flush_ : 1 = false;
  bool write_shut_ : 1 = false;
  bool read_paused_ : 1 = false;       // output over the limit (kPauseReading)
  bool above_high_water_ : 1 = false;
  bool output_borrowed_ : 1 = false;   // output_ is the loop's scratch buffer
  bool protocol_ready_ : 1 = false;    // the protocol can carry messages
  bool opened_ : 1 = false;            // OnOpen fired
  Buffer input_;
  Buffer output_;
  ProtocolPtr protocol_;
  std::unique_ptr<Transport> transport_;
  const ConnectionContext* const context_;
  // Cold: looked at on open, close and by the application.
  const uint64_t id_;
  const SocketAddress peer_;
  // What few connections use, allocated on first use: 8 bytes on every
  // connection instead of 16 (a connection's allocation, with its
  // shared_ptr control block, then fits malloc's 176-byte size class).
  struct ColdState {
    std::any user_data;
    absl::Status close_reason;  // reported once a graceful close completes
  };
  ColdState& cold() {
    if (cold_ == nullptr) cold_ = std::make_unique<ColdState>();
    return *cold_;
  }
  // The reason a graceful close will report (moved out).
  absl::Status TakeCloseReason() {
    return cold_ != nullptr ? std::move(cold_->close_reason) : absl::OkStatus();
  }
  std::unique_ptr<ColdState> cold_;
};

}  // namespace netman

#endif  // NETMAN_NET_CONNECTION_H_
