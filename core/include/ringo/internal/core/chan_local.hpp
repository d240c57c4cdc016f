// LocalSend and LocalRecv: the awaiters of a send and a receive on the channel's home
// shard. Internal to chan.hpp, which picks them (or chan_remote.hpp's) per call.
//
// Contract: try now; if the operation would block, park the routine with its waiter in
// the channel's queue until the channel wakes it (wake_routine) or the routine is
// cancelled (on_cancel takes the waiter out: nothing is left behind). The value and the
// outcome live in the waiter, so a blocked send or receive holds the channel pointer, the
// 32-byte waiter base and the value (docs/scheduling.md, "Blocked in a channel").
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

#include "ringo/chan_types.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/chan_state.hpp"
#include "ringo/task.hpp"

namespace ringo::detail {

// The wake of a routine's waiter: its owner is the routine, parked on the home shard.
inline void wake_routine(ChanWaiter* w, Shard& home) { home.unpark(static_cast<Routine*>(w->owner)); }

template <class T>
struct LocalSend {
  // A constructor, not aggregate initialisation, so that the waiter's links are left unset.
  // refusal: the error when s is null (a channel of another runtime is refused this way).
  LocalSend(ChanState<T>* s, T v, errc refusal = errc::no_channel) noexcept(std::is_nothrow_move_constructible_v<T>)
      : st(s), waiter(std::move(v), s == nullptr ? refusal : errc::ok) {}

  ChanState<T>* st;
  SendWaiter<T> waiter;  // value and outcome now; owner: set by await_ready; the rest when it parks

  bool await_ready() {
    if (st == nullptr) return true;  // the waiter holds the refusal
    Routine* me = this_routine();
    if (me == nullptr) return waiter.fail(errc::not_in_runtime), true;
    if (me->should_cancel()) return waiter.fail(errc::cancelled), true;
    waiter.owner = me;
    switch (st->try_send(waiter.value)) {
      case Attempt::done: return true;
      case Attempt::closed: return waiter.fail(errc::channel_closed), true;
      case Attempt::would_block: return false;
    }
    return true;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter.wake = &wake_routine;
    st->park_sender(&waiter);
    st->home->park(static_cast<Routine*>(waiter.owner), h, kWait, this);
  }
  static WaitInfo describe(const void* ctx) { return {"chan send", static_cast<const LocalSend*>(ctx)->st->id}; }
  static void on_cancel(Routine* r, void* ctx) {
    auto* self = static_cast<LocalSend*>(ctx);
    RINGO_ASSERT(self->st->senders_waiting.contains(&self->waiter), "a parked send is queued until it is woken");
    self->st->senders_waiting.remove(&self->waiter);
    self->waiter.fail(errc::cancelled);
    r->shard->unpark(r);
  }
  static constexpr WaitKind kWait{&LocalSend::on_cancel, &LocalSend::describe};
  SendResult<T> await_resume() {
    if (waiter.failed()) {
      return std::unexpected(Rejected<T>{make_error_code(waiter.outcome), std::move(waiter.value)});
    }
    return {};
  }
};

template <class T>
struct LocalRecv {
  // Leaves `waiter` unset. refusal: the error when s is null.
  explicit LocalRecv(ChanState<T>* s, errc refusal = errc::no_channel) noexcept : st(s) {
    if (s == nullptr) waiter.fail(refusal);
  }

  ChanState<T>* st;
  RecvWaiter<T> waiter;  // owner: set by await_ready; the links and wake when it parks

  bool await_ready() {
    if (st == nullptr) return true;  // the refusal is in the waiter
    Routine* me = this_routine();
    if (me == nullptr) return waiter.fail(errc::not_in_runtime), true;
    if (me->should_cancel()) return waiter.fail(errc::cancelled), true;
    waiter.owner = me;
    return st->try_recv(waiter) != Attempt::would_block;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter.wake = &wake_routine;
    st->park_receiver(&waiter);
    st->home->park(static_cast<Routine*>(waiter.owner), h, kWait, this);
  }
  static WaitInfo describe(const void* ctx) { return {"chan recv", static_cast<const LocalRecv*>(ctx)->st->id}; }
  static void on_cancel(Routine* r, void* ctx) {
    auto* self = static_cast<LocalRecv*>(ctx);
    RINGO_ASSERT(self->st->receivers_waiting.contains(&self->waiter), "a parked receive is queued until it is woken");
    self->st->receivers_waiting.remove(&self->waiter);
    self->waiter.fail(errc::cancelled);
    r->shard->unpark(r);
  }
  static constexpr WaitKind kWait{&LocalRecv::on_cancel, &LocalRecv::describe};
  // Field by field, not one copy of a whole Result: try_recv has just written it with
  // narrow stores, and a wide load over them misses store forwarding (perf: most of
  // SPSC's receive loop stalled on that load).
  Result<T> await_resume() { return waiter.take(); }
};

}  // namespace ringo::detail
