// The blocking pool's round trip: a routine hands fn to a pool thread and resumes with its
// result, which comes home through the shard's inbox. Go's peer (bench/peers/go, "go_
// syscall_round_trip") is a goroutine that makes the same syscall and answers on a
// channel: what a Go program pays for blocking work off the calling goroutine.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <vector>

#include "ringo/ringo.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

Runtime make_runtime(Backend backend, uint32_t threads = BlockingPoolConfig{}.max_threads) {
  RuntimeConfig c;
  c.shards = 1;
  c.backend = backend;
  c.blocking.max_threads = threads;
  auto rt = Runtime::create(c);
  if (!rt) std::abort();
  return std::move(*rt);
}

// One call at a time: getppid() on a pool thread and back.
void blocking_round_trip(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) {
      auto call = blocking([] { return ::getppid(); });
      benchmark::DoNotOptimize(co_await call);
    }
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

Task<void> caller(int calls) {
  for (int i = 0; i < calls; ++i) {
    auto call = blocking([] { return ::getppid(); });
    benchmark::DoNotOptimize(co_await call);
  }
}

// 64 routines calling at once, through a pool of `threads`: per call.
void blocking_concurrent_64(benchmark::State& state, Backend backend, uint32_t threads) {
  auto rt = make_runtime(backend, threads);
  constexpr int kRoutines = 64;
  constexpr int kCalls = 100;
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) {
      std::vector<JoinHandle<void>> hs;
      for (int r = 0; r < kRoutines; ++r) hs.push_back(go(caller(kCalls)));
      for (auto& h : hs) (void)co_await h.join();
    }
  }(&state));
  state.SetItemsProcessed(state.iterations() * kRoutines * kCalls);
}

BENCHMARK_CAPTURE(blocking_round_trip, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(blocking_round_trip, aio, Backend::aio)->UseRealTime();
BENCHMARK_CAPTURE(blocking_concurrent_64, uring_64_threads, Backend::uring, 64)->UseRealTime();
BENCHMARK_CAPTURE(blocking_concurrent_64, uring_2_threads, Backend::uring, 2)->UseRealTime();

}  // namespace
}  // namespace ringo

BENCHMARK_MAIN();
