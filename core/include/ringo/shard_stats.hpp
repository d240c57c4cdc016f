// ShardStats: what one shard counted since it started (RuntimeStats carries one per shard
// and their sum; metrics.hpp exports them in the Prometheus text format, with units).
// Plain counters, read as a snapshot; docs/metrics.md names each one.
#pragma once

#include <cstdint>

namespace ringo {

// One shard's counters since it started (docs/metrics.md names each one).
struct ShardStats {
  uint64_t routines_spawned = 0;
  uint64_t routines_finished = 0;
  uint64_t routines_live = 0;
  uint64_t routines_panicked = 0;
  uint64_t routines_cancelled_before_start = 0;
  uint64_t resumes = 0;
  uint64_t ops_submitted = 0;
  uint64_t ops_completed = 0;
  uint64_t ops_cancelled_before_submit = 0;
  uint64_t ops_cancelled_by_kernel = 0;
  uint64_t ops_completed_despite_cancel = 0;
  uint64_t multishot_results = 0;  // CQEs of multishot ops that stayed armed
  uint64_t deadline_expiries = 0;
  uint64_t stale_completions = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_send_failed = 0;
  uint64_t messages_dropped = 0;  // raw messages with no handler, or forged sender
  uint64_t envelopes_delivered = 0;
  uint64_t doorbells_sent = 0;
  uint64_t doorbell_retries = 0;
  uint64_t timers_fired = 0;
  uint64_t ticks = 0;
  uint64_t batches_pushed = 0;
  uint64_t envelope_blocks = 0;    // envelope blocks the pool took from the system (the rest reused)
  uint64_t routines_given = 0;     // balanced routines handed to shards that asked for work
  uint64_t routines_received = 0;  // routines this shard took in answer to its requests
  uint64_t work_requests_sent = 0;
  uint64_t work_requests_answered = 0;  // requests this shard answered (with or without work)
  // blocking(fn) calls made by routines of this shard, and how the cancelled ones ended.
  uint64_t blocking_calls = 0;
  uint64_t blocking_cancelled_before_start = 0;    // fn never ran
  uint64_t blocking_cancelled_while_running = 0;   // the routine left; fn ran on, its result dropped
  uint64_t blocking_completed_despite_cancel = 0;  // fn had finished: its result was delivered
  // Real engines: times an idle spin found its thread preempted, so spinning gave way
  // (docs/scheduling.md, Co-tenancy). Always 0 on the simulator.
  uint64_t spins_preempted = 0;

  ShardStats& operator+=(const ShardStats& o);
};

}  // namespace ringo
