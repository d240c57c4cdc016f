// Routines: Task<T> is a lazy coroutine (nothing runs until it is awaited or spawned);
// awaiting one Task from another runs it at once as a plain call (a child that suspends
// resumes its parent when it finishes). go() turns a Task into a routine on the current
// shard and returns its JoinHandle. Kernel ops (submit, nop) are kernel_op.hpp's.
//
// Errors: join() returns Result: the routine's value, errc::cancelled if it was aborted
// before it ever ran, errc::routine_panicked if an exception escaped it, errc::join_twice
// on a second join, errc::spawn_limit / not_in_runtime / shard_stopped if go() failed.
// A routine returning Result<U> is joined as Result<U> (not Result<Result<U>>).
//
// Thread-safety: a JoinHandle belongs to the shard that spawned the routine; join() and
// abort() from another shard return errc::wrong_thread. To cross shards use spawn_on /
// submit_to (cross_shard.hpp).
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "ringo/error.hpp"
#include "ringo/internal/core/frame_pool.hpp"
#include "ringo/internal/core/routine.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo {

// The Result a JoinHandle<T>'s join() gives: Result<T>, and Result<U> (not nested) for a
// routine that itself returns Result<U>.
template <class T>
struct Joined_ {
  using type = Result<T>;
};
// A routine returning Result<U> joins as Result<U>, not Result<Result<U>>.
template <class U>
struct Joined_<std::expected<U, std::error_code>> {
  using type = Result<U>;
};
template <class T>
using Joined = typename Joined_<T>::type;

namespace detail {

// The routine running on this thread, or nullptr.
inline Routine* this_routine() noexcept {
  Shard* s = current_shard();
  return s != nullptr ? s->current_routine() : nullptr;
}

// How a routine whose result type has no room for an error (the spawn_on proxy of a
// Task<int>) still fails with one: it throws this, and join() reports `error` instead of
// routine_panicked. Not a panic: the shard does not count it as one.
struct RoutineFailure {
  std::error_code error;
};
inline bool is_routine_failure(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const RoutineFailure&) {
    return true;
  } catch (...) {
    return false;
  }
}
inline std::error_code routine_failure_code(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const RoutineFailure& f) {
    return f.error;
  } catch (...) {
    return make_error_code(errc::routine_panicked);
  }
}

// A frame's promise. What a blocked routine costs is mostly its root frame, so the
// promise is packed (docs/scheduling.md, "Lean routines"): the Routine's tail padding
// holds `outcome`, the continuation (nested frames only) shares a word with the
// JoinHandle pointer (root frames only), and the result shares its storage with the
// exception (ValuePromise).
struct PromiseBase {
  enum class Outcome : uint8_t { none, value, exception };

  [[no_unique_address]] Routine routine;  // used when this frame is a routine's root
  Outcome outcome = Outcome::none;        // which of value / exception is there
  // A frame is either awaited (nested) or spawned (a root, with routine.shard set).
  union {
    std::coroutine_handle<> continuation{};  // nested: the awaiting coroutine
    void* owner;                             // root: its JoinHandle while one waits for the result
  };

  static void* operator new(std::size_t size) { return frame_alloc(size); }
  static void operator delete(void* frame, std::size_t size) noexcept { frame_free(frame, size); }

  bool is_root() const noexcept { return routine.shard != nullptr; }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      PromiseBase& p = self.promise();
      if (!p.is_root()) return p.continuation;
      p.routine.shard->finish(&p.routine);  // may destroy this frame: touch nothing after
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  static PromiseBase& of(Routine* r) noexcept {
    return *reinterpret_cast<PromiseBase*>(reinterpret_cast<char*>(r) - offsetof(PromiseBase, routine));
  }
};
static_assert(sizeof(PromiseBase) <= sizeof(Routine) + sizeof(void*), "outcome lives in the Routine's tail padding");

template <class T>
struct ValuePromise : PromiseBase {
  union {
    T value;                       // outcome == value
    std::exception_ptr exception;  // outcome == exception
  };

  ValuePromise() noexcept {}
  ValuePromise(const ValuePromise&) = delete;
  ValuePromise& operator=(const ValuePromise&) = delete;
  ~ValuePromise() { clear(); }

  template <class V>
  requires std::is_convertible_v<V&&, T>
  void return_value(V&& v) {
    clear();
    std::construct_at(&value, std::forward<V>(v));
    outcome = Outcome::value;
  }
  void unhandled_exception() noexcept {
    clear();
    std::construct_at(&exception, std::current_exception());
    outcome = Outcome::exception;
    routine.panicked = !is_routine_failure(exception);
  }
  T take() {
    if (outcome == Outcome::exception) std::rethrow_exception(exception);
    return std::move(value);
  }
  Joined<T> take_joined() {
    if (outcome == Outcome::exception) return Joined<T>(std::unexpected(routine_failure_code(exception)));
    if constexpr (std::is_same_v<Joined<T>, T>) {
      return std::move(value);
    } else {
      return Joined<T>(std::move(value));
    }
  }

 private:
  void clear() noexcept {
    if (outcome == Outcome::value) std::destroy_at(&value);
    if (outcome == Outcome::exception) std::destroy_at(&exception);
    outcome = Outcome::none;
  }
};

template <>
struct ValuePromise<void> : PromiseBase {
  std::exception_ptr exception;

  void return_void() noexcept {}
  void unhandled_exception() noexcept {
    exception = std::current_exception();
    routine.panicked = !is_routine_failure(exception);
  }
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
  Result<void> take_joined() {
    if (exception) return std::unexpected(routine_failure_code(exception));
    return {};
  }
};

}  // namespace detail

template <class T>
class JoinHandle;

// A lazy coroutine returning T: nothing runs until it is awaited (run at once, as a call)
// or spawned as a routine (go, spawn_on, spawn).
template <class T = void>
class [[nodiscard]] Task {
 public:
  // The coroutine machinery's promise; not for direct use.
  struct promise_type : detail::ValuePromise<T> {
    Task get_return_object() noexcept { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle h) noexcept : handle_(h) {}
  Task(Task&& o) noexcept : handle_(std::exchange(o.handle_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, {});
    }
    return *this;
  }
  ~Task() { reset(); }

  bool valid() const noexcept { return static_cast<bool>(handle_); }
  Handle release() noexcept { return std::exchange(handle_, {}); }

  // The child runs at once, as a plain call, not by symmetric transfer: GCC at -O0 does
  // not make symmetric transfer a tail call, so a loop awaiting Tasks that finish without
  // suspending grew the stack by a frame per await and overflowed after ~60,000 of them.
  // While the child runs inline its continuation is the no-op coroutine, so finishing
  // returns here and the parent goes on without suspending; only a child that really
  // suspends gets the parent as its continuation, resumed later from the scheduler.
  auto operator co_await() && noexcept {
    struct Awaiter {
      Handle child;
      bool await_ready() noexcept { return false; }
      bool await_suspend(std::coroutine_handle<> parent) noexcept {
        child.promise().continuation = std::noop_coroutine();
        child.resume();
        if (child.done()) return false;
        child.promise().continuation = parent;
        return true;
      }
      T await_resume() { return child.promise().take(); }
    };
    return Awaiter{handle_};
  }

 private:
  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }
  Handle handle_{};
};

// A routine's handle: join() waits for its Result, abort() cancels it, detach() or
// dropping the handle lets it run on unobserved.
template <class T>
class [[nodiscard]] JoinHandle {
 public:
  using Promise = typename Task<T>::promise_type;

  JoinHandle() noexcept : error_(make_error_code(errc::join_twice)) {}
  explicit JoinHandle(std::error_code spawn_error) noexcept : error_(spawn_error) {}
  explicit JoinHandle(std::coroutine_handle<Promise> h) noexcept : handle_(h), id_(h.promise().routine.id) {
    h.promise().owner = this;  // h is a root: `owner` is the live member
  }
  JoinHandle(JoinHandle&& o) noexcept { take(o); }
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      detach();
      take(o);
    }
    return *this;
  }
  // Dropping a handle detaches the routine (Go semantics): it runs on to completion.
  ~JoinHandle() { detach(); }

  // False when go() failed (spawn_error() says why), after join() or detach().
  bool valid() const noexcept { return handle_ || result_.has_value(); }
  explicit operator bool() const noexcept { return valid(); }
  std::error_code spawn_error() const noexcept { return valid() ? std::error_code{} : error_; }
  uint64_t id() const noexcept { return id_; }
  bool finished() const noexcept { return result_.has_value(); }

  // Cancels what the routine waits on; it resumes with errc::cancelled and every later
  // await fails fast. A routine that has not started yet never runs.
  Result<void> abort() noexcept {
    if (!handle_) return result_ ? Result<void>{} : fail(errc::join_twice);
    detail::Routine& r = routine();
    if (detail::current_shard() != r.home) return fail(errc::wrong_thread);
    if (r.moved) {
      r.home->abort_moved(&r);  // it runs elsewhere now: the abort follows it
    } else {
      r.home->abort(&r);
    }
    return {};
  }

  void detach() noexcept {
    if (handle_ && !detail::shard_tearing_down()) handle_.promise().owner = nullptr;
    handle_ = {};
    result_.reset();
    error_ = make_error_code(errc::join_twice);
  }

  auto join() noexcept {
    struct Awaiter {
      JoinHandle* self;
      detail::Routine* me = nullptr;
      std::error_code early{};
      bool interrupted = false;

      bool await_ready() noexcept {
        if (self->result_) return true;
        if (!self->handle_) return early = self->error_, true;
        detail::Routine& target = self->routine();
        detail::Shard* here = detail::current_shard();
        if (here != target.home) return early = make_error_code(errc::wrong_thread), true;
        me = here->current_routine();
        // join_twice ranks between not_in_runtime and cancelled.
        if (me != nullptr && self->joiner_ != nullptr) return early = make_error_code(errc::join_twice), true;
        return detail::refuse_await(me, early);
      }
      void await_suspend(std::coroutine_handle<> h) noexcept {
        static constexpr detail::WaitKind kWait{&Awaiter::on_cancel,
                                                &Awaiter::describe};  // a local class: no static members
        self->joiner_ = me;
        me->shard->park(me, h, kWait, this);
      }

      // Runs only while the target is alive: its finish clears our cancel hook first.
      static void on_cancel(detail::Routine* me, void* ctx) {
        auto* a = static_cast<Awaiter*>(ctx);
        a->self->joiner_ = nullptr;
        a->interrupted = true;
        me->shard->unpark(me);
      }
      static detail::WaitInfo describe(const void* ctx) {
        return {"join", static_cast<const Awaiter*>(ctx)->self->id_};
      }
      Joined<T> await_resume() {
        if (early) return std::unexpected(early);
        if (interrupted) return fail(errc::cancelled);
        Joined<T> out = std::move(*self->result_);
        self->result_.reset();
        self->error_ = make_error_code(errc::join_twice);
        return out;
      }
    };
    return Awaiter{this};
  }

  // The control block while the routine runs, for runtime internals (call registry).
  detail::Routine* routine_ptr() const noexcept { return handle_ ? &routine() : nullptr; }

  // The routine's end: with publish, its result moves here and the joiner wakes; then the
  // frame goes away.
  static void end(detail::Routine* r, bool publish) {
    auto h = std::coroutine_handle<Promise>::from_promise(static_cast<Promise&>(detail::PromiseBase::of(r)));
    auto* owner = static_cast<JoinHandle*>(h.promise().owner);
    if (publish && owner != nullptr) {
      owner->result_.emplace(r->cancelled_before_start ? Joined<T>(fail(errc::cancelled))
                             : r->panicked             ? Joined<T>(fail(errc::routine_panicked))
                                                       : h.promise().take_joined());
      owner->handle_ = {};
      if (detail::Routine* joiner = std::exchange(owner->joiner_, nullptr)) r->home->unpark(joiner);
    }
    h.destroy();
  }

 private:
  void take(JoinHandle& o) noexcept {
    joiner_ = std::exchange(o.joiner_, nullptr);
    handle_ = std::exchange(o.handle_, {});
    result_ = std::move(o.result_);
    o.result_.reset();
    error_ = o.error_;
    id_ = o.id_;
    if (handle_) handle_.promise().owner = this;
  }
  detail::Routine& routine() const noexcept { return handle_.promise().routine; }

  std::coroutine_handle<Promise> handle_{};
  detail::Routine* joiner_ = nullptr;  // the routine parked in join(), if any
  std::optional<Joined<T>> result_;
  std::error_code error_{};
  uint64_t id_ = 0;
};

// Starts task as a routine on shard; it runs when the shard next runs ready routines
// (movable: or on a shard that asks for work first, work_request.cpp).
template <class T>
JoinHandle<T> spawn_local(detail::Shard& shard, Task<T> task, bool must_start = false, bool movable = false) {
  auto h = task.release();
  if (!h) return JoinHandle<T>(make_error_code(errc::invalid_argument));
  h.promise().routine.must_start = must_start;
  h.promise().routine.movable = movable;
  h.promise().routine.end = &JoinHandle<T>::end;
  if (auto admitted = shard.admit(&h.promise().routine, h); !admitted) {
    h.destroy();
    return JoinHandle<T>(admitted.error());
  }
  return JoinHandle<T>(h);
}

// go(task): a routine on the current shard. Outside a runtime the handle is invalid with
// errc::not_in_runtime.
template <class T>
JoinHandle<T> go(Task<T> task) {
  detail::Shard* shard = detail::current_shard();
  if (shard == nullptr) return JoinHandle<T>(make_error_code(errc::not_in_runtime));
  return spawn_local(*shard, std::move(task));
}

// spawn(task): a routine the runtime places, as Go's `go` does. It is queued on this
// shard, and a shard with nothing to do may take it before it starts; once it runs it
// stays where it is. Its JoinHandle stays here. So the task must not carry objects bound
// to this shard (a Descriptor, a JoinHandle): use go() for those. Outside a runtime the
// handle is invalid with errc::not_in_runtime.
template <class T>
JoinHandle<T> spawn(Task<T> task) {
  detail::Shard* shard = detail::current_shard();
  if (shard == nullptr) return JoinHandle<T>(make_error_code(errc::not_in_runtime));
  return spawn_local(*shard, std::move(task), /*must_start=*/false, /*movable=*/true);
}

// Lets the other ready routines of this shard run first.
inline auto yield_now() noexcept {
  struct Awaiter {
    detail::Routine* me = detail::this_routine();
    bool await_ready() const noexcept { return me == nullptr; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      me->resume_point = h;
      me->shard->make_ready(me);
    }
    void await_resume() const noexcept {}
  };
  return Awaiter{};
}

namespace detail {
struct SleepAwaiter : TimerNode {
  // open: slept. One byte, first: it fits in TimerNode's tail padding.
  AwaitGate outcome = AwaitGate::open;
  Routine* me = this_routine();

  explicit SleepAwaiter(Instant deadline) noexcept { when = deadline; }
  bool await_ready() noexcept {
    outcome = await_gate(me);
    return outcome != AwaitGate::open;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    fire = &SleepAwaiter::on_fire;
    Shard& shard = *me->shard;
    shard.park(me, h, kWait, this);
    // A past deadline still goes through the timer heap: sleep(0) is a fair yield.
    // Buggify may wake a sleeper late (sleep promises at least its duration, not exactly).
    shard.add_timer(this, std::max(when, shard.now()) + shard.buggify_slack());
  }
  static void on_fire(TimerNode* n) {
    auto* a = static_cast<SleepAwaiter*>(n);
    a->me->shard->unpark(a->me);
  }
  static void on_cancel(Routine* me, void* ctx) {
    auto* a = static_cast<SleepAwaiter*>(ctx);
    me->shard->cancel_timer(a);
    a->outcome = AwaitGate::cancelled;
    me->shard->unpark(me);
  }
  static WaitInfo describe(const void* ctx) {
    return {"sleep", static_cast<uint64_t>(static_cast<const SleepAwaiter*>(ctx)->when.count())};
  }
  static constexpr WaitKind kWait{&SleepAwaiter::on_cancel, &SleepAwaiter::describe};
  Result<void> await_resume() noexcept {
    if (outcome == AwaitGate::open) return {};
    return std::unexpected(await_gate_error(outcome));
  }
};
}  // namespace detail

// Suspends until the ring clock reaches `when`. Result: ok, errc::cancelled, or
// errc::not_in_runtime outside a routine.
inline detail::SleepAwaiter sleep_until(Instant when) noexcept { return detail::SleepAwaiter(when); }

inline detail::SleepAwaiter sleep(Duration d) noexcept {
  detail::Shard* s = detail::current_shard();
  const Instant now = s != nullptr ? s->now() : Instant{0};
  return sleep_until(d.count() > 0 && now <= kNoDeadline - d ? now + d : now);
}
// Any std::chrono duration, taken as it is: converting at the call site (sleep(1h)) made
// GCC keep the converted temporary in the coroutine frame, 8 more bytes per sleeper.
template <class Rep, class Period>
requires(!std::is_same_v<std::chrono::duration<Rep, Period>, Duration> &&
         std::is_convertible_v<std::chrono::duration<Rep, Period>, Duration>) detail::SleepAwaiter
    sleep(std::chrono::duration<Rep, Period> d)
noexcept { return sleep(Duration(d)); }

// While alive, cancellation does not interrupt this routine's waits (cleanup code).
class [[nodiscard]] Shield {
 public:
  Shield() noexcept : me_(detail::this_routine()) {
    if (me_ != nullptr) ++me_->shield_depth;
  }
  ~Shield() {
    if (me_ != nullptr) --me_->shield_depth;
  }
  Shield(const Shield&) = delete;
  Shield& operator=(const Shield&) = delete;

 private:
  detail::Routine* me_;
};

}  // namespace ringo
