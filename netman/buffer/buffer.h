// Copyright netman authors.
//
// Buffer: a growable byte queue for a connection's input or output. While
// empty and released it is one null pointer (8 bytes, nothing allocated), so
// idle connections cost almost nothing here; the indices live at the head of
// the heap block, next to the bytes.
//
//   block_ --> +----------+------------+-------------+
//              | capacity | read_index | write_index |   (header, 24 bytes)
//              +----------+------------+-------------+-----------------+
//              | consumed |   readable bytes   |    writable space     |
//              +----------+--------------------+-----------------------+
//              0      read_index          write_index              capacity
//
// Writers either Append() bytes or reserve space with Writable(n), fill it
// (e.g. with read(2) or an encoder) and Commit() what they wrote. Readers look
// at readable() and Consume() what they used. Growth uses realloc (which can
// move large buffers without copying on Linux) and slides unread bytes to the
// front before growing when that is enough.
//
// Threading: not synchronised; owned by one event loop thread.
#ifndef NETMAN_BUFFER_BUFFER_H_
#define NETMAN_BUFFER_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/functional/function_ref.h"

namespace netman {

// Writes exactly the number of bytes it was asked for at `dst`: how a
// serialiser puts a message body straight into an output Buffer
// (Connection::SendWith) without building an intermediate string.
using BodyWriter = absl::FunctionRef<void(char* dst)>;

class Buffer {
 public:
  // The first allocation holds at least this many bytes.
  static constexpr size_t kMinCapacity = 1024;

  Buffer() = default;
  Buffer(Buffer&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      Release();
      block_ = std::exchange(other.block_, nullptr);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { Release(); }

  size_t size() const {
    return block_ == nullptr ? 0 : block_->write_index - block_->read_index;
  }
  bool empty() const {
    return block_ == nullptr || block_->write_index == block_->read_index;
  }
  // Bytes of storage held (0 when released).
  size_t capacity() const { return block_ == nullptr ? 0 : block_->capacity; }

  // The readable bytes (null when released).
  const char* data() const {
    return block_ == nullptr ? nullptr : block_->bytes() + block_->read_index;
  }
  std::string_view readable() const { return std::string_view(data(), size()); }
  // The readable bytes, for transforming them in place (null when released).
  char* mutable_data() {
    return block_ == nullptr ? nullptr : block_->bytes() + block_->read_index;
  }

  void Append(const void* bytes, size_t n) {
    if (n == 0) return;
    std::memcpy(Writable(n), bytes, n);
    block_->write_index += n;
  }
  void Append(std::string_view bytes) { Append(bytes.data(), bytes.size()); }
  // Appends `bytes`; a released buffer gets storage of exactly their size
  // rather than kMinCapacity (for one-off bytes such as a broadcast frame
  // queued on many idle connections at once).
  void AppendExact(std::string_view bytes) {
    if (block_ == nullptr && !bytes.empty()) AllocateExactly(bytes.size());
    Append(bytes);
  }

  // Returns a pointer to at least `n` writable bytes after the readable ones.
  // The bytes become readable only after Commit().
  char* Writable(size_t n) {
    if (block_ == nullptr || block_->capacity - block_->write_index < n) {
      MakeRoom(n);
    }
    return block_->bytes() + block_->write_index;
  }
  // Writable space available without growing.
  size_t writable_size() const {
    return block_ == nullptr ? 0 : block_->capacity - block_->write_index;
  }
  // Marks `n` bytes written into Writable() as readable.
  void Commit(size_t n) {
    if (n != 0) block_->write_index += n;
  }

  // Drops `n` (<= size()) bytes from the front.
  void Consume(size_t n) {
    if (n == 0) return;
    block_->read_index += n;
    if (block_->read_index == block_->write_index) {
      block_->read_index = block_->write_index = 0;
    }
  }
  // Drops every byte, keeping the storage.
  void Clear() {
    if (block_ != nullptr) block_->read_index = block_->write_index = 0;
  }

  // Clears and frees the storage.
  void Release() {
    if (block_ == nullptr) return;  // the common case: skip the call into libc
    std::free(block_);
    block_ = nullptr;
  }

 private:
  // The heap block: this header, then `capacity` bytes.
  struct Block {
    size_t capacity;
    size_t read_index;
    size_t write_index;
    char* bytes() { return reinterpret_cast<char*>(this + 1); }
    const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
  };

  // Out of line: allocates, grows or compacts so that `n` bytes are writable.
  void MakeRoom(size_t n);
  // Allocates storage of exactly `n` bytes for a released buffer.
  void AllocateExactly(size_t n);

  Block* block_ = nullptr;
};

}  // namespace netman

#endif  // NETMAN_BUFFER_BUFFER_H_
