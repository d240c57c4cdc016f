// Boost.Fiber peer for bench/compare.sh: spawn+join of a fiber with pooled stacks.
#include <benchmark/benchmark.h>

#include <boost/fiber/all.hpp>

static void fiber_spawn_join(benchmark::State& state) {
  boost::fibers::pooled_fixedsize_stack stacks(16 * 1024);
  for (auto _ : state) {
    boost::fibers::fiber f(std::allocator_arg, stacks, [] { benchmark::ClobberMemory(); });
    f.join();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(fiber_spawn_join);

BENCHMARK_MAIN();
