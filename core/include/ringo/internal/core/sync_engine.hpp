// The engine under ringo's sync primitives (sync.hpp). Internal.
//
// Every primitive is a state object in two parts:
//  - an atomic word that any shard may read and change without waiting: the permits in
//    use (Semaphore, Mutex, RWMutex) or the counter (WaitGroup). Taking a free permit,
//    giving one back, adding to a counter: one compare-exchange on the caller's shard,
//    no message. The word also says whether anyone waits.
//  - a FIFO of waiters on the primitive's home shard (the shard that created it, or the
//    first that had to wait on it), touched by that shard only. A routine on the home
//    shard parks there directly; a routine on another shard sends one request envelope
//    (lane B, as a remote channel operation does), which waits in the FIFO without a
//    routine and carries the answer back. Cancelling the caller posts a cancel by call
//    id; a request already answered ignores it, so the caller gets exactly one answer.
//
// While anyone waits, the word's `queued` bit closes the fast path: every new caller
// queues behind the waiters (no barging, so the FIFO is a real promise), and a release
// that sees the bit wakes the home shard (`kick`, one envelope per batch of releases) to
// hand the freed permits to the head of the queue. Only the home shard sets or clears
// `queued`, always with a compare-exchange of the whole word, so a release either
// happened before the bit was set (and the home shard's exchange saw it) or sees the bit
// and kicks: no wake-up is lost.
//
// A state S plugs into the engine with (home shard unless noted):
//   bool fast(uint32_t want)    any shard: done without waiting
//   bool admit(SyncWaiter*)     done now (true), or queued to be woken later (false)
//   void withdraw(SyncWaiter*)  a queued waiter gives up (cancel, stop)
//   void undo(SyncWaiter&)      any shard: a grant whose caller is gone is given back
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <system_error>
#include <utility>

#include "ringo/cross_shard.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/intrusive_list.hpp"
#include "ringo/task.hpp"

namespace ringo::detail {

// One blocked call in a primitive's FIFO: a routine on the home shard, or a request from
// another shard. wake() runs on the home shard when the call is satisfied.
struct SyncWaiter {
  SyncWaiter* prev;
  SyncWaiter* next;
  void (*wake)(SyncWaiter* self, Shard& home);
  void* owner;
  uint32_t want;  // permits asked (semaphores); the mutex permits to give back (Cond)
  uint32_t gen;   // WaitGroup: the round this waiter waits for
  bool released;  // Cond: the mutex was released on the waiter's behalf
};
using SyncWaiters = IntrusiveList<SyncWaiter, &SyncWaiter::prev, &SyncWaiter::next>;

// Reference count and home shard of a primitive's state.
class SyncBase {
 public:
  SyncBase() noexcept : home_(current_shard()) {}
  virtual ~SyncBase() = default;
  SyncBase(const SyncBase&) = delete;
  SyncBase& operator=(const SyncBase&) = delete;

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // Set once: the creating shard, or (made outside a runtime) the first shard to wait.
  Shard* home() const noexcept { return home_.load(std::memory_order_acquire); }
  // Whether this thread runs the home shard: the FIFO and the `queued` bit are its alone.
  bool on_home() const noexcept { return current_shard() == home(); }
  Shard* home_for(Shard& here) noexcept {
    Shard* h = home_.load(std::memory_order_acquire);
    if (h == nullptr && home_.compare_exchange_strong(h, &here, std::memory_order_acq_rel)) return &here;
    return h;
  }

 private:
  std::atomic<uint32_t> refs_{1};
  std::atomic<Shard*> home_;
};

// A counted reference to a state; what the public handles hold.
template <class S>
class SyncRef {
 public:
  explicit SyncRef(S* s) noexcept : st_(s) {}  // adopts the creation reference
  SyncRef(const SyncRef& o) noexcept : st_(o.st_) {
    if (st_ != nullptr) st_->retain();
  }
  SyncRef(SyncRef&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  SyncRef& operator=(SyncRef o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~SyncRef() {
    if (st_ != nullptr) st_->release();
  }
  S* get() const noexcept { return st_; }
  S* operator->() const noexcept { return st_; }

 private:
  S* st_;
};

// (st->*Fn)(arg) on st's home shard: at once when called there, else by envelope.
template <class S, void (S::*Fn)(uint32_t)>
struct HomeCall final : Envelope {
  S* st;
  uint32_t arg;
  HomeCall(S* s, uint32_t a) noexcept : st(s), arg(a) { st->retain(); }
  ~HomeCall() override { st->release(); }
  void deliver(Shard&) override {
    (st->*Fn)(arg);
    delete this;
  }
  // reject: the home shard is stopping, and answers its waiters shard_stopped anyway.
};

template <class S, void (S::*Fn)(uint32_t)>
void call_on_home(S* st, Shard* home, uint32_t arg) {
  if (shard_tearing_down()) return;  // frames of a stopped runtime are being destroyed
  if (current_shard() == home) return (st->*Fn)(arg);
  auto* env = new HomeCall<S, Fn>(st, arg);
  if (!home->group().post_from_anywhere(home->index(), env)) delete env;
}

// A reference a wait holds while it waits, so the state outlives it even if every handle
// goes first. Awaiters are copied and moved only before they wait: a copy pins nothing.
class WaitPin {
 public:
  WaitPin() noexcept = default;
  WaitPin(const WaitPin&) noexcept {}
  WaitPin& operator=(const WaitPin&) noexcept { return *this; }
  ~WaitPin() {
    if (st_ != nullptr) st_->release();
  }
  void hold(SyncBase* s) noexcept {
    if (st_ != nullptr) return;
    s->retain();
    st_ = s;
  }

 private:
  SyncBase* st_ = nullptr;
};

template <class S>
struct SyncRequest;

// Awaits one wait on a primitive, from any shard. Derived awaiters add await_resume.
template <class S>
struct SyncAwaiter {
  using Then = void (*)(SyncAwaiter* self, Shard& here);

  SyncAwaiter(S* s, const char* why, uint32_t n, std::error_code early = {}) noexcept
      : st(s), reason(why), error(early), want(n) {}

  S* st;
  const char* reason;
  std::error_code error;
  uint32_t want;
  SyncWaiter w;  // set when it has to wait (most calls do not: zeroing it cost them)
  Routine* me = nullptr;
  Then then = nullptr;  // what ends the wait (default: the routine resumes)
  void* then_ctx = nullptr;
  uint32_t home_index = 0;
  uint64_t id = 0;
  WaitPin pin;

  bool await_ready() {
    if (error) return true;
    me = this_routine();
    if (me == nullptr) return error = make_error_code(errc::not_in_runtime), true;
    if (me->should_cancel()) return error = make_error_code(errc::cancelled), true;
    return st->fast(want);
  }
  bool await_suspend(std::coroutine_handle<> h) { return start(*me->shard, h, /*cancellable=*/true); }

  // Queues w on the home shard and parks the routine at h. False when settled at once
  // (admitted, or the request could not be posted: `error` says why).
  bool start(Shard& here, std::coroutine_handle<> h, bool cancellable) {
    pin.hold(st);
    w = SyncWaiter{};
    w.want = want;
    Shard* home = st->home_for(here);
    if (home == &here) {
      w.wake = &SyncAwaiter::on_wake;
      w.owner = this;
      if (st->admit(&w)) return false;
      home_index = here.index();  // for deadlock reports
      here.park(me, h, cancellable ? kWaitHere : kWaitUncancellable, this);
      return true;
    }
    home_index = home->index();
    id = here.next_call_id();
    auto* env = new SyncRequest<S>(this, here.index());
    // New work for the home shard: queue_full when its inbox holds its limit.
    if (auto posted = here.post_request(home_index, env); !posted) {
      delete env;
      error = posted.error();
      return false;
    }
    here.park(me, h, cancellable ? kWaitRemote : kWaitUncancellable, this);
    return true;
  }
  // The wait is over (granted, cancelled, stopped), on the caller's shard.
  void finish(Shard& here) {
    if (then != nullptr) return then(this, here);
    here.unpark(me);
  }
  static void on_wake(SyncWaiter* w, Shard& home) { static_cast<SyncAwaiter*>(w->owner)->finish(home); }
  static WaitInfo describe(const void* ctx) {
    const auto* self = static_cast<const SyncAwaiter*>(ctx);
    return {self->reason, self->home_index};
  }

  static void on_cancel_here(Routine* r, void* ctx) {
    auto* self = static_cast<SyncAwaiter*>(ctx);
    self->st->withdraw(&self->w);
    self->error = make_error_code(errc::cancelled);
    self->finish(*r->shard);
  }
  // The answer always comes (granted, cancelled, or shard_stopped): keep waiting for it.
  static void on_cancel_remote(Routine* r, void* ctx) {
    auto* self = static_cast<SyncAwaiter*>(ctx);
    post_cancel_call(*r->shard, self->home_index, self->id);
  }
  static constexpr WaitKind kWaitHere{&SyncAwaiter::on_cancel_here, &SyncAwaiter::describe};
  static constexpr WaitKind kWaitRemote{&SyncAwaiter::on_cancel_remote, &SyncAwaiter::describe};
  static constexpr WaitKind kWaitUncancellable{nullptr, &SyncAwaiter::describe};
};

// A wait from another shard, on the primitive's home shard, and then its answer on the
// way back. Mirrors the remote channel request (chan_remote.hpp).
template <class S>
struct SyncRequest final : Envelope, ParkedRequest {
  SyncAwaiter<S>* awaiter;  // dereferenced only on the caller's shard
  S* st;
  uint32_t caller_shard;
  uint64_t id;
  SyncWaiter w{};
  errc result = errc::ok;
  bool answered = false;

  SyncRequest(SyncAwaiter<S>* a, uint32_t from) noexcept : awaiter(a), st(a->st), caller_shard(from), id(a->id) {
    st->retain();
    w.want = a->want;
    w.wake = &SyncRequest::on_wake;
    w.owner = this;
  }
  ~SyncRequest() override { st->release(); }

  void deliver(Shard& here) override {
    if (answered) {  // back on the caller's shard
      if (result != errc::ok) awaiter->error = make_error_code(result);
      awaiter->w.released = w.released;
      awaiter->finish(here);
      delete this;
      return;
    }
    if (st->admit(&w)) return answer(here);
    if (!here.park_request(id, this)) {  // max_callers requests wait here already
      st->withdraw(&w);
      result = errc::queue_full;
      answer(here);
    }
  }
  void reject(Shard& here) override {
    if (answered) {  // the caller's shard is stopping: a grant goes back
      if (result == errc::ok) st->undo(w);
      delete this;
      return;
    }
    result = errc::shard_stopped;
    answer(here);
  }
  static void on_wake(SyncWaiter* w, Shard& home) {
    auto* self = static_cast<SyncRequest*>(w->owner);
    home.unpark_request(self->id);
    self->answer(home);
  }
  void cancel(Shard& home) override { give_up(home, errc::cancelled); }
  void stop(Shard& home) override { give_up(home, errc::shard_stopped); }
  void give_up(Shard& home, errc why) {
    home.unpark_request(id);
    st->withdraw(&w);
    result = why;
    answer(home);
  }
  void answer(Shard& home) {
    answered = true;
    if (!home.post(caller_shard, this)) {  // the caller's shard is gone
      if (result == errc::ok) st->undo(w);
      delete this;
    }
  }
};

// ---------------------------------------------------------------- weighted semaphore

// Semaphore, Mutex (capacity 1) and RWMutex (readers take 1, a writer takes all): a FIFO
// weighted semaphore in the manner of Go's x/sync/semaphore. A request waits while
// anyone waits before it, even if it would fit.
struct SemState final : SyncBase {
  static constexpr uint64_t kHeld = 0xFFFF'FFFFull;  // permits in use
  static constexpr uint64_t kQueued = uint64_t{1} << 62;
  static constexpr uint64_t kKick = uint64_t{1} << 63;  // a release asked the home shard to look

  SemState(uint32_t cap, uint32_t in_use) noexcept : capacity(cap), word(in_use) {}

  const uint32_t capacity;
  std::atomic<uint64_t> word;
  SyncWaiters waiters;  // home shard only

  static uint32_t held_of(uint64_t w) noexcept { return static_cast<uint32_t>(w & kHeld); }
  bool fits(uint64_t w, uint32_t n) const noexcept { return capacity - held_of(w) >= n; }

  // Any shard: takes n permits if they are free and nobody waits.
  bool try_take(uint32_t n) noexcept {
    uint64_t cur = word.load(std::memory_order_relaxed);
    while ((cur & kQueued) == 0 && fits(cur, n)) {
      if (word.compare_exchange_weak(cur, cur + n, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    }
    return false;
  }

  // Any shard: gives n permits back; with waiters queued, the home shard hands them on.
  Result<void> give(uint32_t n) noexcept {
    uint64_t cur = word.load(std::memory_order_relaxed);
    uint64_t next = 0;
    do {
      if (held_of(cur) < n) return fail(errc::not_held);
      next = cur - n;
      if ((cur & kQueued) != 0) next |= kKick;
    } while (!word.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed));
    if ((cur & kQueued) != 0 && (cur & kKick) == 0) call_on_home<SemState, &SemState::kick>(this, home(), 0);
    return {};
  }

  bool fast(uint32_t want) noexcept { return try_take(want); }

  bool admit(SyncWaiter* w) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard queues waiters and sets `queued`");
    RINGO_ASSERT(w->want <= capacity, "a request above the capacity is refused before it waits");
    if (!waiters.empty()) {  // `queued` is set: wait behind them
      waiters.push_back(w);
      return false;
    }
    uint64_t cur = word.load(std::memory_order_relaxed);
    for (;;) {
      if (fits(cur, w->want)) {
        if (word.compare_exchange_weak(cur, (cur + w->want) & ~kQueued, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
          return true;
        }
      } else if (word.compare_exchange_weak(cur, cur | kQueued, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        waiters.push_back(w);
        return false;
      }
    }
  }

  // A waiter leaves: the ones behind it may fit now, or nobody waits any more.
  void withdraw(SyncWaiter* w) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard touches the FIFO");
    waiters.remove(w);
    drain();
  }
  void undo(SyncWaiter& w) noexcept { (void)give(w.want); }
  void kick(uint32_t) noexcept { drain(); }

  // Home shard: grants the head of the queue while it fits; reopens the fast path when
  // the queue is empty. The kick bit is cleared first, so a release after that point
  // either is seen below or kicks again.
  void drain() noexcept {
    RINGO_ASSERT(on_home(), "only the home shard grants and clears `queued`");
    Shard& here = *home();
    uint64_t cur = word.fetch_and(~kKick, std::memory_order_acq_rel) & ~kKick;
    for (;;) {
      SyncWaiter* head = waiters.front();
      if (head == nullptr) {
        while ((cur & kQueued) != 0 &&
               !word.compare_exchange_weak(cur, cur & ~kQueued, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        }
        return;
      }
      if (!fits(cur, head->want)) return;  // the next release kicks again
      if (!word.compare_exchange_weak(cur, cur + head->want, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        continue;
      }
      cur += head->want;
      waiters.remove(head);
      head->wake(head, here);
    }
  }
};

// Lock and acquire: a Result<G> holding the permits, or why not.
template <class G>
struct AcquireAwaiter : SyncAwaiter<SemState> {
  using SyncAwaiter<SemState>::SyncAwaiter;
  static G grant(SemState* s, uint32_t n) { return G(s, n); }  // takes over n permits held
  Result<G> await_resume() {
    if (error) return std::unexpected(error);
    return grant(st, want);
  }
};

// ---------------------------------------------------------------- wait group

struct WaitGroupState final : SyncBase {
  // count: bits 0-31; round (generation): bits 32-62; queued: bit 63.
  static constexpr uint64_t kCount = 0xFFFF'FFFFull;
  static constexpr uint32_t kGenMask = (uint32_t{1} << 31) - 1;
  static constexpr uint64_t kQueued = uint64_t{1} << 63;

  std::atomic<uint64_t> word{0};
  SyncWaiters waiters;  // home shard only, in round order

  static uint32_t gen_of(uint64_t w) noexcept { return static_cast<uint32_t>(w >> 32) & kGenMask; }

  // Any shard. Reaching zero with waiters queued ends the round: the waiters of that
  // round are released, even if the counter goes up again before they run (Go's rule).
  Result<void> add(int64_t delta) noexcept {
    uint64_t cur = word.load(std::memory_order_relaxed);
    uint64_t next = 0;
    int64_t count = 0;
    do {
      count = static_cast<int64_t>(cur & kCount) + delta;
      if (count < 0) return fail(errc::negative_counter);
      if (count > INT32_MAX) return fail(errc::invalid_argument);
      next = (cur & ~kCount) | static_cast<uint64_t>(count);
      if (count == 0 && (cur & kQueued) != 0) next = uint64_t{(gen_of(cur) + 1) & kGenMask} << 32;
    } while (!word.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed));
    if (count == 0 && (cur & kQueued) != 0) {
      call_on_home<WaitGroupState, &WaitGroupState::kick>(this, home(), gen_of(cur));
    }
    return {};
  }

  bool fast(uint32_t) noexcept { return (word.load(std::memory_order_acquire) & kCount) == 0; }
  bool admit(SyncWaiter* w) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard queues waiters and sets `queued`");
    uint64_t cur = word.load(std::memory_order_acquire);
    for (;;) {
      if ((cur & kCount) == 0) return true;
      if (word.compare_exchange_weak(cur, cur | kQueued, std::memory_order_acq_rel, std::memory_order_acquire)) {
        w->gen = gen_of(cur);
        waiters.push_back(w);
        return false;
      }
    }
  }
  void withdraw(SyncWaiter* w) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard touches the FIFO and clears `queued`");
    waiters.remove(w);
    if (!waiters.empty()) return;
    uint64_t cur = word.load(std::memory_order_relaxed);
    while ((cur & kQueued) != 0 &&
           !word.compare_exchange_weak(cur, cur & ~kQueued, std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
  }
  void undo(SyncWaiter&) noexcept {}
  // Home shard: round `gen` ended; its waiters (and any earlier round's) go.
  void kick(uint32_t gen) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard releases waiters");
    Shard& here = *home();
    while (SyncWaiter* w = waiters.front()) {
      if (((gen - w->gen) & kGenMask) > kGenMask / 2) return;  // a later round
      waiters.remove(w);
      w->wake(w, here);
    }
  }
};

struct VoidAwaiter : SyncAwaiter<WaitGroupState> {
  using SyncAwaiter<WaitGroupState>::SyncAwaiter;
  Result<void> await_resume() {
    if (error) return std::unexpected(error);
    return {};
  }
};

struct SemVoidAwaiter : SyncAwaiter<SemState> {
  using SyncAwaiter<SemState>::SyncAwaiter;
  Result<void> await_resume() {
    if (error) return std::unexpected(error);
    return {};
  }
};

// ---------------------------------------------------------------- condition variable

struct CondState final : SyncBase {
  explicit CondState(SemState* m) noexcept : mutex(m) { mutex->retain(); }
  ~CondState() override { mutex->release(); }

  SemState* mutex;
  SyncWaiters waiters;  // home shard only

  bool fast(uint32_t) noexcept { return false; }
  // Queued first, then the mutex is let go, in one step on the home shard: a signal sent
  // by whoever takes the mutex next finds this waiter.
  bool admit(SyncWaiter* w) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard queues waiters");
    waiters.push_back(w);
    w->released = true;
    (void)mutex->give(w->want);
    return false;
  }
  void withdraw(SyncWaiter* w) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard touches the FIFO");
    waiters.remove(w);
  }
  // A signal whose waiter is gone goes to the next one: a signal is never lost.
  void undo(SyncWaiter&) noexcept { notify(false); }

  // Any shard. Nobody can wait on a cond that has no home yet.
  void notify(bool all) noexcept {
    if (Shard* h = home()) call_on_home<CondState, &CondState::wake>(this, h, all ? 1 : 0);
  }
  void wake(uint32_t all) noexcept {
    RINGO_ASSERT(on_home(), "only the home shard wakes waiters");
    Shard& here = *home();
    while (SyncWaiter* w = waiters.front()) {
      waiters.remove(w);
      w->wake(w, here);
      if (all == 0) return;
    }
  }
};

}  // namespace ringo::detail
