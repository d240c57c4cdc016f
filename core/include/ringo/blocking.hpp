// blocking(fn): runs a plain function that may block (a syscall with no io_uring form, a
// library that blocks, a long computation) on the runtime's bounded pool of threads, and
// resumes the routine with its result, which comes home through the shard's inbox.
//
//   Result<int> fd = co_await ringo::blocking([&] { return ::open(path, O_RDONLY); });
//
// Result: Joined<T> for fn returning T (Result<U> stays Result<U>), or an error:
//   errc::cancelled       the routine was aborted, its stop token fired, or (as timed_out)
//                         a deadline passed, before fn returned (see below);
//   errc::queue_full      max_threads calls run and max_queue more wait: refused at once,
//                         fn never runs (no backpressure wait: retry or shed load);
//   errc::shard_stopped   the pool is closed (the runtime is shutting down);
//   errc::not_in_runtime  called off a routine;
//   errc::backend_unavailable  no pool is installed (a bare Shard, not a Runtime).
// An exception thrown by fn is caught on the pool thread and rethrown here, in the
// awaiting routine, as if fn had been called in place; the pool thread is unaffected.
//
// Cancellation (abort, with_stop, with_timeout/with_deadline) ends the call one of three
// ways, each counted in ShardStats:
//   1. not yet started: it leaves the queue and fn never runs -> cancelled;
//   2. running: the routine resumes at once with cancelled (timed_out under a deadline);
//      fn cannot be interrupted, so it runs to its end on the pool thread and its result
//      (or exception) is dropped on the home shard: own what fn returns (RAII), so a
//      dropped result frees itself;
//   3. fn had already returned (its result is on its way home): the result is delivered,
//      as for a kernel op that completed anyway.
//
// fn runs on a thread outside the runtime: it must not touch routines, channels or other
// shard-bound objects. fn and its captures are destroyed on the home shard, except for
// work a shutdown had to abandon (destroyed on the pool thread when fn returns). In the
// simulator, fn runs on the simulator's thread at a seeded virtual instant and its
// duration is simulated (sim::FaultConfig::blocking_*): it must not wait for the program.
//
// GCC 12: name the awaitable when fn is a lambda with captures (`auto call =
// blocking([s] {...}); co_await call;`), see architecture.md, Known pitfalls.
//
// Thread-safety: shard-local, like every await; fn runs on one pool thread.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "ringo/cross_shard.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/blocking_executor.hpp"
#include "ringo/task.hpp"

namespace ringo {

namespace detail {

template <class F>
struct BlockingAwaiter;

template <class F>
class BlockingCall final : public BlockingJob {
 public:
  using T = std::invoke_result_t<F&>;
  using Out = Joined<T>;

  BlockingCall(F fn, BlockingAwaiter<F>* waiter, uint32_t home, uint64_t id)
      : BlockingJob(home, id), fn_(std::move(fn)), waiter_(waiter) {}

  // Home shard: the awaiter stops waiting (cancelled, or its frame is going away).
  void unlink() noexcept {
    waiter_ = nullptr;
    release();
  }

  void deliver(Shard& here) override {
    here.trace(TraceKind::blocking, id(), static_cast<uint64_t>(BlockingPhase::delivered));
    if (waiter_ != nullptr) {
      std::exchange(waiter_, nullptr)->take(std::move(value_), std::move(error_));
      release();  // the caller's reference
    }
    release();  // the executor's
  }
  void reject(Shard&) override { release(); }

 private:
  void invoke() noexcept override {
    try {
      value_.emplace(invoke_joined<T>(fn_));
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  F fn_;
  BlockingAwaiter<F>* waiter_;  // home shard only
  std::optional<Out> value_;    // written by the runner before finished, read at home after
  std::exception_ptr error_;
};

template <class F>
struct BlockingAwaiter {
  using Call = BlockingCall<F>;
  using Out = typename Call::Out;

  F fn;
  Routine* me = this_routine();
  Call* call = nullptr;  // linked while parked on it
  std::error_code early{};
  std::optional<Out> value;
  std::exception_ptr error;
  bool cancel_seen = false;

  explicit BlockingAwaiter(F f) : fn(std::move(f)) {}
  // Moved only before it is awaited (with_timeout wraps it).
  BlockingAwaiter(BlockingAwaiter&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
      : fn(std::move(o.fn)), me(o.me) {
    RINGO_ASSERT(o.call == nullptr, "moved only before it is awaited");
  }
  BlockingAwaiter& operator=(BlockingAwaiter&&) = delete;
  // A frame destroyed while parked (a runtime torn down): the job must not find us.
  ~BlockingAwaiter() {
    if (call == nullptr) return;
    (void)call->cancel();  // if still queued, the executor drops it unrun
    std::exchange(call, nullptr)->unlink();
  }

  bool await_ready() noexcept {
    if (refuse_await(me, early)) return true;
    if (me->shard->group().blocking_executor() == nullptr) {
      return early = make_error_code(errc::backend_unavailable), true;
    }
    return false;
  }

  bool await_suspend(std::coroutine_handle<> h) {
    Shard& shard = *me->shard;
    const uint64_t id = shard.next_call_id();
    auto* job = new Call(std::move(fn), this, shard.index(), id);
    if (auto submitted = shard.group().blocking_executor()->submit(job); !submitted) {
      delete job;
      early = submitted.error();
      return false;
    }
    call = job;
    shard.count_blocking(Shard::BlockingCount::call);
    shard.trace(TraceKind::blocking, id, static_cast<uint64_t>(BlockingPhase::submitted));
    shard.park(me, h, kWait, this);
    return true;
  }

  static WaitInfo describe(const void* ctx) {
    return {"blocking", static_cast<const BlockingAwaiter*>(ctx)->call->id()};
  }

  static void on_cancel(Routine* me, void* ctx) {
    auto* a = static_cast<BlockingAwaiter*>(ctx);
    Shard& shard = *me->shard;
    switch (a->call->cancel()) {
      case BlockingJob::State::queued:  // now cancelled: it never runs
        shard.group().blocking_executor()->withdraw(a->call);
        shard.count_blocking(Shard::BlockingCount::cancelled_before_start);
        shard.trace(TraceKind::blocking, a->call->id(), static_cast<uint64_t>(BlockingPhase::cancelled_before_start));
        break;
      case BlockingJob::State::running:  // runs on; its result is dropped at home
        shard.count_blocking(Shard::BlockingCount::cancelled_while_running);
        shard.trace(TraceKind::blocking, a->call->id(), static_cast<uint64_t>(BlockingPhase::dropped));
        break;
      default:  // finished: the result is on its way home; it is the wait's result
        a->cancel_seen = true;
        return;
    }
    a->early = make_error_code(errc::cancelled);
    std::exchange(a->call, nullptr)->unlink();
    shard.unpark(me);
  }
  static constexpr WaitKind kWait{&BlockingAwaiter::on_cancel, &BlockingAwaiter::describe};

  // The job's deliver(), on the home shard.
  void take(std::optional<Out>&& v, std::exception_ptr e) {
    value = std::move(v);
    error = std::move(e);
    call = nullptr;
    if (cancel_seen) me->shard->count_blocking(Shard::BlockingCount::completed_despite_cancel);
    me->shard->unpark(me);
  }

  Out await_resume() {
    if (early) return std::unexpected(early);
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

}  // namespace detail

// Runs fn() on the blocking pool; co_await gives its result (see the top of this file).
template <class F>
auto blocking(F fn) {
  static_assert(std::is_invocable_v<F&>, "ringo::blocking(fn): fn must be callable with no arguments");
  static_assert(!detail::TaskResult<std::invoke_result_t<F&>>::is_task,
                "ringo::blocking(fn): fn must be a plain function, not a coroutine: it runs on a pool thread, "
                "outside the runtime");
  return detail::BlockingAwaiter<F>(std::move(fn));
}

}  // namespace ringo
