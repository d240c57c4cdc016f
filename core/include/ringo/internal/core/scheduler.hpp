// Scheduler: when a shard's routines run. A role of Shard, which passes itself as `here`
// where the scheduler needs the rest of it (tracing, buggify, the balancer).
//
// It owns the ready queue (a FIFO threaded through Routine::next_ready), the live list (every
// routine of this shard, in spawn or arrival order), the routine running now, the timer
// heap, and the routine accounting (spawned + received - finished - given = live).
//
// Contract:
//  - A routine is in exactly one of: running (current), ready (queued once), parked (a
//    wait set, resumed only by unpark), finished. make_ready asserts it is not queued or
//    parked already; finish asserts it is neither queued nor finished already.
//  - run_ready resumes at most run_budget routines per call, in FIFO order (buggify may
//    rotate the queue: runnable routines have no order between them).
//  - A routine aborted before it first ran never runs (unless must_start): join() says
//    cancelled.
//  - Timers fire in (when, tiebreak) order; the tiebreak is drawn from the shard PRNG at
//    insert, so the seed orders timers due at the same instant. One fire_timers call
//    fires only what was due when it started.
//
// Thread-safety: the owning shard's thread only.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ringo/error.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/intrusive_list.hpp"
#include "ringo/internal/core/prng.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/routine.hpp"
#include "ringo/internal/core/timer_heap.hpp"
#include "ringo/shard_stats.hpp"

namespace ringo::detail {

class Shard;

class Scheduler {
 public:
  Scheduler(uint32_t run_budget, uint64_t max_routines) noexcept
      : run_budget_(run_budget), max_routines_(max_routines) {}

  // ---- the ready queue ----
  // Spawns r (its root frame suspended at `root`) on this shard: queued, not run yet.
  // Errors: spawn_limit (max_routines live), shard_stopped.
  Result<void> admit(Shard& here, Routine* r, std::coroutine_handle<> root);
  void make_ready(Routine* r) noexcept {
    RINGO_ASSERT(r->next_ready == nullptr && ready_tail_ != r, "a routine is queued once");
    RINGO_ASSERT(r->wait == nullptr && !r->done, "a parked or finished routine is not queued");
    if (r->movable && !r->started) ++movable_ready_;
    if (ready_tail_ != nullptr) {
      ready_tail_->next_ready = r;
    } else {
      ready_head_ = r;
    }
    ready_tail_ = r;
  }
  // Parks r (suspended at `at`) in a wait of `kind` whose awaiter is ctx; it stays parked
  // until unpark(r). It may be parked already: a wait can hand over to the next one
  // without waking the routine (Cond::wait: the signal, then the relock), and replaces it.
  void park(Routine* r, std::coroutine_handle<> at, const WaitKind& kind, void* ctx) noexcept {
    RINGO_ASSERT(r->wait != nullptr || (r->next_ready == nullptr && ready_tail_ != r),
                 "a queued routine is not parked");
    RINGO_ASSERT(!r->done, "a finished routine does not wait");
    r->resume_point = at;
    r->wait = &kind;
    r->wait_ctx = ctx;
    r->wait_cancelled = false;
  }
  void unpark(Routine* r) noexcept {
    RINGO_ASSERT(r->wait != nullptr, "unpark wakes a parked routine");
    r->wait = nullptr;
    r->next_ready = nullptr;  // the ready link is the live member again
    make_ready(r);
  }
  // Cancels r for good: its current wait is cancelled (unless shielded) and every later
  // await fails fast. interrupt() cancels only the current wait, once (deadlines).
  void abort(Routine* r);
  void interrupt(Routine* r);
  // Aborts every live routine (shutdown); routines that arrive later are cancelled too.
  size_t abort_all();
  // Resumes up to run_budget ready routines.
  void run_ready(Shard& here);
  // The end of a routine: publishes its result (at home) and destroys its frame.
  void finish(Shard& here, Routine* r);
  Routine* current() const noexcept { return current_; }
  bool has_ready() const noexcept { return ready_head_ != nullptr; }

  // ---- timers ----
  void add_timer(TimerNode* node, Instant when, Prng& prng) {
    node->when = when;
    node->tiebreak = prng.next();
    timers_.insert(node);
  }
  void cancel_timer(TimerNode* node) { timers_.cancel(node); }
  void fire_timers(Shard& here);
  Instant next_timer() const noexcept { return timers_.next_deadline(); }
  size_t pending_timers() const noexcept { return timers_.size(); }
  bool timer_due(Instant now) const noexcept { return timers_.size() > 0 && timers_.next_deadline() <= now; }

  // ---- routines moving between shards (the balancer, balancer.hpp) ----
  uint32_t movable_ready() const noexcept { return movable_ready_; }
  bool draining() const noexcept { return draining_; }
  // Unlinks up to quota movable routines (balanced, not started, not cancelled; oldest
  // first) from the ready queue and the live list into `out`, for shard `thief`.
  uint32_t hand_over(uint32_t quota, uint32_t thief, Routine*& out);
  // The handover failed: the routines of `list` are this shard's and ready again.
  void take_back(Routine* list);
  // A routine handed here by another shard: live and ready (cancelled if draining).
  void take_in(Shard& here, Routine* r);
  // A routine handed here that will never run (this shard stopped first): counted in and
  // finished as cancelled before start. Its end goes home (Balancer::finish_away).
  void refuse_arrival(Shard& here, Routine* r);

  // ---- accounting and reports ----
  uint64_t live_routines() const noexcept { return spawned_ + received_ - finished_ - given_; }
  uint64_t progress() const noexcept { return resumes_ + timers_fired_; }
  void report(ShardStats& out) const noexcept;
  // Every live routine with what it waits on, in spawn order (deadlock reports).
  std::string describe_blocked(uint32_t shard_index) const;
  // Teardown: destroys the frames of routines that never finished, unpublished.
  void destroy_unfinished();

 private:
  void take_ready_head(Shard& here, Routine* r);
  void rotate_ready() noexcept;
  void finish_unstarted(Shard& here, Routine* r);

  Routine* ready_head_ = nullptr;
  Routine* ready_tail_ = nullptr;
  detail::IntrusiveList<Routine, &Routine::prev_live, &Routine::next_live> live_;  // spawn order
  Routine* current_ = nullptr;
  TimerHeap timers_;
  const uint32_t run_budget_;
  const uint64_t max_routines_;
  uint64_t next_routine_seq_ = 0;
  uint32_t movable_ready_ = 0;  // ready routines that are movable and have not started
  bool draining_ = false;       // abort_all ran: routines that arrive are cancelled
  // Routine accounting (ShardStats).
  uint64_t spawned_ = 0;
  uint64_t received_ = 0;  // handed here by other shards
  uint64_t finished_ = 0;
  uint64_t given_ = 0;  // handed to other shards
  uint64_t panicked_ = 0;
  uint64_t cancelled_before_start_ = 0;
  uint64_t resumes_ = 0;
  uint64_t timers_fired_ = 0;
};

}  // namespace ringo::detail
