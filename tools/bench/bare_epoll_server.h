// Copyright netman authors.
//
// bare_epoll_server.h: the scaffolding the two benchmark ceilings share
// (epoll_echo_server.cc for netman's framing, ws_echo_server.cc for
// WebSocket): a minimal epoll loop with no framework at all, templated on the
// protocol so that the per-read path has no virtual call or std::function.
//
// Per readable connection, a Loop does one read(2) of up to 256 KiB into a
// per-thread buffer and hands the bytes to its Protocol, which parses them in
// place and appends every reply to one per-thread OutputBuffer; the Loop then
// sends them with one write(2). Only what cannot be handled now stays with
// the connection: the bytes of an incomplete message (Conn::in, kept by the
// protocol), or replies the socket did not take (Conn::out; then reading
// pauses above 4 MiB of them). An idle connection is a 56-byte struct (one
// 64-byte allocation) and nothing else. accept4() failing for lack of file
// descriptors or memory pauses accepting until a close, or for 100 ms.
//
// A Protocol is a copyable class with
//
//   struct ConnState { ... };  // its own per-connection state (may be empty)
//   // The `len` bytes just read from `c` (never 0). Appends replies to
//   // `out`, keeps the bytes of an incomplete message in c.in, and says
//   // what the Loop does next.
//   ReadResult OnRead(Conn<ConnState>& c, const char* data, size_t len,
//                     OutputBuffer& out);
//
// Serve() runs one Loop per thread, each with its own SO_REUSEPORT listening
// socket (the kernel spreads connections over them):
//
//   int main(...) {  // after parsing flags
//     return Serve("my_server", host, port, threads, MyProtocol(...));
//   }
//
// Threading: each loop thread owns its listening socket, epoll set,
// connections and Protocol copy; nothing is shared between threads.
// SIGINT/SIGTERM end the process (no graceful close: these are benchmark
// baselines).
#ifndef TOOLS_BENCH_BARE_EPOLL_SERVER_H_
#define TOOLS_BENCH_BARE_EPOLL_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace netman::bench {

inline constexpr size_t kReadBufferSize = 256 * 1024;
inline constexpr size_t kMaxPendingOutput = 4u << 20;
inline constexpr int kMaxEvents = 1024;

// One connection. `State` is the protocol's own per-connection state.
template <typename State>
struct Conn {
  int fd = -1;
  bool reading = true;
  bool writing = false;
  bool closing = false;  // close once `out` is flushed (kReplyThenClose)
  [[no_unique_address]] State state;
  std::vector<char> in;   // bytes of an incomplete message (the protocol's)
  std::vector<char> out;  // replies the socket did not take yet
};

// What the Loop does once the protocol has handled a read.
enum class ReadResult {
  kReply,           // send what the protocol appended to the output, if any
  kReplyThenClose,  // the same, then close once it is out (reading stops)
  kEcho,            // send the bytes read back as they are, with no copy
  kClose,           // close the connection now, sending nothing
};

// The replies produced by the current read (no zero-filling, unlike vector).
// Must be used in its loop's thread only.
class OutputBuffer {
 public:
  explicit OutputBuffer(size_t capacity)
      : capacity_(capacity), data_(new char[capacity]) {}

  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  void Clear() { size_ = 0; }

  // Room for `n` more bytes; returns where they go. Commit() what was
  // written there.
  char* Reserve(size_t n) {
    const size_t need = size_ + n;
    if (need > capacity_) {
      const size_t capacity = std::max(need, 2 * capacity_);
      std::unique_ptr<char[]> grown(new char[capacity]);
      std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    return data_.get() + size_;
  }
  void Commit(size_t n) { size_ += n; }

  void Append(std::string_view bytes) {
    std::memcpy(Reserve(bytes.size()), bytes.data(), bytes.size());
    size_ += bytes.size();
  }

 private:
  size_t capacity_;
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

// One thread's event loop: its listening socket, epoll set and connections.
template <typename Protocol>
class Loop {
 public:
  using Conn = bench::Conn<typename Protocol::ConnState>;
  static_assert(sizeof(Conn) <= 56, "an idle connection: one 64-byte chunk");

  Loop(int listen_fd, const Protocol& protocol)
      : listen_fd_(listen_fd),
        protocol_(protocol),
        read_buffer_(new char[kReadBufferSize]),
        output_(kReadBufferSize + kReadBufferSize / 8) {}

  // Never returns.
  void Run() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the listening socket
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    struct epoll_event events[kMaxEvents];
    while (true) {
      const int n =
          epoll_wait(epoll_fd_, events, kMaxEvents, accept_paused_ ? 100 : -1);
      if (n == 0 && accept_paused_) SetAccepting(true);
      for (int i = 0; i < n; ++i) {
        Conn* c = static_cast<Conn*>(events[i].data.ptr);
        if (c == nullptr) {
          Accept();
          continue;
        }
        const uint32_t e = events[i].events;
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
          if (!c->reading) {  // closing with output pending: give up
            Close(c);
            continue;
          }
          if (!OnReadable(c)) continue;  // closed
        }
        if (e & EPOLLOUT) OnWritable(c);
      }
    }
  }

 private:
  void SetAccepting(bool on) {
    accept_paused_ = !on;
    struct epoll_event ev = {};
    ev.events = on ? uint32_t{EPOLLIN} : 0u;
    ev.data.ptr = nullptr;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
  }

  void Accept() {
    for (int i = 0; i < 1024; ++i) {
      const int fd =
          accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
          SetAccepting(false);  // retried after 100 ms or a close
        }
        return;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      Conn* c = new Conn;
      c->fd = fd;
      struct epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.ptr = c;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        delete c;
      }
    }
  }

  void Close(Conn* c) {
    ::close(c->fd);  // also leaves the epoll set
    delete c;
    if (accept_paused_) SetAccepting(true);
  }

  void UpdateInterest(Conn* c) {
    struct epoll_event ev = {};
    ev.events = (c->reading ? uint32_t{EPOLLIN} : 0u) |
                (c->writing ? uint32_t{EPOLLOUT} : 0u);
    ev.data.ptr = c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  // Returns false when the connection was closed.
  bool OnReadable(Conn* c) {
    const ssize_t n = ::read(c->fd, read_buffer_.get(), kReadBufferSize);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      Close(c);
      return false;
    }
    const char* data = read_buffer_.get();
    const size_t len = static_cast<size_t>(n);
    const ReadResult result = protocol_.OnRead(*c, data, len, output_);
    if (result == ReadResult::kEcho) {
      Write(c, data, len);
      return c != nullptr;
    }
    if (result == ReadResult::kClose) {
      output_.Clear();
      Close(c);
      return false;
    }
    if (result == ReadResult::kReplyThenClose) c->closing = true;
    if (output_.size() > 0) {
      Write(c, output_.data(), output_.size());
      output_.Clear();
    }
    if (result == ReadResult::kReplyThenClose && c != nullptr &&
        c->out.empty()) {
      Close(c);
      c = nullptr;
    }
    return c != nullptr;
  }

  // One write for everything this read produced; the rest waits for EPOLLOUT.
  void Write(Conn*& c, const char* data, size_t len) {
    if (!c->out.empty()) {
      c->out.insert(c->out.end(), data, data + len);
    } else {
      ssize_t w = ::send(c->fd, data, len, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          Close(c);
          c = nullptr;
          return;
        }
        w = 0;
      }
      if (static_cast<size_t>(w) == len) return;
      c->out.assign(data + w, data + len);
    }
    c->writing = true;
    if (c->out.size() > kMaxPendingOutput || c->closing) c->reading = false;
    UpdateInterest(c);
  }

  void OnWritable(Conn* c) {
    const ssize_t w = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) Close(c);
      return;
    }
    c->out.erase(c->out.begin(), c->out.begin() + w);
    if (c->out.empty()) {
      if (c->closing) {
        Close(c);
        return;
      }
      std::vector<char>().swap(c->out);
      c->writing = false;
      c->reading = true;
      UpdateInterest(c);
    } else if (!c->reading && !c->closing &&
               c->out.size() <= kMaxPendingOutput / 2) {
      c->reading = true;
      UpdateInterest(c);
    }
  }

  const int listen_fd_;
  Protocol protocol_;
  std::unique_ptr<char[]> read_buffer_;
  OutputBuffer output_;  // empty between reads
  int epoll_fd_ = -1;
  bool accept_paused_ = false;
};

// A non-blocking SO_REUSEPORT listening socket on host:port, or -1 (errno
// set).
inline int Listen(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 4096) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The rest of main() once the flags are checked: `threads` (>= 1) loops, each
// with its own copy of `protocol` and listening socket on host:port (port 0:
// any free port, the same for all). Prints "<name> listening on
// <host>:<port>" when they run and exits with 0 on SIGINT/SIGTERM. Returns 1
// (after a message on stderr) only if it cannot listen. Call it from the main
// thread before any other thread starts.
template <typename Protocol>
int Serve(const char* name, const std::string& host, int port, int threads,
          const Protocol& protocol) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<int> listen_fds;
  for (int i = 0; i < threads; ++i) {
    const int fd = Listen(host, port);
    if (fd < 0) {
      std::fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", name,
                   host.c_str(), port, std::strerror(errno));
      return 1;
    }
    if (port == 0) {
      struct sockaddr_in bound = {};
      socklen_t len = sizeof(bound);
      getsockname(fd, reinterpret_cast<struct sockaddr*>(&bound), &len);
      port = ntohs(bound.sin_port);  // the other copies share it
    }
    listen_fds.push_back(fd);
  }
  std::vector<std::thread> loops;
  for (int fd : listen_fds) {
    loops.emplace_back([fd, protocol] { Loop<Protocol>(fd, protocol).Run(); });
  }
  std::printf("%s listening on %s:%d\n", name, host.c_str(), port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fflush(stdout);
  _exit(0);  // the loops never return; nothing to clean up
}

}  // namespace netman::bench

#endif  // TOOLS_BENCH_BARE_EPOLL_SERVER_H_
