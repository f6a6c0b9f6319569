// Copyright netman authors.
//
// Microbenchmarks of routing: Router::Find() for dense ids (flat array) and
// sparse ids (hash map), and Router::Dispatch() running a handler through
// std::function with 0, 1 and 3 middleware (global and group), next to a
// direct std::function call for scale.
//
//   bazel run -c opt //netman/router:router_benchmark
//
// Threading: single-threaded benchmarks.
#include <cstdint>
#include <string_view>
#include <vector>

#include "benchmark/benchmark.h"
#include "netman/base/unique_fd.h"
#include "netman/codec/packer.h"
#include "netman/net/connection.h"
#include "netman/net/socket_address.h"
#include "netman/router/request.h"
#include "netman/router/router.h"

namespace netman {
namespace {

constexpr int kRoutes = 16;

uint32_t SparseId(int i) { return 1000000u + static_cast<uint32_t>(i) * 7919u; }

// A handler with a little work the compiler cannot drop.
Handler CountingHandler(uint64_t* sink) {
  return [sink](Request& r) { *sink += r.body().size(); };
}

// Dispatch hands the connection on to the handler; it is never started here.
Connection& IdleConnection() {
  static Connection connection(nullptr, UniqueFd(), 1, SocketAddress(), nullptr);
  return connection;
}

void BM_FindDense(benchmark::State& state) {
  Router router;
  uint64_t sink = 0;
  for (int i = 0; i < kRoutes; ++i)
    (void)router.AddRouter(static_cast<uint32_t>(i), CountingHandler(&sink));
  uint32_t id = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(router.Find(id));
    id = (id + 1) & (kRoutes - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindDense);

void BM_FindSparse(benchmark::State& state) {
  Router router;
  uint64_t sink = 0;
  std::vector<uint32_t> ids;
  for (int i = 0; i < kRoutes; ++i) {
    ids.push_back(SparseId(i));
    (void)router.AddRouter(ids.back(), CountingHandler(&sink));
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(router.Find(ids[i]));
    i = (i + 1) & (kRoutes - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindSparse);

// An id nobody routes, above the dense range: the hash-map miss.
void BM_FindSparseMiss(benchmark::State& state) {
  Router router;
  uint64_t sink = 0;
  for (int i = 0; i < kRoutes; ++i)
    (void)router.AddRouter(SparseId(i), CountingHandler(&sink));
  for (auto _ : state) benchmark::DoNotOptimize(router.Find(5000));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindSparseMiss);

// The floor: calling the handler's std::function directly.
void BM_CallStdFunction(benchmark::State& state) {
  uint64_t sink = 0;
  const Handler handler = CountingHandler(&sink);
  const Message message{3, "payload"};
  Request request(IdleConnection(), message);
  for (auto _ : state) {
    handler(request);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CallStdFunction);

// Router::Dispatch with `range(0)` global middleware that each call next(),
// to a dense (arg 1 = 0) or sparse (arg 1 = 1) route.
void BM_Dispatch(benchmark::State& state) {
  Router router;
  uint64_t sink = 0;
  const bool sparse = state.range(1) != 0;
  for (int i = 0; i < kRoutes; ++i) {
    (void)router.AddRouter(sparse ? SparseId(i) : static_cast<uint32_t>(i),
                           CountingHandler(&sink));
  }
  for (int64_t i = 0; i < state.range(0); ++i) {
    (void)router.Use([&sink](Request& r, const Next& next) {
      ++sink;
      next();
    });
  }
  const Message message{sparse ? SparseId(3) : 3u, "payload"};
  Request request(IdleConnection(), message);
  for (auto _ : state) {
    benchmark::DoNotOptimize(router.Dispatch(request));
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dispatch)
    ->ArgNames({"middleware", "sparse"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({3, 0})
    ->Args({0, 1})
    ->Args({3, 1});

// One global middleware plus a group with two: three in all, across the
// global/group boundary.
void BM_DispatchGroup3Middleware(benchmark::State& state) {
  Router router;
  uint64_t sink = 0;
  const Middleware pass = [&sink](Request& r, const Next& next) {
    ++sink;
    next();
  };
  (void)router.Use(pass);
  RouteGroup& group = router.Group({pass, pass});
  for (int i = 0; i < kRoutes; ++i)
    (void)group.AddRouter(static_cast<uint32_t>(i), CountingHandler(&sink));
  const Message message{3, "payload"};
  Request request(IdleConnection(), message);
  for (auto _ : state) {
    benchmark::DoNotOptimize(router.Dispatch(request));
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DispatchGroup3Middleware);

}  // namespace
}  // namespace netman
