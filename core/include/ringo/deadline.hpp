// Deadlines and stop tokens on any awaitable, and structured concurrency.
//
//   Result<int> r = co_await with_timeout(5ms, rx.recv());      // timed_out if it expires
//   auto s = co_await with_deadline(t, tx.send(v));             // Rejected{timed_out, v}
//   auto r = co_await with_stop(source.get_token(), sleep(1h)); // cancelled on request_stop()
//
// When the deadline passes while the awaitable waits, its wait is cancelled the way an
// abort cancels it (ASYNC_CANCEL for kernel ops, unlinking for channel and timer waits,
// a cancel message for cross-shard calls) and the routine resumes with errc::timed_out,
// distinct from an explicit abort's errc::cancelled. If the operation completed anyway,
// its real result is returned. Unlike abort, later awaits are not affected.
//
// TaskScope: children spawned into a scope are joined by `co_await scope.join_all()`;
// the first failure (an error Result, a panic) cancels the siblings unless disabled;
// aborting the routine that awaits join_all — or a deadline or stop token wrapped around
// it, `with_timeout(d, scope.join_all())` — cancels every child and still waits for them.
// A scope destroyed with children left aborts and detaches them.
//
// Thread-safety: shard-local, like routines.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <vector>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/task.hpp"

namespace ringo {

namespace detail {

inline bool is_cancellation(const std::error_code& e) noexcept {
  return e == errc::cancelled || e == std::errc::operation_canceled;
}

template <class R>
constexpr bool is_result = false;
template <class V, class E>
constexpr bool is_result<std::expected<V, E>> = true;

// What with_deadline / with_stop can report through: a Result (or SendResult), or nothing
// (a void Task then reports as Result<void>). A plain value has no room for timed_out.
template <class A>
constexpr void check_reportable() {
  using R = decltype(std::declval<A&>().await_resume());
  static_assert(std::is_void_v<R> || is_result<std::remove_cvref_t<R>>,
                "ringo::with_timeout / with_deadline / with_stop: the awaitable (or Task<T>) must give a "
                "Result<T> (or void), so that timed_out / cancelled can be reported without losing a value. "
                "Make the task return ringo::Result<T>.");
}

// Reports a cancellation-shaped failure of r as `to` (timed_out for deadlines, cancelled
// for stop tokens); any other result passes through.
template <class R>
R remap_cancellation(R r, errc to) {
  using E = typename R::error_type;
  if (r) return r;
  if constexpr (std::is_same_v<E, std::error_code>) {
    if (is_cancellation(r.error())) return std::unexpected(make_error_code(to));
  } else {
    if (is_cancellation(r.error().error)) r.error().error = make_error_code(to);
  }
  return r;
}

// Lets a Task stand where an awaiter is expected, keeping the task (its frame) alive.
template <class T>
struct TaskAwait {
  Task<T> task;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return std::move(task).operator co_await().await_suspend(h); }
  T await_resume() { return std::move(task).operator co_await().await_resume(); }
};

template <class A>
struct AsAwaiter {
  using type = A;
  static A wrap(A&& a) { return std::move(a); }
};
template <class T>
struct AsAwaiter<Task<T>> {
  using type = TaskAwait<T>;
  static TaskAwait<T> wrap(Task<T>&& t) { return TaskAwait<T>{std::move(t)}; }
};

template <class A>
constexpr bool is_task_await = false;
template <class T>
constexpr bool is_task_await<TaskAwait<T>> = true;

template <class A>
struct DeadlineAwaiter : TimerNode {
  A inner;
  Routine* me = nullptr;
  bool expired = false;
  bool outer_passed = false;  // a Task scope restores the routine's flag on exit

  DeadlineAwaiter(A a, Instant deadline) : inner(std::move(a)) { when = deadline; }

  bool await_ready() {
    me = this_routine();
    return inner.await_ready();
  }
  template <class H>
  auto await_suspend(H h) {
    fire = &DeadlineAwaiter::on_expire;
    if constexpr (is_task_await<A>) outer_passed = me->deadline_passed;
    me->shard->add_timer(this, std::max(when, me->shard->now()));
    using Ret = decltype(inner.await_suspend(h));
    if constexpr (std::is_same_v<Ret, bool>) {
      const bool parked = inner.await_suspend(h);
      if (!parked) me->shard->cancel_timer(this);
      return parked;
    } else {
      return inner.await_suspend(h);
    }
  }
  static void on_expire(TimerNode* n) {
    auto* self = static_cast<DeadlineAwaiter*>(n);
    self->expired = true;
    // Around a Task the deadline stays passed until the task returns (Go's context):
    // every later await in it fails fast, not just the wait in progress.
    if constexpr (is_task_await<A>) self->me->deadline_passed = true;
    self->me->shard->count_deadline_expiry();
    self->me->shard->interrupt(self->me);
  }
  auto await_resume() {
    if (linked()) me->shard->cancel_timer(this);
    if constexpr (is_task_await<A>) {
      if (me != nullptr) me->deadline_passed = outer_passed;
    }
    if constexpr (std::is_void_v<decltype(inner.await_resume())>) {
      inner.await_resume();  // a void Task that returned after its deadline timed out
      return expired ? Result<void>(fail(errc::timed_out)) : Result<void>{};
    } else {
      auto r = inner.await_resume();
      if (expired) return remap_cancellation(std::move(r), errc::timed_out);
      return r;  // not `?:`: that copies r, and a Result of a move-only type cannot be copied
    }
  }
};

// Shared between a waiting routine and a stop callback that may run on any thread.
struct StopLink {
  std::atomic<bool> armed{true};
  bool fired = false;  // written and read on the routine's shard only
  ShardGroup* group;
  uint32_t shard;
  Routine* routine;
  StopLink(ShardGroup* g, uint32_t s, Routine* r) : group(g), shard(s), routine(r) {}

  // On the routine's shard: cancel its wait if it is still the one we armed for.
  void fire_here(Shard& here) {
    RINGO_ASSERT(&here.group() == group && here.index() == shard, "a stop fires on the routine's shard only");
    if (!armed.exchange(false)) return;
    fired = true;
    here.interrupt(routine);
  }
};

struct StopEnvelope final : Envelope {
  std::shared_ptr<StopLink> link;
  explicit StopEnvelope(std::shared_ptr<StopLink> l) : link(std::move(l)) {}
  void deliver(Shard& here) override {
    link->fire_here(here);
    delete this;
  }
};

struct StopRequested {
  std::shared_ptr<StopLink> link;
  void operator()() const {
    if (!link->armed.load()) return;
    Shard* here = current_shard();
    if (here != nullptr && &here->group() == link->group && here->index() == link->shard) {
      link->fire_here(*here);
      return;
    }
    auto* env = new StopEnvelope(link);
    if (!link->group->post_from_anywhere(link->shard, env)) delete env;
  }
};

template <class A>
struct StopAwaiter {
  StopAwaiter(A a, std::stop_token t) : inner(std::move(a)), token(std::move(t)) {}
  A inner;
  std::stop_token token;
  Routine* me = nullptr;
  std::shared_ptr<StopLink> link;
  std::optional<std::stop_callback<StopRequested>> callback;

  bool await_ready() {
    me = this_routine();
    return inner.await_ready();
  }
  template <class H>
  auto await_suspend(H h) {
    using Ret = decltype(inner.await_suspend(h));
    if constexpr (std::is_same_v<Ret, bool>) {
      if (!inner.await_suspend(h)) return false;
      arm();
      return true;
    } else {
      static_assert(std::is_void_v<Ret>, "with_stop: awaitable must suspend with void or bool");
      inner.await_suspend(h);
      arm();
    }
  }
  // After the routine is parked: a stop already requested fires right here.
  void arm() {
    if (me == nullptr) return;
    link = std::make_shared<StopLink>(&me->shard->group(), me->shard->index(), me);
    callback.emplace(token, StopRequested{link});
  }
  auto await_resume() {
    if (link) link->armed.store(false);
    callback.reset();  // waits for a callback running on another thread, if any
    const bool fired = link && link->fired;
    if constexpr (std::is_void_v<decltype(inner.await_resume())>) {
      inner.await_resume();
      return fired ? Result<void>(fail(errc::cancelled)) : Result<void>{};
    } else {
      auto r = inner.await_resume();
      if (fired) return remap_cancellation(std::move(r), errc::cancelled);
      return r;
    }
  }
};

}  // namespace detail

// Cancels the awaitable's wait when `token` is stopped (from any thread); the routine
// resumes with errc::cancelled unless the operation completed anyway. Only this wait is
// affected. A stop from a thread outside the runtime wakes the shard through a ring-less
// MSG_RING (kernel 6.13+); on older kernels it takes effect at the shard's next wake-up.
template <class A>
auto with_stop(std::stop_token token, A&& awaitable) {
  using Wrap = detail::AsAwaiter<std::remove_cvref_t<A>>;
  detail::check_reportable<typename Wrap::type>();
  return detail::StopAwaiter<typename Wrap::type>(Wrap::wrap(std::forward<A>(awaitable)), std::move(token));
}

// A Task may be given too, as a deadline scope: when t passes, the wait in progress is
// cancelled and every later await inside the task fails fast with cancelled, until the
// task returns (its cancelled result is then reported as timed_out). TaskScope children
// joined inside are cancelled; cross-shard calls inside are cancelled by message.
template <class A>
auto with_deadline(Instant deadline, A&& awaitable) {
  using Wrap = detail::AsAwaiter<std::remove_cvref_t<A>>;
  detail::check_reportable<typename Wrap::type>();
  return detail::DeadlineAwaiter<typename Wrap::type>(Wrap::wrap(std::forward<A>(awaitable)), deadline);
}

template <class A>
auto with_timeout(Duration d, A&& awaitable) {
  detail::Shard* s = detail::current_shard();
  const Instant now = s != nullptr ? s->now() : Instant{0};
  return with_deadline(d.count() > 0 ? now + d : now, std::forward<A>(awaitable));
}

// Go's errgroup: children spawned into the scope are joined together by join_all(), and the
// first failure cancels the others unless disabled (this header's comment has the rules).
class TaskScope {
 public:
  explicit TaskScope(bool cancel_siblings_on_failure = true)
      : state_(std::make_shared<State>(State{{}, cancel_siblings_on_failure, {}})) {}
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;
  ~TaskScope() { cancel_all(); }

  // Starts task as a child routine on the current shard.
  template <class T>
  Result<void> spawn(Task<T> task) {
    auto h = go(run_child(state_, std::move(task)));
    if (!h.valid()) return std::unexpected(h.spawn_error());
    state_->children.push_back(std::move(h));
    return {};
  }

  void cancel_all() noexcept {
    for (auto& c : state_->children) (void)c.abort();
  }

  size_t size() const noexcept { return state_->children.size(); }

  // Joins every child. Result: ok, the first child failure, or cancelled if the caller
  // was aborted (the children are then cancelled and still joined).
  Task<Result<void>> join_all() {
    auto state = state_;
    for (size_t i = 0; i < state->children.size(); ++i) {
      auto r = co_await state->children[i].join();
      // Our own wait was cancelled (abort, or a deadline / stop token around join_all),
      // not the child's result: the handle is still unjoined. Cancel the children.
      if (!r && r.error() == errc::cancelled && state->children[i].valid()) {
        for (auto& c : state->children) (void)c.abort();
        Shield shield;  // cleanup: wait for every child even though we are cancelled
        for (size_t j = i; j < state->children.size(); ++j) (void)co_await state->children[j].join();
        state->children.clear();
        co_return fail(errc::cancelled);
      }
    }
    state->children.clear();
    if (state->first_failure) co_return std::unexpected(state->first_failure);
    co_return Result<void>{};
  }

 private:
  struct State {
    std::vector<JoinHandle<Result<void>>> children;
    bool cancel_siblings;
    std::error_code first_failure;
  };

  template <class T>
  static Task<Result<void>> run_child(std::shared_ptr<State> state, Task<T> task) {
    std::error_code failure;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(task);
      } else {
        auto value = co_await std::move(task);
        if constexpr (!std::is_same_v<Joined<T>, Result<T>>) {
          if (!value) failure = value.error();
        }
      }
    } catch (...) {
      failure = make_error_code(errc::routine_panicked);
    }
    if (failure && failure != errc::cancelled) {
      if (!state->first_failure) state->first_failure = failure;
      if (state->cancel_siblings) {
        for (auto& c : state->children) (void)c.abort();
      }
    }
    if (failure) co_return std::unexpected(failure);
    co_return Result<void>{};
  }

  std::shared_ptr<State> state_;
};

}  // namespace ringo
