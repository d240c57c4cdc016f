// Work requesting: does work spawned from one shard use every core? Two workloads,
// each timed on 1 shard, on 2 shards with work requesting, and on 2 shards without it:
//  - fanout: main spawns 10,000 CPU-bound routines of uneven cost (1-100 µs) and joins
//    them all;
//  - pipeline: 100 chains of 100 stages; each stage works, then spawns its successor
//    (from whatever shard it runs on) and joins it.
// The work is a dependent multiply-add chain, the same iterations as the Go peer
// (bench/peers/go_balance), so wall times compare across the two. Prints one line per
// run: "<workload> <config> <ms> ms".
// Usage: balance_bench [uring|aio] [rounds]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ringo/ringo.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

constexpr uint64_t kItersPerUs = 250;  // about 1 µs of the chain on this VM
constexpr int kFanout = 10000;
constexpr int kChains = 100;
constexpr int kStages = 100;

uint64_t cost_of(uint64_t i) { return kItersPerUs * (1 + (i * 2654435761u) % 100); }

uint64_t work(uint64_t iters) {
  uint64_t x = iters;
  for (uint64_t i = 0; i < iters; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

Task<uint64_t> worker(uint64_t i) { co_return work(cost_of(i)); }

Task<uint64_t> fanout() {
  std::vector<JoinHandle<uint64_t>> hs;
  hs.reserve(kFanout);
  for (int i = 0; i < kFanout; ++i) hs.push_back(spawn(worker(static_cast<uint64_t>(i))));
  uint64_t sum = 0;
  for (auto& h : hs) {
    const auto r = co_await h.join();
    sum += r.value_or(0);
  }
  co_return sum;
}

Task<uint64_t> stage(int chain, int depth) {
  uint64_t x = work(cost_of(static_cast<uint64_t>(chain * kStages + depth)));
  if (depth + 1 < kStages) {
    const auto next = co_await spawn(stage(chain, depth + 1)).join();
    x += next.value_or(0);
  }
  co_return x;
}

Task<uint64_t> pipeline() {
  std::vector<JoinHandle<uint64_t>> hs;
  for (int c = 0; c < kChains; ++c) hs.push_back(spawn(stage(c, 0)));
  uint64_t sum = 0;
  for (auto& h : hs) {
    const auto r = co_await h.join();
    sum += r.value_or(0);
  }
  co_return sum;
}

double time_ms(Backend backend, uint32_t shards, bool requesting, bool pipe) {
  RuntimeConfig c;
  c.backend = backend;
  c.shards = shards;
  c.work_requesting = requesting;
  auto rt = Runtime::create(c);
  if (!rt) {
    std::fprintf(stderr, "balance_bench: %s\n", rt.error().message().c_str());
    std::exit(2);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto sum = rt->block_on(pipe ? pipeline() : fanout());
  const auto t1 = std::chrono::steady_clock::now();
  if (!sum || *sum == 0) std::exit(3);
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

}  // namespace
}  // namespace ringo

int main(int argc, char** argv) {
  using ringo::Backend;
  Backend backend = Backend::uring;
  if (argc > 1 && std::strcmp(argv[1], "aio") == 0) backend = Backend::aio;
  if (argc > 1 && std::strcmp(argv[1], "aio") != 0 && std::strcmp(argv[1], "uring") != 0) {
    std::fprintf(stderr, "usage: balance_bench [uring|aio] [rounds]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (rounds <= 0) {
    std::fprintf(stderr, "balance_bench: rounds must be a positive number\n");
    return 2;
  }
  for (int r = 0; r < rounds; ++r) {
    for (const bool pipe : {false, true}) {
      const char* name = pipe ? "pipeline" : "fanout";
      std::printf("%s 1shard %.1f ms\n", name, ringo::time_ms(backend, 1, true, pipe));
      std::printf("%s 2shards %.1f ms\n", name, ringo::time_ms(backend, 2, true, pipe));
      std::printf("%s 2shards_norequest %.1f ms\n", name, ringo::time_ms(backend, 2, false, pipe));
      std::fflush(stdout);
    }
  }
  return 0;
}
