// Deadlines on any awaitable and task scopes, on the simulator and on io_uring.
#include <stop_token>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;
using testing::not_early;
using testing::OnEveryBackend;

class Deadlines : public OnEveryBackend {};
RINGO_ON_EVERY_BACKEND(Deadlines);

TEST_P(Deadlines, RecvTimesOutAtItsDeadlineAndLeavesNoWaiter) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    Shard& shard = *current_shard();
    const Instant t0 = shard.now();
    auto v = co_await with_timeout(2ms, rx.recv());
    EXPECT_EQ(err(v), errc::timed_out);
    EXPECT_TRUE(not_early(t0, 2ms));
    EXPECT_EQ(tx.try_send(1).error().error, errc::channel_full);  // no receiver left behind
    const Instant t1 = shard.now();
    EXPECT_TRUE((co_await sleep(1ms)).has_value());  // later awaits unaffected
    EXPECT_TRUE(not_early(t1, 1ms));
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Deadlines, SendTimesOutAndHandsTheValueBack) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<std::string>(0));
    const Instant t0 = current_shard()->now();
    auto s = co_await with_timeout(1ms, tx.send("keep me"));
    EXPECT_TRUE(not_early(t0, 1ms));
    EXPECT_FALSE(s.has_value());
    if (!s) {
      EXPECT_EQ(s.error().error, errc::timed_out);
      EXPECT_EQ(s.error().value, "keep me");
    }
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Deadlines, ReadyOperationKeepsItsValueAndCancelsTheTimer) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(1));
    (void)tx.try_send(5);
    auto v = co_await with_timeout(1h, rx.recv());
    EXPECT_EQ(v.value_or(0), 5);
    auto [tx2, rx2] = std::move(*chan<int>(0));
    const Instant t0 = current_shard()->now();
    auto sender = go([](Sender<int> t) -> Task<void> {
      co_await sleep(1ms);
      co_await t.send(6);
    }(tx2));
    auto w = co_await with_timeout(1h, rx2.recv());
    EXPECT_EQ(w.value_or(0), 6);
    EXPECT_TRUE(not_early(t0, 1ms));  // sent after the sender's sleep
    co_await sender.join();
    EXPECT_EQ(current_shard()->pending_timers(), 0u);
  }());
  EXPECT_TRUE(r.has_value());
}

// A value handed over in the same tick in which the deadline fires is returned, not
// dropped for a timed_out ("completed anyway"). Deterministic on every backend: the
// deadline is this instant, so the timer is due at the tick's next look at the timers; the
// value comes from a call this shard posted to itself, delivered after the routines ran
// and before that look. Both happen: the stats say the deadline fired.
TEST_P(Deadlines, ValueHandedOverInTheDeadlinesTickIsReturned) {
  auto r = run(
      []() -> Task<void> {
        auto [tx, rx] = std::move(*chan<int>(0));
        auto sender = go([](Sender<int> t) -> Task<bool> {
          // Runs once main is parked in its receive below.
          auto call = submit_to(0, [t]() mutable { return t.try_send(7).has_value(); });
          co_return (co_await call).value_or(false);
        }(tx));
        auto v = co_await with_deadline(current_shard()->now(), rx.recv());
        EXPECT_TRUE(v.has_value()) << "the value was taken from the sender but dropped: " << err(v).message();
        EXPECT_EQ(v.value_or(0), 7);
        EXPECT_TRUE((co_await sender.join()).value_or(false));  // it was taken, so it must have arrived
        EXPECT_EQ(err(rx.try_recv()), errc::channel_empty);
      }(),
      1);
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.deadline_expiries, 1u);  // the deadline did fire in that tick
}

// The same for a send: the receiver took the value in the deadline's tick, so the send
// succeeded and must say so (a timed_out would hand back a value that was delivered).
TEST_P(Deadlines, SendTakenInTheDeadlinesTickReportsSuccess) {
  auto r = run(
      []() -> Task<void> {
        auto [tx, rx] = std::move(*chan<std::string>(0));
        auto receiver = go([](Receiver<std::string> x) -> Task<std::string> {
          auto call = submit_to(0, [x]() mutable { return x.try_recv().value_or("none"); });
          co_return (co_await call).value_or("failed");
        }(rx));
        auto s = co_await with_timeout(Duration{0}, tx.send("sent"));
        EXPECT_TRUE(s.has_value()) << "a delivered value was reported as timed out";
        EXPECT_EQ((co_await receiver.join()).value_or(""), "sent");
      }(),
      1);
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.deadline_expiries, 1u);
}

TEST_P(Deadlines, KernelOpAndSleepTimeOut) {
  auto r = run([]() -> Task<void> {
    Sqe t;
    t.opcode = Opcode::timeout;
    t.off = static_cast<uint64_t>(Duration(1h).count());
    const Instant t0 = current_shard()->now();
    EXPECT_EQ(err(co_await with_timeout(2ms, submit(t))), errc::timed_out);
    EXPECT_TRUE(not_early(t0, 2ms));
    const Instant t1 = current_shard()->now();
    EXPECT_EQ(err(co_await with_timeout(2ms, sleep(1h))), errc::timed_out);
    EXPECT_TRUE(not_early(t1, 2ms));
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.ops_cancelled_by_kernel, 1u);
  EXPECT_EQ(last_stats_.total.deadline_expiries, 2u);
}

TEST_P(Deadlines, CrossShardCallTimesOutAndTheRemoteWorkIsCancelled) {
  auto r = run([]() -> Task<void> {
    const Instant t0 = current_shard()->now();
    auto v = co_await with_timeout(2ms, submit_to(1, []() -> Task<Result<void>> { co_return co_await sleep(1h); }));
    EXPECT_EQ(err(v), errc::timed_out);
    EXPECT_TRUE(not_early(t0, 2ms));
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

TEST_P(Deadlines, ScopeJoinsAllChildren) {
  auto r = run([]() -> Task<int> {
    int done = 0;
    TaskScope scope;
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(scope
                      .spawn([](int* d, int n) -> Task<void> {
                        const Instant t0 = current_shard()->now();
                        const auto nap = std::chrono::microseconds(100 * n);
                        co_await sleep(nap);
                        EXPECT_TRUE(not_early(t0, nap));
                        ++*d;
                      }(&done, i))
                      .has_value());
    }
    const Instant t0 = current_shard()->now();
    EXPECT_TRUE((co_await scope.join_all()).has_value());
    EXPECT_TRUE(not_early(t0, 400us));  // the longest child slept 400 us
    co_return done;
  }());
  EXPECT_EQ(r.value_or(0), 5);
}

TEST_P(Deadlines, FirstFailureCancelsSiblings) {
  auto r = run([]() -> Task<void> {
    TaskScope scope;
    (void)scope.spawn([]() -> Task<Result<void>> { co_return co_await sleep(1h); }());
    (void)scope.spawn([]() -> Task<Result<int>> {
      co_await sleep(1ms);
      co_return fail(errc::invalid_argument);
    }());
    const Instant t0 = current_shard()->now();
    auto res = co_await scope.join_all();
    EXPECT_EQ(err(res), errc::invalid_argument);
    EXPECT_TRUE(not_early(t0, 1ms));                       // the failing child slept 1 ms first
    EXPECT_LT(current_shard()->now() - t0, Duration(1s));  // the sleeper did not run to 1h
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Deadlines, ADeadlineAroundJoinAllReachesEveryChild) {
  auto r = run([]() -> Task<void> {
    TaskScope scope;
    for (uint32_t i = 0; i < 4; ++i) {
      // Children on both shards, each waiting far longer than the deadline.
      (void)scope.spawn([](uint32_t shard) -> Task<Result<void>> {
        co_return co_await spawn_on(shard, []() -> Task<Result<void>> { co_return co_await sleep(1h); }()).join();
      }(i % 2));
    }
    const Instant t0 = current_shard()->now();
    auto res = co_await with_timeout(3ms, scope.join_all());
    EXPECT_EQ(err(res), errc::timed_out);
    EXPECT_TRUE(not_early(t0, 3ms));
    EXPECT_LT(current_shard()->now() - t0, Duration(1s));
    EXPECT_EQ(scope.size(), 0u);
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

TEST_P(Deadlines, ADeadlineOnATaskStaysPassedUntilTheTaskReturns) {
  auto r = run([]() -> Task<void> {
    int steps = 0;
    const Instant t0 = current_shard()->now();
    auto res = co_await with_timeout(2ms, [](int* s) -> Task<Result<void>> {
      auto first = co_await sleep(1h);  // interrupted when the deadline passes
      if (!first) ++*s;
      auto later = co_await submit_to(1, [] { return 7; });  // fails fast: still past it
      if (!later) ++*s;
      co_return first;
    }(&steps));
    EXPECT_EQ(err(res), errc::timed_out);
    EXPECT_EQ(steps, 2);
    EXPECT_TRUE(not_early(t0, 2ms));
    EXPECT_LT(current_shard()->now() - t0, Duration(1s));
    const Instant t1 = current_shard()->now();
    EXPECT_TRUE((co_await sleep(1ms)).has_value());  // outside the scope, normal again
    EXPECT_TRUE(not_early(t1, 1ms));
  }());
  EXPECT_TRUE(r.has_value());
}

// A deadline or a stop token around a Task<void> reports through Result<void>: it did
// not compile before (there was nothing to put timed_out in).
Task<void> naps_then_returns(Duration d, int* finished) {
  (void)co_await sleep(d);
  ++*finished;
}

TEST_P(Deadlines, AVoidTaskUnderADeadlineReportsThroughResultVoid) {
  auto r = run([]() -> Task<void> {
    int finished = 0;
    Result<void> late = co_await with_timeout(2ms, naps_then_returns(1h, &finished));
    EXPECT_EQ(err(late), errc::timed_out);
    Result<void> in_time = co_await with_timeout(1h, naps_then_returns(1ms, &finished));
    EXPECT_TRUE(in_time.has_value());
    std::stop_source stop;
    stop.request_stop();
    Result<void> stopped = co_await with_stop(stop.get_token(), naps_then_returns(1h, &finished));
    EXPECT_EQ(err(stopped), errc::cancelled);
    EXPECT_EQ(finished, 3);  // each task ran to its end: nothing was cut short but the waits
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Deadlines, AbortingTheParentCancelsTheScope) {
  auto r = run([]() -> Task<void> {
    auto parent = go([]() -> Task<Result<void>> {
      TaskScope scope;
      for (int i = 0; i < 3; ++i) (void)scope.spawn([]() -> Task<Result<void>> { co_return co_await sleep(1h); }());
      co_return co_await scope.join_all();
    }());
    const Instant t0 = current_shard()->now();
    co_await sleep(1ms);
    EXPECT_TRUE(not_early(t0, 1ms));
    (void)parent.abort();
    EXPECT_EQ(err(co_await parent.join()), errc::cancelled);
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

}  // namespace
}  // namespace ringo

namespace ringo {
namespace {

using namespace std::chrono_literals;

TEST_P(Deadlines, StopTokenFromAnotherRoutineCancelsTheWait) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    std::stop_source source;
    const Instant t0 = current_shard()->now();
    auto stopper = go([](std::stop_source* s) -> Task<void> {
      co_await sleep(2ms);
      s->request_stop();
    }(&source));
    auto v = co_await with_stop(source.get_token(), rx.recv());
    EXPECT_EQ(err(v), errc::cancelled);
    EXPECT_TRUE(not_early(t0, 2ms));                              // stopped after the stopper's sleep
    EXPECT_EQ(tx.try_send(1).error().error, errc::channel_full);  // no receiver left behind
    co_await stopper.join();
    // Already stopped: the wait is cancelled as soon as it parks.
    auto again = co_await with_stop(source.get_token(), sleep(1h));
    EXPECT_EQ(err(again), errc::cancelled);
    // Not stopped: the operation completes normally.
    std::stop_source idle;
    const Instant t1 = current_shard()->now();
    EXPECT_TRUE((co_await with_stop(idle.get_token(), sleep(1ms))).has_value());
    EXPECT_TRUE(not_early(t1, 1ms));
  }());
  EXPECT_TRUE(r.has_value());
}

// A stop requested by a plain thread outside the runtime reaches a shard that is asleep
// in the kernel: io_uring only (the simulator has no other threads).
TEST(DeadlinesOnUring, StopTokenFromAForeignThreadWakesTheShard) {
  testing::Watchdog guard{std::chrono::seconds(20),
                          "a stop requested from a foreign thread to wake shard 1, asleep in io_uring_enter"};
  RuntimeConfig c;
  c.shards = 2;
  c.backend = Backend::uring;
  auto rt = Runtime::create(c);
  ASSERT_TRUE(rt.has_value());
  std::stop_source source;
  std::thread stopper([&source] {
    std::this_thread::sleep_for(20ms);
    source.request_stop();
  });
  auto r = rt->block_on([](std::stop_token token) -> Task<Result<int>> {
    // On shard 1, which sleeps in io_uring_enter with nothing else to do. The call is
    // named first: GCC 12 destroys the captures of a lambda built inside the co_await
    // expression twice (docs/architecture.md, Known pitfalls), and a second release of
    // the token's stop state freed it under `source`, corrupting the heap for later tests.
    auto call = submit_to(1, [token]() -> Task<Result<int>> {
      auto slept = co_await with_stop(token, sleep(1h));
      co_return slept ? 0 : (slept.error() == errc::cancelled ? 1 : 2);
    });
    co_return co_await call;
  }(source.get_token()));
  stopper.join();
  EXPECT_EQ(r.value_or(-1), 1);
}

}  // namespace
}  // namespace ringo

namespace ringo {
namespace {

using namespace std::chrono_literals;

// A kernel op whose completion is due at exactly its linked deadline (IO_LINK +
// LINK_TIMEOUT): the op wins the tie and its own result comes back. The simulator makes
// the tie exact; on io_uring the two kernel timers race, so this is simulator-only.
TEST(DeadlinesInSim, KernelOpDueAtItsLinkedDeadlineKeepsItsResult) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    Result<int32_t> res = 0;
    auto report = sim::run(c, [&]() -> Task<void> {
      Sqe t;
      t.opcode = Opcode::timeout;
      t.off = static_cast<uint64_t>(Duration(1ms).count());
      res = co_await submit(t, current_shard()->now() + 1ms);
    });
    ASSERT_TRUE(report.ok()) << report.message << " " << report.replay_hint();
    EXPECT_EQ(testing::err(res), std::errc::stream_timeout) << "seed " << seed;  // TIMEOUT's own -ETIME
    EXPECT_EQ(report.stats.deadline_expiries, 0u) << "seed " << seed;
  }
}

// A kernel op and a with_deadline timer due at the same virtual instant: which one the
// shard sees first depends on the seed. Either way the result is consistent with what
// the kernel did: the op's own result when it completed anyway (counted as such), or
// timed_out when the cancel took it. Both outcomes must occur across the seeds.
TEST(DeadlinesInSim, KernelOpCompletingInItsDeadlinesTickKeepsItsResult) {
  int anyway = 0;
  int expired = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    Result<int32_t> res = 0;
    auto report = sim::run(c, [&]() -> Task<void> {
      Sqe t;
      t.opcode = Opcode::timeout;
      t.off = static_cast<uint64_t>(Duration(1ms).count());
      const Instant t0 = current_shard()->now();
      res = co_await with_deadline(t0 + 1ms, submit(t));
      EXPECT_TRUE(testing::not_early(t0, 1ms));
    });
    ASSERT_TRUE(report.ok()) << report.message << " " << report.replay_hint();
    EXPECT_EQ(report.stats.deadline_expiries, 1u) << "seed " << seed;  // the timer fired every time
    if (report.stats.ops_completed_despite_cancel == 1) {
      ++anyway;
      EXPECT_EQ(testing::err(res), std::errc::stream_timeout) << "completed anyway but not returned, seed " << seed;
    } else {
      ++expired;
      EXPECT_EQ(report.stats.ops_cancelled_by_kernel, 1u) << "seed " << seed;
      EXPECT_EQ(testing::err(res), errc::timed_out) << "seed " << seed;
    }
  }
  EXPECT_GT(anyway, 0);
  EXPECT_GT(expired, 0);
}

}  // namespace
}  // namespace ringo
