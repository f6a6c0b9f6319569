// Copyright netman authors.
//
// Soak: 15,000 concurrent connections to a tcp_server child process, each
// keeping two checksummed echo requests in flight for a bounded time, then
// draining. Every reply must be the exact echo of the request it answers,
// in order: zero lost, duplicated, reordered, misrouted or corrupted
// messages. The server's memory is sampled throughout and must stay
// bounded; at the end it must have closed every connection and exit
// cleanly.
//
// The server runs in its own process because one process may hold only
// 20,000 descriptors here: the test holds the 15,000 client sockets, the
// server the 15,000 accepted ones.
//
// Environment (the manual //tests/robustness:soak_long_test sets them):
//   NETMAN_SOAK_SECONDS      exchange phase, default 20
//   NETMAN_SOAK_CONNECTIONS  default 15000
#include <errno.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/client/client.h"
#include "netman/codec/default_packer.h"
#include "tests/robustness/server_process.h"
#include "tests/robustness/testing.h"

namespace netman::robustness {
namespace {

constexpr int kInFlight = 2;  // requests outstanding per connection

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

uint32_t Fnv1a(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (unsigned char c : bytes) h = (h ^ c) * 16777619u;
  return h;
}

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t GetLe32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

// Request `seq` of connection `index`: index, seq, payload length, payload
// (pseudo-random, 4..500 bytes), then an FNV-1a checksum of all of it.
std::string Body(uint32_t index, uint32_t seq) {
  uint64_t x = (uint64_t{index} << 32 | seq) * 0x9e3779b97f4a7c15ull + 1;
  auto next = [&x] {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return static_cast<uint32_t>((x * 0x2545f4914f6cdd1dull) >> 32);
  };
  const uint32_t length = 4 + next() % 497;
  std::string body;
  body.reserve(16 + length);
  PutLe32(body, index);
  PutLe32(body, seq);
  PutLe32(body, length);
  for (uint32_t i = 0; i < length; ++i) body.push_back(static_cast<char>(next()));
  PutLe32(body, Fnv1a(body));
  return body;
}

struct Stats {
  int64_t connected = 0;
  int64_t sent = 0;
  int64_t received = 0;
  int64_t corrupted = 0;   // checksum or contents wrong
  int64_t misrouted = 0;   // another connection's message
  int64_t lost = 0;        // a sequence number skipped
  int64_t duplicated = 0;  // a sequence number seen again
  int64_t broken = 0;      // connection failed or closed by the server
  std::string first_error;

  void Add(const Stats& o) {
    connected += o.connected;
    sent += o.sent;
    received += o.received;
    corrupted += o.corrupted;
    misrouted += o.misrouted;
    lost += o.lost;
    duplicated += o.duplicated;
    broken += o.broken;
    if (first_error.empty()) first_error = o.first_error;
  }
};

// One thread's share of the connections, driven by its own epoll.
class Driver {
 public:
  Driver(uint16_t port, uint32_t first_index, int count)
      : port_(port), first_index_(first_index), conns_(count) {}

  // Connects everyone (each sends its first requests, then waits), counting
  // in `settled` the connections whose first reply arrived (or that
  // failed); from `exchange` on keeps kInFlight requests in flight per
  // connection; from `stop_sending` on drains for at most `max_drain`.
  // Returns the counts.
  Stats Run(std::atomic<int>& settled, const std::atomic<bool>& exchange,
            const std::atomic<bool>& stop_sending, absl::Duration max_drain) {
    settled_ = &settled;
    absl::Time drain_deadline = absl::InfiniteFuture();
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return Fail("epoll_create1");
    size_t next_to_open = 0;
    std::vector<struct epoll_event> events(1024);
    bool draining = false;
    while (true) {
      // Keep at most 256 handshakes unconfirmed (no first reply yet), so the
      // listen backlog never overflows.
      while (next_to_open < conns_.size() && opened_ - confirmed_ < 256) {
        Open(next_to_open++);
      }
      if (!exchanging_ && exchange.load()) {
        exchanging_ = true;
        for (Conn& c : conns_) {
          while (c.fd >= 0 && c.connected && c.next_send - c.next_receive < kInFlight) {
            Queue(c);
          }
        }
      }
      if (!draining && stop_sending.load()) {
        draining = true;
        drain_deadline = absl::Now() + max_drain;
      }
      if (draining && (outstanding_ == 0 || absl::Now() > drain_deadline)) break;
      if (!draining && next_to_open == conns_.size() && stats_.broken > 0 &&
          stats_.broken == static_cast<int64_t>(conns_.size())) {
        break;
      }
      int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      if (n < 0 && errno != EINTR) return Fail("epoll_wait");
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[i].data.u32];
        if (c.fd < 0) continue;
        if (!c.connected) {
          int err = 0;
          socklen_t len = sizeof(err);
          ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            Break(c, absl::StrCat("connect: ", std::strerror(err)));
            continue;
          }
          c.connected = true;
          ++stats_.connected;
          for (int k = 0; k < kInFlight; ++k) Queue(c);  // the first requests
        }
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(c, draining);
        if (c.fd >= 0 && (events[i].events & EPOLLOUT)) Write(c);
      }
    }
    for (Conn& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
    ::close(epoll_);
    stats_.lost += outstanding_;  // never answered
    return stats_;
  }

 private:
  struct Conn {
    int fd = -1;
    bool connected = false;
    bool confirmed = false;   // first reply received
    bool want_write = false;  // EPOLLOUT armed
    uint32_t next_send = 0;
    uint32_t next_receive = 0;
    std::string in;
    std::string out;
  };

  Stats Fail(const char* what) {
    stats_.broken = static_cast<int64_t>(conns_.size());
    stats_.first_error = absl::StrCat(what, ": ", std::strerror(errno));
    return stats_;
  }

  void Open(size_t k) {
    Conn& c = conns_[k];
    ++opened_;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      Break(c, absl::StrCat("socket: ", std::strerror(errno)));
      return;
    }
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0 &&
        errno != EINPROGRESS) {
      Break(c, absl::StrCat("connect: ", std::strerror(errno)));
      return;
    }
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(k);
    c.want_write = true;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  uint32_t IndexOf(const Conn& c) const {
    return first_index_ + static_cast<uint32_t>(&c - conns_.data());
  }

  void Queue(Conn& c) {
    Buffer frame;
    DefaultPacker().Encode(0, Body(IndexOf(c), c.next_send++), frame);
    c.out.append(frame.readable());
    ++stats_.sent;
    ++outstanding_;
    Write(c);
  }

  void Write(Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Break(c, absl::StrCat("send: ", std::strerror(errno)));
      return;
    }
    const bool want = !c.out.empty();
    if (want != c.want_write) {
      struct epoll_event ev = {};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
      ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_write = want;
    }
  }

  void Read(Conn& c, bool draining) {
    char buf[16384];
    while (true) {
      ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Break(c, n == 0 ? std::string("closed by the server")
                      : absl::StrCat("recv: ", std::strerror(errno)));
      return;
    }
    DefaultPacker packer;
    size_t pos = 0;
    int replies = 0;
    while (true) {
      auto r = DecodeOne(packer, std::string_view(c.in).substr(pos));
      if (!r->complete) break;
      Check(c, r->message);
      pos += r->consumed;
      ++replies;
    }
    c.in.erase(0, pos);
    if (replies > 0 && !c.confirmed) {
      c.confirmed = true;
      ++confirmed_;
      ++*settled_;
    }
    if (exchanging_ && !draining) {
      for (int i = 0; i < replies && c.fd >= 0; ++i) Queue(c);
    }
  }

  void Check(Conn& c, const Message& m) {
    ++stats_.received;
    --outstanding_;
    const std::string expected = Body(IndexOf(c), c.next_receive);
    if (m.id == 0 && m.body == expected) {
      ++c.next_receive;
      return;
    }
    std::string_view body = m.body;
    if (body.size() < 16 || GetLe32(body.substr(body.size() - 4)) !=
                                Fnv1a(body.substr(0, body.size() - 4))) {
      ++stats_.corrupted;
    } else if (GetLe32(body) != IndexOf(c)) {
      ++stats_.misrouted;
    } else if (GetLe32(body.substr(4)) < c.next_receive) {
      ++stats_.duplicated;
    } else {
      ++stats_.lost;
      c.next_receive = GetLe32(body.substr(4)) + 1;
    }
    if (stats_.first_error.empty()) {
      stats_.first_error = absl::StrCat("connection ", IndexOf(c), ": bad reply for seq ",
                                        c.next_receive);
    }
  }

  void Break(Conn& c, std::string why) {
    ++stats_.broken;
    if (stats_.first_error.empty()) {
      stats_.first_error = absl::StrCat("connection ", IndexOf(c), ": ", why);
    }
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    outstanding_ -= static_cast<int64_t>(c.next_send - c.next_receive);
    stats_.lost += static_cast<int64_t>(c.next_send - c.next_receive);
    c.next_receive = c.next_send;
    if (!c.confirmed) {
      c.confirmed = true;
      ++confirmed_;
      ++*settled_;
    }
  }

  const uint16_t port_;
  const uint32_t first_index_;
  std::vector<Conn> conns_;
  int epoll_ = -1;
  size_t opened_ = 0;
  size_t confirmed_ = 0;
  int64_t outstanding_ = 0;
  bool exchanging_ = false;
  std::atomic<int>* settled_ = nullptr;
  Stats stats_;
};

TEST(SoakTest, ConcurrentConnectionsExchangeWithoutLossOrCorruption) {
  const int connections = EnvInt("NETMAN_SOAK_CONNECTIONS", 15000);
  const int seconds = EnvInt("NETMAN_SOAK_SECONDS", 20);
  auto server = ServerProcess::Start({.loops = 2, .log_level = "warning"});
  ASSERT_TRUE(server.ok()) << server.status();
  ServerProcess& s = **server;

  constexpr int kThreads = 2;
  std::atomic<int> settled{0};
  std::atomic<bool> exchange{false};
  std::atomic<bool> stop_sending{false};
  std::vector<Stats> results(kThreads);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int t = 0; t < kThreads; ++t) {
    const int first = connections * t / kThreads;
    const int count = connections * (t + 1) / kThreads - first;
    threads.emplace_back([&, t, first, count] {
      Driver driver(s.port(), static_cast<uint32_t>(first), count);
      results[t] = driver.Run(settled, exchange, stop_sending, absl::Seconds(120));
    });
  }
  // Everyone connected and answered once (bounded: a few seconds normally,
  // more under sanitizers); then the exchange runs for the soak time.
  int64_t max_rss = 0;
  const bool all_settled = WaitUntil(
      [&] {
        max_rss = std::max(max_rss, ResidentBytes(s.pid()));
        return settled.load() == connections;
      },
      absl::Seconds(240));
  const absl::Duration connect_time = absl::Now() - start;
  exchange = true;
  const absl::Time stop_at = absl::Now() + absl::Seconds(seconds);
  while (absl::Now() < stop_at) {
    max_rss = std::max(max_rss, ResidentBytes(s.pid()));
    ASSERT_TRUE(s.Running()) << "the server died; log:\n" << s.Log();
    absl::SleepFor(absl::Milliseconds(250));  // sampling period
  }
  stop_sending = true;
  for (std::thread& t : threads) t.join();
  const absl::Duration elapsed = absl::Now() - start - connect_time;
  EXPECT_TRUE(all_settled) << settled.load() << " of " << connections
                           << " connections answered within 240 s";

  Stats total;
  for (const Stats& r : results) total.Add(r);
  std::printf(
      "soak: %d connections (connected in %s), exchange and drain %s: %lld connected, "
      "%lld sent, %lld received (%.0f/s), max server RSS %lld MiB\n",
      connections, absl::FormatDuration(connect_time).c_str(),
      absl::FormatDuration(elapsed).c_str(),
      static_cast<long long>(total.connected), static_cast<long long>(total.sent),
      static_cast<long long>(total.received),
      static_cast<double>(total.received) / absl::ToDoubleSeconds(elapsed),
      static_cast<long long>(max_rss >> 20));
  EXPECT_EQ(total.connected, connections) << total.first_error;
  EXPECT_EQ(total.broken, 0) << total.first_error;
  EXPECT_EQ(total.corrupted, 0) << total.first_error;
  EXPECT_EQ(total.misrouted, 0) << total.first_error;
  EXPECT_EQ(total.lost, 0) << total.first_error;
  EXPECT_EQ(total.duplicated, 0) << total.first_error;
  EXPECT_EQ(total.received, total.sent);
  EXPECT_GE(total.received, int64_t{connections} * (kInFlight + 1))
      << "every connection exchanged more than its first requests";
  // Connections between messages hold no buffers (about 10 MiB measured
  // for 15,000); sanitizers add shadow memory and a quarantine of freed
  // blocks (up to 256 MiB).
  EXPECT_LT(max_rss, kSanitized ? int64_t{1} << 30 : int64_t{128} << 20);

  // The server closed its side of every connection.
  auto counter = Client::Connect("127.0.0.1", s.port());
  ASSERT_TRUE(counter.ok()) << counter.status();
  EXPECT_TRUE(WaitUntil(
      [&] {
        if (!(*counter)->Send(1, "").ok()) return false;
        auto m = (*counter)->Receive(absl::Seconds(10));
        return m.ok() && m->body == "1";  // just this connection
      },
      absl::Seconds(60)));
  counter->reset();
  auto exit_code = s.Stop(absl::Seconds(60));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << "server log:\n" << s.Log();
}

}  // namespace
}  // namespace netman::robustness
