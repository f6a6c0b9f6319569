// Copyright netman authors.
#include "tools/loadgen/udp_load.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "tools/loadgen/histogram.h"

namespace netman::loadgen {
namespace {

constexpr int kHeader = 8;
constexpr int kMaxBatch = 64;  // datagrams per recvmmsg/sendmmsg
constexpr int kEpollEvents = 256;
constexpr int kPollMs = 20;

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void Store32(uint32_t v, char* p) { std::memcpy(p, &v, 4); }  // little-endian hosts
uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

enum Phase : int { kWarmup, kMeasure, kDone };

struct Peer {
  int fd = -1;
  int in_flight = 0;
  uint64_t last_heard_ns = 0;
};

struct Worker {
  std::vector<Peer> peers;
  LatencyHistogram histogram;
  std::atomic<uint64_t> replies{0};    // in the window
  std::atomic<uint64_t> total{0};      // whole run
  std::atomic<uint64_t> lost{0};
  std::atomic<uint64_t> bad{0};
  std::atomic<uint64_t> send_errors{0};
};

class Runner {
 public:
  Runner(const UdpLoadOptions& o, const std::atomic<int>* phase) : o_(o), phase_(phase) {
    frame_size_ = kHeader + static_cast<size_t>(o.size);
  }

  void Run(Worker& w) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < w.peers.size(); ++i) {
      struct epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, w.peers[i].fd, &ev);
    }
    out_.assign(static_cast<size_t>(kMaxBatch) * frame_size_, 'r');
    in_.assign(static_cast<size_t>(kMaxBatch) * (frame_size_ + 1), '\0');
    const uint64_t start = NowNs();
    for (Peer& p : w.peers) {
      p.last_heard_ns = start;
      Send(w, p, o_.pipeline);
    }
    struct epoll_event events[kEpollEvents];
    const uint64_t resend_ns = static_cast<uint64_t>(o_.resend_after_s * 1e9);
    uint64_t next_check = start + resend_ns;
    while (phase_->load(std::memory_order_relaxed) != kDone) {
      const int n = epoll_wait(ep, events, kEpollEvents, kPollMs);
      for (int i = 0; i < n; ++i) Drain(w, w.peers[events[i].data.u64]);
      const uint64_t now = NowNs();
      if (now >= next_check) {
        next_check = now + resend_ns / 2;
        for (Peer& p : w.peers) {
          if (now - p.last_heard_ns >= resend_ns) {
            w.lost.fetch_add(static_cast<uint64_t>(p.in_flight), std::memory_order_relaxed);
            p.in_flight = 0;
            p.last_heard_ns = now;
            Send(w, p, o_.pipeline);
          }
        }
      }
    }
    close(ep);
  }

 private:
  void Drain(Worker& w, Peer& p) {
    struct mmsghdr msgs[kMaxBatch];
    struct iovec iovs[kMaxBatch];
    for (;;) {
      for (int i = 0; i < kMaxBatch; ++i) {
        iovs[i].iov_base = in_.data() + static_cast<size_t>(i) * (frame_size_ + 1);
        iovs[i].iov_len = frame_size_ + 1;
        std::memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(p.fd, msgs, kMaxBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      const uint64_t now = NowNs();
      const bool measuring = phase_->load(std::memory_order_relaxed) == kMeasure;
      int good = 0;
      for (int i = 0; i < n; ++i) {
        const char* d = static_cast<const char*>(iovs[i].iov_base);
        if (msgs[i].msg_len != frame_size_ || Load32(d) != static_cast<uint32_t>(o_.size) ||
            Load32(d + 4) != o_.id) {
          w.bad.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        ++good;
        if (measuring) {
          uint64_t sent;
          std::memcpy(&sent, d + kHeader, sizeof(sent));
          w.histogram.Record(now > sent ? now - sent : 0);
        }
      }
      p.last_heard_ns = now;
      p.in_flight = std::max(0, p.in_flight - n);
      w.total.fetch_add(static_cast<uint64_t>(good), std::memory_order_relaxed);
      if (measuring) w.replies.fetch_add(static_cast<uint64_t>(good), std::memory_order_relaxed);
      Send(w, p, std::min(n, o_.pipeline - p.in_flight));
      if (n < kMaxBatch) return;
    }
  }

  void Send(Worker& w, Peer& p, int count) {
    if (count <= 0) return;
    count = std::min(count, kMaxBatch);
    struct mmsghdr msgs[kMaxBatch];
    struct iovec iovs[kMaxBatch];
    const uint64_t now = NowNs();
    for (int i = 0; i < count; ++i) {
      char* f = out_.data() + static_cast<size_t>(i) * frame_size_;
      Store32(static_cast<uint32_t>(o_.size), f);
      Store32(o_.id, f + 4);
      std::memcpy(f + kHeader, &now, sizeof(now));
      iovs[i].iov_base = f;
      iovs[i].iov_len = frame_size_;
      std::memset(&msgs[i], 0, sizeof(msgs[i]));
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = sendmmsg(p.fd, msgs, static_cast<unsigned>(count), 0);
    if (sent > 0) {
      p.in_flight += sent;
    } else {
      w.send_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }

  const UdpLoadOptions& o_;
  const std::atomic<int>* phase_;
  size_t frame_size_;
  std::vector<char> out_;
  std::vector<char> in_;
};

}  // namespace

int RunUdpLoad(const UdpLoadOptions& o) {
  if (o.size < 8 || o.peers < 1 || o.pipeline < 1 || o.threads < 1 || o.pipeline > kMaxBatch) {
    std::fprintf(stderr,
                 "loadgen: udp mode needs --size >= 8, --connections >= 1, "
                 "--pipeline 1..%d, --threads >= 1\n",
                 kMaxBatch);
    return 2;
  }
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  struct addrinfo* ai = nullptr;
  const std::string port = std::to_string(o.port);
  if (getaddrinfo(o.host.c_str(), port.c_str(), &hints, &ai) != 0 || ai == nullptr) {
    std::fprintf(stderr, "loadgen: cannot resolve %s\n", o.host.c_str());
    return 2;
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (int i = 0; i < o.peers; ++i) {
    const int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      std::fprintf(stderr, "loadgen: udp socket %d: %s\n", i, std::strerror(errno));
      freeaddrinfo(ai);
      return 2;
    }
    workers[static_cast<size_t>(i % o.threads)]->peers.push_back(Peer{fd});
  }
  freeaddrinfo(ai);

  std::atomic<int> phase{kWarmup};
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&o, &phase, w = w.get()] { Runner(o, &phase).Run(*w); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
  const uint64_t window_start = NowNs();
  phase.store(kMeasure);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  phase.store(kDone);
  const uint64_t window_end = NowNs();
  for (auto& t : threads) t.join();

  LatencyHistogram histogram;
  uint64_t replies = 0, total = 0, lost = 0, bad = 0, send_errors = 0;
  for (auto& w : workers) {
    histogram.Merge(w->histogram);
    replies += w->replies.load();
    total += w->total.load();
    lost += w->lost.load();
    bad += w->bad.load();
    send_errors += w->send_errors.load();
    for (Peer& p : w->peers) close(p.fd);
  }
  const double window = static_cast<double>(window_end - window_start) * 1e-9;
  const auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  char json[2048];
  std::snprintf(
      json, sizeof(json),
      "{\"tool\":\"loadgen\",\"label\":\"%s\",\"mode\":\"udp\",\"host\":\"%s\",\"port\":%d,"
      "\"threads\":%d,\"connections\":%d,\"pipeline\":%d,\"size\":%d,"
      "\"errors\":%llu,\"verify_errors\":%llu,\"send_errors\":%llu,\"lost\":%llu,"
      "\"duration_s\":%.3f,\"messages\":%llu,\"messages_total\":%llu,\"msgs_per_s\":%.1f,"
      "\"latency_us\":{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
      "\"window_start_mono_s\":%.6f,\"window_end_mono_s\":%.6f}",
      o.label.c_str(), o.host.c_str(), o.port, o.threads, o.peers, o.pipeline, o.size,
      static_cast<unsigned long long>(bad), static_cast<unsigned long long>(bad),
      static_cast<unsigned long long>(send_errors), static_cast<unsigned long long>(lost),
      window, static_cast<unsigned long long>(replies), static_cast<unsigned long long>(total),
      window > 0 ? static_cast<double>(replies) / window : 0.0,
      static_cast<unsigned long long>(histogram.count()), us(histogram.Percentile(50)),
      us(histogram.Percentile(90)), us(histogram.Percentile(99)), us(histogram.max()),
      static_cast<double>(window_start) * 1e-9, static_cast<double>(window_end) * 1e-9);
  std::printf("%s\n", json);
  std::fflush(stdout);
  if (!o.json_out.empty()) {
    FILE* f = std::fopen(o.json_out.c_str(), "w");
    if (f == nullptr) return 2;
    std::fprintf(f, "%s\n", json);
    std::fclose(f);
  }
  return bad > 0 ? 1 : 0;
}

}  // namespace netman::loadgen
