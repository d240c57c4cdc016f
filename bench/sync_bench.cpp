// Sync primitives on io_uring: the uncontended paths (one compare-exchange, on any shard)
// and a lock handed between two shards, against a channel of one token (the other design
// docs/sync.md weighs).
#include <benchmark/benchmark.h>

#include "ringo/ringo.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

Runtime make_runtime(uint32_t shards) {
  RuntimeConfig c;
  c.shards = shards;
  c.backend = Backend::uring;
  auto rt = Runtime::create(c);
  if (!rt) std::abort();
  return std::move(*rt);
}

void report_messages(benchmark::State& state, Runtime& rt) {
  (void)rt.shutdown();
  const ShardStats total = rt.stats().total;
  state.counters["envelopes"] =
      static_cast<double>(total.envelopes_delivered) / static_cast<double>(state.iterations());
}

// lock + unlock, nobody else; the mutex homed on `home`, the loop on shard 0.
void mutex_uncontended(benchmark::State& state, uint32_t home) {
  auto rt = make_runtime(2);
  (void)rt.block_on([](benchmark::State* s, uint32_t h) -> Task<void> {
    auto make = submit_to(h, [] { return Mutex(); });
    auto mu = co_await make;
    if (!mu) co_return;
    for (auto _ : *s) {
      auto g = co_await mu->lock();
      benchmark::DoNotOptimize(g);
    }
  }(&state, home));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

// The same with a channel of capacity 1 holding one token: recv locks, send unlocks.
void token_channel_uncontended(benchmark::State& state, uint32_t home) {
  auto rt = make_runtime(2);
  (void)rt.block_on([](benchmark::State* s, uint32_t h) -> Task<void> {
    auto make = submit_to(h, [] { return chan<int>(1); });
    auto ch = co_await make;
    if (!ch) co_return;
    auto& [tx, rx] = *ch;
    (void)co_await tx.send(0);
    for (auto _ : *s) {
      auto token = co_await rx.recv();
      benchmark::DoNotOptimize(token);
      (void)co_await tx.send(0);
    }
  }(&state, home));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

Task<void> contend(Mutex mu, long* counter, long rounds) {
  for (long i = 0; i < rounds; ++i) {
    auto g = co_await mu.lock();
    if (!g) co_return;
    ++*counter;
    co_await yield_now();  // hold it across a tick: the other shard queues
  }
}

// Two routines on two shards contend for one mutex homed on shard 0, each holding it
// across a yield (a lock waits, and is handed over, when the other holds it). Time per
// iteration of 4000 locks.
void mutex_two_shards(benchmark::State& state) {
  auto rt = make_runtime(2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    Mutex mu;
    long counter = 0;
    for (auto _ : *s) {
      const long rounds = 2000;
      auto a = go(contend(mu, &counter, rounds));
      auto b = spawn_on(1, contend(mu, &counter, rounds));
      co_await a.join();
      co_await b.join();
    }
    benchmark::DoNotOptimize(counter);
  }(&state));
  state.SetItemsProcessed(state.iterations() * 4000);
  report_messages(state, rt);
}

Task<void> contend_token(Sender<int> tx, Receiver<int> rx, long* counter, long rounds) {
  for (long i = 0; i < rounds; ++i) {
    auto token = co_await rx.recv();
    if (!token) co_return;
    ++*counter;
    co_await yield_now();
    (void)co_await tx.send(0);
  }
}

void token_channel_two_shards(benchmark::State& state) {
  auto rt = make_runtime(2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(1));
    (void)co_await tx.send(0);
    long counter = 0;
    for (auto _ : *s) {
      const long rounds = 2000;
      auto a = go(contend_token(tx, rx, &counter, rounds));
      auto b = spawn_on(1, contend_token(tx, rx, &counter, rounds));
      co_await a.join();
      co_await b.join();
    }
    benchmark::DoNotOptimize(counter);
  }(&state));
  state.SetItemsProcessed(state.iterations() * 4000);
  report_messages(state, rt);
}

// add(1) on shard 0, done() on shard 1, wait() on shard 0: one round of a WaitGroup.
void wait_group_round_two_shards(benchmark::State& state) {
  auto rt = make_runtime(2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    WaitGroup wg;
    auto [tx, rx] = std::move(*chan<int>(0));
    auto worker = spawn_on(1, [](WaitGroup w, Receiver<int> in) -> Task<void> {
      while (auto v = co_await in.recv()) (void)w.done();
    }(wg, std::move(rx)));
    for (auto _ : *s) {
      (void)wg.add(1);
      (void)co_await tx.send(1);
      (void)co_await wg.wait();
    }
    (void)tx.close();
    co_await worker.join();
  }(&state));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

BENCHMARK_CAPTURE(mutex_uncontended, same_shard, 0)->UseRealTime();
BENCHMARK_CAPTURE(mutex_uncontended, homed_on_other_shard, 1)->UseRealTime();
BENCHMARK_CAPTURE(token_channel_uncontended, same_shard, 0)->UseRealTime();
BENCHMARK_CAPTURE(token_channel_uncontended, homed_on_other_shard, 1)->UseRealTime();
BENCHMARK(mutex_two_shards)->UseRealTime();
BENCHMARK(token_channel_two_shards)->UseRealTime();
BENCHMARK(wait_group_round_two_shards)->UseRealTime();

}  // namespace
}  // namespace ringo

BENCHMARK_MAIN();
