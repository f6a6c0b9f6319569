// Copyright netman authors.
//
// epoll_echo_server: the benchmark ceiling. A minimal epoll server that
// echoes netman frames (uint32 LE body length, uint32 LE id, body) with no
// framework at all: what the kernel and the hardware allow, to compare
// netman's tcp_server against in the same run (tools/bench/run_bench.py).
//
//   epoll_echo_server --port=0 --threads=1        # prints "... listening on"
//
// What it does per readable connection: one read(2) of up to 256 KiB into a
// per-thread buffer; complete frames parsed in place; every reply (header
// encoded, body copied) appended to one per-thread output buffer; one
// write(2) for all of them. Only what cannot be handled now stays with the
// connection: the bytes of an incomplete frame, or replies the socket did not
// take (then reading pauses above 4 MiB of them). An idle connection is a
// 64-byte struct and nothing else. --mode=raw echoes bytes as they come (for
// the load generator's raw mode).
//
// --threads=N runs N independent copies of the loop, each with its own
// SO_REUSEPORT listening socket (the kernel spreads connections over them).
//
// Threading: each loop thread owns its listening socket, epoll set and
// connections; nothing is shared between threads. SIGINT/SIGTERM end the
// process (no graceful close: it is a benchmark baseline).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "IPv4 address to listen on.");
ABSL_FLAG(int, port, 9000, "TCP port (0 = any free port).");
ABSL_FLAG(int, threads, 1, "Independent event loops (SO_REUSEPORT).");
ABSL_FLAG(std::string, mode, "netman",
          "netman (frame echo) or raw (byte echo).");
ABSL_FLAG(uint64_t, max_body, 64u << 20,
          "Largest accepted body; larger closes.");

namespace {

constexpr size_t kReadBufferSize = 256 * 1024;
constexpr size_t kHeaderSize = 8;
constexpr size_t kMaxPendingOutput = 4u << 20;
constexpr int kMaxEvents = 1024;

inline uint32_t LoadLe32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86-64 and the wire are both little-endian
  return v;
}
inline void StoreLe32(uint32_t v, char* p) { std::memcpy(p, &v, 4); }

struct Conn {
  int fd = -1;
  bool reading = true;
  bool writing = false;
  std::vector<char> in;   // bytes of an incomplete frame
  std::vector<char> out;  // replies the socket did not take yet
};

class Loop {
 public:
  Loop(int listen_fd, bool raw, uint64_t max_body)
      : listen_fd_(listen_fd),
        raw_(raw),
        max_body_(max_body),
        read_buffer_(new char[kReadBufferSize]),
        output_capacity_(kReadBufferSize + kReadBufferSize / 8),
        output_(new char[output_capacity_]) {}

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

  // Appends the reply to one complete frame.
  void Reply(const char* frame, uint32_t body_len) {
    const size_t need = output_size_ + kHeaderSize + body_len;
    if (need > output_capacity_) {
      const size_t capacity = std::max(need, 2 * output_capacity_);
      std::unique_ptr<char[]> grown(new char[capacity]);
      std::memcpy(grown.get(), output_.get(), output_size_);
      output_ = std::move(grown);
      output_capacity_ = capacity;
    }
    char* p = output_.get() + output_size_;
    output_size_ = need;
    StoreLe32(body_len, p);
    StoreLe32(LoadLe32(frame + 4), p + 4);
    std::memcpy(p + kHeaderSize, frame + kHeaderSize, body_len);
  }

  // Returns false when the connection was closed.
  bool OnReadable(Conn* c) {
    const ssize_t n = ::read(c->fd, read_buffer_.get(), kReadBufferSize);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      Close(c);
      return false;
    }
    const char* p = read_buffer_.get();
    size_t len = static_cast<size_t>(n);
    if (raw_) {
      Write(c, p, len);
      return c != nullptr;
    }
    output_size_ = 0;
    if (!c->in.empty()) {
      // Complete the pending frame with the bytes it still needs.
      std::vector<char>& in = c->in;
      if (in.size() < kHeaderSize) {
        const size_t take = std::min(kHeaderSize - in.size(), len);
        in.insert(in.end(), p, p + take);
        p += take;
        len -= take;
      }
      if (in.size() >= kHeaderSize) {
        const uint32_t body_len = LoadLe32(in.data());
        if (body_len > max_body_) {
          Close(c);
          return false;
        }
        const size_t take = std::min(kHeaderSize + body_len - in.size(), len);
        in.insert(in.end(), p, p + take);
        p += take;
        len -= take;
        if (in.size() == kHeaderSize + body_len) {
          Reply(in.data(), body_len);
          std::vector<char>().swap(in);  // idle connections hold nothing
        }
      }
    }
    while (len >= kHeaderSize) {
      const uint32_t body_len = LoadLe32(p);
      if (body_len > max_body_) {
        Close(c);
        return false;
      }
      if (len < kHeaderSize + body_len) break;
      Reply(p, body_len);
      p += kHeaderSize + body_len;
      len -= kHeaderSize + body_len;
    }
    if (len > 0) c->in.assign(p, p + len);
    if (output_size_ > 0) Write(c, output_.get(), output_size_);
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
    if (c->out.size() > kMaxPendingOutput) c->reading = false;
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
      std::vector<char>().swap(c->out);
      c->writing = false;
      c->reading = true;
      UpdateInterest(c);
    } else if (!c->reading && c->out.size() <= kMaxPendingOutput / 2) {
      c->reading = true;
      UpdateInterest(c);
    }
  }

  const int listen_fd_;
  const bool raw_;
  const uint64_t max_body_;
  std::unique_ptr<char[]> read_buffer_;
  // Replies produced by the current read (no zero-filling, unlike vector).
  size_t output_capacity_;
  std::unique_ptr<char[]> output_;
  size_t output_size_ = 0;
  int epoll_fd_ = -1;
  bool accept_paused_ = false;
};

int Listen(const std::string& host, int port) {
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

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Minimal epoll echo server for netman frames (the benchmark ceiling).");
  absl::ParseCommandLine(argc, argv);
  const std::string host = absl::GetFlag(FLAGS_host);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int threads = absl::GetFlag(FLAGS_threads);
  if ((mode != "netman" && mode != "raw") || threads < 1) {
    std::fprintf(
        stderr,
        "epoll_echo_server: --mode must be netman or raw, --threads >= 1\n");
    return 2;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int port = absl::GetFlag(FLAGS_port);
  std::vector<int> listen_fds;
  for (int i = 0; i < threads; ++i) {
    const int fd = Listen(host, port);
    if (fd < 0) {
      std::fprintf(stderr, "epoll_echo_server: cannot listen on %s:%d: %s\n",
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
    loops.emplace_back(
        [fd, raw = mode == "raw", max_body = absl::GetFlag(FLAGS_max_body)] {
          Loop(fd, raw, max_body).Run();
        });
  }
  std::printf("epoll_echo_server listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fflush(stdout);
  _exit(0);  // the loops never return; nothing to clean up
}
