// Copyright netman authors.
//
// asio_batched_echo_server: the batched Asio baseline of the benchmark, an
// echo server for netman frames (uint32 LE body length, uint32 LE id, body)
// written the way an Asio expert would write it, to show what Asio itself
// costs (asio_naive_echo_server.cc is the one-message-at-a-time version most
// users write first; docs/BENCHMARKS.md compares the two).
//
//   asio_batched_echo_server --port=0 --threads=1   # prints "... listening on"
//
// Per connection (a Session, owned by the shared_ptrs its pending handlers
// hold, as in Asio's examples):
//   * one async_read_some at a time into a per-connection read buffer
//     (64 KiB: a batch of 16 pipelined 4 KiB requests fits in one read);
//   * every complete frame of what was read is parsed in place, and its reply
//     (header encoded, body copied) appended to one output buffer;
//   * one async_write per batch: when no write is in flight the output buffer
//     is written at once; while one is, replies accumulate in the second
//     buffer, which is written when the first completes (the two swap, both
//     keep their capacity);
//   * the bytes of an incomplete frame stay at the front of the read buffer
//     for the next read; a frame larger than the buffer grows it to the
//     frame's size (up to --max_body; more closes), back to 64 KiB once empty;
//   * reading pauses while more than 4 MiB of replies wait behind a write
//     (a peer that does not read cannot make the server buffer without bound);
//   * the operation objects Asio allocates for each async call come from two
//     384-byte blocks in the session, one for the read and one for the write
//     (HandlerMemory, bound with asio::bind_allocator, as in Asio's
//     "allocation" example). Without them they come from malloc: Asio's
//     per-thread recycling cache keeps 2 blocks, and when many connections
//     complete reads in a row, each frees one operation but starts two (the
//     write and the next read), so nearly every one missed the cache (about 2
//     malloc/free pairs per message at pipeline 1, measured with
//     profile_server.py). The naive server frees one and starts one per
//     handler, so the cache serves it.
//
// The io_context pool (--threads=N), the acceptor and the signal handling are
// asio_server_pool.h, shared with the naive server, so the two differ only in
// the per-connection I/O above.
//
// Threading: each session lives on the io_context (thread) its socket was
// created on; all its handlers run there, so it needs no locks or strands.
// SIGINT/SIGTERM stop every context and the process exits 0.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

// Standalone Asio (libasio-dev): the Asio baselines only.
#include <asio.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/bench/asio_server_pool.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 9002, "TCP port (0 = any free port).");
ABSL_FLAG(int, threads, 1, "io_contexts, one thread each.");
ABSL_FLAG(uint64_t, max_body, 64u << 20,
          "Largest accepted body; larger closes.");

namespace {

using asio::ip::tcp;

constexpr size_t kHeaderSize = 8;
// The read buffer's usual size (a larger frame grows it for a while).
constexpr size_t kReadSize = 64 * 1024;
// Replies waiting behind a write above which reading pauses.
constexpr size_t kMaxPendingOutput = 4 << 20;

inline uint32_t LoadLe32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86-64 and the wire are both little-endian
  return v;
}
inline void StoreLe32(uint32_t v, char* p) { std::memcpy(p, &v, 4); }

// Memory for the operation of one async call at a time (Asio allocates one
// per call: here 192 bytes for a read, 288 for a write's). A larger request
// or a second one while the block is in use falls back to the heap.
class HandlerMemory {
 public:
  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* Allocate(size_t size) {
    if (!in_use_ && size <= sizeof(storage_)) {
      in_use_ = true;
      return storage_;
    }
    return std::allocator<std::max_align_t>().allocate(Blocks(size));
  }

  void Deallocate(void* p, size_t size) {
    if (p == storage_) {
      in_use_ = false;
    } else {
      std::allocator<std::max_align_t>().deallocate(
          static_cast<std::max_align_t*>(p), Blocks(size));
    }
  }

 private:
  static size_t Blocks(size_t size) {
    return (size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  }

  alignas(std::max_align_t) unsigned char storage_[384];
  bool in_use_ = false;
};

// The allocator Asio uses for a handler bound to a HandlerMemory.
template <typename T>
class HandlerAllocator {
 public:
  using value_type = T;

  explicit HandlerAllocator(HandlerMemory& memory) : memory_(&memory) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& other) : memory_(other.memory_) {}

  T* allocate(size_t n) {
    return static_cast<T*>(memory_->Allocate(sizeof(T) * n));
  }
  void deallocate(T* p, size_t n) { memory_->Deallocate(p, sizeof(T) * n); }

  template <typename U>
  bool operator==(const HandlerAllocator<U>& other) const {
    return memory_ == other.memory_;
  }

 private:
  template <typename>
  friend class HandlerAllocator;
  HandlerMemory* memory_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, uint64_t max_body)
      : socket_(std::move(socket)),
        max_body_(max_body),
        in_(std::make_unique_for_overwrite<char[]>(kReadSize)),
        in_capacity_(kReadSize) {}

  void Start() {
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    Read();
  }

 private:
  void Read() {
    socket_.async_read_some(
        asio::buffer(in_.get() + in_len_, in_capacity_ - in_len_),
        asio::bind_allocator(
            HandlerAllocator<int>(read_memory_),
            [this, self = shared_from_this()](std::error_code ec, size_t n) {
              // EOF or an error: no more reads; a write in flight still
              // finishes (its handler holds the session), then the session
              // ends.
              if (ec) return;
              in_len_ += n;
              if (!ReplyToCompleteFrames()) {
                Close();  // a body over --max_body
                return;
              }
              Write();
              if (pending_.size() > kMaxPendingOutput) {
                read_paused_ = true;  // resumed by the write's completion
                return;
              }
              Read();
            }));
  }

  // Appends the reply to every complete frame in the read buffer to pending_
  // and keeps the bytes of an incomplete one at the buffer's front, making
  // room for all of that frame. False if a frame's body is over max_body_.
  bool ReplyToCompleteFrames() {
    const char* p = in_.get();
    size_t len = in_len_;
    while (len >= kHeaderSize) {
      const uint32_t body_len = LoadLe32(p);
      if (body_len > max_body_) return false;
      const size_t frame_len = kHeaderSize + body_len;
      if (len < frame_len) break;
      AppendReply(p, body_len);
      p += frame_len;
      len -= frame_len;
    }
    if (len > 0 && p != in_.get()) std::memmove(in_.get(), p, len);
    in_len_ = len;
    if (len >= kHeaderSize) {
      const uint32_t body_len = LoadLe32(in_.get());
      if (body_len > max_body_) return false;
      const size_t frame_len = kHeaderSize + body_len;
      if (frame_len > in_capacity_) Reallocate(frame_len);
    } else if (len == 0 && in_capacity_ > kReadSize) {
      Reallocate(kReadSize);  // the large frame is done
    }
    return true;
  }

  void AppendReply(const char* frame, uint32_t body_len) {
    char header[kHeaderSize];
    StoreLe32(body_len, header);
    StoreLe32(LoadLe32(frame + 4), header + 4);  // the request's id
    pending_.insert(pending_.end(), header, header + kHeaderSize);
    pending_.insert(pending_.end(), frame + kHeaderSize,
                    frame + kHeaderSize + body_len);
  }

  // A read buffer of `capacity` bytes holding the same in_len_ bytes.
  void Reallocate(size_t capacity) {
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    std::memcpy(bigger.get(), in_.get(), in_len_);
    in_ = std::move(bigger);
    in_capacity_ = capacity;
  }

  // Writes pending_ unless a write is in flight (then its completion will).
  void Write() {
    if (write_in_flight_ || pending_.empty()) return;
    writing_.swap(pending_);  // pending_ takes the empty, capacity-kept one
    write_in_flight_ = true;
    asio::async_write(
        socket_, asio::buffer(writing_),
        asio::bind_allocator(
            HandlerAllocator<int>(write_memory_),
            [this, self = shared_from_this()](std::error_code ec, size_t) {
              write_in_flight_ = false;
              if (ec) {
                Close();
                return;
              }
              writing_.clear();
              Write();  // what accumulated meanwhile
              if (read_paused_ && pending_.size() <= kMaxPendingOutput) {
                read_paused_ = false;
                Read();
              }
            }));
  }

  // Cancels the read and write in flight; their handlers see errors and drop
  // their references to the session.
  void Close() {
    std::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  const uint64_t max_body_;
  std::unique_ptr<char[]> in_;  // in_[0, in_len_): an incomplete frame
  size_t in_capacity_;
  size_t in_len_ = 0;
  std::vector<char> pending_;  // replies not yet handed to a write
  std::vector<char> writing_;  // the bytes of the write in flight
  bool write_in_flight_ = false;
  bool read_paused_ = false;
  HandlerMemory read_memory_;   // the operation of the read in flight
  HandlerMemory write_memory_;  // the operation of the write in flight
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Batched Asio echo server for netman frames: every complete frame of a "
      "read answered with one write (benchmark baseline).");
  absl::ParseCommandLine(argc, argv);
  const uint64_t max_body = absl::GetFlag(FLAGS_max_body);
  return netman::bench::ServeAsio(
      "asio_batched_echo_server", absl::GetFlag(FLAGS_host),
      absl::GetFlag(FLAGS_port), absl::GetFlag(FLAGS_threads),
      [max_body](tcp::socket socket) {
        std::make_shared<Session>(std::move(socket), max_body)->Start();
      });
}
