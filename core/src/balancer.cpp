// Balancer (balancer.hpp): work requesting, how balanced routines (spawn()) reach shards
// that have nothing to do.
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
// move twice (Scheduler::hand_over picks them). Run queues keep a single owner: no shared
// deque, no lock.
#include "ringo/internal/core/balancer.hpp"

#include <algorithm>
#include <utility>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {
namespace {

constexpr uint32_t kMinLoad = 2;       // below it the victim runs its own work soon enough
constexpr uint32_t kMaxHandover = 64;  // routines per answer: thieves come back for more

// The answer to a claim, from the victim; `list` is linked through next_ready.
struct WorkHandover final : Envelope {
  Routine* list = nullptr;
  void deliver(Shard& here) override {
    here.balancer().adopt(here, std::exchange(list, nullptr));
    delete this;
  }
  // The thief stopped with the answer still in its inbox: the routines never run, and
  // their homes hear that they were cancelled.
  void reject(Shard& here) override {
    here.balancer().refuse(here, std::exchange(list, nullptr));
    delete this;
  }
};

// A moved routine finished: its result goes to its JoinHandle, at home.
struct HomeFinish final : Envelope {
  Routine* routine;
  explicit HomeFinish(Routine* r) : routine(r) {}
  void deliver([[maybe_unused]] Shard& here) override {
    RINGO_ASSERT(routine->home == &here, "a moved routine's end goes to its home");
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
    here.balancer().abort_hosted(here, id);
    delete this;
  }
};

// Wakes a shard asleep in the kernel; it then finds the load and asks (an empty
// envelope: its delivery is the point).
struct Nudge final : Envelope {
  void deliver(Shard&) override { delete this; }
};

}  // namespace

void Balancer::report(ShardStats& out) const noexcept {
  out.work_requests_sent = work_requests_sent_;
  out.work_requests_answered = work_requests_answered_;
}

// ---------------------------------------------------------------- the victim's side

void Balancer::on_movable_rising(Shard& here) {
  if (here.scheduler().movable_ready() > 2 * published_load_) publish_load(here);
}

void Balancer::on_movable_falling(Shard& here) {
  if (here.scheduler().movable_ready() < published_load_ / 2) publish_load(here);
}

void Balancer::publish_if_changed(Shard& here) {
  if (published_load_ != here.scheduler().movable_ready()) publish_load(here);
}

void Balancer::publish_load(Shard& here) {
  const uint32_t movable = here.scheduler().movable_ready();
  const bool rising = movable > published_load_;
  published_load_ = movable;
  port_.load.store(movable, std::memory_order_relaxed);
  if (rising && movable >= kMinLoad && enabled_) nudge_a_sleeper(here);
}

// As Go's wakep(): work appeared and a shard sleeps, so wake one (the next after this one
// in index order). Its asleep mark is gone once the nudge is in, so it is nudged once per
// sleep; a shard that is awake finds the load by itself.
void Balancer::nudge_a_sleeper(Shard& here) {
  ShardGroup& group = here.group();
  const uint32_t n = group.size();
  for (uint32_t k = 1; k < n; ++k) {
    const uint32_t i = (here.index() + k) % n;
    ShardPort& p = group.port(i);
    if (p.inbox.load(std::memory_order_relaxed) != ShardPort::kAsleep || p.stopping.load(std::memory_order_relaxed)) {
      continue;
    }
    // Rung at once, not with this tick's flush: the tick may run long enough to finish
    // the work a woken shard would have taken.
    auto* nudge = new Nudge;
    auto rung = group.enqueue(i, nudge);
    if (!rung) {
      delete nudge;
    } else if (*rung && !group.wake_now(i)) {
      here.ops().ring_doorbell(here, i);
    }
    return;
  }
}

void Balancer::answer_work_request(Shard& here) {
  const uint32_t claim = port_.work_request.exchange(0, std::memory_order_acq_rel);
  if (claim == 0) return;
  const uint32_t thief = claim - 1;
  ++work_requests_answered_;
  auto* answer = new WorkHandover;
  Scheduler& sched = here.scheduler();
  const uint32_t movable = sched.movable_ready();
  const uint32_t quota = movable >= kMinLoad ? std::min(kMaxHandover, movable / 2) : 0;
  const uint32_t given = sched.hand_over(quota, thief, answer->list);
  if (here.post(thief, answer)) {
    here.trace(TraceKind::work_handover, thief, given);
    publish_load(here);
    return;
  }
  // The thief stopped: the routines stay here.
  sched.take_back(std::exchange(answer->list, nullptr));
  delete answer;
}

// ---------------------------------------------------------------- the thief's side

bool Balancer::wants_work(const Shard& here) const noexcept {
  if (!enabled_ || request_outstanding_ || here.scheduler().draining() || here.scheduler().has_ready()) return false;
  const ShardGroup& group = here.group();
  for (uint32_t i = 0; i < group.size(); ++i) {
    const ShardPort& p = group.port(i);
    if (i != here.index() && p.load.load(std::memory_order_relaxed) >= kMinLoad &&
        p.work_request.load(std::memory_order_relaxed) == 0 && !p.stopping.load(std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

// The busiest other shard, or -1; ties are broken uniformly by the PRNG (drawn only on a
// tie, so runs without balanced work keep their random streams).
int32_t Balancer::pick_victim(Shard& here) noexcept {
  uint32_t best = 0;
  int32_t pick = -1;
  uint64_t ties = 0;
  for (uint32_t i = 0; i < here.group().size(); ++i) {
    const ShardPort& p = here.group().port(i);
    const uint32_t load = p.load.load(std::memory_order_relaxed);
    if (i == here.index() || load < kMinLoad || load < best || p.stopping.load(std::memory_order_relaxed) ||
        p.work_request.load(std::memory_order_relaxed) != 0) {
      continue;
    }
    if (load > best) {
      best = load;
      pick = static_cast<int32_t>(i);
      ties = 1;
    } else if (here.prng().below(++ties) == 0) {
      pick = static_cast<int32_t>(i);  // uniform among equals: reservoir sampling
    }
  }
  return pick;
}

void Balancer::request_work(Shard& here) {
  if (!wants_work(here)) return;
  const int32_t victim = pick_victim(here);
  if (victim < 0) return;
  ShardPort& v = here.group().port(static_cast<uint32_t>(victim));
  const uint32_t me = here.index() + 1;
  uint32_t claim = 0;
  if (!v.work_request.compare_exchange_strong(claim, me, std::memory_order_seq_cst)) return;
  const Inbox::Word inbox = v.inbox.load(std::memory_order_seq_cst);
  if (inbox == ShardPort::kAsleep || inbox == ShardPort::kClosed) {
    claim = me;
    // Withdrawn: it sleeps with nothing to give. Failing that, it took the claim already.
    if (v.work_request.compare_exchange_strong(claim, 0, std::memory_order_seq_cst)) return;
  }
  request_outstanding_ = true;
  ++work_requests_sent_;
}

void Balancer::adopt(Shard& here, Routine* list) {
  request_outstanding_ = false;
  while (Routine* r = list) {
    list = r->next_ready;
    [[maybe_unused]] const bool added = hosted_.emplace(r->id, r).second;
    RINGO_ASSERT(added, "a routine is handed here once");
    here.scheduler().take_in(here, r);
  }
}

void Balancer::refuse(Shard& here, Routine* list) {
  request_outstanding_ = false;
  while (Routine* r = list) {
    list = r->next_ready;
    here.scheduler().refuse_arrival(here, r);
    finish_away(here, r);
  }
}

// ---------------------------------------------------------------- moved routines

void Balancer::finish_away(Shard& here, Routine* r) {
  hosted_.erase(r->id);
  auto* env = new HomeFinish(r);
  if (here.post(r->home->index(), env)) return;
  delete env;
  r->end(r, /*publish=*/false);  // home has stopped: nobody is left to read the result
}

void Balancer::abort_moved(Shard& here, Routine* r) {
  RINGO_ASSERT(r->moved && r->home == &here, "only home aborts a routine it handed over");
  auto* env = new AbortMoved(r->id);
  // Refused: that shard is stopping and cancels what it hosts anyway.
  if (!here.post(r->moved_to, env)) delete env;
}

void Balancer::abort_hosted(Shard& here, uint64_t id) {
  // Absent: it finished and its HomeFinish is on the way.
  if (auto it = hosted_.find(id); it != hosted_.end()) here.abort(it->second);
}

}  // namespace ringo::detail
