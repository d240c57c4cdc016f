// Cross-shard work (lane B): submit_to runs a function on another shard and brings its
// result back; spawn_on starts a routine there. Both travel as envelopes through the
// target's inbox, which it polls while awake and whose doorbell (an IORING_OP_MSG_RING)
// wakes it when it sleeps; the reply comes back the same way. A RemoteShard names a shard
// and is the only handle that may cross threads.
//
// Errors: errc::invalid_shard (index out of range), errc::shard_stopped (target stopping
// or stopped, also when it stops with the call queued), errc::not_in_runtime (called off
// a routine), errc::routine_panicked (fn threw), errc::cancelled (the caller was aborted
// and the remote work observed it). A remote result that exists is always delivered.
#pragma once

#include <functional>
#include <type_traits>

#include "ringo/internal/core/assert.hpp"
#include "ringo/task.hpp"

namespace ringo {

namespace detail {

template <class T>
struct TaskResult {
  static constexpr bool is_task = false;
  using type = T;
};
template <class U>
struct TaskResult<Task<U>> {
  static constexpr bool is_task = true;
  using type = U;
};

template <class F>
using CallValue = typename TaskResult<std::invoke_result_t<F&>>::type;

template <class T, class Fn>
Joined<T> invoke_joined(Fn&& fn) {
  if constexpr (std::is_void_v<T>) {
    std::forward<Fn>(fn)();
    return {};
  } else if constexpr (std::is_same_v<Joined<T>, T>) {
    return std::forward<Fn>(fn)();
  } else {
    return Joined<T>(std::forward<Fn>(fn)());
  }
}

// The caller's side of one call; lives in the caller's frame while it is parked.
template <class T>
struct CallSlot {
  Routine* me = nullptr;
  std::optional<Joined<T>> result;
};

template <class F>
struct CallEnvelope final : Envelope {
  using T = CallValue<F>;
  F fn;
  CallSlot<T>* slot;  // dereferenced only on the home shard
  uint32_t home;
  uint64_t call_id;
  bool replying = false;
  std::optional<Joined<T>> reply;

  CallEnvelope(F f, CallSlot<T>* s, uint32_t h, uint64_t id) : fn(std::move(f)), slot(s), home(h), call_id(id) {}

  void deliver(Shard& here) override {
    if (replying) {
      slot->result = std::move(reply);
      here.unpark(slot->me);
      delete this;
      return;
    }
    if constexpr (TaskResult<std::invoke_result_t<F&>>::is_task) {
      // A full caller registry refuses the call before anything runs (caller_registry.hpp).
      if (here.callers().full()) return send_back(here, fail(errc::queue_full));
      auto h = spawn_local(here, serve(here, this), /*must_start=*/true);
      if (!h.valid()) return send_back(here, std::unexpected(h.spawn_error()));
      // Detached: the registry's pointer is erased before the routine finishes. Room was
      // checked above, and the routine is only queued since.
      [[maybe_unused]] const auto registered = here.register_call(call_id, h.routine_ptr());
      RINGO_ASSERT(registered.has_value(), "the registry had room for this call");
      h.detach();
    } else {
      try {
        send_back(here, invoke_joined<T>(fn));
      } catch (...) {
        send_back(here, fail(errc::routine_panicked));
      }
    }
  }

  void reject(Shard& here) override {
    if (replying) {
      delete this;  // the caller's shard is going away with its routines
    } else {
      send_back(here, fail(errc::shard_stopped));
    }
  }

  void send_back(Shard& here, Joined<T> value) {
    reply.emplace(std::move(value));
    replying = true;
    if (!here.post(home, this)) delete this;  // home stopped: nobody is waiting any more
  }

  static Task<void> serve(Shard& here, CallEnvelope* env) {
    // If the shard is torn down with this routine unfinished, its frame is destroyed at
    // a suspension point: the envelope goes with it (nobody will reply or reject it).
    struct Owner {
      CallEnvelope* env;
      ~Owner() { delete env; }
    } owner{env};
    Joined<T> value = fail(errc::routine_panicked);
    try {
      // A named task, not a temporary: GCC 12 destroys a temporary awaited inside a
      // try block twice.
      auto task = env->fn();
      if constexpr (std::is_void_v<T>) {
        co_await std::move(task);
        value = Joined<T>{};
      } else {
        value = Joined<T>(co_await std::move(task));
      }
    } catch (...) {
      value = fail(errc::routine_panicked);
    }
    here.unregister_call(env->call_id);
    owner.env = nullptr;
    env->send_back(here, std::move(value));
  }
};

struct CancelCallEnvelope final : Envelope {
  uint64_t call_id;
  explicit CancelCallEnvelope(uint64_t id) : call_id(id) {}
  void deliver(Shard& here) override {
    here.abort_call(call_id);
    delete this;
  }
};

// Asks `target` to give up call_id. If the post fails the target is stopping, and it
// answers the call with shard_stopped anyway.
inline void post_cancel_call(Shard& here, uint32_t target, uint64_t call_id) {
  auto* env = new CancelCallEnvelope(call_id);
  if (!here.post(target, env)) delete env;
}

}  // namespace detail

// Runs fn() on shard `target` and resumes with its result as Result<T>. fn may return a
// value or a Task<T> (which then runs there as a routine and can be cancelled).
template <class F>
auto submit_to(uint32_t target, F fn) {
  using T = detail::CallValue<F>;
  struct Awaiter {
    uint32_t target;
    F fn;
    detail::Shard* here = detail::current_shard();
    detail::CallSlot<T> slot{};
    uint64_t call_id = 0;
    std::error_code early{};

    bool await_ready() noexcept {
      detail::Routine* me = here != nullptr ? here->current_routine() : nullptr;
      // invalid_shard ranks between not_in_runtime and cancelled.
      if (me != nullptr && target >= here->group().size()) return early = make_error_code(errc::invalid_shard), true;
      return detail::refuse_await(me, early);
    }
    bool await_suspend(std::coroutine_handle<> h) {
      slot.me = here->current_routine();
      call_id = here->next_call_id();
      auto* env = new detail::CallEnvelope<F>(std::move(fn), &slot, here->index(), call_id);
      // New work for the target: refused with queue_full when its inbox is full.
      if (auto posted = here->post_request(target, env); !posted) {
        delete env;
        early = posted.error();
        return false;
      }
      static constexpr detail::WaitKind kWait{&Awaiter::on_cancel,
                                              &Awaiter::describe};  // a local class: no static members
      here->park(slot.me, h, kWait, this);
      return true;
    }
    // The reply always comes (value, cancelled, or shard_stopped): keep waiting for it.
    static void on_cancel(detail::Routine*, void* ctx) {
      auto* a = static_cast<Awaiter*>(ctx);
      detail::post_cancel_call(*a->here, a->target, a->call_id);
    }
    static detail::WaitInfo describe(const void* ctx) {
      return {"submit_to", static_cast<const Awaiter*>(ctx)->target};
    }
    Joined<T> await_resume() {
      if (early) return std::unexpected(early);
      return std::move(*slot.result);
    }
  };
  return Awaiter{target, std::move(fn)};
}

namespace detail {
// Hands its task over once.
template <class T>
struct TaskThunk {
  Task<T> task;
  Task<T> operator()() { return std::move(task); }
};

// A local routine of the same type as the remote one, so that spawn_on gives the same
// JoinHandle<T> as go(). A failure of the call itself (shard_stopped, cancelled, a remote
// panic) travels in the Result when T is one, and as a RoutineFailure otherwise.
template <class T>
Task<T> spawn_on_proxy(uint32_t target, Task<T> task) {
  // Two statements on purpose: GCC 12 leaves the parameter owning the task when it is
  // moved from inside the co_await expression itself.
  auto call = submit_to(target, TaskThunk<T>{std::move(task)});
  Joined<T> out = co_await call;
  if constexpr (std::is_same_v<Joined<T>, T>) {
    co_return out;
  } else {
    if (!out) throw RoutineFailure{out.error()};
    if constexpr (!std::is_void_v<T>) co_return std::move(*out);
  }
}
}  // namespace detail

// Starts task as a routine on shard `target`. The handle is local, of the same type as
// go()'s: join() and abort() work from the spawning routine, and abort() cancels the
// remote routine by message.
template <class T>
JoinHandle<T> spawn_on(uint32_t target, Task<T> task) {
  return go(detail::spawn_on_proxy(target, std::move(task)));
}

// A shard by index: the only cross-thread handle.
class RemoteShard {
 public:
  explicit RemoteShard(uint32_t index) noexcept : index_(index) {}
  uint32_t index() const noexcept { return index_; }

  // Lane A: a RingMsg{from, tag, value} for the target's message handler. Zero allocation.
  Result<void> send_raw(uint16_t tag, uint64_t value) const {
    detail::Shard* here = detail::current_shard();
    if (here == nullptr) return fail(errc::not_in_runtime);
    return here->send_raw(index_, tag, value);
  }
  template <class F>
  auto submit(F fn) const {
    return submit_to(index_, std::move(fn));
  }

 private:
  uint32_t index_;
};

}  // namespace ringo
