// Go's sync package for routines: WaitGroup, Mutex, RWMutex, Semaphore, Once, Cond; and
// run_on, which makes a TaskScope an errgroup across shards. Usable from a routine on
// any shard of the runtime; a waiter parks (its shard runs other routines meanwhile).
//
//   ringo::Mutex mu;                                  // a handle: copies share one mutex
//   Result<Mutex::Guard> g = co_await mu.lock();     // cancelled / timed_out / shard_stopped
//   if (!g) co_return;                                // ... critical section ...
//                                                     // ~Guard unlocks (or g->unlock())
//   ringo::WaitGroup wg;
//   wg.add(3);  ... wg.done() on any shard ...;  co_await wg.wait();
//
// Design (docs/sync.md): each primitive is an atomic word any shard may change without
// waiting (a free permit, a counter), plus a FIFO of waiters on its home shard (the shard
// that created it, or the first to wait on it if it was made outside a runtime). Taking a
// free lock or calling done() is one compare-exchange on the caller's shard; only a
// caller that must wait from another shard sends a request to the home shard (one round
// trip), and only a release that finds waiters sends the home shard a message.
//
// Fairness: FIFO. Once a routine waits, every later lock/acquire queues behind it (no
// barging), and the home shard grants in queue order; a request from another shard joins
// the queue when it reaches the home shard. RWMutex: a waiting writer holds back readers
// that come after it (Go's rule); readers queued together are let in together.
//
// Cancellation: every wait follows docs/cancellation.md: abort, with_timeout/with_deadline
// and with_stop end it with cancelled / timed_out and leave no waiter behind; a lock or
// permit granted at the same moment as the cancel is delivered (the wait succeeds), never
// lost; a grant whose routine is gone (its shard stopped) is given back.
//
// Errors are values: unlocking what is not held and releasing more permits than are held
// return errc::not_held; WaitGroup::add taking the counter below zero returns
// errc::negative_counter and changes nothing (Go panics in both cases). A wait from
// another shard than the primitive's home fails with errc::queue_full when that shard's
// inbox is full or it already holds ShardConfig::max_callers waiting requests.
//
// Thread-safety: handles may be copied, moved and dropped on any shard and used from any
// routine of the runtime a primitive was first used in; guards may be moved to and
// dropped on any shard, also outside a routine, but must not outlive every handle of
// their primitive. try_* and the calls that never wait (release, add, done, signal,
// broadcast) work from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "ringo/cross_shard.hpp"
#include "ringo/deadline.hpp"
#include "ringo/internal/core/sync_engine.hpp"
#include "ringo/task.hpp"

namespace ringo {

class Mutex;
class RWMutex;
namespace detail {
struct GuardAccess;
struct CondWaitAwaiter;
struct SyncProbe;  // not defined here: a test may define it to look inside a primitive
}  // namespace detail

// Holds permits of a Mutex, RWMutex or Semaphore and gives them back when destroyed (or
// on unlock()). Move-only; may be moved to and dropped on any shard. Like
// std::unique_lock it holds no reference: it must not outlive every handle of its
// primitive (the uncontended lock is then two atomic operations, not four).
template <class Tag>
class [[nodiscard]] PermitGuard {
 public:
  PermitGuard() noexcept = default;
  PermitGuard(PermitGuard&& o) noexcept : st_(std::exchange(o.st_, nullptr)), n_(o.n_) {}
  PermitGuard& operator=(PermitGuard&& o) noexcept {
    if (this != &o) {
      (void)unlock();
      st_ = std::exchange(o.st_, nullptr);
      n_ = o.n_;
    }
    return *this;
  }
  ~PermitGuard() { (void)unlock(); }

  bool owns_lock() const noexcept { return st_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }
  // Unlocks now. errc::not_held if this guard holds nothing (moved from, unlocked).
  Result<void> unlock() noexcept {
    if (st_ == nullptr) return fail(errc::not_held);
    return std::exchange(st_, nullptr)->give(n_);
  }

 private:
  template <class G>
  friend struct detail::AcquireAwaiter;
  friend struct detail::GuardAccess;
  friend class Mutex;
  friend class RWMutex;
  PermitGuard(detail::SemState* s, uint32_t n) noexcept : st_(s), n_(n) {}

  detail::SemState* st_ = nullptr;
  uint32_t n_ = 0;
};

// sync.Mutex for routines. A handle: copies share one mutex (like a *sync.Mutex).
class Mutex {
 public:
  using Guard = PermitGuard<Mutex>;

  Mutex() : st_(new detail::SemState(1, 0)) {}

  // Awaitable Result<Guard>. Errors: cancelled, timed_out (under a deadline),
  // not_in_runtime, shard_stopped (the home shard stopped).
  auto lock() const { return detail::AcquireAwaiter<Guard>(st_.get(), "mutex lock", 1); }
  // Takes the mutex if it is free and nobody waits for it. Any shard, any thread.
  std::optional<Guard> try_lock() const {
    if (!st_->try_take(1)) return std::nullopt;
    return Guard(st_.get(), 1);
  }
  // A snapshot, for tests and assertions.
  bool locked() const noexcept { return detail::SemState::held_of(st_->word.load(std::memory_order_relaxed)) != 0; }

 private:
  friend class Cond;
  friend class Once;
  friend struct detail::SyncProbe;
  detail::SyncRef<detail::SemState> st_;
};

// sync.RWMutex: any number of readers or one writer. A writer that waits holds back the
// readers that come after it (so writers are not starved); readers queued behind a
// writer all get in when it leaves.
class RWMutex {
 public:
  static constexpr uint32_t kMaxReaders = uint32_t{1} << 30;
  using ReadGuard = PermitGuard<struct RWMutexRead>;
  using WriteGuard = PermitGuard<struct RWMutexWrite>;

  RWMutex() : st_(new detail::SemState(kMaxReaders, 0)) {}

  // Awaitable Result<WriteGuard> / Result<ReadGuard>; errors as Mutex::lock.
  auto lock() const { return detail::AcquireAwaiter<WriteGuard>(st_.get(), "rwmutex lock", kMaxReaders); }
  auto rlock() const { return detail::AcquireAwaiter<ReadGuard>(st_.get(), "rwmutex rlock", 1); }
  std::optional<WriteGuard> try_lock() const {
    if (!st_->try_take(kMaxReaders)) return std::nullopt;
    return WriteGuard(st_.get(), kMaxReaders);
  }
  std::optional<ReadGuard> try_rlock() const {
    if (!st_->try_take(1)) return std::nullopt;
    return ReadGuard(st_.get(), 1);
  }

 private:
  friend struct detail::SyncProbe;
  detail::SyncRef<detail::SemState> st_;
};

// A counting semaphore (Go: a buffered channel of tokens, or x/sync/semaphore.Weighted):
// `max` permits of which `available` are free at first. acquire(n) waits for n permits in
// FIFO order (a large request is not overtaken by small ones behind it).
class Semaphore {
 public:
  explicit Semaphore(uint32_t permits) : Semaphore(permits, permits) {}
  Semaphore(uint32_t available, uint32_t max) : st_(new detail::SemState(max, max - std::min(available, max))) {}

  // Awaitable Result<void>. invalid_argument if n > capacity(); else as Mutex::lock.
  auto acquire(uint32_t n = 1) const {
    return detail::SemVoidAwaiter(st_.get(), "semaphore acquire", n,
                                  n > st_->capacity ? make_error_code(errc::invalid_argument) : std::error_code{});
  }
  bool try_acquire(uint32_t n = 1) const noexcept { return st_->try_take(n); }
  // Any shard, any thread. errc::not_held if that would free more than are taken.
  Result<void> release(uint32_t n = 1) const noexcept { return st_->give(n); }

  uint32_t capacity() const noexcept { return st_->capacity; }
  uint32_t available() const noexcept {
    return st_->capacity - detail::SemState::held_of(st_->word.load(std::memory_order_relaxed));
  }

 private:
  friend struct detail::SyncProbe;
  detail::SyncRef<detail::SemState> st_;
};

// sync.WaitGroup. add/done from any shard (one atomic operation; the one that reaches zero
// with waiters queued sends the home shard one message). wait() returns at once when the
// counter is zero. Reusable: a wait that started before the counter reached zero is
// released by that zero even if add() raises it again before the waiter runs.
class WaitGroup {
 public:
  WaitGroup() : st_(new detail::WaitGroupState) {}

  // errc::negative_counter (nothing changed), invalid_argument above INT32_MAX.
  Result<void> add(int delta) const noexcept { return st_->add(delta); }
  Result<void> done() const noexcept { return st_->add(-1); }
  // Awaitable Result<void>: cancelled, timed_out, not_in_runtime, shard_stopped.
  auto wait() const { return detail::VoidAwaiter(st_.get(), "wait group wait", 0); }
  uint32_t count() const noexcept {
    return static_cast<uint32_t>(st_->word.load(std::memory_order_relaxed) & detail::WaitGroupState::kCount);
  }

  // Go 1.25's wg.Go: add(1), run task as a routine on this shard, done() when it ends
  // (returns, throws, or is cancelled).
  template <class T>
  Result<void> go(Task<T> task) const {
    if (auto added = add(1); !added) return added;
    auto h = ringo::go(run_then_done(*this, std::move(task)));
    if (!h.valid()) {
      (void)done();
      return std::unexpected(h.spawn_error());
    }
    h.detach();
    return {};
  }

 private:
  template <class T>
  static Task<void> run_then_done(WaitGroup wg, Task<T> task) {
    struct Done {
      WaitGroup& wg;
      ~Done() { (void)wg.done(); }
    } done{wg};
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
    } else {
      (void)co_await std::move(task);
    }
  }

  friend struct detail::SyncProbe;
  detail::SyncRef<detail::WaitGroupState> st_;
};

namespace detail {
struct OnceState final : SyncBase {
  enum : uint8_t { pending, done, panicked };
  Mutex lock;
  std::atomic<uint8_t> state{pending};
};
}  // namespace detail

// sync.Once, with a Task. The first caller runs its task; callers that come meanwhile
// wait (FIFO) until it ends; once it has succeeded every call returns at once.
//  - Task<void> that returns, or Task<Result<void>> that returns ok: done.
//  - Task<Result<void>> that returns an error (a cancelled init should report
//    cancelled): not done; this caller gets the error and the next caller runs its own
//    task. Go's Once has no error path; this is how retry-until-success is built on it.
//  - A task that throws: done, as in Go ("Do considers it to have returned"); this and
//    every later call get errc::routine_panicked (as Go 1.21's OnceFunc re-panics).
// A caller cancelled while it waits for another's task gets cancelled and the task runs
// on. Each caller passes its own task; only the one that runs is started (Tasks are lazy).
// Like any Task, a call may be wrapped by with_timeout / with_deadline / with_stop.
class Once {
 public:
  Once() : st_(new detail::OnceState) {}

  template <class T>
  requires std::is_void_v<T> || std::is_same_v<T, Result<void>> Task<Result<void>> call(Task<T> task)
  const { return run(st_, std::move(task)); }

  bool done() const noexcept { return st_->state.load(std::memory_order_acquire) == detail::OnceState::done; }

 private:
  static Result<void> outcome(uint8_t state) {
    if (state == detail::OnceState::panicked) return fail(errc::routine_panicked);
    return {};
  }

  template <class T>
  static Task<Result<void>> run(detail::SyncRef<detail::OnceState> st, Task<T> task) {
    if (auto s = st->state.load(std::memory_order_acquire); s != detail::OnceState::pending) co_return outcome(s);
    auto held = co_await st->lock.lock();
    if (!held) co_return std::unexpected(held.error());
    if (auto s = st->state.load(std::memory_order_acquire); s != detail::OnceState::pending) co_return outcome(s);
    std::error_code failure;
    bool threw = false;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(task);
      } else {
        Result<void> r = co_await std::move(task);
        if (!r) failure = r.error();
      }
    } catch (...) {
      threw = true;
    }
    if (threw) {
      st->state.store(detail::OnceState::panicked, std::memory_order_release);
      co_return fail(errc::routine_panicked);
    }
    if (failure) co_return std::unexpected(failure);
    st->state.store(detail::OnceState::done, std::memory_order_release);
    co_return Result<void>{};
  }

  friend struct detail::SyncProbe;
  detail::SyncRef<detail::OnceState> st_;
};

namespace detail {
struct GuardAccess {
  template <class Tag>
  static SemState* state(const PermitGuard<Tag>& g) noexcept {
    return g.st_;
  }
  // The guard forgets its permits without giving them back (they travel elsewhere).
  template <class Tag>
  static void disown(PermitGuard<Tag>& g) noexcept {
    g.st_ = nullptr;
  }
  template <class Tag>
  static void own(PermitGuard<Tag>& g, SemState* s, uint32_t n) noexcept {
    g = PermitGuard<Tag>(s, n);
  }
};

// Cond::wait in two phases in one awaiter: wait for a signal (cancellable), then take the
// mutex back (not cancellable: wait returns holding the lock, as in Go).
struct CondWaitAwaiter {
  using Guard = Mutex::Guard;

  CondWaitAwaiter(CondState* c, Guard* guard, std::error_code early) noexcept
      : signal(c, "cond wait", 1, early), relock(c->mutex, "cond relock", 1), g(guard) {}

  SyncAwaiter<CondState> signal;
  SyncAwaiter<SemState> relock;
  Guard* g;
  std::coroutine_handle<> at{};
  bool relocking = false;

  bool await_ready() { return signal.await_ready(); }  // errors only: a cond always waits
  bool await_suspend(std::coroutine_handle<> h) {
    at = h;
    GuardAccess::disown(*g);  // the permit is given back on the cond's home shard
    signal.then = &CondWaitAwaiter::after_signal;
    signal.then_ctx = this;
    if (signal.start(*signal.me->shard, h, /*cancellable=*/true)) return true;
    GuardAccess::own(*g, relock.st, 1);  // never queued: the lock was never let go
    return false;
  }
  static void after_signal(SyncAwaiter<CondState>* s, Shard& here) {
    auto* self = static_cast<CondWaitAwaiter*>(s->then_ctx);
    if (!s->w.released) {  // refused before it queued (its home stopped): still ours
      GuardAccess::own(*self->g, self->relock.st, 1);
      return here.unpark(s->me);
    }
    self->relocking = true;
    self->relock.me = s->me;
    if (self->relock.st->try_take(1) || !self->relock.start(here, self->at, /*cancellable=*/false)) {
      here.unpark(s->me);
    }
  }
  Result<void> await_resume() {
    if (relocking) {
      if (!relock.error) {
        GuardAccess::own(*g, relock.st, 1);
      } else if (!signal.error) {
        return std::unexpected(relock.error);
      }
    }
    if (signal.error) return std::unexpected(signal.error);
    return {};
  }
};
}  // namespace detail

// sync.Cond over a Mutex. wait(g) queues, lets the mutex go and sleeps until signal() or
// broadcast() wakes it (FIFO), then takes the mutex back: it returns holding the lock in
// `g`, also when it was cancelled or timed out (the retaking is not cancellable, as in
// Go), unless the mutex's home shard stopped (then g is empty). A signal given to a
// waiter that was cancelled in the same instant counts as delivered (its wait succeeds);
// a signal whose waiter's shard is gone passes to the next waiter. signal/broadcast from
// any shard or thread, with or without the lock held; a signal with nobody waiting is lost
// (as in Go). Like Go, wake-ups are not a promise that the condition holds: loop.
//
//   auto g = co_await mu.lock();
//   while (!ready) if (!co_await cond.wait(*g)) break;   // cancelled: still holding g
class Cond {
 public:
  explicit Cond(Mutex mu) : st_(new detail::CondState(mu.st_.get())), mu_(std::move(mu)) {}

  // Awaitable Result<void>. errc::not_held if g does not hold this cond's mutex.
  detail::CondWaitAwaiter wait(Mutex::Guard& g) const {
    const bool mine = detail::GuardAccess::state(g) == mu_.st_.get();
    return detail::CondWaitAwaiter(st_.get(), &g, mine ? std::error_code{} : make_error_code(errc::not_held));
  }
  void signal() const noexcept { st_->notify(false); }
  void broadcast() const noexcept { st_->notify(true); }
  const Mutex& mutex() const noexcept { return mu_; }

 private:
  friend struct detail::SyncProbe;
  detail::SyncRef<detail::CondState> st_;
  Mutex mu_;
};

// errgroup across shards: runs task on shard `target` as a part of the awaiting routine.
// Cancelling that routine cancels the task there (by message); its result comes back.
//   TaskScope group;                                   // errgroup.WithContext
//   group.spawn(run_on(1, fetch(a)));                  // g.Go, on shard 1
//   group.spawn(fetch(b));                             // g.Go, on this shard
//   Result<void> first_error = co_await group.join_all();  // g.Wait
template <class T>
Task<Joined<T>> run_on(uint32_t target, Task<T> task) {
  return detail::spawn_on_proxy(target, std::move(task));
}

}  // namespace ringo
