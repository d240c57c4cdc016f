// The blocking pool's bounds and counters, as users set and read them
// (RuntimeConfig::blocking, RuntimeStats::blocking, sim::SimConfig::blocking), and the
// phases a blocking call's trace records name. The pool itself is internal
// (internal/core/blocking_executor.hpp); `blocking.hpp` is the routine's side.
#pragma once

#include <chrono>
#include <cstdint>

#include "ringo/clock.hpp"

namespace ringo {

// Bounds of a blocking pool (RuntimeConfig::blocking, sim::SimConfig::blocking).
struct BlockingPoolConfig {
  uint32_t max_threads = 64;                        // calls running at once
  uint32_t max_queue = 4096;                        // calls waiting for a thread beyond those; then queue_full
  Duration idle_retire = std::chrono::seconds(10);  // a thread idle this long exits
};

// What a pool did (RuntimeStats::blocking). Counters since the pool was made.
struct BlockingPoolStats {
  uint64_t threads_started = 0;
  uint64_t threads_retired = 0;  // exited after idle_retire
  uint64_t threads_alive = 0;
  uint64_t threads_peak = 0;
  uint64_t calls_accepted = 0;
  uint64_t calls_rejected = 0;  // queue_full
  uint64_t calls_started = 0;   // fn called
  uint64_t calls_dropped = 0;   // cancelled before start, taken out of the queue unrun
};

// What a job's trace records say (TraceKind::blocking, b): the simulator records every
// step of a simulated job, so the seed decides them and the trace hash covers them.
enum class BlockingPhase : uint64_t {
  submitted,               // home shard: the call entered the pool
  started,                 // pool: fn called
  finished,                // pool: fn returned, the result sent home
  delivered,               // home shard: the result arrived
  cancelled_before_start,  // home shard: left the queue unrun
  dropped,                 // home shard: cancelled while running, its result will be dropped
  thread_started,          // pool (simulated): a thread was started for it
  thread_retired,          // pool (simulated): a thread idle for idle_retire exited
};

}  // namespace ringo
