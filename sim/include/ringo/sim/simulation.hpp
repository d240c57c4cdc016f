// A deterministic run of a ringo program: N shards on simulated rings, all on the calling
// thread. At each step the seed picks which shard ticks or which due completion the
// kernel delivers; when nothing can run, virtual time jumps to the next event. The same
// seed gives the same sequence of events and so the same trace hash.
//
// Errors (Report::error): errc::deadlock (every routine blocked, nothing pending; the
// report names each blocked routine and its wait), errc::timed_out (the virtual-time or
// step budget ran out: a livelock or a program that does not end), errc::routine_panicked
// (an exception escaped the main task).
//
// Thread-safety: a Simulation is used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ringo/core/shard.hpp"
#include "ringo/core/task.hpp"
#include "ringo/sim/sim_kernel.hpp"

namespace ringo::sim {

struct SimConfig {
  uint64_t seed = 1;
  uint32_t shards = 2;
  FaultConfig faults = FaultConfig::none();
  bool keep_trace = false;  // keep every TraceEvent (for export), not just the hash
  uint32_t run_budget = 8;  // routines resumed per shard tick
  uint64_t max_routines_per_shard = 1u << 22;
  Duration time_budget = std::chrono::hours(24);  // virtual
  uint64_t max_steps = 200'000'000;
  uint64_t shutdown_steps = 1'000'000;  // bound on draining after main returns
};

struct Report {
  std::error_code error;
  std::string message;  // what failed, with the blocked routines on deadlock
  uint64_t seed = 0;
  uint64_t trace_hash = 0;
  uint64_t trace_events = 0;
  Instant virtual_time{0};
  uint64_t steps = 0;
  uint64_t faults_injected = 0;
  size_t cancelled_at_shutdown = 0;
  ShardStats stats;
  std::vector<TraceEvent> trace;

  bool ok() const noexcept { return !error; }
  // The environment that re-runs this seed: "RINGO_SEED=<n>".
  std::string replay_hint() const;
  std::string summary() const;
};

class Simulation {
 public:
  explicit Simulation(const SimConfig& config);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Runs main as a routine on shard 0 until it returns, then shuts down (cancels and
  // drains the rest).
  Report run(Task<void> main);
  // Runs main until it returns; routines it left behind keep running in later calls.
  Report drive(Task<void> main);
  // Cancels every live routine, drains (bounded by shutdown_steps), closes the inboxes.
  void shutdown(Report& report);
  bool stopped() const noexcept { return stopped_; }

  uint32_t shard_count() const noexcept { return static_cast<uint32_t>(shards_.size()); }
  Shard& shard(uint32_t i) noexcept { return *shards_[i]; }
  const Shard& shard(uint32_t i) const noexcept { return *shards_[i]; }
  SimKernel& kernel() noexcept { return kernel_; }
  const SimKernel& kernel() const noexcept { return kernel_; }
  // One scheduling decision. False when nothing can ever happen again (quiescent).
  bool step();
  ShardStats total_stats() const;
  std::string describe_blocked() const;

 private:
  Report finish(Report report);

  SimConfig config_;
  SimKernel kernel_;
  ShardGroup group_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<uint32_t> candidates_;
  uint64_t steps_ = 0;
  bool stopped_ = false;
};

// Runs main_fn() under config and reports. The convenient entry point for tests.
Report run(const SimConfig& config, const std::function<Task<void>()>& main_fn);

// RINGO_SEED from the environment if set (to replay a failure), else fallback.
uint64_t seed_from_env(uint64_t fallback);

}  // namespace ringo::sim
