// A cancellation storm: a random multi-shard program of sleeps, kernel ops (some with
// deadlines), channel sends, receives and selects (some over channels of two shards),
// cross-shard calls, scopes and aborts,
// and the invariants it must keep. One model, two drivers: the rapidcheck property
// (proptests/cancel_prop.cpp) and the fuzz target (fuzz/fuzz_program.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringo/sim/simulation.hpp"

namespace ringo::storm {

enum class Act : uint8_t {
  sleep,
  kernel_op,
  deadline_op,
  recv,
  select,
  call,
  scope,
  timeout_recv,
  spawn_abort,
  send,            // a worker sends too (with a timeout)
  select_default,  // select over recv and send with a default case
  select_shards,   // select over the channel and a side channel homed on another shard
  count_,
};

struct Worker {
  uint32_t shard = 0;
  std::vector<Act> acts;
  std::vector<uint16_t> args;  // one per act
  int abort_after_us = -1;     // < 0: never
};

struct Program {
  uint32_t shards = 1;
  std::vector<Worker> workers;
  int values = 0;       // main sends this many before aborting and closing
  size_t capacity = 2;  // of the channel (0: unbuffered)
  uint64_t seed = 1;
  bool swarm_faults = false;
};

struct Counters {
  int joins = 0;
  int received = 0;
  int sent = 0;
  int drained = 0;    // still buffered at the end
  int side_sent = 0;  // the same three for the side channel
  int side_received = 0;
  int side_drained = 0;
  int early_timeouts = 0;
  int late_timeouts = 0;
  // Kernel ops only a cancel can end (a 1 h TIMEOUT) whose routine was aborted, and how
  // many of them ran to their natural end anyway: the cancel never reached the kernel.
  int long_ops_cancelled = 0;
  int long_ops_not_cancelled = 0;
};

struct Outcome {
  sim::Report report;
  Counters counters;
  size_t ops_left = 0;  // on every shard after the run
  size_t timers_left = 0;
  // Completions of kernel ops (and their link timeouts) that the simulated kernel still
  // held after the run, plus ops parked on objects: work the shards no longer track.
  size_t kernel_ops_left = 0;
  // Empty when every invariant held, else the first one broken.
  std::string violation;
};

Outcome run(const Program& program);

}  // namespace ringo::storm
