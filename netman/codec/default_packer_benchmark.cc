// Copyright netman authors.
//
// Microbenchmarks of the default packer's hot paths: decoding a frame from
// received bytes and encoding a reply into an output Buffer, for 64 B and
// 4 KiB bodies, called through the Packer interface as the framework does.
//
//   bazel run -c opt //netman/codec:default_packer_benchmark
//
// Threading: single-threaded benchmarks.
#include <cstdint>
#include <string>
#include <string_view>

#include "benchmark/benchmark.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"
#include "netman/codec/packer.h"

namespace netman {
namespace {

// The framework holds packers as `const Packer*`; keep the call virtual.
const Packer& TheDefaultPacker() {
  static const DefaultPacker packer;
  const Packer* p = &packer;
  benchmark::DoNotOptimize(p);
  return *p;
}

std::string Frames(size_t body_size, int count) {
  Buffer out;
  const std::string body(body_size, 'x');
  for (int i = 0; i < count; ++i) TheDefaultPacker().Encode(7, body, out);
  return std::string(out.readable());
}

// One complete frame.
void BM_Decode(benchmark::State& state) {
  const Packer& packer = TheDefaultPacker();
  const std::string frame = Frames(static_cast<size_t>(state.range(0)), 1);
  DecodeResult r;
  for (auto _ : state) {
    absl::Status s = packer.Decode(frame, &r);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(frame.size()));
}
BENCHMARK(BM_Decode)->Arg(64)->Arg(4096);

// A read holding 16 pipelined frames, decoded one after another the way the
// framed protocol walks its input.
void BM_DecodeBatchOf16(benchmark::State& state) {
  const Packer& packer = TheDefaultPacker();
  const std::string input = Frames(static_cast<size_t>(state.range(0)), 16);
  for (auto _ : state) {
    std::string_view rest = input;
    DecodeResult r;
    while (!rest.empty()) {
      if (!packer.Decode(rest, &r).ok() || !r.complete) break;
      benchmark::DoNotOptimize(r.message.body.data());
      rest.remove_prefix(r.consumed);
    }
  }
  state.SetItemsProcessed(state.iterations() * 16);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_DecodeBatchOf16)->Arg(64)->Arg(4096);

// Only part of the header has arrived.
void BM_DecodeNeedMore(benchmark::State& state) {
  const Packer& packer = TheDefaultPacker();
  const std::string frame = Frames(64, 1).substr(0, 5);
  DecodeResult r;
  for (auto _ : state) {
    absl::Status s = packer.Decode(frame, &r);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeNeedMore);

// The StatusOr convenience (DecodeOne), for comparison: what the hot path
// would pay for returning the result by value inside an absl::StatusOr.
void BM_DecodeOneStatusOr(benchmark::State& state) {
  const Packer& packer = TheDefaultPacker();
  const std::string frame = Frames(64, 1);
  for (auto _ : state) {
    absl::StatusOr<DecodeResult> r = DecodeOne(packer, frame);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOneStatusOr);

// Encoding a reply into an output buffer that already has room (the steady
// state of a busy connection).
void BM_Encode(benchmark::State& state) {
  const Packer& packer = TheDefaultPacker();
  const std::string body(static_cast<size_t>(state.range(0)), 'x');
  Buffer out;
  for (auto _ : state) {
    packer.Encode(7, body, out);
    benchmark::DoNotOptimize(out.data());
    out.Clear();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(
      state.iterations() *
      static_cast<int64_t>(body.size() + DefaultPacker::kHeaderSize));
}
BENCHMARK(BM_Encode)->Arg(64)->Arg(4096);

// Encoding 16 replies into one buffer that starts out released, then
// releasing it, as a connection does for each batch it flushes.
void BM_EncodeBatchOf16FromEmpty(benchmark::State& state) {
  const Packer& packer = TheDefaultPacker();
  const std::string body(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    Buffer out;
    for (int i = 0; i < 16; ++i) packer.Encode(7, body, out);
    benchmark::DoNotOptimize(out.data());
    out.Release();
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_EncodeBatchOf16FromEmpty)->Arg(64)->Arg(4096);

}  // namespace
}  // namespace netman
