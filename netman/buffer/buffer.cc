// Copyright netman authors.
#include "netman/buffer/buffer.h"

#include <algorithm>
#include <new>
#include <utility>

namespace netman {

Buffer::Buffer(Buffer&& other) noexcept
    : storage_(std::move(other.storage_)),
      capacity_(std::exchange(other.capacity_, 0)),
      read_index_(std::exchange(other.read_index_, 0)),
      write_index_(std::exchange(other.write_index_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    storage_ = std::move(other.storage_);
    capacity_ = std::exchange(other.capacity_, 0);
    read_index_ = std::exchange(other.read_index_, 0);
    write_index_ = std::exchange(other.write_index_, 0);
  }
  return *this;
}

void Buffer::MakeRoom(size_t n) {
  const size_t used = size();
  // Sliding the unread bytes to the front is enough, and cheap when they are
  // few compared with the space it frees.
  if (read_index_ > 0 && capacity_ - used >= n && used <= capacity_ / 2) {
    std::memmove(storage_.get(), storage_.get() + read_index_, used);
    read_index_ = 0;
    write_index_ = used;
    return;
  }
  if (read_index_ > 0) {  // compact first so realloc copies only live bytes
    std::memmove(storage_.get(), storage_.get() + read_index_, used);
    read_index_ = 0;
    write_index_ = used;
  }
  size_t want = std::max({kMinCapacity, used + n, capacity_ + capacity_ / 2});
  char* grown = static_cast<char*>(std::realloc(storage_.get(), want));
  if (grown == nullptr) throw std::bad_alloc();
  (void)storage_.release();
  storage_.reset(grown);
  capacity_ = want;
}

}  // namespace netman
