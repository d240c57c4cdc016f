// Properties of the sync primitives on the simulator, with routines on several shards, the
// primitive homed on any of them, waits plain, under with_timeout and under with_stop,
// try_* calls, and aborts at random instants:
//  - locks (Mutex, RWMutex, weighted Semaphore): the permits in use never exceed the
//    capacity (mutual exclusion; a writer alone); a plain wait that is not cancelled always
//    gets its lock (a lost wake-up shows as a failed wait or a deadlock report); callers
//    on the home shard acquire in the order they called (FIFO, no barging, a waiting
//    writer holds back later readers); at the end nobody waits and every shard finds the
//    fast path open;
//  - WaitGroup: a wait returns ok only once the round it started in has reached zero,
//    a plain wait always returns, done() at zero is negative_counter and changes nothing,
//    across reused rounds;
//  - Cond: a bounded buffer with producers and consumers on several shards (signal or
//    broadcast, waits plain, timed and aborted): every item produced is consumed exactly
//    once, the buffer never overflows, the mutex is never held twice, no one sleeps
//    forever;
//  - Once: the init succeeds at most once and never runs twice at a time; callers see
//    ok only after it succeeded; an init that failed or was cancelled is retried by the
//    next caller;
//  - Ticker and timer_chan: ticks on the period's grid in virtual time, in order, none
//    after stop(); a reader that keeps up sees every tick; timer_chan fires exactly at
//    its deadline.
// Failures print the seed (RINGO_SEED=<n> replays the run).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "rc_sim.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace detail {
// Declared by sync.hpp as a friend of every primitive: the properties look at the wait
// queue itself to check that nobody barges past it.
struct SyncProbe {
  static const SemState& of(const Mutex& m) { return *m.st_.get(); }
  static const SemState& of(const RWMutex& m) { return *m.st_.get(); }
  static const SemState& of(const Semaphore& s) { return *s.st_.get(); }
};
}  // namespace detail

namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;

sim::SimConfig random_config(uint32_t shards) {
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = shards;
  config.faults = *rc::gen::arbitrary<bool>() ? sim::FaultConfig::light() : sim::FaultConfig::none();
  if (*rc::gen::arbitrary<bool>()) {  // PCT: priorities that change at a few random steps
    config.strategy = sim::Strategy::pct;
    config.pct_steps = 2000;
  }
  config.max_steps = 5'000'000;
  config.time_budget = std::chrono::seconds(60);
  return config;
}

// ---------------------------------------------------------------- locks

enum class LockKind : uint8_t { mutex, rwmutex, semaphore };
enum class WaitMode : uint8_t { plain, timeout, stop, try_only };

struct LockPlan {
  uint32_t shard;
  int rounds;
  int pause_us;  // before each attempt
  int hold_us;   // < 0: release at once; 0: yield; > 0: sleep
  WaitMode wait;
  int timeout_us;
  uint32_t want;    // semaphore permits; rwmutex: RWMutex::kMaxReaders for a writer
  int abort_at_us;  // < 0: never
};

struct Lockable {
  LockKind kind;
  uint32_t capacity;
  Mutex mu;
  RWMutex rw;
  Semaphore sem{1};
};

// What is held: released by release().
struct Held {
  std::optional<Mutex::Guard> m;
  std::optional<RWMutex::ReadGuard> r;
  std::optional<RWMutex::WriteGuard> w;
  const Semaphore* sem = nullptr;
  uint32_t n = 0;
  void release() {
    m.reset();
    r.reset();
    w.reset();
    if (sem != nullptr) (void)sem->release(n);
  }
};

template <class G, class A>
Task<Result<G>> lock_with(WaitMode mode, A awaiter, int timeout_us, std::stop_token stop) {
  A lock = std::move(awaiter);  // a local, not the parameter, inside co_await (GCC 12)
  switch (mode) {
    case WaitMode::plain: co_return co_await lock;
    case WaitMode::timeout: co_return co_await with_timeout(microseconds(timeout_us), std::move(lock));
    case WaitMode::stop: co_return co_await with_stop(stop, std::move(lock));
    case WaitMode::try_only: break;
  }
  co_return fail(errc::channel_full);
}

Task<Result<Held>> acquire(const Lockable& lk, const LockPlan& p, std::stop_token stop) {
  Held h;
  h.n = p.want;
  switch (lk.kind) {
    case LockKind::mutex: {
      Result<Mutex::Guard> g = fail(errc::channel_full);
      if (p.wait == WaitMode::try_only) {
        if (auto t = lk.mu.try_lock()) g = std::move(*t);
      } else {
        g = co_await lock_with<Mutex::Guard>(p.wait, lk.mu.lock(), p.timeout_us, stop);
      }
      if (!g) co_return std::unexpected(g.error());
      h.m = std::move(*g);
      break;
    }
    case LockKind::rwmutex:
      if (p.want == RWMutex::kMaxReaders) {
        Result<RWMutex::WriteGuard> g = fail(errc::channel_full);
        if (p.wait == WaitMode::try_only) {
          if (auto t = lk.rw.try_lock()) g = std::move(*t);
        } else {
          g = co_await lock_with<RWMutex::WriteGuard>(p.wait, lk.rw.lock(), p.timeout_us, stop);
        }
        if (!g) co_return std::unexpected(g.error());
        h.w = std::move(*g);
      } else {
        Result<RWMutex::ReadGuard> g = fail(errc::channel_full);
        if (p.wait == WaitMode::try_only) {
          if (auto t = lk.rw.try_rlock()) g = std::move(*t);
        } else {
          g = co_await lock_with<RWMutex::ReadGuard>(p.wait, lk.rw.rlock(), p.timeout_us, stop);
        }
        if (!g) co_return std::unexpected(g.error());
        h.r = std::move(*g);
      }
      break;
    case LockKind::semaphore: {
      Result<void> g = fail(errc::channel_full);
      if (p.wait == WaitMode::try_only) {
        if (lk.sem.try_acquire(p.want)) g = {};
      } else if (p.wait == WaitMode::plain) {
        g = co_await lk.sem.acquire(p.want);
      } else if (p.wait == WaitMode::timeout) {
        g = co_await with_timeout(microseconds(p.timeout_us), lk.sem.acquire(p.want));
      } else {
        g = co_await with_stop(stop, lk.sem.acquire(p.want));
      }
      if (!g) co_return std::unexpected(g.error());
      h.sem = &lk.sem;
      break;
    }
  }
  co_return std::move(h);
}

struct LockLedger {
  uint64_t capacity = 0;
  uint64_t in_use = 0;
  uint64_t calls = 0;
  int acquired = 0;
  int waited = 0;
  // Tickets of home-shard calls that had to wait, in the order they got the lock: the
  // order they queued in, if the queue is FIFO.
  std::vector<uint64_t> home_order;
  std::string broken;  // empty: no violation seen
};

const detail::SemState& sem_of(const Lockable& lk) {
  switch (lk.kind) {
    case LockKind::mutex: return detail::SyncProbe::of(lk.mu);
    case LockKind::rwmutex: return detail::SyncProbe::of(lk.rw);
    case LockKind::semaphore: break;
  }
  return detail::SyncProbe::of(lk.sem);
}

Task<void> lock_worker(Lockable lk, LockPlan p, LockLedger* l, bool on_home, std::stop_token stop) {
  for (int i = 0; i < p.rounds; ++i) {
    if (p.pause_us > 0 && !co_await sleep(microseconds(p.pause_us))) co_return;
    if (this_routine()->should_cancel()) co_return;
    const uint64_t ticket = ++l->calls;
    // The simulator runs every shard on this thread: the queue may be looked at from here.
    const bool others_queued = !sem_of(lk).waiters.empty();
    const uint64_t resumes = current_shard()->stats().resumes;
    auto held = co_await acquire(lk, p, stop);
    const bool waited = current_shard()->stats().resumes != resumes;  // it was suspended
    if (!held) {
      if (p.wait == WaitMode::plain && !this_routine()->cancel_requested && l->broken.empty()) {
        l->broken = "a plain wait failed: " + held.error().message();
      }
      continue;
    }
    if (!waited && others_queued && l->broken.empty()) l->broken = "got in at once past a queue of waiters";
    if (waited && on_home) l->home_order.push_back(ticket);
    l->waited += waited ? 1 : 0;
    ++l->acquired;
    l->in_use += held->n;
    if (l->in_use > l->capacity && l->broken.empty()) l->broken = "more permits in use than the capacity";
    if (p.hold_us == 0) {
      co_await yield_now();
    } else if (p.hold_us > 0) {
      (void)co_await sleep(microseconds(p.hold_us));
    }
    l->in_use -= held->n;
    held->release();
  }
}

void check_locks(LockKind kind) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const uint32_t home = *rc::gen::inRange<uint32_t>(0, shards);
  const uint32_t capacity = kind == LockKind::mutex     ? 1
                            : kind == LockKind::rwmutex ? RWMutex::kMaxReaders
                                                        : *rc::gen::inRange<uint32_t>(1, 5);
  std::vector<LockPlan> plans;
  for (int n = *rc::gen::inRange(2, 9); n > 0; --n) {
    LockPlan p;
    p.shard = *rc::gen::inRange<uint32_t>(0, shards);
    p.rounds = *rc::gen::inRange(1, 10);
    p.pause_us = *rc::gen::element(0, 0, 0, 1, 5, 20);
    p.hold_us = *rc::gen::element(-1, 0, 0, 3, 10, 40, 40);
    p.wait = *rc::gen::element(WaitMode::plain, WaitMode::plain, WaitMode::plain, WaitMode::timeout, WaitMode::stop,
                               WaitMode::try_only);
    p.timeout_us = *rc::gen::element(0, 5, 30, 100);
    p.want = kind == LockKind::mutex       ? 1
             : kind == LockKind::semaphore ? *rc::gen::element<uint32_t>(0, 1, capacity / 2 + 1, capacity, capacity)
             : *rc::gen::arbitrary<bool>() ? RWMutex::kMaxReaders
                                           : 1;
    p.abort_at_us = *rc::gen::element(-1, -1, -1, 0, 10, 60, 200);
    plans.push_back(p);
  }
  const int stop_at_us = *rc::gen::element(0, 20, 100, 1000);
  const sim::SimConfig config = random_config(shards);

  LockLedger ledger;
  ledger.capacity = capacity;
  bool clean_end = true;
  auto report = sim::run(config, [&]() -> Task<void> {
    auto make = submit_to(home, [kind, capacity] {
      Lockable lk{kind, capacity, Mutex(), RWMutex(), Semaphore(capacity)};
      return lk;
    });
    auto made = co_await make;
    if (!made) co_return;
    const Lockable& lk = *made;
    std::stop_source stop;
    std::vector<JoinHandle<void>> hs;
    for (const LockPlan& p : plans) {
      hs.push_back(spawn_on(p.shard, lock_worker(lk, p, &ledger, p.shard == home, stop.get_token())));
    }
    // Aborts and the stop request, in time order, from here (the handles' shard).
    std::vector<std::pair<int, int>> events;  // (time, worker or -1 for the stop)
    for (size_t i = 0; i < plans.size(); ++i) {
      if (plans[i].abort_at_us >= 0) events.emplace_back(plans[i].abort_at_us, static_cast<int>(i));
    }
    events.emplace_back(stop_at_us, -1);
    std::sort(events.begin(), events.end());
    int now_us = 0;
    for (auto [at, who] : events) {
      co_await sleep(microseconds(at - now_us));
      now_us = at;
      if (who < 0) {
        stop.request_stop();
      } else {
        (void)hs[static_cast<size_t>(who)].abort();
      }
    }
    for (auto& h : hs) (void)co_await h.join();
    // Nobody waits any more: every shard finds all permits free on the fast path.
    for (uint32_t s = 0; s < shards; ++s) {
      const Lockable* p = &lk;
      auto probe = submit_to(s, [p] {
        switch (p->kind) {
          case LockKind::mutex: return p->mu.try_lock().has_value();
          case LockKind::rwmutex: return p->rw.try_lock().has_value();
          case LockKind::semaphore:
            if (!p->sem.try_acquire(p->capacity)) return false;
            return p->sem.release(p->capacity).has_value();
        }
        return false;
      });
      clean_end = clean_end && (co_await probe).value_or(false);
    }
  });
  sim::rc_log_run(report);
  RC_LOG() << ledger.broken << "\nhome " << home << " capacity " << capacity << " stop at " << stop_at_us << "\n";
  for (const LockPlan& p : plans) {
    RC_LOG() << "  worker shard " << p.shard << " rounds " << p.rounds << " pause " << p.pause_us << " hold "
             << p.hold_us << " wait " << static_cast<int>(p.wait) << " timeout " << p.timeout_us << " want " << p.want
             << " abort at " << p.abort_at_us << "\n";
  }
  RC_LOG() << "home order:";
  for (uint64_t t : ledger.home_order) RC_LOG() << " " << t;
  RC_LOG() << "\n";
  RC_ASSERT(report.ok());
  RC_ASSERT(ledger.broken.empty());
  RC_ASSERT(ledger.in_use == 0u);
  RC_ASSERT(clean_end);
  RC_ASSERT(std::is_sorted(ledger.home_order.begin(), ledger.home_order.end()));
  RC_TAG(ledger.waited > 0 ? "some waited" : "none waited");
}

RC_GTEST_PROP(MutexProp, ExclusiveFifoAndNoLostWakeUp, ()) { check_locks(LockKind::mutex); }
RC_GTEST_PROP(RWMutexProp, WritersAloneFifoAndNoLostWakeUp, ()) { check_locks(LockKind::rwmutex); }
RC_GTEST_PROP(SemaphoreProp, NeverOverCapacityFifoAndNoLostWakeUp, ()) { check_locks(LockKind::semaphore); }

// ---------------------------------------------------------------- WaitGroup

enum class WgWait : uint8_t { plain, timeout, aborted };

struct WgLedger {
  int round = 0;
  std::vector<int> total{0};     // per round: workers added
  std::vector<int> finished{0};  // per round: workers done
  int early = 0;                 // waits that returned ok before their round ended
  int plain_failed = 0;
  int ok_waits = 0;
};

struct WgChild {
  uint32_t shard;
  int delay_us;
};
struct WgWorker {
  uint32_t shard;
  int delay_us;
  std::vector<WgChild> children;
};
struct WgWaiter {
  uint32_t shard;
  WgWait mode;
  int timeout_us;
};
struct WgRound {
  std::vector<WgWorker> workers;
  std::vector<WgWaiter> waiters;
  bool join_waiters_now;
  int pause_us;  // before main's own wait: often after the round has ended
};

Task<void> wg_child(WaitGroup wg, int r, int delay_us, WgLedger* l) {
  (void)co_await sleep(microseconds(delay_us));
  ++l->finished[static_cast<size_t>(r)];
  (void)wg.done();
}

Task<void> wg_worker(WaitGroup wg, int r, WgWorker plan, WgLedger* l) {
  (void)co_await sleep(microseconds(plan.delay_us));
  for (const WgChild& c : plan.children) {
    (void)wg.add(1);  // before this worker's done: the round cannot end in between
    ++l->total[static_cast<size_t>(r)];
    spawn_on(c.shard, wg_child(wg, r, c.delay_us, l)).detach();
  }
  ++l->finished[static_cast<size_t>(r)];
  (void)wg.done();
}

Task<void> wg_waiter(WaitGroup wg, WgWaiter plan, WgLedger* l) {
  const auto r = static_cast<size_t>(l->round);  // the round in progress as the wait starts
  Result<void> res = plan.mode == WgWait::timeout ? fail(errc::timed_out) : Result<void>{};
  if (plan.mode == WgWait::timeout) {
    res = co_await with_timeout(microseconds(plan.timeout_us), wg.wait());
  } else {
    res = co_await wg.wait();
  }
  if (res) {
    ++l->ok_waits;
    if (l->finished[r] != l->total[r]) ++l->early;
  } else if (plan.mode == WgWait::plain) {
    ++l->plain_failed;
  }
}

RC_GTEST_PROP(WaitGroupProp, WaitsEndExactlyWhenTheirRoundReachesZero, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const uint32_t home = *rc::gen::inRange<uint32_t>(0, shards);
  std::vector<WgRound> rounds;
  for (int n = *rc::gen::inRange(1, 5); n > 0; --n) {
    WgRound round;
    for (int w = *rc::gen::inRange(0, 5); w > 0; --w) {
      WgWorker worker{*rc::gen::inRange<uint32_t>(0, shards), *rc::gen::element(0, 1, 7, 30), {}};
      for (int c = *rc::gen::element(0, 0, 1, 2); c > 0; --c) {
        worker.children.push_back({*rc::gen::inRange<uint32_t>(0, shards), *rc::gen::element(0, 3, 20)});
      }
      round.workers.push_back(worker);
    }
    for (int w = *rc::gen::inRange(0, 4); w > 0; --w) {
      round.waiters.push_back({*rc::gen::inRange<uint32_t>(0, shards),
                               *rc::gen::element(WgWait::plain, WgWait::plain, WgWait::timeout, WgWait::aborted),
                               *rc::gen::element(0, 4, 15)});
    }
    round.join_waiters_now = *rc::gen::arbitrary<bool>();
    round.pause_us = *rc::gen::element(0, 3, 10, 40);
    rounds.push_back(std::move(round));
  }
  const sim::SimConfig config = random_config(shards);

  WgLedger ledger;
  int main_early = 0, negative_ok = 0, negative_checked = 0;
  auto report = sim::run(config, [&]() -> Task<void> {
    auto make = submit_to(home, [] { return WaitGroup(); });
    auto made = co_await make;
    if (!made) co_return;
    WaitGroup wg = *made;
    std::vector<std::pair<WgWait, JoinHandle<void>>> waiting;
    for (const WgRound& round : rounds) {
      const int r = ++ledger.round;
      ledger.total.push_back(static_cast<int>(round.workers.size()));
      ledger.finished.push_back(0);
      (void)wg.add(static_cast<int>(round.workers.size()));
      for (const WgWorker& w : round.workers) spawn_on(w.shard, wg_worker(wg, r, w, &ledger)).detach();
      for (const WgWaiter& w : round.waiters)
        waiting.emplace_back(w.mode, spawn_on(w.shard, wg_waiter(wg, w, &ledger)));
      co_await sleep(microseconds(round.pause_us));
      for (auto& [mode, h] : waiting) {
        if (mode == WgWait::aborted) (void)h.abort();
      }
      if (!co_await wg.wait() || ledger.finished[static_cast<size_t>(r)] != ledger.total[static_cast<size_t>(r)]) {
        ++main_early;
      }
      ++negative_checked;
      auto below_zero = wg.done();
      if (!below_zero && below_zero.error() == errc::negative_counter && wg.count() == 0) ++negative_ok;
      if (round.join_waiters_now) {
        for (auto& [mode, h] : waiting) (void)co_await h.join();
        waiting.clear();
      }
    }
    for (auto& [mode, h] : waiting) (void)co_await h.join();
  });
  sim::rc_log_run(report);
  RC_ASSERT(report.ok());
  RC_ASSERT(main_early == 0);
  RC_ASSERT(ledger.early == 0);
  RC_ASSERT(ledger.plain_failed == 0);
  RC_ASSERT(negative_ok == negative_checked);
}

// ---------------------------------------------------------------- Cond

struct BoundedBuffer {
  std::deque<int> items;
  size_t capacity = 1;
  bool closed = false;
  int inside = 0;  // routines between lock and unlock (a cond wait lets go)
  std::string broken;
  std::vector<int> consumed;
  void enter() {
    if (++inside > 1 && broken.empty()) broken = "two routines inside the mutex";
  }
  void leave() { --inside; }
};

struct CondSet {
  Mutex mu;
  Cond not_full;
  Cond not_empty;
  bool broadcast;
  int dawdle_us;  // held across an await after each push and pop: contention for the mutex
};

Task<void> dawdle(const CondSet& cs) {
  if (cs.dawdle_us > 0) {
    (void)co_await sleep(microseconds(cs.dawdle_us));
  } else if (cs.dawdle_us == 0) {
    co_await yield_now();
  }
}

enum class CondWait : uint8_t { plain, timeout };

// Waits on c until ready(): a timed wait just tries again.
template <class Ready>
Task<Result<void>> wait_until(const Cond& c, Mutex::Guard& g, BoundedBuffer* b, CondWait mode, Ready ready) {
  while (!ready()) {
    b->leave();
    Result<void> w = mode == CondWait::timeout ? fail(errc::timed_out) : Result<void>{};
    if (mode == CondWait::timeout) {
      w = co_await with_timeout(7us, c.wait(g));
    } else {
      w = co_await c.wait(g);
    }
    if (g.owns_lock()) b->enter();
    if (!w && w.error() != errc::timed_out) co_return w;
  }
  co_return Result<void>{};
}

Task<void> producer(CondSet cs, BoundedBuffer* b, int base, int n, CondWait mode, std::vector<int>* produced) {
  for (int i = 0; i < n; ++i) {
    auto g = co_await cs.mu.lock();
    if (!g) co_return;
    b->enter();
    auto ready = [b] { return b->items.size() < b->capacity; };
    auto until = wait_until(cs.not_full, *g, b, mode, ready);
    auto waited = co_await std::move(until);
    if (!waited) {
      b->leave();
      co_return;
    }
    b->items.push_back(base + i);
    produced->push_back(base + i);
    if (b->items.size() > b->capacity && b->broken.empty()) b->broken = "buffer overflow";
    if (cs.broadcast) {
      cs.not_empty.broadcast();
    } else {
      cs.not_empty.signal();
    }
    co_await dawdle(cs);
    b->leave();
  }
}

Task<void> consumer(CondSet cs, BoundedBuffer* b, CondWait mode) {
  for (;;) {
    auto g = co_await cs.mu.lock();
    if (!g) co_return;
    b->enter();
    auto ready = [b] { return !b->items.empty() || b->closed; };
    auto until = wait_until(cs.not_empty, *g, b, mode, ready);
    auto waited = co_await std::move(until);
    if (!waited || b->items.empty()) {
      b->leave();
      co_return;  // cancelled, or closed and drained
    }
    b->consumed.push_back(b->items.front());
    b->items.pop_front();
    if (cs.broadcast) {
      cs.not_full.broadcast();
    } else {
      cs.not_full.signal();
    }
    co_await dawdle(cs);
    b->leave();
  }
}

RC_GTEST_PROP(CondProp, BoundedBufferLosesNothingAndNobodySleepsForever, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const uint32_t home = *rc::gen::inRange<uint32_t>(0, shards);
  const uint32_t cond_home = *rc::gen::inRange<uint32_t>(0, shards);
  const size_t capacity = *rc::gen::inRange<size_t>(1, 4);
  const bool broadcast = *rc::gen::arbitrary<bool>();
  const int dawdle_us = *rc::gen::element(-1, 0, 2);
  struct Actor {
    uint32_t shard;
    CondWait mode;
    int count;        // producers: items
    int abort_at_us;  // consumers other than the first: < 0 never
  };
  std::vector<Actor> producers, consumers;
  for (int n = *rc::gen::inRange(1, 4); n > 0; --n) {
    producers.push_back({*rc::gen::inRange<uint32_t>(0, shards), *rc::gen::element(CondWait::plain, CondWait::timeout),
                         *rc::gen::inRange(0, 20), -1});
  }
  for (int n = *rc::gen::inRange(1, 4); n > 0; --n) {
    const bool anchor = consumers.empty();  // one consumer is never aborted
    consumers.push_back({*rc::gen::inRange<uint32_t>(0, shards),
                         anchor ? CondWait::plain : *rc::gen::element(CondWait::plain, CondWait::timeout), 0,
                         anchor ? -1 : *rc::gen::element(-1, 0, 10, 50)});
  }
  const sim::SimConfig config = random_config(shards);

  BoundedBuffer buffer;
  buffer.capacity = capacity;
  std::vector<std::vector<int>> produced(producers.size());
  auto report = sim::run(config, [&]() -> Task<void> {
    auto make_mu = submit_to(home, [] { return Mutex(); });
    auto mu = co_await make_mu;
    if (!mu) co_return;
    Mutex m = *mu;
    auto make_conds = submit_to(cond_home, [m, broadcast, dawdle_us] {
      return CondSet{m, Cond(m), Cond(m), broadcast, dawdle_us};
    });
    auto conds = co_await make_conds;
    if (!conds) co_return;
    const CondSet& cs = *conds;
    std::vector<JoinHandle<void>> ps, cs_handles;
    for (size_t i = 0; i < producers.size(); ++i) {
      ps.push_back(spawn_on(producers[i].shard, producer(cs, &buffer, static_cast<int>(i) * 1000, producers[i].count,
                                                         producers[i].mode, &produced[i])));
    }
    for (const Actor& c : consumers) cs_handles.push_back(spawn_on(c.shard, consumer(cs, &buffer, c.mode)));
    std::vector<std::pair<int, size_t>> aborts;
    for (size_t i = 0; i < consumers.size(); ++i) {
      if (consumers[i].abort_at_us >= 0) aborts.emplace_back(consumers[i].abort_at_us, i);
    }
    std::sort(aborts.begin(), aborts.end());
    int now_us = 0;
    for (auto [at, who] : aborts) {
      co_await sleep(microseconds(at - now_us));
      now_us = at;
      (void)cs_handles[who].abort();
    }
    for (auto& p : ps) (void)co_await p.join();
    {
      auto g = co_await cs.mu.lock();
      if (!g) co_return;
      buffer.closed = true;
      cs.not_empty.broadcast();
    }
    for (auto& c : cs_handles) (void)co_await c.join();
    while (!buffer.items.empty()) {  // what aborted consumers left (the anchor takes all)
      buffer.consumed.push_back(buffer.items.front());
      buffer.items.pop_front();
    }
  });
  sim::rc_log_run(report);
  RC_LOG() << buffer.broken << "\n";
  RC_ASSERT(report.ok());
  RC_ASSERT(buffer.broken.empty());
  RC_ASSERT(buffer.inside == 0);
  std::vector<int> all;
  for (const auto& p : produced) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end());
  std::sort(buffer.consumed.begin(), buffer.consumed.end());
  RC_ASSERT(all == buffer.consumed);
  int expected = 0;
  for (const auto& p : producers) expected += p.count;
  RC_ASSERT(static_cast<int>(all.size()) == expected);  // producers are never cancelled
}

// ---------------------------------------------------------------- Once

struct OnceLedger {
  int runs = 0;
  int running = 0;
  int successes = 0;
  int concurrent = 0;    // an init started while another ran
  int ok_too_early = 0;  // a caller saw ok before any init succeeded
  int ok_calls = 0;
  int fails_left = 0;
};

Task<Result<void>> flaky_init(OnceLedger* l, int duration_us) {
  ++l->runs;
  if (++l->running > 1) ++l->concurrent;
  struct Leave {
    OnceLedger* l;
    ~Leave() { --l->running; }
  } leave{l};
  if (!co_await sleep(microseconds(duration_us))) co_return fail(errc::cancelled);
  if (l->fails_left > 0) {
    --l->fails_left;
    co_return fail(errc::invalid_argument);
  }
  ++l->successes;
  co_return Result<void>{};
}

Task<Result<void>> once_caller(Once once, OnceLedger* l, int start_us, int duration_us) {
  if (!co_await sleep(microseconds(start_us))) co_return fail(errc::cancelled);
  auto init = flaky_init(l, duration_us);
  auto r = co_await once.call(std::move(init));
  if (r) {
    ++l->ok_calls;
    if (l->successes == 0) ++l->ok_too_early;
  }
  co_return r;
}

RC_GTEST_PROP(OnceProp, InitSucceedsAtMostOnceAndCallersWaitForIt, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const uint32_t home = *rc::gen::inRange<uint32_t>(0, shards);
  struct Caller {
    uint32_t shard;
    int start_us;
    int duration_us;
    int abort_at_us;
  };
  std::vector<Caller> callers;
  for (int n = *rc::gen::inRange(1, 8); n > 0; --n) {
    callers.push_back({*rc::gen::inRange<uint32_t>(0, shards), *rc::gen::element(0, 0, 2, 10, 50),
                       *rc::gen::element(0, 1, 5, 20), *rc::gen::element(-1, -1, 0, 3, 12)});
  }
  const int fails = *rc::gen::inRange(0, 4);
  const sim::SimConfig config = random_config(shards);

  OnceLedger ledger;
  ledger.fails_left = fails;
  bool done_flag = false;
  std::vector<std::error_code> results;
  auto report = sim::run(config, [&]() -> Task<void> {
    auto make = submit_to(home, [] { return Once(); });
    auto made = co_await make;
    if (!made) co_return;
    Once once = *made;
    std::vector<JoinHandle<Result<void>>> hs;
    for (const Caller& c : callers)
      hs.push_back(spawn_on(c.shard, once_caller(once, &ledger, c.start_us, c.duration_us)));
    std::vector<std::pair<int, size_t>> aborts;
    for (size_t i = 0; i < callers.size(); ++i) {
      if (callers[i].abort_at_us >= 0) aborts.emplace_back(callers[i].abort_at_us, i);
    }
    std::sort(aborts.begin(), aborts.end());
    int now_us = 0;
    for (auto [at, who] : aborts) {
      co_await sleep(microseconds(at - now_us));
      now_us = at;
      (void)hs[who].abort();
    }
    for (auto& h : hs) {
      auto r = co_await h.join();
      results.push_back(r ? std::error_code{} : r.error());
    }
    done_flag = once.done();
  });
  sim::rc_log_run(report);
  RC_ASSERT(report.ok());
  RC_ASSERT(ledger.concurrent == 0);
  RC_ASSERT(ledger.successes <= 1);
  RC_ASSERT(ledger.ok_too_early == 0);
  RC_ASSERT(done_flag == (ledger.successes == 1));
  for (const auto& e : results) RC_ASSERT(!e || e == errc::cancelled || e == errc::invalid_argument);
  // Every caller that was not cancelled either ran a failing init or returned ok, and ok
  // needs the one success.
  int failed_inits = 0;
  for (const auto& e : results) failed_inits += e == errc::invalid_argument ? 1 : 0;
  RC_ASSERT(failed_inits <= fails);
  if (ledger.ok_calls > 0) RC_ASSERT(ledger.successes == 1);
}

// ---------------------------------------------------------------- tickers and timers

RC_GTEST_PROP(TickerProp, TicksStayOnTheGridInOrderAndStopForGood, ()) {
  const int period_us = *rc::gen::inRange(1, 300);
  const auto delays = *rc::gen::container<std::vector<int>>(*rc::gen::inRange(1, 12), rc::gen::inRange(0, 900));
  const int after_us = *rc::gen::inRange(0, 500);
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 3);
  const sim::SimConfig config = random_config(shards);

  bool on_grid = true, in_order = true, kept_up = true, slow_reader_ok = true, silent_after_stop = true,
       timer_exact = true;
  auto report = sim::run(config, [&]() -> Task<void> {
    const Duration period = microseconds(period_us);
    const Instant t0 = current_shard()->now();
    auto deadline = timer_chan(microseconds(after_us));
    auto made = ticker(period);
    if (!made) co_return;
    Ticker tk = std::move(*made);
    Instant last = t0;
    for (int d : delays) {
      const Instant asked = current_shard()->now();
      auto v = co_await tk.recv();
      if (!v) co_return;
      const Duration since = *v - t0;
      on_grid = on_grid && since.count() > 0 && since % period == Duration{0};
      in_order = in_order && *v > last;
      // A reader that asks before the next tick is due gets exactly that tick.
      if (asked - last < period) kept_up = kept_up && *v == last + period;
      last = *v;
      co_await sleep(microseconds(d));
      slow_reader_ok = slow_reader_ok && tk.chan().len() <= 1;  // the ticks it missed were dropped
    }
    tk.stop();
    const Instant stopped = current_shard()->now();
    co_await sleep(5 * period);
    while (auto v = tk.chan().try_recv()) silent_after_stop = silent_after_stop && *v <= stopped;
    auto fired = co_await deadline.recv();
    timer_exact = fired && *fired - t0 == microseconds(after_us);
  });
  sim::rc_log_run(report);
  RC_ASSERT(report.ok());
  RC_ASSERT(on_grid);
  RC_ASSERT(in_order);
  RC_ASSERT(kept_up);
  RC_ASSERT(slow_reader_ok);
  RC_ASSERT(silent_after_stop);
  RC_ASSERT(timer_exact);
}

}  // namespace
}  // namespace ringo
