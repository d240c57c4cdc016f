// Scheduler (scheduler.hpp): admitting, running, cancelling and finishing routines, the
// timers, and the ready-queue side of handing routines to other shards.
#include "ringo/internal/core/scheduler.hpp"

#include <cstdio>
#include <cstring>

#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {
namespace {

// Runs the current wait's cancel, once per wait; the waiter unparks when it may.
void cancel_wait(Routine* r) {
  if (r->wait == nullptr || r->wait->cancel == nullptr || r->wait_cancelled) return;
  r->wait_cancelled = true;
  r->wait->cancel(r, r->wait_ctx);
}

}  // namespace

void Scheduler::report(ShardStats& out) const noexcept {
  out.routines_spawned = spawned_;
  out.routines_received = received_;
  out.routines_finished = finished_;
  out.routines_given = given_;
  out.routines_live = live_routines();
  out.routines_panicked = panicked_;
  out.routines_cancelled_before_start = cancelled_before_start_;
  out.resumes = resumes_;
  out.timers_fired = timers_fired_;
}

// ---------------------------------------------------------------- routines

Result<void> Scheduler::admit(Shard& here, Routine* r, std::coroutine_handle<> root) {
  if (live_routines() >= max_routines_) return fail(errc::spawn_limit);
  if (here.group().port(here.index()).stopping.load(std::memory_order_relaxed)) return fail(errc::shard_stopped);
  r->resume_point = root;
  r->shard = &here;
  r->home = &here;
  r->id = (uint64_t{here.index()} << 48) | ++next_routine_seq_;
  live_.push_back(r);
  ++spawned_;
  here.trace(TraceKind::spawn, r->id, 0);
  make_ready(r);
  // Idle shards see a burst of balanced spawns while it happens, not at the tick's end
  // (a tick of CPU-bound routines can last milliseconds); one store per doubling.
  if (r->movable) here.balancer().on_movable_rising(here);
  return {};
}

void Scheduler::abort(Routine* r) {
  if (r->done || r->cancel_requested) return;
  r->cancel_requested = true;
  if (r->shield_depth == 0) cancel_wait(r);
}

void Scheduler::interrupt(Routine* r) {
  if (r->done || r->shield_depth > 0) return;
  cancel_wait(r);
}

size_t Scheduler::abort_all() {
  draining_ = true;
  size_t n = 0;
  for (Routine* r = live_.front(); r != nullptr; r = live_.next(r)) {
    if (!r->cancel_requested && !r->done) {
      abort(r);
      ++n;
    }
  }
  return n;
}

// Buggify: runnable routines have no order between them; rotate the queue.
void Scheduler::rotate_ready() noexcept {
  Routine* head = ready_head_;
  ready_head_ = head->next_ready;
  head->next_ready = nullptr;
  ready_tail_->next_ready = head;
  ready_tail_ = head;
}

// Aborted before it ever ran: the body is skipped, join() reports cancelled.
void Scheduler::finish_unstarted(Shard& here, Routine* r) {
  r->cancelled_before_start = true;
  ++cancelled_before_start_;
  finish(here, r);
}

void Scheduler::run_ready(Shard& here) {
  for (uint32_t budget = run_budget_; budget > 0 && ready_head_ != nullptr; --budget) {
    if (ready_head_ != ready_tail_ && here.buggify()) rotate_ready();
    here.balancer().serve_if_any(here);  // a thief waits for us: answer between two routines
    Routine* r = ready_head_;
    if (r == nullptr) break;  // all handed over
    take_ready_head(here, r);
    if (!r->started && r->cancel_requested && !r->must_start) {
      finish_unstarted(here, r);
      continue;
    }
    r->started = true;
    ++resumes_;
    here.trace(TraceKind::resume, r->id, 0);
    current_ = r;
    r->resume_point.resume();
    current_ = nullptr;
  }
}

void Scheduler::take_ready_head(Shard& here, Routine* r) {
  RINGO_ASSERT(r == ready_head_, "routines leave the ready queue at its head");
  ready_head_ = r->next_ready;
  if (ready_head_ == nullptr) ready_tail_ = nullptr;
  r->next_ready = nullptr;
  if (r->movable && !r->started) {
    RINGO_ASSERT(movable_ready_ > 0, "movable_ready_ counts the movable routines queued");
    --movable_ready_;
    here.balancer().on_movable_falling(here);
  }
}

void Scheduler::finish(Shard& here, Routine* r) {
  RINGO_ASSERT(!r->done, "a routine finishes once");
  RINGO_ASSERT(r->wait == nullptr, "a finishing routine waits for nothing");
  RINGO_ASSERT(r->next_ready == nullptr && ready_tail_ != r, "a finishing routine is not queued");
  RINGO_ASSERT(live_routines() > 0 && live_.contains(r), "a finishing routine is live here");
  r->done = true;
  ++finished_;
  if (r->panicked) ++panicked_;
  here.trace(TraceKind::finish, r->id, r->panicked ? 1 : 0);
  live_.remove(r);
  if (r->home != &here) return here.balancer().finish_away(here, r);  // its JoinHandle is at home
  r->end(r, /*publish=*/true);
}

void Scheduler::destroy_unfinished() {
  while (Routine* r = live_.pop_front()) r->end(r, /*publish=*/false);
}

std::string Scheduler::describe_blocked(uint32_t shard_index) const {
  constexpr uint64_t kSeqMask = (uint64_t{1} << 48) - 1;
  auto seq = [](uint64_t id) { return static_cast<unsigned long long>(id & kSeqMask); };
  auto info = [](const Routine* r) {
    return r->wait != nullptr ? r->wait->describe(r->wait_ctx) : WaitInfo{r->started ? "runnable" : "not started", 0};
  };
  std::string out;
  char line[200];
  for (const Routine* r = live_.front(); r != nullptr; r = live_.next(r)) {
    const WaitInfo w = info(r);
    std::snprintf(line, sizeof line, "  shard %u routine #%llu: %s (%llu)%s", shard_index, seq(r->id), w.reason,
                  static_cast<unsigned long long>(w.detail), r->cancel_requested ? " [cancelled]" : "");
    out += line;
    // The chain: who waits for this routine to finish. Quadratic, so only for reports a
    // person can read.
    std::string joiners;
    const bool small = spawned_ - finished_ <= 4096;
    for (const Routine* j = small ? live_.front() : nullptr; j != nullptr; j = live_.next(j)) {
      if (j->wait == nullptr) continue;
      const WaitInfo jw = info(j);
      if (std::strcmp(jw.reason, "join") == 0 && jw.detail == r->id) {
        joiners += (joiners.empty() ? "" : ", #") + std::to_string(seq(j->id));
      }
    }
    if (!joiners.empty()) out += ", awaited by #" + joiners;
    out += "\n";
  }
  return out;
}

// ---------------------------------------------------------------- timers

void Scheduler::fire_timers(Shard& here) {
  if (timers_.size() == 0) return;  // no clock read: it costs ~30 ns on this VM
  const Instant now = here.now();
  // Bounded: a fired timer may add another timer, which waits for the next tick.
  for (size_t n = timers_.size(); n > 0; --n) {
    TimerNode* top = timers_.top();
    if (top == nullptr || top->when > now) break;
    timers_.pop();
    ++timers_fired_;
    here.trace(TraceKind::timer_fire, top->tiebreak, 0);
    top->fire(top);
  }
}

// ---------------------------------------------------------------- handing routines over

uint32_t Scheduler::hand_over(uint32_t quota, uint32_t thief, Routine*& out) {
  constexpr uint32_t kMaxScan = 1024;  // ready routines looked at per answer
  Routine** link = &ready_head_;
  Routine* prev = nullptr;
  Routine** out_tail = &out;
  uint32_t taken = 0;
  for (uint32_t seen = 0; *link != nullptr && taken < quota && seen < kMaxScan; ++seen) {
    Routine* r = *link;
    if (!r->movable || r->started || r->cancel_requested) {
      prev = r;
      link = &r->next_ready;
      continue;
    }
    *link = r->next_ready;
    if (ready_tail_ == r) ready_tail_ = prev;
    r->next_ready = nullptr;
    r->movable = false;
    r->moved = true;
    r->moved_to = static_cast<uint16_t>(thief);
    live_.remove(r);
    *out_tail = r;
    out_tail = &r->next_ready;
    ++taken;
  }
  RINGO_ASSERT(taken <= movable_ready_, "only counted routines are handed over");
  movable_ready_ -= taken;
  given_ += taken;
  return taken;
}

void Scheduler::take_back(Routine* list) {
  while (Routine* r = list) {
    list = r->next_ready;
    r->next_ready = nullptr;
    r->moved = false;
    r->movable = true;
    --given_;
    live_.push_back(r);
    make_ready(r);
  }
}

void Scheduler::take_in(Shard& here, Routine* r) {
  r->next_ready = nullptr;
  r->shard = &here;
  live_.push_back(r);
  ++received_;
  if (draining_) r->cancel_requested = true;  // arrived after shutdown began: never runs
  make_ready(r);
}

void Scheduler::refuse_arrival(Shard& here, Routine* r) {
  r->next_ready = nullptr;
  r->shard = &here;
  r->cancelled_before_start = true;
  r->done = true;
  ++received_;
  ++finished_;
}

}  // namespace ringo::detail
