// Copyright netman authors.
//
// Connection: one accepted TCP connection, owned by the EventLoop it was
// assigned to. It reads bytes into the loop's scratch buffer and hands them to
// its ConnectionHandler (the framed protocol: packer + router; later
// WebSocket), and queues replies in an output buffer that is flushed with one
// write at the end of each read's processing (or at the end of the loop
// iteration for sends that happen outside a read).
//
// Memory: an idle connection holds no input or output buffer; bytes stay in a
// connection only while a message is incomplete or the peer is not reading.
// Replies produced while handling a read are built in the loop's output
// scratch buffer (lent to the connection for that read) and sent with one
// write; only what the kernel does not take is copied into the connection's
// own output buffer.
//
// States:  kOpen --Close()/peer EOF with output pending--> kClosing
//          kOpen --protocol error (bad frame, throwing handler)--> kClosing
//          kOpen/kClosing --flushed / I/O error / ForceClose()--> kClosed
// A protocol error stops reading but still delivers the replies already
// queued (for the valid messages before the bad one), then closes with the
// error as the reason.
// Closing is idempotent. The handler's OnClosed() runs exactly once, on the
// loop thread, after the handler call in progress (if any) has returned.
//
// Threading: Send(), SendBytes(), Close(), ForceClose(), ShutdownWrite(),
// id(), state(), is_open(), peer_address() are safe from any thread (calls
// from other threads are posted to the connection's loop; bytes from one
// Send are never interleaved with another's and sends from one thread keep
// their order). user_data() and everything else: loop thread only. Other
// threads hold a ConnectionPtr (shared_ptr) to keep it alive.
#ifndef NETMAN_NET_CONNECTION_H_
#define NETMAN_NET_CONNECTION_H_

#include <any>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/packer.h"
#include "netman/net/event_loop.h"
#include "netman/net/idle_wheel.h"
#include "netman/net/io_handler.h"
#include "netman/net/socket_address.h"

namespace netman {

class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

// What a connection hands its input and its end to. One instance usually
// serves every connection of a server; it may be swapped per connection
// (e.g. after a WebSocket upgrade) with Connection::set_handler().
//
// Threading: called on the connection's loop thread.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Consumes complete units at the front of `input` (all bytes received and
  // not consumed so far) and returns how many bytes it consumed; the rest is
  // kept and offered again with more bytes appended. An error closes the
  // connection with that status as the reason.
  virtual absl::StatusOr<size_t> OnData(Connection& connection,
                                        std::string_view input) = 0;
  // Called once when the connection has closed. `reason` is OK for an orderly
  // close (peer EOF, Close()) and the error otherwise.
  virtual void OnClosed(Connection& connection, const absl::Status& reason) = 0;
  // Output the kernel would not take has reached the high-water mark
  // (ConnectionLimits). Called once per crossing.
  virtual void OnHighWaterMark(Connection& connection, size_t queued_bytes) {}
  // All queued output has been handed to the kernel (only when
  // ConnectionLimits::notify_write_complete).
  virtual void OnWriteComplete(Connection& connection) {}
};

// What to do when a connection's queued output exceeds
// ConnectionLimits::max_output_bytes (the peer is not reading fast enough).
enum class OutputLimitPolicy : uint8_t {
  // Close the connection with ResourceExhausted.
  kClose,
  // Stop reading from it (so it cannot ask for more) until the output drains
  // to half the limit. Output still growing past twice the limit (e.g. pushes
  // from elsewhere) closes it.
  kPauseReading,
};

// Output limits shared (immutable) by every connection of a server.
struct ConnectionLimits {
  // OnHighWaterMark fires when unsent output reaches this; 0 = never.
  size_t high_water_mark = 0;
  // Hard cap on queued output; 0 = unlimited.
  size_t max_output_bytes = 0;
  OutputLimitPolicy output_limit_policy = OutputLimitPolicy::kClose;
  bool notify_write_complete = false;
};

class Connection final : public IoHandler,
                         public IdleWheel::Entry,
                         public std::enable_shared_from_this<Connection> {
 public:
  enum class State : uint8_t { kOpen, kClosing, kClosed };

  // Use Start() on the loop thread after construction. `packer` encodes
  // Send(); `handler`, `packer` and `limits` (null: no limits) must outlive
  // the connection.
  Connection(EventLoop* loop, UniqueFd fd, uint64_t id,
             const SocketAddress& peer, ConnectionHandler* handler,
             const Packer* packer, const ConnectionLimits* limits = nullptr);
  ~Connection() override;

  // Registers with the loop. Loop thread only.
  absl::Status Start();

  uint64_t id() const { return id_; }
  EventLoop* loop() const { return loop_; }
  State state() const { return state_.load(std::memory_order_acquire); }
  bool is_open() const { return state() == State::kOpen; }
  const SocketAddress& peer_address() const { return peer_; }
  // The socket (loop thread only; -1 once closed). For setsockopt() and the
  // like: do not read, write or close it.
  int native_handle() const { return fd_.get(); }
  // getsockname(); an error once closed.
  absl::StatusOr<SocketAddress> local_address() const;

  // Encodes (id, body) with the connection's packer and queues it. Returns
  // FailedPrecondition if the connection is no longer open (a send racing a
  // close from another thread may be dropped silently instead).
  absl::Status Send(uint32_t message_id, std::string_view body);
  // Queues raw bytes, bypassing the packer.
  absl::Status SendBytes(std::string_view bytes);

  // Stops reading, flushes queued output, then closes. Idempotent.
  void Close();
  // Closes now, dropping queued output; `reason` reaches OnClosed().
  void ForceClose(absl::Status reason);
  // Half-close: shutdown(SHUT_WR) once queued output is flushed; reading
  // continues.
  void ShutdownWrite();

  // One slot for application data (loop thread only). Allocated on first
  // use, so connections that never use it do not pay for it.
  std::any& user_data() {
    if (user_data_ == nullptr) user_data_ = std::make_unique<std::any>();
    return *user_data_;
  }

  void set_handler(ConnectionHandler* handler) { handler_ = handler; }
  ConnectionHandler* handler() const { return handler_; }

  // Bytes queued for the peer (loop thread only).
  size_t output_bytes() const { return output_.size(); }
  // Reading is paused because the peer is not taking output (loop thread).
  bool read_paused() const { return read_paused_; }
  // Buffer capacity held for input and output (loop thread only; tests).
  size_t buffer_capacity() const { return input_.capacity() + output_.capacity(); }

  void OnIoEvent(uint32_t events) override;

 private:
  void HandleRead();
  void HandleWrite();
  // Send() from a thread other than the loop's: encodes here, posts the
  // frame. Out of line so that the loop-thread path stays small.
  [[gnu::noinline]] absl::Status SendFromOtherThread(uint32_t message_id,
                                                     std::string_view body);
  // Writes queued output; arms write interest if the kernel will not take
  // it all. Loop thread only.
  void Flush();
  void QueueFlush();
  void AppendOutput(std::string_view bytes);
  // Stops reading, flushes queued output, then closes with `reason`.
  void CloseInLoop(absl::Status reason = absl::OkStatus());
  void ShutdownWriteInLoop();
  // Tears the socket down and schedules OnClosed().
  void CloseNow(absl::Status reason);
  void UpdateInterest();
  bool wants_read() const { return reading_ && !read_paused_; }
  // Applies ConnectionLimits after output grew: the cheap threshold test
  // inline, CheckOutputLimit() only once a threshold is reached. False if
  // the connection closed.
  bool OutputWithinLimits() {
    if (limits_ == nullptr) return true;
    const size_t queued = output_.size();
    const bool at_threshold =
        (limits_->high_water_mark != 0 && queued >= limits_->high_water_mark) ||
        (limits_->max_output_bytes != 0 && queued > limits_->max_output_bytes);
    return !at_threshold || CheckOutputLimit();
  }
  bool CheckOutputLimit();
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
  std::atomic<State> state_{State::kOpen};
  // Flags, packed: they are read together on every event.
  bool reading_ : 1 = true;            // read interest wanted
  bool writing_ : 1 = false;           // write interest armed
  bool in_read_ : 1 = false;           // inside HandleRead's processing
  bool flush_queued_ : 1 = false;      // a Flush() task is posted
  bool shutdown_after_flush_ : 1 = false;
  bool write_shut_ : 1 = false;
  bool read_paused_ : 1 = false;       // output over the limit (kPauseReading)
  bool above_high_water_ : 1 = false;
  bool output_borrowed_ : 1 = false;   // output_ is the loop's scratch buffer
  Buffer input_;
  Buffer output_;
  ConnectionHandler* handler_;
  const Packer* const packer_;
  const ConnectionLimits* const limits_;
  // Cold: looked at on open, close and by the application.
  const uint64_t id_;
  const SocketAddress peer_;
  std::unique_ptr<std::any> user_data_;
  absl::Status close_reason_;  // reported once a graceful close completes
};

}  // namespace netman

#endif  // NETMAN_NET_CONNECTION_H_
