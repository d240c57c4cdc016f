// A routine's control block. It lives inside the root coroutine frame (no allocation of
// its own) and is touched only by the shard that runs it. A balanced routine (spawn())
// may be handed, before it first runs, to a shard that asked for work (work_request.cpp):
// `shard` is then that shard, while `home` (the spawner, where its JoinHandle lives),
// `id` and `moved_to` stay the home shard's.
//
// Every blocked routine pays for this block, so it is kept lean (docs/scheduling.md,
// "Lean routines"): 86 bytes, whose 2 bytes of tail padding the promise reuses.
#pragma once

#include <coroutine>
#include <cstdint>
#include <system_error>

#include "ringo/error.hpp"

namespace ringo::detail {

class Shard;
struct Routine;

// What a deadlock report says about a wait.
struct WaitInfo {
  const char* reason;
  uint64_t detail;
};

// A kind of wait, as a static constant of its awaiter: how to cancel it (nullptr: it
// cannot be), and how to describe it from its context for a deadlock report.
struct WaitKind {
  void (*cancel)(Routine*, void* ctx);
  WaitInfo (*describe)(const void* ctx);
};

struct Routine {
  using CancelWait = void (*)(Routine*, void* ctx);

  std::coroutine_handle<> resume_point;  // innermost suspended coroutine of this routine
  Shard* shard = nullptr;                // the shard that runs it
  Shard* home = nullptr;                 // the shard that spawned it: its JoinHandle and its end live there
  uint64_t id = 0;                       // (home index << 48) | per-shard sequence: deterministic
  Routine* prev_live = nullptr;
  Routine* next_live = nullptr;
  // A routine is either queued (ready, or in a handover list) or parked, never both:
  // the ready link and the parked awaiter share a word. park() makes wait_ctx the live
  // member, unpark() makes next_ready the live one again (nullptr) before queueing.
  union {
    Routine* next_ready = nullptr;
    void* wait_ctx;  // the parked awaiter, while `wait` is set
  };
  const WaitKind* wait = nullptr;  // the wait in progress (set from park to unpark)
  // Typed by the routine's result: with publish, hands the result to the JoinHandle (if
  // any) and wakes its joiner; then destroys the root frame.
  void (*end)(Routine*, bool publish) = nullptr;
  // Written by the shard that runs the routine (one byte: one memory location). must_start
  // is set by home before the routine can move; a handover orders it before the runner.
  bool started : 1 = false;
  bool done : 1 = false;
  bool cancel_requested : 1 = false;
  bool cancelled_before_start : 1 = false;
  bool panicked : 1 = false;
  bool must_start : 1 = false;       // runs its body even if aborted first (it owes a reply)
  bool deadline_passed : 1 = false;  // inside with_deadline(t, task) after t: awaits fail fast
  bool wait_cancelled : 1 = false;   // this wait's cancel ran (once per wait)
  uint8_t shield_depth = 0;          // > 0: cancellation does not interrupt waits (cleanup)
  // Written by home only, and read by home while another shard runs the routine: a byte
  // of their own, apart from the runner's.
  bool movable : 1 = false;  // spawned balanced and not handed over yet
  bool moved : 1 = false;    // handed to shard moved_to (written before it leaves)
  uint16_t moved_to = 0;

  // True when an await should fail fast with errc::cancelled.
  bool should_cancel() const noexcept { return (cancel_requested || deadline_passed) && shield_depth == 0; }
};

// ---- The opening of an await ----
// Every awaiter that suspends a routine starts the same way: find the routine that awaits
// (this_routine(), task.hpp; awaiters keep it as `Routine* me = this_routine()`), then fail
// before suspending when there is none (errc::not_in_runtime) or when it must not wait any
// more (errc::cancelled: aborted, or past its deadline, and no Shield holds). These two
// helpers are that opening; an awaiter runs its own checks (wrong shard, bad argument...)
// around them, in the order its contract gives.
//
//   bool await_ready() noexcept { return refuse_await(me, early); }  // std::error_code early
//
// A lean awaiter that keeps a one-byte outcome instead of an error_code (SleepAwaiter:
// every sleeping routine pays for its frame) uses await_gate() and await_gate_error().
enum class AwaitGate : uint8_t { open, not_in_runtime, cancelled };

inline AwaitGate await_gate(const Routine* me) noexcept {
  if (me == nullptr) return AwaitGate::not_in_runtime;
  if (me->should_cancel()) return AwaitGate::cancelled;
  return AwaitGate::open;
}

inline std::error_code await_gate_error(AwaitGate gate) noexcept {
  switch (gate) {
    case AwaitGate::open: break;
    case AwaitGate::not_in_runtime: return make_error_code(errc::not_in_runtime);
    case AwaitGate::cancelled: return make_error_code(errc::cancelled);
  }
  return {};
}

// True (await_ready's "do not suspend") with `early` set when the await must fail now.
inline bool refuse_await(const Routine* me, std::error_code& early) noexcept {
  const AwaitGate gate = await_gate(me);
  if (gate == AwaitGate::open) return false;
  early = await_gate_error(gate);
  return true;
}

}  // namespace ringo::detail
