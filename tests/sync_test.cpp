// Go's sync vocabulary (WaitGroup, Mutex, RWMutex, Semaphore, Once, Cond), timer channels
// and tickers, and TaskScope as an errgroup, on the simulator and on io_uring. Every test
// body runs under a 20 s deadline, so a lost wake-up fails the test instead of hanging it.
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends.hpp"
#include "watchdog.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;
using testing::OnEveryBackend;

// The body as a deadline scope: on expiry every await in it fails fast and the test
// reports timed_out.
Task<Result<void>> as_result(Task<void> body) {
  co_await std::move(body);
  co_return Result<void>{};
}
Task<Result<void>> within_20s(Task<void> body) {
  auto scoped = as_result(std::move(body));
  co_return co_await with_timeout(20s, std::move(scoped));
}

class Sync : public OnEveryBackend {
 protected:
  void run_bounded(Task<void> body, uint32_t shards = 3) {
    auto r = run(within_20s(std::move(body)), shards);
    EXPECT_TRUE(r.has_value()) << r.error().message();
  }
};
RINGO_ON_EVERY_BACKEND(Sync);

// Counts routines inside a critical section; shared between shard threads.
struct Occupancy {
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  void enter() {
    const int now = inside.fetch_add(1) + 1;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
  }
  void leave() { inside.fetch_sub(1); }
};

// ---------------------------------------------------------------- Mutex

TEST_P(Sync, MutexLockTryLockAndGuardUnlock) {
  run_bounded([]() -> Task<void> {
    Mutex mu;
    EXPECT_FALSE(mu.locked());
    auto g = co_await mu.lock();
    EXPECT_TRUE(g.has_value());
    EXPECT_TRUE(mu.locked());
    EXPECT_FALSE(mu.try_lock().has_value());
    EXPECT_TRUE(g->unlock().has_value());
    EXPECT_EQ(err(g->unlock()), errc::not_held);  // a second unlock is an error value
    EXPECT_FALSE(mu.locked());
    {
      auto t = mu.try_lock();
      EXPECT_TRUE(t.has_value());
      Mutex::Guard moved = std::move(*t);
      EXPECT_FALSE(t->owns_lock());
      EXPECT_TRUE(mu.locked());
    }
    EXPECT_FALSE(mu.locked());  // the guard unlocked when it went out of scope
  }());
}

Task<void> lock_and_log(Mutex mu, int who, std::vector<int>* order) {
  auto g = co_await mu.lock();
  if (!g) co_return;
  order->push_back(who);
  co_await sleep(100us);
}

TEST_P(Sync, MutexWaitersAreServedInFifoOrder) {
  run_bounded([]() -> Task<void> {
    Mutex mu;
    std::vector<int> order;
    auto g = co_await mu.lock();
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 5; ++i) {
      hs.push_back(go(lock_and_log(mu, i, &order)));
      co_await sleep(100us);  // each one queues before the next starts
    }
    (void)g->unlock();
    for (auto& h : hs) co_await h.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  }());
}

struct Shared {
  Occupancy occupancy;
  long counter = 0;  // protected by the mutex only
};

Task<void> contend(Mutex mu, Shared* shared, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto g = co_await mu.lock();
    if (!g) co_return;
    shared->occupancy.enter();
    const long seen = shared->counter;
    co_await yield_now();  // a lost update shows if anyone else gets in here
    shared->counter = seen + 1;
    shared->occupancy.leave();
  }
}

TEST_P(Sync, MutexAcrossThreeShardsKeepsMutualExclusion) {
  constexpr int kRounds = 300;
  run_bounded([]() -> Task<void> {
    Mutex mu;
    Shared shared;
    std::vector<JoinHandle<void>> hs;
    for (uint32_t shard = 0; shard < 3; ++shard) {
      for (int k = 0; k < 2; ++k) hs.push_back(spawn_on(shard, contend(mu, &shared, kRounds)));
    }
    for (auto& h : hs) EXPECT_TRUE((co_await h.join()).has_value());
    EXPECT_EQ(shared.counter, 6L * kRounds);
    EXPECT_EQ(shared.occupancy.most.load(), 1);
    EXPECT_FALSE(mu.locked());
  }());
}

Task<Result<void>> lock_once(Mutex mu) {
  auto g = co_await mu.lock();
  if (!g) co_return std::unexpected(g.error());
  co_return Result<void>{};
}

Task<Result<void>> lock_within(Mutex mu, Duration d) {
  auto g = co_await ringo::with_timeout(d, mu.lock());  // qualified: the overload is still found
  if (!g) co_return std::unexpected(g.error());
  co_return Result<void>{};
}

TEST_P(Sync, CancelledMutexWaitersLeaveNoWaiterBehind) {
  run_bounded([]() -> Task<void> {
    Mutex mu;  // homed on shard 0
    auto g = co_await mu.lock();
    auto local = go(lock_once(mu));
    auto remote = spawn_on(1, lock_once(mu));
    auto timed = spawn_on(2, lock_within(mu, 2ms));
    co_await sleep(1ms);
    EXPECT_TRUE(local.abort().has_value());
    EXPECT_TRUE(remote.abort().has_value());
    EXPECT_EQ(err(co_await local.join()), errc::cancelled);
    EXPECT_EQ(err(co_await remote.join()), errc::cancelled);
    EXPECT_EQ(err(co_await timed.join()), errc::timed_out);
    (void)g->unlock();
    // Nobody is left in the queue: the fast path is open again.
    EXPECT_TRUE(mu.try_lock().has_value());
    auto probe = submit_to(1, [mu] { return mu.try_lock().has_value(); });  // named: GCC 12
    EXPECT_TRUE((co_await probe).value_or(false));
  }());
}

// Outcome 3 of the cancellation contract: the lock was handed over in the same instant
// as the abort; the waiter keeps it, and gives it back when it ends.
TEST_P(Sync, MutexGrantedAtTheMomentOfAnAbortIsDelivered) {
  run_bounded([]() -> Task<void> {
    Mutex mu;
    auto g = co_await mu.lock();
    auto waiter = go(lock_once(mu));
    co_await sleep(1ms);
    (void)g->unlock();  // hands the mutex to the waiter, which has not run yet
    EXPECT_TRUE(waiter.abort().has_value());
    EXPECT_TRUE((co_await waiter.join()).has_value());
    EXPECT_FALSE(mu.locked());
  }());
}

TEST_P(Sync, MutexMadeOutsideTheRuntimeIsHomedOnItsFirstWaiter) {
  Mutex mu;  // no runtime on this thread yet
  auto r = run(within_20s([](Mutex m) -> Task<void> {
                 auto held = spawn_on(2, [](Mutex m2) -> Task<Result<void>> {
                   auto g = co_await m2.lock();
                   if (!g) co_return std::unexpected(g.error());
                   co_await sleep(2ms);
                   co_return Result<void>{};
                 }(m));
                 co_await sleep(1ms);
                 {
                   // Usually waits, queued on this shard, its first waiter (on a slow
                   // machine shard 2 may come second and be the home instead).
                   auto g = co_await m.lock();
                   EXPECT_TRUE(g.has_value());
                 }
                 EXPECT_TRUE((co_await held.join()).has_value());
               }(mu)),
               3);
  EXPECT_TRUE(r.has_value());
}

// ---------------------------------------------------------------- RWMutex

TEST_P(Sync, RWMutexReadersShareAndAWaitingWriterHoldsBackLaterReaders) {
  run_bounded([]() -> Task<void> {
    RWMutex rw;
    std::vector<std::string> log;
    auto r1 = co_await rw.rlock();
    auto r2 = rw.try_rlock();
    EXPECT_TRUE(r1.has_value());
    EXPECT_TRUE(r2.has_value());  // readers share
    EXPECT_FALSE(rw.try_lock().has_value());
    auto writer = go([](RWMutex m, std::vector<std::string>* l) -> Task<void> {
      auto w = co_await m.lock();
      if (!w) co_return;
      l->push_back("writer");
      co_await sleep(1ms);
    }(rw, &log));
    co_await sleep(1ms);
    EXPECT_FALSE(rw.try_rlock().has_value());  // a writer waits: new readers queue behind it
    auto reader = go([](RWMutex m, std::vector<std::string>* l) -> Task<void> {
      auto r = co_await m.rlock();
      if (!r) co_return;
      l->push_back("late reader");
    }(rw, &log));
    co_await sleep(1ms);
    EXPECT_TRUE(log.empty());
    r1 = fail(errc::cancelled);  // drops the first read guard
    r2.reset();
    co_await writer.join();
    co_await reader.join();
    EXPECT_EQ(log, (std::vector<std::string>{"writer", "late reader"}));
  }());
}

struct RWShared {
  std::atomic<int> readers{0};
  std::atomic<int> writers{0};
  std::atomic<int> most_readers{0};
  std::atomic<bool> broken{false};
  long value = 0;  // written under the write lock, read under the read lock
};

Task<void> rw_worker(RWMutex rw, RWShared* s, int rounds, bool writes) {
  for (int i = 0; i < rounds; ++i) {
    if (writes) {
      auto g = co_await rw.lock();
      if (!g) co_return;
      if (s->writers.fetch_add(1) != 0 || s->readers.load() != 0) s->broken = true;
      const long v = s->value;
      co_await yield_now();
      s->value = v + 1;
      s->writers.fetch_sub(1);
    } else {
      auto g = co_await rw.rlock();
      if (!g) co_return;
      const int now = s->readers.fetch_add(1) + 1;
      if (s->writers.load() != 0) s->broken = true;
      int most = s->most_readers.load();
      while (now > most && !s->most_readers.compare_exchange_weak(most, now)) {
      }
      const long before = s->value;
      co_await yield_now();
      if (s->value != before) s->broken = true;  // a writer got in under readers
      s->readers.fetch_sub(1);
    }
  }
}

TEST_P(Sync, RWMutexAcrossShardsExcludesWritersFromEveryone) {
  run_bounded([]() -> Task<void> {
    RWMutex rw;
    RWShared s;
    std::vector<JoinHandle<void>> hs;
    for (uint32_t shard = 0; shard < 3; ++shard) {
      hs.push_back(spawn_on(shard, rw_worker(rw, &s, 100, true)));
      hs.push_back(spawn_on(shard, rw_worker(rw, &s, 200, false)));
      hs.push_back(spawn_on(shard, rw_worker(rw, &s, 200, false)));
    }
    for (auto& h : hs) EXPECT_TRUE((co_await h.join()).has_value());
    EXPECT_FALSE(s.broken.load());
    EXPECT_EQ(s.value, 300);
    EXPECT_TRUE(rw.try_lock().has_value());
  }());
}

// ---------------------------------------------------------------- Semaphore

TEST_P(Sync, SemaphoreCountsAndReportsMisuse) {
  run_bounded([]() -> Task<void> {
    Semaphore sem(2);
    EXPECT_TRUE((co_await sem.acquire()).has_value());
    EXPECT_TRUE(sem.try_acquire());
    EXPECT_FALSE(sem.try_acquire());
    EXPECT_EQ(sem.available(), 0u);
    EXPECT_TRUE(sem.release(2).has_value());
    EXPECT_EQ(err(sem.release()), errc::not_held);  // more than taken
    EXPECT_EQ(err(co_await sem.acquire(3)), errc::invalid_argument);
    EXPECT_EQ(sem.available(), 2u);

    Semaphore signal(0, 4);  // a counter of events, starting empty
    EXPECT_FALSE(signal.try_acquire());
    auto waiter = spawn_on(1, [](Semaphore s) -> Task<Result<void>> { co_return co_await s.acquire(2); }(signal));
    co_await sleep(1ms);
    EXPECT_TRUE(signal.release().has_value());
    co_await sleep(1ms);
    EXPECT_FALSE(waiter.finished());  // needs two
    EXPECT_TRUE(signal.release().has_value());
    EXPECT_TRUE((co_await waiter.join()).has_value());
    EXPECT_EQ(signal.available(), 0u);
  }());
}

TEST_P(Sync, SemaphoreLargeRequestIsNotOvertakenBySmallOnes) {
  run_bounded([]() -> Task<void> {
    Semaphore sem(3);
    std::vector<std::string> log;
    EXPECT_TRUE(sem.try_acquire(2));
    auto big = go([](Semaphore s, std::vector<std::string>* l) -> Task<void> {
      if (co_await s.acquire(3)) l->push_back("big");
      (void)s.release(3);
    }(sem, &log));
    co_await sleep(1ms);
    EXPECT_FALSE(sem.try_acquire(1));  // one is free, but `big` waits first
    auto small = go([](Semaphore s, std::vector<std::string>* l) -> Task<void> {
      if (co_await s.acquire(1)) l->push_back("small");
      (void)s.release(1);
    }(sem, &log));
    co_await sleep(1ms);
    EXPECT_TRUE(log.empty());
    (void)sem.release(2);
    co_await big.join();
    co_await small.join();
    EXPECT_EQ(log, (std::vector<std::string>{"big", "small"}));
    EXPECT_EQ(sem.available(), 3u);
  }());
}

// A waiter that gives up hands its turn on: a small request queued behind a large one
// that is cancelled is granted at once when it fits, not at the next release (none comes
// here: without the hand-on the small one waits for good). The large one is aborted, not
// timed out: a timeout raced the test's own steps on a loaded machine.
TEST_P(Sync, SemaphoreWaiterThatGivesUpLetsTheOnesBehindItIn) {
  run_bounded([]() -> Task<void> {
    Semaphore sem(3);
    EXPECT_TRUE(sem.try_acquire(2));  // one permit free
    auto big = go([](Semaphore s) -> Task<Result<void>> { co_return co_await s.acquire(3); }(sem));
    co_await yield_now();  // `big` waits
    bool small_in = false;
    auto small = go([](Semaphore s, bool* in) -> Task<void> {
      if (co_await s.acquire(1)) *in = true;
    }(sem, &small_in));
    co_await yield_now();
    EXPECT_FALSE(small_in);  // behind `big`
    EXPECT_TRUE(big.abort().has_value());
    EXPECT_EQ(err(co_await big.join()), errc::cancelled);
    co_await sleep(1ms);
    EXPECT_TRUE(small_in) << "the request behind the one that gave up still waits, though it fits";
    (void)sem.release(2);
    co_await small.join();
    (void)sem.release(1);
    EXPECT_EQ(sem.available(), 3u);
  }());
}

Task<void> limited_work(Semaphore sem, Occupancy* occ, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    if (!co_await sem.acquire()) co_return;
    occ->enter();
    co_await yield_now();
    occ->leave();
    (void)sem.release();
  }
}

TEST_P(Sync, SemaphoreLimitsConcurrencyAcrossShards) {
  run_bounded([]() -> Task<void> {
    Semaphore sem(2);
    Occupancy occ;
    std::vector<JoinHandle<void>> hs;
    for (uint32_t shard = 0; shard < 3; ++shard) {
      for (int k = 0; k < 3; ++k) hs.push_back(spawn_on(shard, limited_work(sem, &occ, 100)));
    }
    for (auto& h : hs) EXPECT_TRUE((co_await h.join()).has_value());
    EXPECT_LE(occ.most.load(), 2);
    EXPECT_GE(occ.most.load(), 1);
    EXPECT_EQ(sem.available(), 2u);
  }());
}

// ---------------------------------------------------------------- WaitGroup

Task<void> work_then_done(WaitGroup wg, std::atomic<int>* finished, Duration d) {
  co_await sleep(d);
  finished->fetch_add(1);
  (void)wg.done();
}

TEST_P(Sync, WaitGroupWaitsForDoneOnEveryShard) {
  run_bounded([]() -> Task<void> {
    WaitGroup wg;
    std::atomic<int> finished{0};
    EXPECT_TRUE((co_await wg.wait()).has_value());  // zero: at once
    EXPECT_TRUE(wg.add(6).has_value());
    for (uint32_t i = 0; i < 6; ++i) {
      spawn_on(i % 3, work_then_done(wg, &finished, std::chrono::milliseconds(1 + i))).detach();
    }
    // Waiters on every shard, the home one included.
    auto remote = spawn_on(1, [](WaitGroup w, std::atomic<int>* f) -> Task<int> {
      auto r = co_await w.wait();
      co_return r ? f->load() : -1;
    }(wg, &finished));
    EXPECT_TRUE((co_await wg.wait()).has_value());
    EXPECT_EQ(finished.load(), 6);
    EXPECT_EQ((co_await remote.join()).value_or(0), 6);
    EXPECT_EQ(wg.count(), 0u);
  }());
}

TEST_P(Sync, WaitGroupNegativeCounterIsAnErrorValue) {
  run_bounded([]() -> Task<void> {
    WaitGroup wg;
    EXPECT_EQ(err(wg.done()), errc::negative_counter);
    EXPECT_TRUE(wg.add(1).has_value());
    EXPECT_EQ(err(wg.add(-2)), errc::negative_counter);
    EXPECT_EQ(wg.count(), 1u);  // unchanged
    EXPECT_TRUE(wg.done().has_value());
    EXPECT_TRUE((co_await wg.wait()).has_value());
  }());
}

TEST_P(Sync, WaitGroupIsReusableAcrossRounds) {
  run_bounded([]() -> Task<void> {
    WaitGroup wg;
    std::atomic<int> finished{0};
    for (int round = 1; round <= 5; ++round) {
      EXPECT_TRUE(wg.add(3).has_value());
      for (uint32_t i = 0; i < 3; ++i) spawn_on(i, work_then_done(wg, &finished, 500us * (i + 1))).detach();
      auto other = spawn_on(2, [](WaitGroup w) -> Task<Result<void>> { co_return co_await w.wait(); }(wg));
      EXPECT_TRUE((co_await wg.wait()).has_value());
      EXPECT_EQ(finished.load(), 3 * round);
      EXPECT_TRUE((co_await other.join()).has_value());
    }
  }());
}

TEST_P(Sync, WaitGroupWaitCancelledLeavesNoWaiter) {
  run_bounded([]() -> Task<void> {
    WaitGroup wg;
    (void)wg.add(1);
    EXPECT_EQ(err(co_await with_timeout(1ms, wg.wait())), errc::timed_out);
    auto remote = spawn_on(1, [](WaitGroup w) -> Task<Result<void>> { co_return co_await w.wait(); }(wg));
    auto timed =
        spawn_on(2, [](WaitGroup w) -> Task<Result<void>> { co_return co_await with_timeout(1ms, w.wait()); }(wg));
    co_await sleep(2ms);
    (void)remote.abort();
    EXPECT_EQ(err(co_await remote.join()), errc::cancelled);
    EXPECT_EQ(err(co_await timed.join()), errc::timed_out);
    (void)wg.done();
    EXPECT_TRUE((co_await wg.wait()).has_value());
  }());
}

TEST_P(Sync, WaitGroupGoRunsTasksAndCountsThemDone) {
  run_bounded([]() -> Task<void> {
    WaitGroup wg;
    std::atomic<int> n{0};
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE(wg.go([](std::atomic<int>* c, int k) -> Task<void> {
                      co_await sleep(std::chrono::microseconds(100 * k));
                      c->fetch_add(1);
                    }(&n, i))
                      .has_value());
    }
    EXPECT_TRUE(wg.go([]() -> Task<int> {
                    throw std::runtime_error("still counts as done");
                    co_return 0;
                  }())
                    .has_value());
    EXPECT_TRUE((co_await wg.wait()).has_value());
    EXPECT_EQ(n.load(), 4);
  }());
}

// ---------------------------------------------------------------- Once

struct InitLog {
  std::atomic<int> runs{0};
  std::atomic<bool> finished{false};
  std::atomic<int> early{0};  // callers that returned ok before the init finished
};

Task<void> slow_init(InitLog* log) {
  log->runs.fetch_add(1);
  co_await sleep(2ms);
  log->finished = true;
}

Task<Result<void>> call_once(Once once, InitLog* log) {
  auto t = slow_init(log);
  auto r = co_await once.call(std::move(t));
  if (r && !log->finished.load()) log->early.fetch_add(1);
  co_return r;
}

TEST_P(Sync, OnceRunsOnceAndConcurrentCallersWaitForIt) {
  run_bounded([]() -> Task<void> {
    Once once;
    InitLog log;
    std::vector<JoinHandle<Result<void>>> hs;
    for (uint32_t i = 0; i < 9; ++i) hs.push_back(spawn_on(i % 3, call_once(once, &log)));
    for (auto& h : hs) EXPECT_TRUE((co_await h.join()).has_value());
    EXPECT_EQ(log.runs.load(), 1);
    EXPECT_EQ(log.early.load(), 0);
    EXPECT_TRUE(once.done());
    EXPECT_TRUE((co_await call_once(once, &log)).has_value());
    EXPECT_EQ(log.runs.load(), 1);
  }());
}

Task<Result<void>> failing_init(int* runs, bool fail_it) {
  ++*runs;
  if (fail_it) co_return fail(errc::invalid_argument);
  co_return Result<void>{};
}

Task<void> panicking_init() {
  throw std::runtime_error("init failed");
  co_return;
}

TEST_P(Sync, OnceRetriesAfterAnErrorAndAPanicIsFinal) {
  run_bounded([]() -> Task<void> {
    Once once;
    int runs = 0;
    auto first = failing_init(&runs, true);
    EXPECT_EQ(err(co_await once.call(std::move(first))), errc::invalid_argument);
    EXPECT_FALSE(once.done());
    auto second = failing_init(&runs, false);
    EXPECT_TRUE((co_await once.call(std::move(second))).has_value());
    auto third = failing_init(&runs, false);
    EXPECT_TRUE((co_await once.call(std::move(third))).has_value());
    EXPECT_EQ(runs, 2);

    Once poisoned;
    auto boom = panicking_init();
    EXPECT_EQ(err(co_await poisoned.call(std::move(boom))), errc::routine_panicked);
    auto after = failing_init(&runs, false);
    EXPECT_EQ(err(co_await poisoned.call(std::move(after))), errc::routine_panicked);
    EXPECT_EQ(runs, 2);  // never run: the Once is done, with a panic
  }());
}

// The first caller is aborted while its init runs: the init reports cancelled, the Once
// stays undone, and the next waiting caller runs its own init.
Task<Result<void>> cancellable_init(std::atomic<int>* runs, Duration d) {
  runs->fetch_add(1);
  co_return co_await sleep(d);  // cancelled -> the error goes to Once
}

TEST_P(Sync, OnceWhoseFirstCallerIsCancelledRunsForTheNext) {
  run_bounded([]() -> Task<void> {
    Once once;
    std::atomic<int> runs{0};
    auto caller = [](Once o, std::atomic<int>* r, Duration d) -> Task<Result<void>> {
      auto t = cancellable_init(r, d);
      co_return co_await o.call(std::move(t));
    };
    auto first = go(caller(once, &runs, 1h));  // ends only by the abort
    while (runs.load() == 0) co_await sleep(100us);
    auto second = spawn_on(1, caller(once, &runs, 1ms));
    co_await sleep(1ms);
    (void)first.abort();
    EXPECT_EQ(err(co_await first.join()), errc::cancelled);
    EXPECT_TRUE((co_await second.join()).has_value());
    EXPECT_EQ(runs.load(), 2);
    EXPECT_TRUE(once.done());
  }());
}

// ---------------------------------------------------------------- Cond

TEST_P(Sync, CondSignalWakesOneInOrderAndBroadcastWakesAll) {
  run_bounded([]() -> Task<void> {
    Mutex mu;
    Cond cond(mu);
    std::vector<int> woken;
    int permits = 0;  // under mu
    auto waiter = [](Cond c, int who, int* p, std::vector<int>* w) -> Task<void> {
      auto g = co_await c.mutex().lock();
      if (!g) co_return;
      while (*p == 0) {
        if (!co_await c.wait(*g)) co_return;
      }
      --*p;
      w->push_back(who);
    };
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 4; ++i) {
      hs.push_back(go(waiter(cond, i, &permits, &woken)));
      co_await sleep(100us);
    }
    {
      auto g = co_await mu.lock();
      permits = 1;
      cond.signal();
    }
    co_await sleep(1ms);
    EXPECT_EQ(woken, (std::vector<int>{0}));
    {
      auto g = co_await mu.lock();
      permits = 3;
      cond.broadcast();
    }
    for (auto& h : hs) co_await h.join();
    EXPECT_EQ(woken, (std::vector<int>{0, 1, 2, 3}));
  }());
}

struct Queue {
  std::vector<int> items;  // under the mutex
  bool closed = false;
  long sum = 0;
};

Task<void> consume_queue(Cond cond, Queue* q, std::atomic<long>* total) {
  for (;;) {
    auto g = co_await cond.mutex().lock();
    if (!g) co_return;
    while (q->items.empty() && !q->closed) {
      if (!co_await cond.wait(*g)) co_return;
    }
    if (q->items.empty()) co_return;  // closed and drained
    const int v = q->items.back();
    q->items.pop_back();
    total->fetch_add(v);
  }
}

TEST_P(Sync, CondProducerAndConsumersAcrossShards) {
  run_bounded([]() -> Task<void> {
    Mutex mu;
    Cond cond(mu);
    Queue q;
    std::atomic<long> total{0};
    std::vector<JoinHandle<void>> hs;
    for (uint32_t shard = 0; shard < 3; ++shard) hs.push_back(spawn_on(shard, consume_queue(cond, &q, &total)));
    long expected = 0;
    for (int i = 1; i <= 300; ++i) {
      auto g = co_await mu.lock();
      if (!g) co_return;
      q.items.push_back(i);
      expected += i;
      cond.signal();
      if (i % 7 == 0) {
        g->unlock();
        co_await yield_now();
      }
    }
    {
      auto g = co_await mu.lock();
      q.closed = true;
      cond.broadcast();
    }
    for (auto& h : hs) EXPECT_TRUE((co_await h.join()).has_value());
    EXPECT_EQ(total.load(), expected);
  }());
}

TEST_P(Sync, CondWaitCancelledOrTimedOutStillHoldsTheLock) {
  run_bounded([]() -> Task<void> {
    Mutex mu;
    Cond cond(mu);
    auto g = co_await mu.lock();
    EXPECT_EQ(err(co_await with_timeout(1ms, cond.wait(*g))), errc::timed_out);
    EXPECT_TRUE(g->owns_lock());
    EXPECT_TRUE(mu.locked());
    (void)g->unlock();
    EXPECT_EQ(err(co_await cond.wait(*g)), errc::not_held);  // g holds nothing now

    // On another shard, aborted while it waits; it comes back holding the lock, which
    // it then drops as it returns.
    std::atomic<bool> waiting{false};
    auto remote = spawn_on(1, [](Cond c, std::atomic<bool>* flag) -> Task<Result<bool>> {
      auto held = co_await c.mutex().lock();
      if (!held) co_return std::unexpected(held.error());
      *flag = true;
      auto w = co_await c.wait(*held);
      if (w) co_return false;
      co_return held->owns_lock();
    }(cond, &waiting));
    while (!waiting.load() || mu.locked()) co_await sleep(100us);  // it waits, and let go
    (void)remote.abort();
    auto r = co_await remote.join();
    EXPECT_TRUE(r.value_or(false));
    EXPECT_FALSE(mu.locked());
    std::stop_source stop;
    auto stopped = spawn_on(2, [](Cond c, std::stop_token t) -> Task<Result<bool>> {
      auto held = co_await c.mutex().lock();
      if (!held) co_return std::unexpected(held.error());
      auto w = co_await with_stop(t, c.wait(*held));
      co_return !w && w.error() == errc::cancelled && held->owns_lock();
    }(cond, stop.get_token()));
    co_await sleep(1ms);
    stop.request_stop();
    EXPECT_TRUE((co_await stopped.join()).value_or(false));
  }());
}

// ---------------------------------------------------------------- timers and tickers

TEST_P(Sync, TimerChanDeliversOneValueAtItsDeadline) {
  run_bounded([](bool simulated) -> Task<void> {
    const Instant t0 = current_shard()->now();
    auto rx = timer_chan(3ms);
    auto v = co_await rx.recv();
    EXPECT_TRUE(v.has_value());
    if (!v) co_return;
    EXPECT_GE(*v - t0, 3ms);
    if (simulated) {
      EXPECT_EQ(*v - t0, 3ms);  // virtual time: exactly
    }
    EXPECT_EQ(err(co_await rx.recv()), errc::channel_closed);

    // As a select case, against a channel nobody sends on.
    auto [tx, idle] = std::move(*chan<int>(0));
    auto deadline = timer_chan(2ms);
    auto a = on_recv(idle);
    auto b = on_recv(deadline);
    EXPECT_EQ((co_await select(a, b)).value_or(9), 1u);
  }(GetParam() == Backend::sim));
}

TEST_P(Sync, TimerStoppedBeforeItFiresSendsNothing) {
  run_bounded([]() -> Task<void> {
    auto t = timer(2ms);
    EXPECT_TRUE(t.has_value());
    if (!t) co_return;
    EXPECT_TRUE(t->stop());
    EXPECT_FALSE(t->stop());
    EXPECT_EQ(err(co_await with_timeout(5ms, t->recv())), errc::timed_out);  // open, silent
    auto fired = timer(1ms);
    co_await sleep(2ms);
    EXPECT_FALSE(fired->stop());  // too late: it fired
    EXPECT_TRUE((co_await fired->recv()).has_value());
  }());
}

TEST_P(Sync, TickerTicksOnItsGridDropsForASlowReaderAndStops) {
  run_bounded([](bool simulated) -> Task<void> {
    EXPECT_EQ(err(ticker(0ms)), errc::invalid_argument);
    const Instant t0 = current_shard()->now();
    auto tk = std::move(*ticker(1ms));
    for (int i = 1; i <= 3; ++i) {
      auto v = co_await tk.recv();
      EXPECT_TRUE(v.has_value());
      if (!v) co_return;
      if (simulated) {
        EXPECT_EQ(*v - t0, std::chrono::milliseconds(i));
      }
    }
    co_await sleep(5500us);  // a slow reader: five ticks pass, one waits in the channel
    EXPECT_TRUE(tk.chan().try_recv().has_value());
    EXPECT_EQ(err(tk.chan().try_recv()), errc::channel_empty);
    auto next = co_await tk.recv();
    EXPECT_TRUE(next.has_value());
    if (!next) co_return;
    if (simulated) {
      EXPECT_EQ(*next - t0, 9ms);  // on the grid
    }
    tk.stop();
    co_await sleep(3ms);
    (void)tk.chan().try_recv();  // at most one sent before the routine saw the stop
    EXPECT_EQ(err(co_await with_timeout(3ms, tk.recv())), errc::timed_out);  // still open
    Receiver<Instant> copy = tk.chan();
    tk = Ticker();  // destroyed: the channel closes
    EXPECT_EQ(err(co_await copy.recv()), errc::channel_closed);
  }(GetParam() == Backend::sim));
}

TEST_P(Sync, TickerIsAnOrdinarySelectCase) {
  run_bounded([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    auto producer = spawn_on(1, [](Sender<int> out) -> Task<void> {
      for (int i = 0; i < 5; ++i) {
        co_await sleep(700us);
        (void)co_await out.send(i);
      }
    }(tx));
    tx = Sender<int>();
    auto tk = std::move(*ticker(1ms));
    int values = 0, ticks = 0;
    for (bool open = true; open;) {
      auto v = on_recv(rx);
      auto t = on_recv(tk.chan());
      auto i = co_await select(v, t);
      if (!i) break;
      if (*i == 0) {
        if (v.value->has_value()) {
          ++values;
        } else {
          open = false;
        }
      } else {
        ++ticks;
      }
    }
    co_await producer.join();
    EXPECT_EQ(values, 5);
    EXPECT_GE(ticks, 1);
  }());
}

// ---------------------------------------------------------------- errgroup

Task<Result<void>> fail_after(Duration d) {
  co_await sleep(d);
  co_return fail(errc::invalid_argument);
}

Task<Result<void>> sleep_long(std::atomic<int>* cancelled) {
  auto r = co_await sleep(1h);
  if (!r) cancelled->fetch_add(1);
  co_return r;
}

TEST_P(Sync, TaskScopeIsAnErrGroupAcrossShards) {
  run_bounded([]() -> Task<void> {
    std::atomic<int> cancelled{0};
    TaskScope group;
    EXPECT_TRUE(group.spawn(run_on(1, sleep_long(&cancelled))).has_value());
    EXPECT_TRUE(group.spawn(run_on(2, fail_after(1ms))).has_value());
    EXPECT_TRUE(group.spawn(sleep_long(&cancelled)).has_value());
    auto first = co_await group.join_all();
    EXPECT_EQ(err(first), errc::invalid_argument);  // the first error, from shard 2
    EXPECT_EQ(cancelled.load(), 2);                 // the rest were cancelled, on shard 1 too
  }());
}

// A WaitGroup's zero ends only the round it ends. The zero here comes from shard 1, so its
// release reaches the home shard (0) as a message, which shard 0 drains after running its
// routines: this routine, polling the counter, usually sees the zero first and starts the
// next round (add) with a second waiter queued before that release runs. The second
// waiter belongs to the next round and must wait for its zero. Real threads only: in the
// simulator a shard spinning on yield_now holds the virtual clock still, so the message
// that carries the zero would never arrive.
Task<bool> next_rounds_waiter_released_early() {
  WaitGroup wg;  // homed on shard 0 by the first wait
  (void)wg.add(1);
  auto first = go([](WaitGroup w) -> Task<Result<void>> { co_return co_await w.wait(); }(wg));
  co_await yield_now();  // `first` waits in round 0
  spawn_on(1,
           [](WaitGroup w) -> Task<void> {
             (void)w.done();
             co_return;
           }(wg))
      .detach();
  while (wg.count() != 0) co_await yield_now();
  (void)wg.add(1);  // round 1
  bool second_out = false;
  auto second = go([](WaitGroup w, bool* out) -> Task<void> {
    if (co_await w.wait()) *out = true;
  }(wg, &second_out));
  co_await yield_now();  // `second` waits in round 1
  EXPECT_TRUE((co_await first.join()).has_value());
  co_await sleep(1ms);
  const bool early = second_out;
  (void)wg.done();
  co_await second.join();
  EXPECT_TRUE(second_out);
  co_return early;
}

void next_rounds_waiters_wait(Backend backend) {
  testing::Watchdog guard{std::chrono::seconds(60), "WaitGroup rounds across 2 real shards"};
  constexpr int kRuns = 30;  // the order above is likely, not certain: many runs
  int early = 0;
  for (int run = 0; run < kRuns; ++run) {
    RuntimeConfig c;
    c.shards = 2;
    c.backend = backend;
    auto rt = Runtime::create(c);
    ASSERT_TRUE(rt.has_value()) << rt.error().message();
    auto r = rt->block_on(next_rounds_waiter_released_early());
    ASSERT_TRUE(r.has_value()) << r.error().message();
    early += *r ? 1 : 0;
  }
  EXPECT_EQ(early, 0) << "in " << early << " of " << kRuns
                      << " runs a waiter of the next round was released by the previous zero";
}

TEST(SyncOnUring, AWaitGroupZeroDoesNotReleaseTheNextRoundsWaiters) { next_rounds_waiters_wait(Backend::uring); }
TEST(SyncOnAio, AWaitGroupZeroDoesNotReleaseTheNextRoundsWaiters) { next_rounds_waiters_wait(Backend::aio); }

}  // namespace
}  // namespace ringo
