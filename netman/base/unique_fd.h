// Copyright netman authors.
//
// UniqueFd: sole owner of a file descriptor; closes it on destruction.
//
// Example:
//   UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
//   if (!fd.valid()) return ErrnoStatus(errno, "socket");
//   DoSomething(fd.get());   // borrow
//   int raw = fd.release();  // hand ownership elsewhere
//
// Threading: not synchronised; a UniqueFd belongs to one owner at a time.
#ifndef NETMAN_BASE_UNIQUE_FD_H_
#define NETMAN_BASE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace netman {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  // The descriptor, or -1 when empty. Ownership stays here.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing; returns the descriptor.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  // Closes the current descriptor (if any) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace netman

#endif  // NETMAN_BASE_UNIQUE_FD_H_
