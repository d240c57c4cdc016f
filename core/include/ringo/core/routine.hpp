// A routine's control block. It lives inside the root coroutine frame (no allocation of
// its own) and is touched only by the shard that runs it. A balanced routine (spawn())
// may be handed, before it first runs, to a shard that asked for work (work_request.cpp):
// `shard` is then that shard, while `home` (the spawner, where its JoinHandle lives),
// `id` and `moved_to` stay the home shard's.
#pragma once

#include <coroutine>
#include <cstdint>

namespace ringo {

class Shard;

struct Routine {
  using CancelWait = void (*)(Routine*, void* ctx);

  std::coroutine_handle<> resume_point;  // innermost suspended coroutine of this routine
  Shard* shard = nullptr;                // the shard that runs it
  Shard* home = nullptr;                 // the shard that spawned it: its JoinHandle and its end live there
  uint64_t id = 0;                       // (home index << 48) | per-shard sequence: deterministic
  Routine* next_ready = nullptr;
  Routine* prev_live = nullptr;
  Routine* next_live = nullptr;
  // The wait in progress: how to cancel it, and what a deadlock report says about it.
  CancelWait cancel_wait = nullptr;
  void* wait_ctx = nullptr;
  const char* wait_reason = nullptr;
  uint64_t wait_detail = 0;
  // Typed by the routine's result: with publish, hands the result to the JoinHandle (if
  // any) and wakes its joiner; then destroys the root frame.
  void (*end)(Routine*, bool publish) = nullptr;
  bool started = false;
  bool done = false;
  bool cancel_requested = false;
  bool cancelled_before_start = false;
  bool panicked = false;
  bool must_start = false;       // runs its body even if aborted first (it owes a reply)
  uint8_t shield_depth = 0;      // > 0: cancellation does not interrupt waits (cleanup)
  bool deadline_passed = false;  // inside with_deadline(t, task) after t: awaits fail fast
  bool movable = false;          // spawned balanced and not handed over yet (written by home)
  bool moved = false;            // handed to shard moved_to (written by home, before it leaves)
  uint16_t moved_to = 0;

  // True when an await should fail fast with errc::cancelled.
  bool should_cancel() const noexcept { return (cancel_requested || deadline_passed) && shield_depth == 0; }
};

}  // namespace ringo
