// Runtime micro-benchmarks on io_uring, AIO and the simulator. Ratios against peers (Go,
// Boost.Fiber) come from bench/compare.sh, which runs them side by side in one go; AIO
// against io_uring from bench/aio_compare.sh.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <vector>

#include "ringo/ringo.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

Task<int> leaf() { co_return 1; }

Runtime make_runtime(Backend backend, uint32_t shards, Duration idle_spin = std::chrono::microseconds(50)) {
  RuntimeConfig c;
  c.shards = shards;
  c.backend = backend;
  c.idle_spin = idle_spin;
  auto rt = Runtime::create(c);
  if (!rt) std::abort();
  return std::move(*rt);
}

void spawn_join(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await go(leaf()).join());
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

// spawn() instead of go(): a balanced routine, with work requesting on. One shard, and two
// shards whose second one is idle and asks for work whenever shard 0 has some queued.
void spawn_join_balanced(benchmark::State& state, Backend backend, uint32_t shards) {
  auto rt = make_runtime(backend, shards);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await spawn(leaf()).join());
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void yield_round(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    bool stop = false;
    auto other = go([](bool* st) -> Task<void> {
      while (!*st) co_await yield_now();
    }(&stop));
    for (auto _ : *s) co_await yield_now();
    stop = true;
    co_await other.join();
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void sleep_zero(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await sleep(0ns));
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void cross_shard_spawn_on(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await spawn_on(1, leaf()).join());
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void cross_shard_submit_to(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 2);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await submit_to(1, [] { return 1; }));
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

// The same round trip with a peer that spins (default) versus one that sleeps in the
// kernel at once (idle_spin = 0): the cost of waking a sleeping shard.
void cross_shard_wake(benchmark::State& state, Backend backend, Duration idle_spin) {
  auto rt = make_runtime(backend, 2, idle_spin);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) {
      benchmark::DoNotOptimize(co_await submit_to(1, [] { return 1; }));
      (void)co_await sleep(std::chrono::microseconds(200));  // let the peer go idle
    }
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void memory_per_blocked_routine_chan(benchmark::State& state, Backend backend, bool receivers);

// A function, not a lambda: a lambda's frame keeps its `this` too, which takes this
// frame (248 bytes) to the next pool class (264).
Task<Result<void>> blocked_sender(Sender<int> tx) {
  auto sent = co_await tx.send(1);
  if (!sent) co_return std::unexpected(sent.error().error);
  co_return Result<void>{};
}
enum class Blocked { sleep, recv, send };

// Bytes of heap per routine blocked in sleep() (or a channel's recv or send), measured by
// the allocator.
void memory_per_blocked_routine(benchmark::State& state, Backend backend, Blocked in = Blocked::sleep) {
  if (in != Blocked::sleep) return memory_per_blocked_routine_chan(state, backend, in == Blocked::recv);
  constexpr int kRoutines = 100'000;
  double per_routine = 0;
  for (auto _ : state) {
    auto rt = make_runtime(backend, 1);
    (void)rt.block_on([](double* out) -> Task<void> {
      std::vector<JoinHandle<Result<void>>> hs;
      hs.reserve(kRoutines);
      const size_t before = mallinfo2().uordblks;
      for (int i = 0; i < kRoutines; ++i) {
        hs.push_back(go([]() -> Task<Result<void>> { co_return co_await sleep(1h); }()));
      }
      co_await yield_now();  // let every routine reach its sleep
      const size_t after = mallinfo2().uordblks;
      *out = static_cast<double>(after - before) / kRoutines;
      for (auto& h : hs) (void)h.abort();
      for (auto& h : hs) co_await h.join();
    }(&per_routine));
  }
  state.counters["bytes_per_routine"] = per_routine;
}

// The same for routines blocked in a channel receive (or send) on one unbuffered channel.
void memory_per_blocked_routine_chan(benchmark::State& state, Backend backend, bool receivers) {
  constexpr int kRoutines = 100'000;
  double per_routine = 0;
  double frame_block = 0;
  for (auto _ : state) {
    auto rt = make_runtime(backend, 1);
    (void)rt.block_on([](bool recv_side, double* out, double* block) -> Task<void> {
      auto [tx, rx] = chan<int>(0).value();
      std::vector<JoinHandle<Result<int>>> rs;
      std::vector<JoinHandle<Result<void>>> ss;
      rs.reserve(kRoutines);
      ss.reserve(kRoutines);
      const size_t before = mallinfo2().uordblks;
      const FramePoolStats pool_before = frame_pool_stats();
      for (int i = 0; i < kRoutines; ++i) {
        if (recv_side) {
          rs.push_back(go([](Receiver<int> r) -> Task<Result<int>> { co_return co_await r.recv(); }(rx)));
        } else {
          ss.push_back(go(blocked_sender(tx)));
        }
      }
      co_await yield_now();  // let every routine reach its recv or send
      const size_t after = mallinfo2().uordblks;
      const FramePoolStats pool_after = frame_pool_stats();
      *out = static_cast<double>(after - before) / kRoutines;
      *block = static_cast<double>((pool_after.allocated_bytes - pool_before.allocated_bytes) -
                                   (pool_after.freed_bytes - pool_before.freed_bytes)) /
               kRoutines;
      for (auto& h : rs) (void)h.abort();
      for (auto& h : ss) (void)h.abort();
      for (auto& h : rs) co_await h.join();
      for (auto& h : ss) co_await h.join();
    }(receivers, &per_routine, &frame_block));
  }
  state.counters["bytes_per_routine"] = per_routine;
  state.counters["frame_block_bytes"] = frame_block;  // the frame pool's own count
}

void op_nop(benchmark::State& state, Backend backend, bool with_deadline) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s, bool deadline) -> Task<void> {
    for (auto _ : *s) {
      const Instant d = deadline ? current_shard()->now() + 1h : kNoDeadline;
      benchmark::DoNotOptimize(co_await nop(d));
    }
  }(&state, with_deadline));
  state.SetItemsProcessed(state.iterations());
}

// A NOP whose deadline is a shard timer around the wait (with_timeout), not a linked
// timeout: the cheaper way to bound an op that normally completes.
void op_nop_with_timeout_timer(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await with_timeout(1h, nop(kNoDeadline)));
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

Task<Result<int32_t>> nop_task() { co_return co_await nop(kNoDeadline); }

// The same with the deadline as a scope around a Task.
void op_nop_task_scope(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) benchmark::DoNotOptimize(co_await with_timeout(1h, nop_task()));
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

// Submit a kernel op, let it reach the kernel, cancel it, wait for its completion.
void cancel_inflight_op(benchmark::State& state, Backend backend) {
  auto rt = make_runtime(backend, 1);
  (void)rt.block_on([](benchmark::State* s) -> Task<void> {
    for (auto _ : *s) {
      auto child = go([]() -> Task<Result<int32_t>> {
        Sqe t;
        t.opcode = Opcode::timeout;
        t.off = static_cast<uint64_t>(Duration(1h).count());
        co_return co_await submit(t);
      }());
      co_await yield_now();       // the child queues its op
      (void)co_await sleep(0ns);  // the next tick: the op has been pushed to the kernel
      (void)child.abort();
      benchmark::DoNotOptimize(co_await child.join());
    }
  }(&state));
  state.SetItemsProcessed(state.iterations());
}

void runtime_startup(benchmark::State& state, Backend backend) {
  for (auto _ : state) {
    auto rt = make_runtime(backend, 2);
    benchmark::DoNotOptimize(rt.shard_count());
    rt.shutdown();
  }
}

// io_uring and AIO (bench/aio_compare.sh sets them side by side), and the simulator.
#define RINGO_BENCH_ALL(fn)                                    \
  BENCHMARK_CAPTURE(fn, uring, Backend::uring)->UseRealTime(); \
  BENCHMARK_CAPTURE(fn, aio, Backend::aio)->UseRealTime();     \
  BENCHMARK_CAPTURE(fn, sim, Backend::sim)

RINGO_BENCH_ALL(spawn_join);
BENCHMARK_CAPTURE(spawn_join_balanced, uring_1_shard, Backend::uring, 1)->UseRealTime();
BENCHMARK_CAPTURE(spawn_join_balanced, uring_2_shards, Backend::uring, 2)->UseRealTime();
RINGO_BENCH_ALL(yield_round);
RINGO_BENCH_ALL(sleep_zero);
RINGO_BENCH_ALL(cross_shard_spawn_on);
RINGO_BENCH_ALL(cross_shard_submit_to);
BENCHMARK_CAPTURE(cross_shard_wake, peer_spins_1ms_uring, Backend::uring, Duration(std::chrono::milliseconds(1)))
    ->UseRealTime();
BENCHMARK_CAPTURE(cross_shard_wake, peer_sleeps_uring, Backend::uring, Duration(0))->UseRealTime();
BENCHMARK_CAPTURE(cross_shard_wake, peer_spins_1ms_aio, Backend::aio, Duration(std::chrono::milliseconds(1)))
    ->UseRealTime();
BENCHMARK_CAPTURE(cross_shard_wake, peer_sleeps_aio, Backend::aio, Duration(0))->UseRealTime();
BENCHMARK_CAPTURE(op_nop, uring_no_deadline, Backend::uring, false)->UseRealTime();
BENCHMARK_CAPTURE(op_nop, aio_no_deadline, Backend::aio, false)->UseRealTime();
BENCHMARK_CAPTURE(op_nop, uring_with_deadline, Backend::uring, true)->UseRealTime();
BENCHMARK_CAPTURE(op_nop_with_timeout_timer, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(op_nop_task_scope, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(cancel_inflight_op, uring, Backend::uring)->UseRealTime();
BENCHMARK_CAPTURE(memory_per_blocked_routine, uring, Backend::uring)->Iterations(3);
BENCHMARK_CAPTURE(memory_per_blocked_routine, sim, Backend::sim)->Iterations(3);
BENCHMARK_CAPTURE(memory_per_blocked_routine, recv_uring, Backend::uring, Blocked::recv)->Iterations(3);
BENCHMARK_CAPTURE(memory_per_blocked_routine, send_uring, Backend::uring, Blocked::send)->Iterations(3);
BENCHMARK_CAPTURE(runtime_startup, uring, Backend::uring)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ringo

BENCHMARK_MAIN();
