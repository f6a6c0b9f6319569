// Copyright netman authors.
//
// Broadcast to many connections, new algorithm against the old one, in the
// same run:
//   * BM_BroadcastNew: ConnectionManager::Broadcast() (recipients grouped by
//     loop, one task per loop, the frame encoded once per encoding key and
//     copied into each connection with Connection::SendEncoded);
//   * BM_BroadcastOld: the Broadcast it replaced, reproduced here:
//     Connection::Send() for every connection of manager.Snapshot(), from
//     the caller's thread (one posted task per recipient);
//   * BM_BarrierOnly: no broadcast, just the wait below: the harness's fixed
//     cost per iteration, for reading the small-N rows.
// for N = 1,000 and 10,000 connections spread over 2 event loops, each
// running on its own thread, and bodies of 64 B and 4 KiB.
//
// No sockets (10,000 TCP connections would need 20,000 fds): each loop has a
// FakePoller, and each connection is a real Connection with the real
// FramedProtocol (DefaultPacker) behind a CountingTransport that counts the
// bytes the connection flushes and discards them.
//
// One iteration is one broadcast AND its application by the loops: after
// broadcasting, the caller posts a check to each loop that re-posts itself
// until every one of that loop's connections has flushed the frame to its
// transport (the byte count reached), and waits for both loops. The time
// therefore covers the caller, the hop to the loops, encoding, the copies,
// the per-connection flush tasks and the transport writes.
//
// Reported per benchmark (real time: the work is on the loop threads):
//   Time             per broadcast (applied by every connection)
//   per_recipient    Time / N, in seconds
//   allocs           heap allocations per broadcast, every thread: every
//                    call to malloc, calloc, realloc and the aligned
//                    allocators (Buffer uses malloc/realloc directly, so
//                    counting operator new alone would miss the output
//                    buffers). Counted by this binary's replacements of
//                    those functions, which forward to glibc's.
//   news             of which through operator new / new[]
//   alloc_bytes      bytes requested per broadcast
//   page_faults      minor page faults per broadcast (getrusage, whole
//                    process): glibc returns the memory of a broadcast's
//                    freed output buffers to the kernel when the arena's top
//                    exceeds its trim threshold, and the next broadcast
//                    faults it back in. Run with
//                    GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967295
//                    to see the algorithms without that round trip.
//
// Run (the machine is shared and noisy: repeat, interleave, read medians):
//   bazel run -c opt //netman/server:broadcast_benchmark --
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_display_aggregates_only=true
// (one command line).
//
// Threading: the benchmark thread broadcasts; the two loop threads (kept for
// the whole process) own the connections. Loop-only work (creating,
// starting and closing connections) is posted to the loops.
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"
#include "netman/net/connection.h"
#include "netman/net/connection_context.h"
#include "netman/net/event_loop.h"
#include "netman/net/protocol.h"
#include "netman/net/socket_address.h"
#include "netman/net/transport.h"
#include "netman/router/router.h"
#include "netman/server/connection_manager.h"
#include "netman/server/framed_protocol.h"
#include "netman/testing/fake_poller.h"
#include "netman/testing/run_on_loop.h"

// Sanitizers bring their own malloc: there the replacements below are left
// out and no allocation counters are reported.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NETMAN_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define NETMAN_COUNT_ALLOCS 0
#endif
#endif
#ifndef NETMAN_COUNT_ALLOCS
#define NETMAN_COUNT_ALLOCS 1
#endif

// ---------------------------------------------------------------------------
// Allocation counting. Every thread counts into a cache line of its own
// (plain load + store, no locked instruction, no sharing), so counting costs
// both algorithms about a nanosecond per allocation; a reader sums the
// slots. Threads beyond the slots share the last one with atomic adds.
namespace alloc_count {

struct alignas(64) Slot {
  std::atomic<uint64_t> allocs{0};
  std::atomic<uint64_t> news{0};
  std::atomic<uint64_t> bytes{0};
};
constexpr int kSlots = 64;
Slot slots[kSlots];
std::atomic<int> next_slot{0};
thread_local int my_slot = -1;  // constant-initialised: no TLS constructor

inline void Bump(std::atomic<uint64_t>& counter, uint64_t n, bool shared) {
  if (shared) {
    counter.fetch_add(n, std::memory_order_relaxed);
  } else {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
}

inline void CountAlloc(size_t bytes, bool via_new) {
  int slot = my_slot;
  if (slot < 0) {
    slot = next_slot.fetch_add(1, std::memory_order_relaxed);
    if (slot >= kSlots) slot = kSlots - 1;
    my_slot = slot;
  }
  const bool shared = slot == kSlots - 1;
  Slot& s = slots[slot];
  if (via_new) {
    Bump(s.news, 1, shared);  // the malloc behind it counts the allocation
  } else {
    Bump(s.allocs, 1, shared);
    Bump(s.bytes, bytes, shared);
  }
}

struct Totals {
  uint64_t allocs = 0;
  uint64_t news = 0;
  uint64_t bytes = 0;
};

Totals Read() {
  Totals t;
  for (const Slot& s : slots) {
    t.allocs += s.allocs.load(std::memory_order_relaxed);
    t.news += s.news.load(std::memory_order_relaxed);
    t.bytes += s.bytes.load(std::memory_order_relaxed);
  }
  return t;
}

}  // namespace alloc_count

#if NETMAN_COUNT_ALLOCS
// glibc's allocator under its internal names: the replacements below count
// and forward to it, so every block still comes from (and returns to) glibc.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t size);
void __libc_free(void* p);
void* __libc_memalign(size_t alignment, size_t size);

void* malloc(size_t size) noexcept {
  alloc_count::CountAlloc(size, false);
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) noexcept {
  alloc_count::CountAlloc(n * size, false);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) noexcept {
  alloc_count::CountAlloc(size, false);
  return __libc_realloc(p, size);
}
void free(void* p) noexcept { __libc_free(p); }
void* memalign(size_t alignment, size_t size) noexcept {
  alloc_count::CountAlloc(size, false);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  alloc_count::CountAlloc(size, false);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  alloc_count::CountAlloc(size, false);
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"

// operator new is counted on its own as well (then as the malloc it calls).
void* operator new(size_t size) {
  alloc_count::CountAlloc(size, true);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) {
  alloc_count::CountAlloc(size, true);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif  // NETMAN_COUNT_ALLOCS

namespace netman {
namespace {

constexpr int kLoops = 2;
constexpr uint32_t kMessageId = 9;

using ::netman::testing::RunOnLoopAndWait;

// The loops and their threads, shared by every benchmark of the process
// (created on first use, stopped at exit).
class LoopPool {
 public:
  static LoopPool& Get() {
    static LoopPool pool;
    return pool;
  }
  ~LoopPool() {
    for (auto& loop : loops_) loop->Quit();
    for (std::thread& t : threads_) t.join();
  }
  EventLoop* loop(int i) { return loops_[static_cast<size_t>(i)].get(); }

 private:
  LoopPool() {
    for (int i = 0; i < kLoops; ++i) {
      absl::StatusOr<std::unique_ptr<EventLoop>> loop =
          EventLoop::Create({.poller_factory = testing::FakePoller::Create});
      if (!loop.ok()) std::abort();
      loops_.push_back(std::move(*loop));
      threads_.emplace_back([l = loops_.back().get()]() { l->Run(); });
    }
  }
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

// Waits for a number of loops to report.
class Countdown {
 public:
  void Reset(int n) {
    MutexLock lock(&mu_);
    pending_ = n;
  }
  void Arrive() {
    MutexLock lock(&mu_);
    --pending_;
  }
  bool Wait(absl::Duration timeout) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return pending_ == 0; }, timeout);
  }

 private:
  Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
};

// One loop's share of a harness. Fields marked "loop" are touched by the loop
// thread while a broadcast is in flight; the benchmark thread sets `target`
// and `verify_frame` before it posts the check that reads them (the post's
// lock orders the accesses), and reads `bytes_written` only after the check
// reported.
struct LoopShare {
  EventLoop* loop = nullptr;
  std::vector<ConnectionPtr> connections;
  uint64_t bytes_written = 0;   // loop: all of this loop's transports
  uint64_t target = 0;          // bytes_written once the last broadcast applied
  std::string_view verify_frame;  // non-empty: writes are checked against it
  uint64_t bad_writes = 0;      // loop: writes that were not whole copies of it
  Countdown* applied = nullptr;
};

// A Transport that counts what the connection flushes and drops it (so
// memory does not grow with the number of broadcasts).
class CountingTransport final : public Transport {
 public:
  explicit CountingTransport(LoopShare* share) : share_(share) {}

  absl::StatusOr<ReadResult> Read(int, std::span<char>, Buffer&) override {
    return ReadResult{};
  }
  absl::StatusOr<WriteResult> Write(int, Buffer& plaintext) override {
    const size_t n = plaintext.size();
    if (!share_->verify_frame.empty()) [[unlikely]] Verify(plaintext.readable());
    bytes_ += n;
    share_->bytes_written += n;
    plaintext.Consume(n);
    return WriteResult{.wire_bytes = n, .pending = 0};
  }
  size_t pending_bytes() const override { return 0; }
  bool ready() const override { return true; }

  uint64_t bytes() const { return bytes_; }

 private:
  void Verify(std::string_view bytes) {
    const std::string_view frame = share_->verify_frame;
    bool good = bytes.size() % frame.size() == 0 && !bytes.empty();
    for (size_t at = 0; good && at < bytes.size(); at += frame.size()) {
      good = bytes.substr(at, frame.size()) == frame;
    }
    if (!good) ++share_->bad_writes;
  }

  LoopShare* const share_;
  uint64_t bytes_ = 0;
};

// Connection events nobody needs here; counts closes so that teardown can
// wait for them.
class QuietEvents final : public ConnectionEvents {
 public:
  void OnOpen(Connection&) override {}
  void OnClosed(Connection&, const absl::Status&) override {
    closed_.fetch_add(1, std::memory_order_relaxed);
  }
  int closed() const { return closed_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> closed_{0};
};

// On the loop: reports once every connection of the loop has flushed what
// was broadcast so far. Flushes are tasks the connections posted on this
// loop (Connection::QueueFlush) before this check, so they run no later
// than the check's next round.
void ReportWhenApplied(LoopShare* share) {
  if (share->bytes_written >= share->target) {
    share->applied->Arrive();
    return;
  }
  share->loop->Post([share]() { ReportWhenApplied(share); });
}

// N open connections over the pool's loops, in a ConnectionManager.
class Harness {
 public:
  Harness(int connections, size_t body_size)
      : body_(body_size, 'b'),
        protocol_(&packer_, &router_, &logger_, FramedProtocol::Options{}) {
    context_.events = &events_;
    Buffer frame;
    packer_.Encode(kMessageId, body_, frame);
    frame_ = std::string(frame.readable());
    LoopPool& pool = LoopPool::Get();
    for (int i = 0; i < kLoops; ++i) {
      LoopShare& share = shares_[static_cast<size_t>(i)];
      share.loop = pool.loop(i);
      share.applied = &applied_;
    }
    // Connection i lives on loop i % kLoops; each loop builds and starts its own.
    for (LoopShare& share : shares_) {
      const int index = static_cast<int>(&share - shares_.data());
      RunOnLoopAndWait(share.loop, [&]() {
        for (int id = index; id < connections; id += kLoops) {
          auto c = std::make_shared<Connection>(share.loop, UniqueFd(), static_cast<uint64_t>(id),
                                                SocketAddress(), &context_,
                                                std::make_unique<CountingTransport>(&share));
          if (!c->Start(ProtocolPtr::Shared(&protocol_)).ok() || !c->is_open()) std::abort();
          share.connections.push_back(std::move(c));
        }
      });
      for (const ConnectionPtr& c : share.connections) manager_.Add(c);
    }
    connections_ = connections;
  }

  ~Harness() {
    for (LoopShare& share : shares_) {
      RunOnLoopAndWait(share.loop, [&]() {
        for (const ConnectionPtr& c : share.connections) {
          c->ForceClose(absl::CancelledError("benchmark done"));
        }
      });
    }
    // OnClosed runs from tasks the closes posted; the connections, the
    // context and the protocol must outlive them.
    while (events_.closed() < connections_) std::this_thread::yield();
    for (LoopShare& share : shares_) {
      RunOnLoopAndWait(share.loop, [&]() { share.connections.clear(); });
    }
  }

  ConnectionManager& manager() { return manager_; }
  const std::string& body() const { return body_; }
  int connections() const { return connections_; }

  // Waits until every connection has flushed every broadcast so far (one
  // more frame each since the last call; `frames` = 0 for a bare barrier).
  // False on timeout.
  bool WaitApplied(int frames = 1) {
    applied_.Reset(kLoops);
    for (LoopShare& share : shares_) {
      share.target += share.connections.size() * frame_.size() * static_cast<uint64_t>(frames);
      share.loop->Post([s = &share]() { ReportWhenApplied(s); });
    }
    return applied_.Wait(absl::Seconds(60));
  }

  // Broadcasts once, checking every byte each connection flushes against the
  // expected frame; then checks the per-connection byte counts. Untimed.
  std::string WarmUpAndVerify(const std::function<void()>& broadcast) {
    for (LoopShare& share : shares_) share.verify_frame = frame_;
    broadcast();
    if (!WaitApplied()) return "broadcast not applied within 60 s";
    for (LoopShare& share : shares_) share.verify_frame = {};
    for (const LoopShare& share : shares_) {
      if (share.bad_writes != 0) return "a connection wrote bytes other than the frame";
    }
    return Check();
  }

  // Every connection flushed exactly the bytes expected so far.
  std::string Check() {
    std::string error;
    for (LoopShare& share : shares_) {
      RunOnLoopAndWait(share.loop, [&]() {
        const uint64_t each = share.target / std::max<size_t>(share.connections.size(), 1);
        for (const ConnectionPtr& c : share.connections) {
          auto* t = static_cast<CountingTransport*>(c->transport());
          if (t->bytes() != each || !c->is_open()) error = "a connection missed a frame";
        }
        if (share.bytes_written != share.target) error = "loop byte count off";
      });
    }
    return error;
  }

 private:
  std::string body_;
  std::string frame_;
  DefaultPacker packer_;
  Router router_;
  Logger logger_;
  FramedProtocol protocol_;
  QuietEvents events_;
  ConnectionContext context_;
  std::array<LoopShare, kLoops> shares_;
  Countdown applied_;
  ConnectionManager manager_;
  int connections_ = 0;
};

// The Broadcast that ConnectionManager had before the rewrite, verbatim but
// for the is_open() filter ForEach() applies: Send() to each connection of a
// snapshot, from the caller's thread. Today's Connection::Send() from
// another thread copies the body into a Buffer, posts one task per recipient
// (its capture, 32 bytes, is heap-allocated by AnyInvocable) and encodes on
// the loop into the connection's output buffer. When the old Broadcast was
// current, Send() encoded on the caller's thread instead and the loop moved
// the frame into the empty output buffer: the same number of posted tasks,
// with the encode on the other side of the hop and one allocation and one
// body copy per recipient fewer. This baseline is therefore the old
// algorithm on today's Connection, give or take where the encode runs.
size_t OldBroadcast(const ConnectionManager& manager, uint32_t message_id,
                    std::string_view body) {
  size_t sent = 0;
  for (const ConnectionPtr& c : manager.Snapshot()) {
    if (c->is_open() && c->Send(message_id, body).ok()) ++sent;
  }
  return sent;
}

int64_t MinorFaults() {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return usage.ru_minflt;
}

enum class Algorithm { kNew, kOld, kNone };

void RunBroadcast(benchmark::State& state, Algorithm algorithm) {
  const int n = static_cast<int>(state.range(0));
  const size_t body_size = static_cast<size_t>(state.range(1));
  Harness h(n, body_size);
  ConnectionManager& manager = h.manager();
  const std::string_view body = h.body();
  auto broadcast = [&]() -> size_t {
    switch (algorithm) {
      case Algorithm::kNew:
        return manager.Broadcast(kMessageId, body);
      case Algorithm::kOld:
        return OldBroadcast(manager, kMessageId, body);
      case Algorithm::kNone:
        return 0;
    }
    return 0;
  };
  const int frames = algorithm == Algorithm::kNone ? 0 : 1;
  if (algorithm != Algorithm::kNone) {
    // The first broadcast also grows the loops' task vectors to their
    // steady-state capacity.
    const std::string error = h.WarmUpAndVerify([&]() {
      if (broadcast() != static_cast<size_t>(n)) std::abort();
    });
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
  }

  const alloc_count::Totals before = alloc_count::Read();
  const int64_t faults_before = MinorFaults();
  for (auto _ : state) {
    benchmark::DoNotOptimize(broadcast());
    if (!h.WaitApplied(frames)) {
      state.SkipWithError("broadcast not applied within 60 s");
      return;
    }
  }
  const alloc_count::Totals after = alloc_count::Read();
  const int64_t faults = MinorFaults() - faults_before;

  const std::string error = h.Check();
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  const double iterations = static_cast<double>(state.iterations());
  if (NETMAN_COUNT_ALLOCS) {
    state.counters["allocs"] = static_cast<double>(after.allocs - before.allocs) / iterations;
    state.counters["news"] = static_cast<double>(after.news - before.news) / iterations;
    state.counters["alloc_bytes"] =
        static_cast<double>(after.bytes - before.bytes) / iterations;
  }
  state.counters["page_faults"] = static_cast<double>(faults) / iterations;
  // Seconds per recipient: (iterations * n) / time, inverted.
  state.counters["per_recipient"] =
      benchmark::Counter(iterations * n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(body_size));
}

void BM_BroadcastNew(benchmark::State& state) { RunBroadcast(state, Algorithm::kNew); }
void BM_BroadcastOld(benchmark::State& state) { RunBroadcast(state, Algorithm::kOld); }
void BM_BarrierOnly(benchmark::State& state) { RunBroadcast(state, Algorithm::kNone); }

void BroadcastArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"conns", "body"})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (int64_t n : {1000, 10000}) {
    for (int64_t body : {64, 4096}) b->Args({n, body});
  }
}

BENCHMARK(BM_BroadcastNew)->Apply(BroadcastArgs);
BENCHMARK(BM_BroadcastOld)->Apply(BroadcastArgs);
BENCHMARK(BM_BarrierOnly)
    ->ArgNames({"conns", "body"})
    ->Args({10000, 64})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace netman
