// Balancer: work requesting, how balanced routines (spawn()) reach shards that have
// nothing to do. A role of Shard, which passes itself as `here`. balancer.cpp tells the
// protocol step by step; docs/scheduling.md tells it with the measurements.
//
// Contract:
//  - Only routines spawned balanced that have not started and are not cancelled move
//    (Scheduler::hand_over); they hold no awaiter, op or timer yet, and never move twice.
//  - A thief has one request out at a time; a victim answers every claim with exactly one
//    WorkHandover (possibly empty), so request_outstanding_ always clears.
//  - A moved routine's JoinHandle stays home: its end goes home (finish_away), and an
//    abort from home follows it by id (abort_moved, hosted_).
//  - Sleep handshake with Mailbox::prepare_to_sleep, all seq_cst: either the victim sees
//    the claim and stays awake to answer, or the thief sees its asleep mark and withdraws.
//
// Thread-safety: the owning shard's thread; other shards touch only the ShardPort words.
#pragma once

#include <cstdint>
#include <map>

#include "ringo/internal/core/mailbox.hpp"
#include "ringo/internal/core/routine.hpp"
#include "ringo/shard_stats.hpp"

namespace ringo::detail {

class Shard;

class Balancer {
 public:
  Balancer(ShardPort& port, bool enabled) noexcept : port_(port), enabled_(enabled) {}

  // Between two routines and at every tick: answers a thief's claim, if there is one.
  void serve_if_any(Shard& here) {
    if (port_.work_request.load(std::memory_order_relaxed) != 0) [[unlikely]]
      answer_work_request(here);
  }
  // Whether this shard would ask for work now (the simulator steps it then).
  bool wants_work(const Shard& here) const noexcept;
  // With nothing ready: claims the busiest shard's work_request slot.
  void request_work(Shard& here);

  // The scheduler's movable count changed: publish it when it doubled or halved since the
  // last time (a burst of spawns or runs is seen while it happens), and at tick end.
  void on_movable_rising(Shard& here);
  void on_movable_falling(Shard& here);
  void publish_if_changed(Shard& here);

  // The answer to our request arrived: its routines are ours now.
  void adopt(Shard& here, Routine* list);
  // The answer arrived as we stopped: its routines never run.
  void refuse(Shard& here, Routine* list);
  // A routine handed here finished: its end goes home.
  void finish_away(Shard& here, Routine* r);
  // Home's abort of a routine handed over: sent to where it runs now (by id).
  void abort_moved(Shard& here, Routine* r);
  void abort_hosted(Shard& here, uint64_t id);

  void report(ShardStats& out) const noexcept;

 private:
  void answer_work_request(Shard& here);
  int32_t pick_victim(Shard& here) noexcept;
  void publish_load(Shard& here);
  void nudge_a_sleeper(Shard& here);

  ShardPort& port_;
  const bool enabled_;
  uint32_t published_load_ = 0;
  bool request_outstanding_ = false;     // asked a shard for work, its answer not yet here
  std::map<uint64_t, Routine*> hosted_;  // routines handed here, by id (for abort_moved)
  uint64_t work_requests_sent_ = 0;
  uint64_t work_requests_answered_ = 0;
};

}  // namespace ringo::detail
