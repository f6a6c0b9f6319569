// Copyright netman authors.
//
// Microbenchmarks of Buffer's append/consume patterns: the steady state of a
// busy connection (storage kept), the release-after-every-flush pattern that
// keeps idle connections free of buffers (one malloc/free per batch), partial
// consumption with compaction, and growth to large sizes.
//
//   bazel run -c opt //netman/buffer:buffer_benchmark
//
// Threading: single-threaded benchmarks.
#include <cstdint>
#include <string>

#include "benchmark/benchmark.h"
#include "netman/buffer/buffer.h"

namespace netman {
namespace {

// Append n bytes, consume them all; the storage stays allocated.
void BM_AppendConsume(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  Buffer buffer;
  for (auto _ : state) {
    buffer.Append(data);
    benchmark::DoNotOptimize(buffer.data());
    buffer.Consume(buffer.size());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AppendConsume)->Arg(64)->Arg(4096)->Arg(65536);

// Append n bytes to a released buffer, then release it: what an output
// buffer goes through per flushed batch (malloc + free every time).
void BM_AppendRelease(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  Buffer buffer;
  for (auto _ : state) {
    buffer.Append(data);
    benchmark::DoNotOptimize(buffer.data());
    buffer.Release();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AppendRelease)
    ->Arg(64)
    ->Arg(1152)
    ->Arg(4096)
    ->Arg(65664)
    ->Arg(262144);

// Reserve with Writable(), fill, Commit(), as a reader or encoder does.
void BM_WritableCommit(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Buffer buffer;
  for (auto _ : state) {
    char* p = buffer.Writable(n);
    p[0] = 'x';
    p[n - 1] = 'y';
    buffer.Commit(n);
    benchmark::DoNotOptimize(buffer.data());
    buffer.Clear();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WritableCommit)->Arg(72)->Arg(4104);

// Append 100 bytes and consume 64: unread bytes pile up at the back and
// MakeRoom() slides them to the front now and then.
void BM_PartialConsume(benchmark::State& state) {
  const std::string data(100, 'x');
  Buffer buffer;
  for (auto _ : state) {
    buffer.Append(data);
    buffer.Consume(64);
    if (buffer.size() > 16384) buffer.Clear();
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(state.iterations() * 100);
}
BENCHMARK(BM_PartialConsume);

// Grow from empty to `range` bytes in 4 KiB appends, then release: a large
// message or a slow reader.
void BM_GrowThenRelease(benchmark::State& state) {
  const std::string chunk(4096, 'x');
  const int64_t total = state.range(0);
  for (auto _ : state) {
    Buffer buffer;
    for (int64_t n = 0; n < total; n += 4096) buffer.Append(chunk);
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(state.iterations() * total);
}
BENCHMARK(BM_GrowThenRelease)->Arg(64 << 10)->Arg(1 << 20);

// Moving a Buffer (a cross-thread Send() moves its encoded frame).
void BM_Move(benchmark::State& state) {
  Buffer a;
  a.Append(std::string(64, 'x'));
  for (auto _ : state) {
    Buffer b(std::move(a));
    benchmark::DoNotOptimize(b.data());
    a = std::move(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Move);

}  // namespace
}  // namespace netman
