// Copyright netman authors.
//
// Publishing to a topic of N WebSocket subscribers against sending the same
// message to each with a loop of Connection::Send(), in the same run:
//   * BM_Publish: Topics::Publish() (ConnectionManager::BroadcastTo: one
//     task per loop, the frame encoded once per loop, copied to each
//     subscriber, one flush task per loop);
//   * BM_PublishDeflate: the same for subscribers that negotiated
//     permessage-deflate without context takeover (compressed once per
//     loop with the loop's shared compressor);
//   * BM_SendLoop: Send() to every subscriber from the caller's thread (one
//     posted task and one encoding per subscriber).
// N = 10,000 connections over 2 event loops (threads), bodies of 64 B and
// 4 KiB. No sockets (10,000 connections would need 20,000 fds): each loop
// has a FakePoller and each connection is a real Connection with the real
// WsProtocol behind a Transport that counts the flushed bytes and drops
// them. One iteration = one publish AND its application by every
// connection (the caller waits until every byte reached the transports).
//
// Reported: Time (real) per publish; cpu_per_publish, the process CPU time
// (all threads) per publish.
//
//   bazel run -c opt //netman/ws:publish_benchmark -- --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true
//       --benchmark_display_aggregates_only=true
//
// Threading: the benchmark thread publishes; the loop threads own the
// connections; loop-only work is posted to them.
#include <malloc.h>
#include <time.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "benchmark/benchmark.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/net/connection.h"
#include "netman/net/event_loop.h"
#include "netman/net/socket_address.h"
#include "netman/net/transport.h"
#include "netman/router/router.h"
#include "netman/testing/fake_poller.h"
#include "netman/testing/run_on_loop.h"
#include "netman/ws/permessage_deflate.h"
#include "netman/ws/topics.h"
#include "netman/ws/ws_protocol.h"

namespace netman::ws {
namespace {

constexpr int kLoops = 2;

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

using ::netman::testing::RunOnLoopAndWait;

// One loop's connections and the bytes they flushed (loop thread).
struct LoopShare {
  EventLoop* loop = nullptr;
  std::unique_ptr<std::thread> thread;
  std::vector<ConnectionPtr> connections;
  uint64_t bytes_written = 0;
  uint64_t target = 0;
};

class CountingTransport final : public Transport {
 public:
  explicit CountingTransport(LoopShare* share) : share_(share) {}
  absl::StatusOr<ReadResult> Read(int, std::span<char>, Buffer&) override { return ReadResult{}; }
  absl::StatusOr<WriteResult> Write(int, Buffer& plaintext) override {
    const size_t n = plaintext.size();
    share_->bytes_written += n;
    plaintext.Consume(n);
    return WriteResult{.wire_bytes = n, .pending = 0};
  }
  size_t pending_bytes() const override { return 0; }
  bool ready() const override { return true; }

 private:
  LoopShare* const share_;
};

class QuietEvents final : public ConnectionEvents {
 public:
  void OnOpen(Connection&) override {}
  void OnClosed(Connection&, const absl::Status&) override { closed.fetch_add(1); }
  std::atomic<int> closed{0};
};

class Harness {
 public:
  Harness(int connections, bool deflate) {
    options_.permessage_deflate = deflate;
    context_.options = &options_;
    context_.router = &router_;
    context_.logger = &logger_;
    context_.deflate = deflate ? &codecs_ : nullptr;
    endpoint_ = std::make_unique<WsEndpoint>(&context_, WsHandler{});
    events_context_.events = &events_;
    for (int i = 0; i < kLoops; ++i) {
      LoopShare& share = shares_[static_cast<size_t>(i)];
      loops_.push_back(*EventLoop::Create({.poller_factory = testing::FakePoller::Create}));
      share.loop = loops_.back().get();
      share.thread = std::make_unique<std::thread>([l = share.loop] { l->Run(); });
    }
    for (int i = 0; i < kLoops; ++i) {
      LoopShare& share = shares_[static_cast<size_t>(i)];
      RunOnLoopAndWait(share.loop, [&] {
        for (int id = i; id < connections; id += kLoops) {
          auto c = std::make_shared<Connection>(share.loop, UniqueFd(), static_cast<uint64_t>(id),
                                                SocketAddress(), &events_context_,
                                                std::make_unique<CountingTransport>(&share));
          if (!c->Start(ProtocolPtr::Shared(endpoint_->shared(deflate, 15))).ok()) std::abort();
          c->MarkProtocolReady();  // as the upgrade does after its 101
          if (!c->is_open()) std::abort();
          share.connections.push_back(c);
        }
      });
      for (const ConnectionPtr& c : share.connections) topics_.Subscribe("t", *c);
    }
    connections_ = connections;
  }

  ~Harness() {
    for (LoopShare& share : shares_) {
      RunOnLoopAndWait(share.loop, [&] {
        for (const ConnectionPtr& c : share.connections) c->ForceClose(absl::CancelledError(""));
      });
    }
    while (events_.closed.load() < connections_) std::this_thread::yield();
    for (LoopShare& share : shares_) {
      RunOnLoopAndWait(share.loop, [&] { share.connections.clear(); });
      share.loop->Quit();
      share.thread->join();
    }
  }

  Topics& topics() { return topics_; }
  std::array<LoopShare, kLoops>& shares() { return shares_; }

  // Waits until every loop's transports saw `bytes` more than before.
  void WaitForBytes(const std::array<uint64_t, kLoops>& expected) {
    for (int i = 0; i < kLoops; ++i) {
      LoopShare& share = shares_[static_cast<size_t>(i)];
      for (;;) {
        uint64_t now = 0;
        RunOnLoopAndWait(share.loop, [&] { now = share.bytes_written; });
        if (now >= expected[static_cast<size_t>(i)]) break;
      }
    }
  }
  std::array<uint64_t, kLoops> BytesNow() {
    std::array<uint64_t, kLoops> now{};
    for (int i = 0; i < kLoops; ++i) {
      RunOnLoopAndWait(shares_[static_cast<size_t>(i)].loop,
                       [&] { now[static_cast<size_t>(i)] = shares_[static_cast<size_t>(i)].bytes_written; });
    }
    return now;
  }

 private:
  WsOptions options_;
  Router router_;
  Logger logger_;
  DeflateCodecs codecs_;
  WsServerContext context_;
  std::unique_ptr<WsEndpoint> endpoint_;
  QuietEvents events_;
  ConnectionContext events_context_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::array<LoopShare, kLoops> shares_;
  Topics topics_;
  int connections_ = 0;
};

enum class Way { kPublish, kSendLoop };

void Run(benchmark::State& state, Way way, bool deflate) {
  const int n = static_cast<int>(state.range(0));
  const std::string body(static_cast<size_t>(state.range(1)), 'b');
  Harness harness(n, deflate);
  // Bytes one message adds per loop (measured once).
  std::array<uint64_t, kLoops> before = harness.BytesNow();
  harness.topics().Publish("t", kBinary, body);
  std::array<uint64_t, kLoops> per_message{};
  for (;;) {
    std::array<uint64_t, kLoops> now = harness.BytesNow();
    bool done = true;
    for (int i = 0; i < kLoops; ++i) {
      per_message[i] = now[i] - before[i];
      done = done && per_message[i] > 0;
    }
    if (done) {
      // Settle: the counts stop growing once every flush ran.
      std::array<uint64_t, kLoops> again = harness.BytesNow();
      if (again == now) break;
    }
  }
  std::array<uint64_t, kLoops> expected = harness.BytesNow();
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    if (way == Way::kPublish) {
      harness.topics().Publish("t", kBinary, body);
    } else {
      for (LoopShare& share : harness.shares()) {
        for (const ConnectionPtr& c : share.connections) (void)c->Send(kBinary, body);
      }
    }
    for (int i = 0; i < kLoops; ++i) expected[i] += per_message[i];
    harness.WaitForBytes(expected);
  }
  state.counters["cpu_per_publish"] = benchmark::Counter(
      (ProcessCpuSeconds() - cpu0) / static_cast<double>(state.iterations()));
}

void BM_Publish(benchmark::State& state) { Run(state, Way::kPublish, false); }
void BM_PublishDeflate(benchmark::State& state) { Run(state, Way::kPublish, true); }
void BM_SendLoop(benchmark::State& state) { Run(state, Way::kSendLoop, false); }

void Args(benchmark::internal::Benchmark* b) {
  b->Args({10000, 64})->Args({10000, 4096})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// The cost of permessage-deflate per message on the send side: framing a
// 4 KiB text message plain, compressed with the loop's shared compressor (no
// context takeover, the default) and with a per-connection compressor that
// keeps its context; and inflating it. `heap_per_connection` is the heap a
// per-connection compressor holds (mallinfo2 around its creation): what
// context takeover costs every idle connection.
std::string SampleText(size_t n) {
  std::string text;
  for (size_t i = 0; text.size() < n; ++i) {
    text += "{\"user\":\"u" + std::to_string(i % 97) + "\",\"text\":\"hello number " +
            std::to_string(i) + "\"}\n";
  }
  text.resize(n);
  return text;
}

void BM_EncodeMode(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));  // 0 plain, 1 shared, 2 takeover
  WsOptions options;
  options.permessage_deflate = mode != 0;
  DeflateCodecs codecs;
  Router router;
  Logger logger;
  WsServerContext context{&options, &router, &logger, mode != 0 ? &codecs : nullptr, {}};
  WsEndpoint endpoint(&context, WsHandler{});
  const size_t before = mallinfo2().uordblks;
  ProtocolPtr protocol = endpoint.ProtocolFor(mode != 0, mode == 2, 15);
  const size_t held = mallinfo2().uordblks - before;
  const std::string text = SampleText(4096);
  Buffer out;
  size_t bytes = 0;
  for (auto _ : state) {
    if (!protocol->Encode(kText, text, out).ok()) std::abort();
    bytes += out.size();
    out.Consume(out.size());
  }
  state.counters["wire_bytes"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
  state.counters["heap_per_connection"] = static_cast<double>(held);
}
BENCHMARK(BM_EncodeMode)->Arg(0)->Arg(1)->Arg(2);

void BM_Inflate(benchmark::State& state) {
  auto deflater = Deflater::Create(15);
  auto inflater = Inflater::Create();
  std::string compressed, out;
  if (!(*deflater)->Compress(SampleText(4096), true, compressed).ok()) std::abort();
  for (auto _ : state) {
    if (!(*inflater)->Decompress(compressed, 0, out).ok()) std::abort();
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Inflate);

BENCHMARK(BM_Publish)->Apply(Args);
BENCHMARK(BM_PublishDeflate)->Apply(Args);
BENCHMARK(BM_SendLoop)->Apply(Args);

}  // namespace
}  // namespace netman::ws
