// Copyright netman authors.
//
// Buffer: a growable byte queue for a connection's input or output, which
// holds no memory at all while empty and released (so idle connections cost
// nothing here).
//
//   +--------------+--------------------+-------------------+
//   |  consumed    |   readable bytes   |  writable space   |
//   +--------------+--------------------+-------------------+
//   0        read_index_          write_index_          capacity_
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

namespace netman {

class Buffer {
 public:
  // The first allocation is at least this big.
  static constexpr size_t kMinCapacity = 1024;

  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() = default;

  size_t size() const { return write_index_ - read_index_; }
  bool empty() const { return write_index_ == read_index_; }
  // Bytes of storage held (0 when released).
  size_t capacity() const { return capacity_; }

  const char* data() const { return storage_.get() + read_index_; }
  std::string_view readable() const { return std::string_view(data(), size()); }

  void Append(const void* bytes, size_t n) {
    if (n == 0) return;
    std::memcpy(Writable(n), bytes, n);
    write_index_ += n;
  }
  void Append(std::string_view bytes) { Append(bytes.data(), bytes.size()); }

  // Returns a pointer to at least `n` writable bytes after the readable ones.
  // The bytes become readable only after Commit().
  char* Writable(size_t n) {
    if (capacity_ - write_index_ < n) MakeRoom(n);
    return storage_.get() + write_index_;
  }
  // Writable space available without growing.
  size_t writable_size() const { return capacity_ - write_index_; }
  // Marks `n` bytes written into Writable() as readable.
  void Commit(size_t n) { write_index_ += n; }

  // Drops `n` (<= size()) bytes from the front.
  void Consume(size_t n) {
    read_index_ += n;
    if (read_index_ == write_index_) read_index_ = write_index_ = 0;
  }
  void Clear() { read_index_ = write_index_ = 0; }

  // Clears and frees the storage.
  void Release() {
    storage_.reset();
    capacity_ = read_index_ = write_index_ = 0;
  }

 private:
  struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
  };

  // Out of line: grows or compacts so that `n` bytes are writable.
  void MakeRoom(size_t n);

  std::unique_ptr<char, FreeDeleter> storage_;
  size_t capacity_ = 0;
  size_t read_index_ = 0;
  size_t write_index_ = 0;
};

}  // namespace netman

#endif  // NETMAN_BUFFER_BUFFER_H_
