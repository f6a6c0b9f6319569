// Copyright netman authors.
//
// Why TypedRouter parses into a reused per-thread message: the three ways a
// handler's message can be made, per message, for the benchmark's two
// messages (Blob: one 64-byte bytes field; Scalars: 11 scalar fields).
//
//   Fresh   a new message on the stack per body (the bytes field allocates)
//   Reused  one message, ParseFromArray (Clear() keeps the string capacity)
//   Arena   a new message on a stack-buffer arena per body
//
//   bazel run -c opt //netman/proto:parse_benchmark
#include <string>

#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "netman/proto/test_messages.pb.h"

namespace netman {
namespace {

std::string BlobBody() {
  test::Blob blob;
  blob.set_data(std::string(64, 'x'));
  return blob.SerializeAsString();
}

std::string ScalarsBody() {
  test::Scalars s;
  s.set_i32(123456);
  s.set_i64(-98765432101);
  s.set_u32(4000000000u);
  s.set_u64(uint64_t{1} << 60);
  s.set_s32(-77);
  s.set_s64(-(int64_t{1} << 40));
  s.set_f32(0xdeadbeef);
  s.set_f64(0x0123456789abcdef);
  s.set_d(3.14);
  s.set_f(2.5f);
  s.set_b(true);
  return s.SerializeAsString();
}

template <typename T>
void BM_Fresh(benchmark::State& state, const std::string& body) {
  for (auto _ : state) {
    T message;
    benchmark::DoNotOptimize(message.ParseFromArray(body.data(), static_cast<int>(body.size())));
    benchmark::DoNotOptimize(message);
  }
}

template <typename T>
void BM_Reused(benchmark::State& state, const std::string& body) {
  T message;
  for (auto _ : state) {
    benchmark::DoNotOptimize(message.ParseFromArray(body.data(), static_cast<int>(body.size())));
    benchmark::DoNotOptimize(message);
  }
}

template <typename T>
void BM_Arena(benchmark::State& state, const std::string& body) {
  alignas(8) char block[1024];
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = sizeof(block);
  for (auto _ : state) {
    google::protobuf::Arena arena(options);
    T* message = google::protobuf::Arena::CreateMessage<T>(&arena);
    benchmark::DoNotOptimize(message->ParseFromArray(body.data(), static_cast<int>(body.size())));
    benchmark::DoNotOptimize(message);
  }
}

const std::string& Blob() {
  static const std::string body = BlobBody();
  return body;
}
const std::string& Scalars() {
  static const std::string body = ScalarsBody();
  return body;
}
void BM_FreshBlob(benchmark::State& s) { BM_Fresh<test::Blob>(s, Blob()); }
void BM_ReusedBlob(benchmark::State& s) { BM_Reused<test::Blob>(s, Blob()); }
void BM_ArenaBlob(benchmark::State& s) { BM_Arena<test::Blob>(s, Blob()); }
void BM_FreshScalars(benchmark::State& s) { BM_Fresh<test::Scalars>(s, Scalars()); }
void BM_ReusedScalars(benchmark::State& s) { BM_Reused<test::Scalars>(s, Scalars()); }
void BM_ArenaScalars(benchmark::State& s) { BM_Arena<test::Scalars>(s, Scalars()); }
BENCHMARK(BM_FreshBlob);
BENCHMARK(BM_ReusedBlob);
BENCHMARK(BM_ArenaBlob);
BENCHMARK(BM_FreshScalars);
BENCHMARK(BM_ReusedScalars);
BENCHMARK(BM_ArenaScalars);

}  // namespace
}  // namespace netman
