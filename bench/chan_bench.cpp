// Channel and select benchmarks on io_uring and the simulator, the cross-shard ones on AIO
// too. bench/compare.sh runs the Go equivalents in the same go and prints ratios;
// bench/aio_compare.sh sets the AIO rows against io_uring's.
#include <benchmark/benchmark.h>

#include <vector>

#include "ringo/ringo.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

Runtime make_runtime(Backend backend, uint32_t shards) {
  RuntimeConfig c;
  c.shards = shards;
  c.backend = backend;
  auto rt = Runtime::create(c);
  if (!rt) std::abort();
  return std::move(*rt);
}

// Cross-shard traffic per iteration: envelopes delivered and MSG_RING doorbells sent.
void report_messages(benchmark::State& state, Runtime& rt) {
  (void)rt.shutdown();
  const ShardStats total = rt.stats().total;
  const auto per = [&](uint64_t n) { return static_cast<double>(n) / static_cast<double>(state.iterations()); };
  state.counters["envelopes"] = per(total.envelopes_delivered);
  state.counters["doorbells"] = per(total.doorbells_sent);
  state.counters["spins_preempted"] = static_cast<double>(total.spins_preempted);
}

Task<void> echo(Receiver<int> in, Sender<int> out) {
  for (;;) {
    auto v = co_await in.recv();
    if (!v) co_return;
    co_await out.send(*v);
  }
}

// One round trip over two unbuffered channels, the echo routine on `peer_shard`.
void ping_pong(benchmark::State& state, Backend backend, uint32_t peer_shard) {
  auto rt = make_runtime(backend, 2);
  (void)rt.block_on([](benchmark::State* s, uint32_t peer) -> Task<void> {
    auto [ping_tx, ping_rx] = std::move(*chan<int>(0));
    auto [pong_tx, pong_rx] = std::move(*chan<int>(0));
    JoinHandle<void> local;
    JoinHandle<void> remote;
    if (peer == 0) {
      local = go(echo(ping_rx, std::move(pong_tx)));
    } else {
      remote = spawn_on(peer, echo(ping_rx, std::move(pong_tx)));
    }
    for (auto _ : *s) {
      co_await ping_tx.send(1);
      benchmark::DoNotOptimize(co_await pong_rx.recv());
    }
    (void)ping_tx.close();
    if (local) co_await local.join();
    if (remote) co_await remote.join();
  }(&state, peer_shard));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

// The same round trip with each channel homed on the shard that receives from it (the
// placement docs/channels-and-select.md recommends): every hop then carries a value.
void ping_pong_receiver_homed(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    auto ping = co_await submit_to(1, [] { return chan<int>(0); });
    if (!ping) std::abort();
    auto [ping_tx, ping_rx] = std::move(*ping);
    auto [pong_tx, pong_rx] = std::move(*chan<int>(0));
    auto remote = spawn_on(1, echo(std::move(ping_rx), std::move(pong_tx)));
    for (auto _ : *s) {
      co_await ping_tx.send(1);
      benchmark::DoNotOptimize(co_await pong_rx.recv());
    }
    (void)ping_tx.close();
    co_await remote.join();
  }(&state));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

// Throughput of one producer on shard 1 into a channel of capacity 1024 homed on shard 0,
// where the consumer is.
void cross_shard_stream(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(1024));
    const int64_t total = s->max_iterations;
    auto producer = spawn_on(1, [](Sender<int> t, int64_t n) -> Task<void> {
      for (int64_t i = 0; i < n; ++i) co_await t.send(1);
    }(std::move(tx), total));
    for (auto _ : *s) benchmark::DoNotOptimize(co_await rx.recv());
    co_await producer.join();
  }(&state));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

void spsc_buffered(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(1024));
    auto consumer = go([](Receiver<int> r) -> Task<long> {
      long n = 0;
      while (co_await r.recv()) ++n;
      co_return n;
    }(rx));
    for (auto _ : *s) co_await tx.send(1);
    (void)tx.close();
    benchmark::DoNotOptimize(co_await consumer.join());
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void mpsc_four_to_one(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(1024));
    const int64_t total = s->max_iterations;
    std::vector<JoinHandle<void>> producers;
    for (int p = 0; p < 4; ++p) {
      producers.push_back(go([](Sender<int> t, int64_t n) -> Task<void> {
        for (int64_t i = 0; i < n; ++i) co_await t.send(1);
      }(tx, total / 4 + 1)));
    }
    tx = Sender<int>();
    for (auto _ : *s) benchmark::DoNotOptimize(co_await rx.recv());
    while (co_await rx.recv()) {
    }
    for (auto& p : producers) co_await p.join();
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

// Three channels of capacity 1 for the select benchmarks.
struct Three {
  std::pair<Sender<int>, Receiver<int>> a = std::move(*chan<int>(1));
  std::pair<Sender<int>, Receiver<int>> b = std::move(*chan<int>(1));
  std::pair<Sender<int>, Receiver<int>> c = std::move(*chan<int>(1));
};

void select_three_one_ready(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    Three ch;
    for (auto _ : *s) {
      (void)ch.b.first.try_send(1);
      auto a = on_recv(ch.a.second);
      auto b = on_recv(ch.b.second);
      auto c = on_recv(ch.c.second);
      benchmark::DoNotOptimize(co_await select(a, b, c));
    }
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void select_default_three_empty(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    Three ch;
    for (auto _ : *s) {
      auto a = on_recv(ch.a.second);
      auto b = on_recv(ch.b.second);
      auto c = on_recv(ch.c.second);
      benchmark::DoNotOptimize(co_await select(a, b, c, default_case()));
    }
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void select_hundred(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    std::vector<Sender<int>> txs;
    std::vector<Receiver<int>> rxs;
    for (int i = 0; i < 100; ++i) {
      auto [tx, rx] = std::move(*chan<int>(1));
      txs.push_back(std::move(tx));
      rxs.push_back(std::move(rx));
    }
    Selector sel;
    for (auto& rx : rxs) sel.recv(rx);
    int k = 0;
    for (auto _ : *s) {
      (void)txs[static_cast<size_t>(k++ % 100)].try_send(1);
      benchmark::DoNotOptimize(co_await sel.wait());
    }
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

// A select whose ready case is on shard 1 and whose other case is on shard 0 (the claim
// protocol of select_shards.hpp), or, with `both_remote`, both on shard 1 (the select
// runs there as one cross-shard call): the price of a select across shards, next to the
// cheapest way to select over another shard's channels.
void select_across_shards(benchmark::State& state, Backend backend, bool both_remote) {
  auto rt = make_runtime(backend, 2);
  (void)rt.block_on([](benchmark::State* s, bool both) -> Task<void> {
    auto idle = chan<int>(1);
    if (both) idle = co_await submit_to(1, [] { return chan<int>(1); });
    auto ready = co_await submit_to(1, [] { return chan<int>(unbounded); });
    if (!idle || !ready) std::abort();
    const int64_t total = s->max_iterations;
    // Named, not built inside co_await: GCC 12 destroys such a temporary's captures twice.
    auto fill = submit_to(1, [tx = ready->first, total]() mutable {
      for (int64_t i = 0; i < total; ++i) (void)tx.try_send(1);
    });
    benchmark::DoNotOptimize(co_await fill);
    for (auto _ : *s) {
      auto a = on_recv(idle->second);
      auto b = on_recv(ready->second);
      benchmark::DoNotOptimize(co_await select(a, b));
    }
  }(&state, both_remote));
  state.SetItemsProcessed(state.iterations());
  report_messages(state, rt);
}

BENCHMARK_CAPTURE(ping_pong, same_shard_uring, Backend::uring, 0)->UseRealTime();
BENCHMARK_CAPTURE(ping_pong, cross_shard_uring, Backend::uring, 1)->UseRealTime();
BENCHMARK_CAPTURE(ping_pong_receiver_homed, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(cross_shard_stream, uring, Backend::uring)->UseRealTime();
// The same cross-shard traffic on AIO, where the doorbell is a mailbox plus an eventfd.
BENCHMARK_CAPTURE(ping_pong, cross_shard_aio, Backend::aio, 1)->UseRealTime();
BENCHMARK_CAPTURE(ping_pong_receiver_homed, aio, Backend::aio)->UseRealTime();
BENCHMARK_CAPTURE(cross_shard_stream, aio, Backend::aio)->UseRealTime();
BENCHMARK_CAPTURE(ping_pong, same_shard_sim, Backend::sim, 0);
BENCHMARK_CAPTURE(spsc_buffered, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(mpsc_four_to_one, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(select_three_one_ready, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(select_default_three_empty, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(select_hundred, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(select_across_shards, two_shards_uring, Backend::uring, false)->UseRealTime();
BENCHMARK_CAPTURE(select_across_shards, other_shard_uring, Backend::uring, true)->UseRealTime();

}  // namespace
}  // namespace ringo

BENCHMARK_MAIN();
