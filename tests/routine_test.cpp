// Routines, joins, timers, ops and cross-shard calls, on the simulator and on io_uring.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;
using testing::not_early;
using testing::OnEveryBackend;

class Routines : public OnEveryBackend {};
RINGO_ON_EVERY_BACKEND(Routines);

Task<int> answer() { co_return 42; }
Task<void> nothing() { co_return; }
// A sleep that checks it never returns early (unless it was cancelled).
Task<Result<void>> nap(Duration d) {
  const Instant t0 = current_shard()->now();
  auto slept = co_await sleep(d);
  if (slept) {
    EXPECT_TRUE(not_early(t0, d));
  }
  co_return slept;
}
Task<int> add(int a, int b) { co_return co_await answer() - 42 + a + b; }

TEST_P(Routines, SpawnAndJoinReturnsValue) {
  auto r = run([]() -> Task<int> {
    auto h = go(add(2, 3));
    EXPECT_TRUE(h.valid());
    auto v = co_await h.join();
    co_return v.value_or(-1);
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

TEST_P(Routines, JoinTwiceIsAnError) {
  auto r = run([]() -> Task<void> {
    auto h = go(answer());
    EXPECT_EQ(co_await h.join(), 42);
    auto again = co_await h.join();
    EXPECT_EQ(err(again), errc::join_twice);
  }());
  EXPECT_TRUE(r.has_value());
}

Task<int> thrower() {
  co_await yield_now();
  throw std::runtime_error("boom");
}

TEST_P(Routines, ExceptionSurfacesFromJoinAndShardSurvives) {
  auto r = run([]() -> Task<int> {
    auto bad = co_await go(thrower()).join();
    EXPECT_FALSE(bad.has_value());
    EXPECT_EQ(err(bad), errc::routine_panicked);
    auto good = co_await go(answer()).join();
    co_return good.value_or(-1);
  }());
  EXPECT_EQ(r.value_or(0), 42);
  EXPECT_EQ(last_stats_.total.routines_panicked, 1u);
}

TEST_P(Routines, ResultReturningRoutineIsJoinedFlat) {
  auto r = run([]() -> Task<int> {
    auto h = go([]() -> Task<Result<int>> { co_return fail(errc::invalid_argument); }());
    Result<int> v = co_await h.join();  // Result<int>, not Result<Result<int>>
    EXPECT_EQ(err(v), errc::invalid_argument);
    co_return 1;
  }());
  EXPECT_EQ(r.value_or(0), 1);
}

TEST_P(Routines, SleepWaitsAtLeastItsDuration) {
  auto r = run([]() -> Task<int64_t> {
    Shard& shard = *current_shard();
    const Instant t0 = shard.now();
    auto slept = co_await sleep(2ms);
    EXPECT_TRUE(slept.has_value());
    EXPECT_TRUE(not_early(t0, 2ms));
    const Instant t1 = shard.now();
    EXPECT_TRUE((co_await sleep_until(t1 + 1ms)).has_value());
    EXPECT_TRUE(not_early(t1, 1ms));
    co_return (t1 - t0).count();
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_GE(*r, 2'000'000);
  if (GetParam() == Backend::sim) {
    EXPECT_LT(*r, 2'100'000);  // virtual time: the timer fires at its deadline, give or take a tick
  }
}

// "Never early" on io_uring with the wake-up latency taken out: the shard spins instead of
// sleeping in the kernel (idle_spin far above every wait), so a timer fires within about a
// microsecond of its deadline and one that fires a few microseconds early is caught. (A
// shard asleep in io_uring_enter wakes tens of microseconds late, which hides that; the
// simulator catches even 1 ns.)
TEST(RoutinesOnUring, SleepsDeadlinesAndSelectTimeoutsNeverReturnEarlyOnASpinningShard) {
  testing::Watchdog guard{std::chrono::seconds(20), "240 short waits on a spinning io_uring shard"};
  RuntimeConfig c;
  c.shards = 1;
  c.backend = Backend::uring;
  c.idle_spin = std::chrono::seconds(10);
  auto rt = Runtime::create(c);
  ASSERT_TRUE(rt.has_value()) << rt.error().message();
  auto r = rt->block_on([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    for (int i = 0; i < 60; ++i) {
      const auto d = std::chrono::microseconds(50 + 37 * i % 400);
      Shard& shard = *current_shard();
      Instant t0 = shard.now();
      EXPECT_TRUE((co_await sleep(d)).has_value());
      EXPECT_TRUE(not_early(t0, d)) << "wait #" << i;
      t0 = shard.now();
      EXPECT_TRUE((co_await sleep_until(t0 + d)).has_value());
      EXPECT_TRUE(not_early(t0, d)) << "wait #" << i;
      t0 = shard.now();
      EXPECT_EQ(err(co_await with_timeout(d, rx.recv())), errc::timed_out);
      EXPECT_TRUE(not_early(t0, d)) << "wait #" << i;
      auto c = on_recv(rx);
      t0 = shard.now();
      EXPECT_EQ((co_await select(c, after(d))).value_or(9), 1u);
      EXPECT_TRUE(not_early(t0, d)) << "wait #" << i;
    }
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Routines, AbortWakesSleeperWithCancelledAndLaterAwaitsFailFast) {
  auto r = run([]() -> Task<void> {
    std::vector<int> steps;
    auto h = go([](std::vector<int>* s) -> Task<int> {
      auto a = co_await sleep(1h);
      s->push_back(a.has_value() ? 1 : (err(a) == errc::cancelled ? 2 : 3));
      auto b = co_await sleep(1ms);  // must not hang
      s->push_back(b.has_value() ? 1 : (err(b) == errc::cancelled ? 2 : 3));
      co_return 7;
    }(&steps));
    co_await yield_now();
    const Instant t0 = current_shard()->now();
    co_await sleep(1ms);
    EXPECT_TRUE(not_early(t0, 1ms));
    EXPECT_TRUE(h.abort().has_value());
    auto v = co_await h.join();
    EXPECT_EQ(v.value_or(0), 7);  // it returned normally after unwinding its waits
    EXPECT_EQ(steps, (std::vector<int>{2, 2}));
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Routines, AbortBeforeStartSkipsTheBody) {
  auto r = run([]() -> Task<void> {
    bool ran = false;
    auto h = go([](bool* flag) -> Task<void> {
      *flag = true;
      co_return;
    }(&ran));
    EXPECT_TRUE(h.abort().has_value());
    auto v = co_await h.join();
    EXPECT_EQ(err(v), errc::cancelled);
    EXPECT_FALSE(ran);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Routines, YieldLetsOthersRunInFifoOrder) {
  auto r = run([]() -> Task<std::vector<int>> {
    std::vector<int> order;
    auto worker = [](std::vector<int>* o, int id) -> Task<void> {
      for (int i = 0; i < 3; ++i) {
        o->push_back(id * 10 + i);
        co_await yield_now();
      }
    };
    auto a = go(worker(&order, 1));
    auto b = go(worker(&order, 2));
    co_await a.join();
    co_await b.join();
    co_return order;
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, (std::vector<int>{10, 20, 11, 21, 12, 22}));
}

TEST_P(Routines, NopOpCompletes) {
  auto r = run([]() -> Task<int32_t> {
    auto res = co_await nop();
    co_return res.value_or(-1);
  }());
  EXPECT_EQ(r.value_or(-1), 0);
  EXPECT_GE(last_stats_.total.ops_completed, 1u);
}

TEST_P(Routines, KernelTimeoutWithEarlierDeadlineTimesOut) {
  auto r = run([]() -> Task<void> {
    Sqe timeout;
    timeout.opcode = Opcode::timeout;
    timeout.off = static_cast<uint64_t>(Duration(10s).count());
    const Instant deadline = current_shard()->now() + 2ms;
    auto res = co_await submit(timeout, deadline);
    EXPECT_EQ(err(res), errc::timed_out);
    EXPECT_GE(current_shard()->now(), deadline);
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.deadline_expiries, 1u);
}

TEST_P(Routines, KernelTimeoutFinishingFirstKeepsItsResult) {
  auto r = run([]() -> Task<void> {
    Sqe timeout;
    timeout.opcode = Opcode::timeout;
    timeout.off = static_cast<uint64_t>(Duration(1ms).count());
    const Instant t0 = current_shard()->now();
    auto res = co_await submit(timeout, t0 + 10s);
    EXPECT_EQ(err(res), std::errc::stream_timeout);  // TIMEOUT's own -ETIME, not a deadline
    EXPECT_TRUE(not_early(t0, 1ms));                 // the kernel's timer is never early either
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.deadline_expiries, 0u);
}

TEST_P(Routines, AbortCancelsKernelOpAndWaitsForItsCompletion) {
  auto r = run([]() -> Task<void> {
    auto h = go([]() -> Task<Result<int32_t>> {
      Sqe timeout;
      timeout.opcode = Opcode::timeout;
      timeout.off = static_cast<uint64_t>(Duration(1h).count());
      co_return co_await submit(timeout);
    }());
    const Instant t0 = current_shard()->now();
    co_await sleep(1ms);  // let it reach the kernel
    EXPECT_TRUE(not_early(t0, 1ms));
    EXPECT_TRUE(h.abort().has_value());
    auto v = co_await h.join();
    EXPECT_EQ(err(v), errc::cancelled);
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.ops_cancelled_by_kernel, 1u);
}

TEST_P(Routines, SpawnOnOtherShardAndJoin) {
  auto r = run([]() -> Task<int> {
    auto h = spawn_on(1, []() -> Task<int> {
      const Instant t0 = current_shard()->now();
      co_await sleep(1ms);
      EXPECT_TRUE(not_early(t0, 1ms));
      co_return static_cast<int>(current_shard()->index()) * 100 + 7;
    }());
    auto v = co_await h.join();
    co_return v.value_or(-1);
  }());
  EXPECT_EQ(r.value_or(0), 107);
  // The answer comes 1 ms later, when shard 0 sleeps in the kernel (on the simulator too:
  // an idle shard sleeps at once), so at least that hop needs its MSG_RING doorbell.
  EXPECT_GE(last_stats_.total.envelopes_delivered, 2u);
  EXPECT_GE(last_stats_.total.doorbells_sent, 1u);
}

TEST_P(Routines, SubmitToRunsThereAndReturnsResult) {
  auto r = run([]() -> Task<int> {
    auto v = co_await submit_to(1, [] { return static_cast<int>(current_shard()->index()) + 40; });
    auto bad = co_await submit_to(9, [] { return 0; });
    EXPECT_EQ(err(bad), errc::invalid_shard);
    auto threw = co_await submit_to(1, []() -> int { throw std::runtime_error("remote"); });
    EXPECT_EQ(err(threw), errc::routine_panicked);
    co_return v.value_or(-1);
  }());
  EXPECT_EQ(r.value_or(0), 41);
}

TEST_P(Routines, AbortingSpawnOnCancelsTheRemoteRoutine) {
  auto r = run([]() -> Task<void> {
    auto h = spawn_on(1, []() -> Task<Result<void>> { co_return co_await sleep(1h); }());
    const Instant t0 = current_shard()->now();
    co_await sleep(1ms);
    EXPECT_TRUE(not_early(t0, 1ms));
    EXPECT_TRUE(h.abort().has_value());
    auto v = co_await h.join();
    EXPECT_EQ(err(v), errc::cancelled);
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

// spawn_on gives the same handle type as go(), and the call's own failures still reach
// join() as their error codes (not as routine_panicked), without counting as panics.
Task<int> naps_then_answers(int v) {
  (void)co_await sleep(1h);  // an abort cuts the nap short; the value still comes back
  co_return v;
}

TEST_P(Routines, SpawnOnAndGoGiveTheSameHandleAndTheSameErrors) {
  static_assert(std::is_same_v<decltype(spawn_on(1, answer())), decltype(go(answer()))>);
  static_assert(std::is_same_v<decltype(spawn_on(1, nothing())), JoinHandle<void>>);
  auto r = run([]() -> Task<void> {
    std::vector<JoinHandle<int>> mixed;
    mixed.push_back(go(answer()));
    mixed.push_back(spawn_on(1, answer()));
    for (auto& h : mixed) EXPECT_EQ((co_await h.join()).value_or(0), 42);
    EXPECT_EQ(err(co_await spawn_on(9, answer()).join()), errc::invalid_shard);
    auto aborted = spawn_on(1, naps_then_answers(3));
    co_await sleep(1ms);
    EXPECT_TRUE(aborted.abort().has_value());
    EXPECT_EQ((co_await aborted.join()).value_or(0), 3);  // completed anyway: its value
    EXPECT_TRUE((co_await spawn_on(1, nothing()).join()).has_value());
    EXPECT_EQ(err(co_await spawn_on(1, thrower()).join()), errc::routine_panicked);
    EXPECT_EQ(err(co_await go(thrower()).join()), errc::routine_panicked);
  }());
  EXPECT_TRUE(r.has_value());
  // The local thrower only: invalid_shard travelled as a failure, not as a panic (and a
  // remote panic is reported by the call, which counts no routine of its own).
  EXPECT_EQ(last_stats_.total.routines_panicked, 1u);
}

TEST_P(Routines, RawMessagesReachTheHandler) {
  struct Inbox {
    std::vector<RingMsg> got;
    static void on(void* ctx, const RingMsg& m) { static_cast<Inbox*>(ctx)->got.push_back(m); }
  };
  auto r = run([]() -> Task<void> {
    Inbox inbox;
    current_shard()->set_message_handler(&Inbox::on, &inbox);
    auto sent = co_await submit_to(1, [] { return RemoteShard(0).send_raw(7, 12345); });
    EXPECT_TRUE(sent.has_value());
    EXPECT_EQ(err(RemoteShard(1).send_raw(Shard::kDoorbellTag, 1)), errc::invalid_argument);
    EXPECT_EQ(err(RemoteShard(1).send_raw(1, uint64_t{1} << 60)), errc::invalid_argument);
    EXPECT_EQ(err(RemoteShard(5).send_raw(1, 1)), errc::invalid_shard);
    for (int i = 0; i < 100 && inbox.got.empty(); ++i) co_await sleep(100us);
    EXPECT_EQ(inbox.got.size(), 1u);
    if (inbox.got.size() != 1) co_return;
    EXPECT_EQ(inbox.got[0].from, 1u);
    EXPECT_EQ(inbox.got[0].tag, 7);
    EXPECT_EQ(inbox.got[0].value, 12345u);
    current_shard()->set_message_handler(nullptr, nullptr);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Routines, SpawnLimitIsAnError) {
  auto rt = Runtime::create([&] {
    auto c = config(1);
    c.max_routines_per_shard = 3;  // main + 2
    return c;
  }());
  ASSERT_TRUE(rt.has_value());
  auto r = rt->block_on([]() -> Task<void> {
    auto a = go(nap(1ms));
    auto b = go(nap(1ms));
    auto c = go(nap(1ms));
    EXPECT_TRUE(a.valid());
    EXPECT_TRUE(b.valid());
    EXPECT_FALSE(c.valid());
    EXPECT_EQ(c.spawn_error(), errc::spawn_limit);
    EXPECT_EQ((co_await c.join()).error(), errc::spawn_limit);
    co_await a.join();
    co_await b.join();
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Routines, ApiOutsideRuntimeGivesClearErrors) {
  auto h = go(answer());
  EXPECT_FALSE(h.valid());
  EXPECT_EQ(h.spawn_error(), errc::not_in_runtime);
  EXPECT_EQ(err(RemoteShard(0).send_raw(1, 1)), errc::not_in_runtime);
}

TEST_P(Routines, BlockOnAfterShutdownReportsStopped) {
  auto rt = Runtime::create(config(2));
  ASSERT_TRUE(rt.has_value());
  EXPECT_EQ(rt->block_on(answer()).value_or(0), 42);
  auto report = rt->shutdown();
  EXPECT_FALSE(report.error);
  auto again = rt->block_on(answer());
  EXPECT_EQ(err(again), errc::shard_stopped);
}

TEST_P(Routines, ShutdownCancelsLeftoverRoutinesOnEveryShard) {
  auto rt = Runtime::create(config(2));
  ASSERT_TRUE(rt.has_value());
  auto r = rt->block_on([]() -> Task<void> {
    go(nap(1h)).detach();
    spawn_on(1, nap(1h)).detach();
    co_await sleep(1ms);
  }());
  EXPECT_TRUE(r.has_value());
  auto report = rt->shutdown();
  EXPECT_GE(report.routines_cancelled, 2u) << report.summary();
  EXPECT_EQ(report.routines_abandoned, 0u) << report.summary();
  EXPECT_EQ(rt->stats().total.routines_live, 0u);
}

TEST_P(Routines, HundredThousandRoutinesAliveAtOnce) {
  auto r = run(
      []() -> Task<uint64_t> {
        constexpr int kCount = 100'000;
        std::vector<JoinHandle<Result<void>>> handles;
        handles.reserve(kCount);
        for (int i = 0; i < kCount; ++i) handles.push_back(go(nap(5ms)));
        const uint64_t live = current_shard()->stats().routines_live;
        uint64_t ok = 0;
        for (auto& h : handles) ok += (co_await h.join()).has_value() ? 1 : 0;
        EXPECT_EQ(ok, static_cast<uint64_t>(kCount));
        co_return live;
      }(),
      1);
  EXPECT_GE(r.value_or(0), 100'001u);
}

TEST_P(Routines, MillionRoutinesSpawnedAndJoinedWithoutLeak) {
  auto r = run(
      []() -> Task<uint64_t> {
        uint64_t sum = 0;
        for (int i = 0; i < 1'000'000; ++i) sum += static_cast<uint64_t>((co_await go(answer()).join()).value_or(0));
        co_return sum;
      }(),
      1);
  EXPECT_EQ(r.value_or(0), 42'000'000u);
  EXPECT_EQ(last_stats_.total.routines_spawned, 1'000'001u);
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

// Awaiting a Task that finishes without suspending must not grow the stack, at any
// optimisation level: GCC at -O0 does not turn symmetric transfer into a tail call, and
// this loop crashed with SIGSEGV after 60,000-100,000 awaits in the debug build.
Task<uint64_t> identity(uint64_t i) { co_return i; }
Task<uint64_t> sum_of_synchronous_awaits(uint64_t count) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < count; ++i) {
    sum += co_await identity(i & 1);
    co_await nothing();
  }
  co_return sum;
}

TEST_P(Routines, TenMillionSynchronousTaskAwaitsKeepTheStackFlat) {
  constexpr uint64_t kAwaits = 10'000'000;
  auto r = run(sum_of_synchronous_awaits(kAwaits / 2), 1);
  EXPECT_EQ(r.value_or(0), kAwaits / 4);
}

// The envelope pool on its own: a block is reused within its size class, a block freed on
// another pool's shard goes back to the pool that made it, and big or pool-less blocks
// come from the system allocator.
TEST(EnvelopePool, ReusesBlocksAndSendsForeignOnesHome) {
  if (EnvelopePool::bypassed())
    GTEST_SKIP() << "AddressSanitizer build: every envelope comes from the system allocator";
  EnvelopePool a;
  EnvelopePool b;
  void* p = EnvelopePool::allocate(&a, 100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);  // starts on a cache line
  EnvelopePool::release(p, &a);                        // freed by its maker: kept
  void* q = EnvelopePool::allocate(&a, 97);            // 97..112 bytes: the same class
  EXPECT_EQ(q, p);
  EnvelopePool::release(q, &b);  // freed on b's shard: goes back to a, not to b
  void* r = EnvelopePool::allocate(&b, 100);
  EXPECT_NE(r, q);
  EXPECT_EQ(b.blocks_made(), 1u);
  void* s = EnvelopePool::allocate(&a, 100);  // a takes its returned block back
  EXPECT_EQ(s, q);
  EXPECT_EQ(a.blocks_made(), 1u);
  void* big = EnvelopePool::allocate(&a, 4096);  // beyond the classes
  void* stray = EnvelopePool::allocate(nullptr, 64);
  EXPECT_EQ(a.blocks_made(), 1u);
  std::memset(big, 0xab, 4096);
  std::memset(stray, 0xcd, 64);
  for (void* x : {r, s, big, stray}) EnvelopePool::release(x, nullptr);  // from no shard at all
  void* again = EnvelopePool::allocate(&b, 100);
  EXPECT_EQ(again, r);  // r went home to b
  EXPECT_EQ(b.blocks_made(), 1u);
  EnvelopePool::release(again, &b);
}

// ---- Lean routines (issue 16; docs/scheduling.md, "Lean routines"): a blocked routine
// costs at most 256 bytes, a tenth of a goroutine's 2.6 KB. Deterministic checks, no
// clock and no malloc statistics: the sizes of the control block and the promise, and
// the frame pool's own count of the bytes N blocked routines hold.
static_assert(sizeof(Routine) <= 80, "Routine grew: see docs/scheduling.md, Lean routines");
static_assert(sizeof(detail::PromiseBase) <= 88, "PromiseBase grew: see docs/scheduling.md, Lean routines");
static_assert(sizeof(Task<Result<void>>::promise_type) <= 112, "the promise grew: see docs/scheduling.md");
static_assert(sizeof(detail::SleepAwaiter) <= 40, "SleepAwaiter grew: see docs/scheduling.md");

// What runtime_bench's memory_per_blocked_routine blocks.
Task<Result<void>> sleeper() { co_return co_await sleep(1h); }

struct BlockedCost {
  double frame_bytes = 0;  // frame-pool block bytes per blocked routine
  uint64_t moved = 0;      // routines handed to the other shard
};

// kCount sleepers started with go() or spawn() on the simulator (2 shards, work
// requesting on: one thread, so one frame pool sees both shards' frames).
BlockedCost blocked_sleepers(bool balanced) {
  constexpr int kCount = 2000;
  RuntimeConfig c;
  c.backend = Backend::sim;
  c.shards = 2;
  c.work_requesting = true;
  auto rt = Runtime::create(c);
  EXPECT_TRUE(rt.has_value());
  if (!rt) return {};
  BlockedCost cost;
  auto r = rt->block_on([](bool spawn_them, double* out) -> Task<void> {
    std::vector<JoinHandle<Result<void>>> hs;
    hs.reserve(kCount);
    const FramePoolStats before = frame_pool_stats();
    for (int i = 0; i < kCount; ++i) hs.push_back(spawn_them ? spawn(sleeper()) : go(sleeper()));
    co_await sleep(1ms);  // every sleeper has reached its sleep, here or on shard 1
    const FramePoolStats after = frame_pool_stats();
    const size_t held = (after.allocated_bytes - before.allocated_bytes) - (after.freed_bytes - before.freed_bytes);
    *out = static_cast<double>(held) / kCount;
    for (auto& h : hs) EXPECT_TRUE(h.abort().has_value());
    for (auto& h : hs) EXPECT_EQ(err(co_await h.join()), errc::cancelled);
  }(balanced, &cost.frame_bytes));
  EXPECT_TRUE(r.has_value());
  cost.moved = rt->stats().total.routines_given;
  return cost;
}

// The budget: 256 bytes less glibc's 8-byte chunk header and the sleeper's 8-byte slot in
// the timer heap leave 240 for the frame's block. GCC is the compiler the number is for;
// clang without optimisation keeps every temporary in the frame.
constexpr double kFrameBudget = 256 - 8 - 8;

TEST(LeanRoutines, ABlockedRoutineCostsAtMost256Bytes) {
#if defined(__clang__) && !defined(__OPTIMIZE__)
  GTEST_SKIP() << "clang -O0 frames: the budget holds for GCC and optimised builds";
#endif
  const BlockedCost local = blocked_sleepers(/*balanced=*/false);
  EXPECT_EQ(local.moved, 0u);
  EXPECT_LE(local.frame_bytes, kFrameBudget);
  EXPECT_EQ(local.frame_bytes,
            static_cast<double>(frame_block_bytes(static_cast<size_t>(local.frame_bytes))));  // one block each
}

TEST(LeanRoutines, BalancingKeepsABlockedRoutineAtMost256Bytes) {
#if defined(__clang__) && !defined(__OPTIMIZE__)
  GTEST_SKIP() << "clang -O0 frames: the budget holds for GCC and optimised builds";
#endif
  const BlockedCost balanced = blocked_sleepers(/*balanced=*/true);
  EXPECT_GT(balanced.moved, 0u);  // balancing did move some of them
  EXPECT_LE(balanced.frame_bytes, kFrameBudget);
}

// ---- A routine blocked in a channel receive or send (docs/scheduling.md, "Lean
// routines"): the same budget. No timer slot here, so the frame's block may take 248.
static_assert(sizeof(detail::ChanWaiter) <= 32, "ChanWaiter grew: see docs/scheduling.md, Lean routines");
static_assert(sizeof(detail::RecvWaiter<int>) <= 40, "RecvWaiter grew: see docs/scheduling.md, Lean routines");
static_assert(sizeof(detail::SendWaiter<int>) <= 40, "SendWaiter grew: see docs/scheduling.md, Lean routines");
static_assert(sizeof(decltype(std::declval<Receiver<int>&>().recv())) <= 56,
              "the recv awaiter grew: see docs/scheduling.md");
static_assert(sizeof(decltype(std::declval<Sender<int>&>().send(0))) <= 56,
              "the send awaiter grew: see docs/scheduling.md");

// What runtime_bench's memory_per_blocked_receiver / _sender block.
Task<Result<int>> receiver(Receiver<int> rx) { co_return co_await rx.recv(); }
Task<Result<void>> sender(Sender<int> tx) {
  auto sent = co_await tx.send(1);
  if (!sent) co_return std::unexpected(sent.error().error);
  co_return Result<void>{};
}

// Frame-pool block bytes per routine blocked on one unbuffered channel of the simulator.
double blocked_on_channel(bool receivers) {
  constexpr int kCount = 2000;
  RuntimeConfig c;
  c.backend = Backend::sim;
  c.shards = 1;
  auto rt = Runtime::create(c);
  EXPECT_TRUE(rt.has_value());
  if (!rt) return 0;
  double bytes = 0;
  auto r = rt->block_on([](bool recv_side, double* out) -> Task<void> {
    auto [tx, rx] = chan<int>(0).value();
    std::vector<JoinHandle<Result<int>>> rs;
    std::vector<JoinHandle<Result<void>>> ss;
    rs.reserve(kCount);
    ss.reserve(kCount);
    const FramePoolStats before = frame_pool_stats();
    for (int i = 0; i < kCount; ++i) {
      if (recv_side) {
        rs.push_back(go(receiver(rx)));
      } else {
        ss.push_back(go(sender(tx)));
      }
    }
    co_await yield_now();  // every routine has reached its recv or send
    const FramePoolStats after = frame_pool_stats();
    const size_t held = (after.allocated_bytes - before.allocated_bytes) - (after.freed_bytes - before.freed_bytes);
    *out = static_cast<double>(held) / kCount;
    for (auto& h : rs) EXPECT_TRUE(h.abort().has_value());
    for (auto& h : ss) EXPECT_TRUE(h.abort().has_value());
    for (auto& h : rs) EXPECT_EQ(err(co_await h.join()), errc::cancelled);
    for (auto& h : ss) EXPECT_EQ(err(co_await h.join()), errc::cancelled);
  }(receivers, &bytes));
  EXPECT_TRUE(r.has_value());
  return bytes;
}

// 256 bytes less glibc's 8-byte chunk header.
constexpr double kChanFrameBudget = 256 - 8;

TEST(LeanRoutines, ARoutineBlockedInRecvCostsAtMost256Bytes) {
#if defined(__clang__) && !defined(__OPTIMIZE__)
  GTEST_SKIP() << "clang -O0 frames: the budget holds for GCC and optimised builds";
#endif
  const double bytes = blocked_on_channel(/*receivers=*/true);
  EXPECT_LE(bytes, kChanFrameBudget);
  EXPECT_EQ(bytes, static_cast<double>(frame_block_bytes(static_cast<size_t>(bytes))));  // one block each
}

TEST(LeanRoutines, ARoutineBlockedInSendCostsAtMost256Bytes) {
#if defined(__clang__) && !defined(__OPTIMIZE__)
  GTEST_SKIP() << "clang -O0 frames: the budget holds for GCC and optimised builds";
#endif
  const double bytes = blocked_on_channel(/*receivers=*/false);
  EXPECT_LE(bytes, kChanFrameBudget);
  EXPECT_EQ(bytes, static_cast<double>(frame_block_bytes(static_cast<size_t>(bytes))));
}

// The pool's classes fit glibc's chunks: 16k + 8 bytes, so a block and its header fill a
// chunk of 16(k + 1) with nothing to spare.
TEST(LeanRoutines, FramePoolClassesFitMallocChunks) {
  EXPECT_EQ(frame_block_bytes(232), 232u);
  EXPECT_EQ(frame_block_bytes(225), 232u);
  EXPECT_EQ(frame_block_bytes(233), 248u);
  EXPECT_EQ(frame_block_bytes(1), 8u);
  EXPECT_EQ(frame_block_bytes(4096), 4096u);  // beyond the classes: as asked
}

}  // namespace
}  // namespace ringo
