// Work requesting: how balanced routines (spawn()) reach shards that have nothing to do.
// docs/scheduling.md tells the same story with the measurements.
//
// Between an idle shard T (the thief) and a busy one V (the victim):
//  1. V publishes `load` in its ShardPort: its ready routines that may move. At the end of
//     every tick, and during a burst of spawns or runs once per doubling or halving.
//  2. T, with nothing ready, picks the shard with the highest load (at least kMinLoad;
//     ties broken by T's seeded PRNG) and claims V's work_request slot (0 -> T + 1). A
//     thief has one request out at a time; a victim answers one thief at a time.
//  3. V looks at its slot between two routines and at every tick, and answers every claim
//     with exactly one WorkHandover: up to half of its movable routines (at most
//     kMaxHandover), possibly none.
//  4. T adopts what came and runs it. The routines' JoinHandles stay at V (their home):
//     when one finishes, its end goes home in a HomeFinish; an abort from home reaches T
//     as an AbortMoved, matched by id against T's hosted routines.
// Sleep handshake: V marks its inbox asleep and then reads its slot; T claims the slot and
// then reads V's inbox, all seq_cst. Either V sees the claim and stays awake to answer,
// or T sees the mark and withdraws (a shard that sleeps has nothing ready to give).
//
// What moves: routines spawned balanced that have not started and are not cancelled.
// They hold no awaiter, op or timer yet, so nothing of V's refers to them; they never
// move twice. Run queues keep a single owner: no shared deque, no lock.
#include <algorithm>
#include <cassert>
#include <utility>

#include "ringo/core/shard.hpp"

namespace ringo {
namespace {

constexpr uint32_t kMinLoad = 2;       // below it the victim runs its own work soon enough
constexpr uint32_t kMaxHandover = 64;  // routines per answer: thieves come back for more
constexpr uint32_t kMaxScan = 1024;    // ready routines looked at per answer

}  // namespace

// The answer to a claim, from the victim; `list` is linked through next_ready.
struct WorkHandover final : Envelope {
  Routine* list = nullptr;
  void deliver(Shard& here) override {
    here.adopt(std::exchange(list, nullptr));
    delete this;
  }
  // The thief stopped with the answer still in its inbox: the routines never run, and
  // their homes hear that they were cancelled.
  void reject(Shard& here) override {
    here.request_outstanding_ = false;
    while (Routine* r = std::exchange(list, list != nullptr ? list->next_ready : nullptr)) {
      r->next_ready = nullptr;
      r->shard = &here;
      r->cancelled_before_start = true;
      r->done = true;
      ++here.stats_.routines_received;
      ++here.stats_.routines_finished;
      here.finish_away(r);
    }
    delete this;
  }
};

// A moved routine finished: its result goes to its JoinHandle, at home.
struct HomeFinish final : Envelope {
  Routine* routine;
  explicit HomeFinish(Routine* r) : routine(r) {}
  void deliver([[maybe_unused]] Shard& here) override {
    assert(routine->home == &here);
    routine->end(routine, /*publish=*/true);
    delete this;
  }
  void reject(Shard& here) override { deliver(here); }  // home is closing: still its handle
};

// Home's JoinHandle::abort of a routine it handed over.
struct AbortMoved final : Envelope {
  uint64_t id;
  explicit AbortMoved(uint64_t routine_id) : id(routine_id) {}
  void deliver(Shard& here) override {
    // Absent: it finished and its HomeFinish is on the way.
    if (auto it = here.hosted_.find(id); it != here.hosted_.end()) here.abort(it->second);
    delete this;
  }
};

// Wakes a shard asleep in the kernel; it then finds the load and asks (an empty
// envelope: its delivery is the point).
struct Nudge final : Envelope {
  void deliver(Shard&) override { delete this; }
};

void Shard::publish_load() {
  const bool rising = movable_ready_ > published_load_;
  published_load_ = movable_ready_;
  port_.load.store(movable_ready_, std::memory_order_relaxed);
  if (rising && movable_ready_ >= kMinLoad && config_.work_requesting) nudge_a_sleeper();
}

// As Go's wakep(): work appeared and a shard sleeps, so wake one (the next after this one
// in index order). Its asleep mark is gone once the nudge is in, so it is nudged once per
// sleep; a shard that is awake finds the load by itself.
void Shard::nudge_a_sleeper() {
  const uint32_t n = group_.size();
  for (uint32_t k = 1; k < n; ++k) {
    const uint32_t i = (index_ + k) % n;
    ShardPort& p = group_.port(i);
    if (p.inbox.load(std::memory_order_relaxed) != ShardPort::asleep() || p.stopping.load(std::memory_order_relaxed)) {
      continue;
    }
    // Rung at once, not with this tick's flush: the tick may run long enough to finish
    // the work a woken shard would have taken.
    auto* nudge = new Nudge;
    auto rung = group_.enqueue(i, nudge);
    if (!rung) {
      delete nudge;
    } else if (*rung && !group_.wake_now(i)) {
      ring_doorbell(i);
    }
    return;
  }
}

bool Shard::wants_work() const noexcept {
  if (!config_.work_requesting || request_outstanding_ || draining_ || ready_head_ != nullptr) return false;
  for (uint32_t i = 0; i < group_.size(); ++i) {
    const ShardPort& p = group_.port(i);
    if (i != index_ && p.load.load(std::memory_order_relaxed) >= kMinLoad &&
        p.work_request.load(std::memory_order_relaxed) == 0 && !p.stopping.load(std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

// The busiest other shard, or -1; ties are broken uniformly by the PRNG (drawn only on a
// tie, so runs without balanced work keep their random streams).
int32_t Shard::pick_victim() noexcept {
  uint32_t best = 0;
  int32_t pick = -1;
  uint64_t ties = 0;
  for (uint32_t i = 0; i < group_.size(); ++i) {
    const ShardPort& p = group_.port(i);
    const uint32_t load = p.load.load(std::memory_order_relaxed);
    if (i == index_ || load < kMinLoad || load < best || p.stopping.load(std::memory_order_relaxed) ||
        p.work_request.load(std::memory_order_relaxed) != 0) {
      continue;
    }
    if (load > best) {
      best = load;
      pick = static_cast<int32_t>(i);
      ties = 1;
    } else if (prng_.below(++ties) == 0) {
      pick = static_cast<int32_t>(i);  // uniform among equals: reservoir sampling
    }
  }
  return pick;
}

void Shard::request_work() {
  if (!wants_work()) return;
  const int32_t victim = pick_victim();
  if (victim < 0) return;
  ShardPort& v = group_.port(static_cast<uint32_t>(victim));
  uint32_t claim = 0;
  if (!v.work_request.compare_exchange_strong(claim, index_ + 1, std::memory_order_seq_cst)) return;
  Envelope* inbox = v.inbox.load(std::memory_order_seq_cst);
  if (inbox == ShardPort::asleep() || inbox == ShardPort::closed_mark()) {
    claim = index_ + 1;
    // Withdrawn: it sleeps with nothing to give. Failing that, it took the claim already.
    if (v.work_request.compare_exchange_strong(claim, 0, std::memory_order_seq_cst)) return;
  }
  request_outstanding_ = true;
  ++stats_.work_requests_sent;
}

// Unlinks up to half of the movable routines from the ready queue (oldest first) into
// `out`, in order, for shard `thief`. Returns how many.
static uint32_t take_movable(Routine*& head, Routine*& tail, uint32_t quota, uint32_t thief, Routine*& out) {
  Routine** link = &head;
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
    if (tail == r) tail = prev;
    r->next_ready = nullptr;
    r->movable = false;
    r->moved = true;
    r->moved_to = static_cast<uint16_t>(thief);
    *out_tail = r;
    out_tail = &r->next_ready;
    ++taken;
  }
  return taken;
}

void Shard::answer_work_request() {
  const uint32_t claim = port_.work_request.exchange(0, std::memory_order_acq_rel);
  if (claim == 0) return;
  const uint32_t thief = claim - 1;
  ++stats_.work_requests_answered;
  auto* answer = new WorkHandover;
  const uint32_t quota = movable_ready_ >= kMinLoad ? std::min(kMaxHandover, movable_ready_ / 2) : 0;
  const uint32_t given = take_movable(ready_head_, ready_tail_, quota, thief, answer->list);
  for (Routine* r = answer->list; r != nullptr; r = r->next_ready) live_.remove(r);
  movable_ready_ -= given;
  if (post(thief, answer)) {
    stats_.routines_given += given;
    trace(TraceKind::work_handover, thief, given);
    publish_load();
    return;
  }
  // The thief stopped: the routines stay here.
  while (Routine* r = std::exchange(answer->list, answer->list != nullptr ? answer->list->next_ready : nullptr)) {
    r->next_ready = nullptr;
    r->moved = false;
    r->movable = true;
    live_.push_back(r);
    make_ready(r);
  }
  delete answer;
}

void Shard::adopt(Routine* list) {
  request_outstanding_ = false;
  while (Routine* r = list) {
    list = r->next_ready;
    r->next_ready = nullptr;
    r->shard = this;
    live_.push_back(r);
    hosted_.emplace(r->id, r);
    ++stats_.routines_received;
    if (draining_) r->cancel_requested = true;  // arrived after shutdown began: never runs
    make_ready(r);
  }
}

void Shard::finish_away(Routine* r) {
  hosted_.erase(r->id);
  auto* env = new HomeFinish(r);
  if (post(r->home->index(), env)) return;
  delete env;
  r->end(r, /*publish=*/false);  // home has stopped: nobody is left to read the result
}

void Shard::abort_moved(Routine* r) {
  assert(r->moved && r->home == this);
  auto* env = new AbortMoved(r->id);
  // Refused: that shard is stopping and cancels what it hosts anyway.
  if (!post(r->moved_to, env)) delete env;
}

}  // namespace ringo
