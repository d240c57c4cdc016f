// The simulator's blocking pool: the real pool's bounds (max_threads, max_queue,
// idle_retire) in virtual time, with every timing drawn from the kernel's seed, so a
// program that calls blocking(fn) replays exactly.
//
// A call that finds a thread (an idle one, or room to start one) is taken by it after a
// handoff delay in [0, FaultConfig::blocking_handoff_max]; otherwise it waits in FIFO
// order, and beyond max_queue waiting calls submit says queue_full. At its start fn runs
// at once on the simulator's thread (outside every shard); its result goes home after a
// run time drawn from [blocking_min_latency, blocking_max_latency], through the home
// shard's inbox as from a foreign thread. A thread idle for idle_retire exits. Every step
// is a TraceKind::blocking record. The pool is a device of the simulated kernel: it sees
// the core only through DeviceHost (the clock, seeded draws, model events, the trace).
//
// Invariants (RINGO_ASSERTs while the pool is open): every live thread carries one call or
// is idle (taken + idle = alive); no thread idles while a call waits; at most max_threads
// threads and max_queue waiting calls.
//
// Thread-safety: none; the simulator's thread only.
#pragma once

#include <cstdint>
#include <map>
#include <set>

#include "device_host.hpp"
#include "ringo/internal/core/blocking_executor.hpp"
#include "ringo/internal/core/intrusive_list.hpp"
#include "ringo/sim/fault_config.hpp"

namespace ringo::sim::detail {

class SimBlockingPool final : public BlockingExecutor {
 public:
  SimBlockingPool(detail::DeviceHost host, const FaultConfig& faults, ShardGroup& group,
                  const BlockingPoolConfig& config);
  ~SimBlockingPool();  // releases the calls it still holds
  SimBlockingPool(const SimBlockingPool&) = delete;
  SimBlockingPool& operator=(const SimBlockingPool&) = delete;

  Result<void> submit(BlockingJob* job) override;
  void withdraw(BlockingJob* job) noexcept override;
  BlockingPoolStats stats() const override { return stats_; }

  // Calls a thread has taken and not yet sent home.
  size_t in_flight() const noexcept { return taken_.size(); }
  struct Closed {
    size_t unstarted = 0;
    size_t abandoned = 0;
  };
  // Refuses new calls and drops what it holds: waiting calls unrun, taken ones abandoned.
  Closed close();

 private:
  void claim_thread(uint64_t for_call);
  void take(BlockingJob* job);
  void start(uint64_t id);
  void finish(uint64_t id);
  void thread_free();
  void retire(uint64_t token);
  void trace(uint32_t shard, uint64_t id, BlockingPhase phase);
  bool threads_accounted() const noexcept;

  detail::DeviceHost host_;
  const FaultConfig& faults_;
  ShardGroup& group_;
  BlockingPoolConfig config_;
  BlockingPoolStats stats_;
  ringo::detail::IntrusiveList<BlockingJob, &BlockingJob::prev_queued, &BlockingJob::next_queued> waiting_;
  uint64_t waiting_count_ = 0;
  std::map<uint64_t, BlockingJob*> taken_;  // by call id: handed to a thread, not yet home
  std::set<uint64_t> idle_;                 // idle threads, by the token of their idle spell
  uint64_t next_token_ = 0;
  bool closed_ = false;
};

}  // namespace ringo::sim::detail
