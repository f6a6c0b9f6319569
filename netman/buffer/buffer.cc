// Copyright netman authors.
#include "netman/buffer/buffer.h"

#include <algorithm>
#include <limits>
#include <new>
#include <utility>

namespace netman {

void Buffer::AllocateExactly(size_t n) {
  void* p = std::malloc(sizeof(Block) + n);
  if (p == nullptr) throw std::bad_alloc();
  block_ = ::new (p) Block{n, 0, 0};
}

void Buffer::MakeRoom(size_t n) {
  if (block_ == nullptr) {
    const size_t want = std::max(kMinCapacity, n);
    void* p = std::malloc(sizeof(Block) + want);
    if (p == nullptr) throw std::bad_alloc();
    block_ = ::new (p) Block{want, 0, 0};
    return;
  }
  const size_t used = size();
  char* const bytes = block_->bytes();
  // Sliding the unread bytes to the front is enough, and cheap when they are
  // few compared with the space it frees.
  if (block_->read_index > 0 && block_->capacity - used >= n &&
      used <= block_->capacity / 2) {
    std::memmove(bytes, bytes + block_->read_index, used);
    block_->read_index = 0;
    block_->write_index = used;
    return;
  }
  if (block_->read_index > 0) {  // compact first so realloc copies only live bytes
    std::memmove(bytes, bytes + block_->read_index, used);
    block_->read_index = 0;
    block_->write_index = used;
  }
  if (n > std::numeric_limits<size_t>::max() / 2 - sizeof(Block) - used) {
    throw std::bad_alloc();
  }
  const size_t want =
      std::max({kMinCapacity, used + n, block_->capacity + block_->capacity / 2});
  void* grown = std::realloc(block_, sizeof(Block) + want);
  if (grown == nullptr) throw std::bad_alloc();
  block_ = static_cast<Block*>(grown);
  block_->capacity = want;
}

}  // namespace netman
