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

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringo/internal/core/blocking_executor.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/internal/sim/sim_kernel.hpp"
#include "ringo/sim/choice.hpp"
#include "ringo/task.hpp"

namespace ringo::sim {

namespace detail {
class SimBlockingPool;
}  // namespace detail

// How the simulator picks what runs next among the shards that can run and the kernel.
//   random: uniformly at random each step (a random walk over interleavings).
//   pct:    Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010): every
//           runner gets a random priority, the highest runnable one always goes, and at
//           pct_depth - 1 random steps the running one drops to the lowest priority. A
//           bug that needs d ordering constraints is found with probability >= 1/(n k^(d-1)).
enum class Strategy : uint8_t { random, pct };

const char* strategy_name(Strategy s) noexcept;
bool parse_strategy(const std::string& name, Strategy& out);

// One simulated run's settings: seed, strategy, shards, faults and budgets.
struct SimConfig {
  uint64_t seed = 1;
  Strategy strategy = Strategy::random;
  uint32_t pct_depth = 3;
  uint64_t pct_steps = 20000;  // the run length the change points are spread over
  // Buggify points (core/ and the simulated kernel) take their unusual branch at this
  // rate: ready routines rotated, sleepers woken late, MSG_RING deliveries held back.
  uint32_t buggify_ppm = 0;
  uint32_t shards = 2;
  FaultConfig faults = FaultConfig::none();
  bool keep_trace = false;      // keep every TraceEvent (for export), not just the hash
  uint32_t run_budget = 8;      // routines resumed per shard tick
  bool work_requesting = true;  // idle shards ask for balanced routines (spawn())
  uint64_t max_routines_per_shard = 1u << 22;
  Duration time_budget = std::chrono::hours(24);  // virtual
  uint64_t max_steps = 200'000'000;
  uint64_t shutdown_steps = 1'000'000;  // bound on draining after main returns
  BlockingPoolConfig blocking{};        // the simulated blocking pool's bounds
  // Shutdown lets blocking calls still running (nobody waits for them any more) finish
  // for this long in virtual time, then abandons them, as the real pool does.
  Duration blocking_shutdown_wait = std::chrono::seconds(2);
  // Choice sequences (choice.hpp; docs/simulation.md, "Shrinking"). record_choices keeps
  // every decision the simulator makes in Report::choices. replay_choices, when set, makes
  // the run take its decisions from that sequence instead of drawing them from the seed
  // (0 past its end). The seed still seeds the shards' own PRNGs (select fairness, timer
  // ties, core buggify points) and swarm fault rates: those are not choices.
  // replay_wrap reads a value not below its decision's bound as value % bound instead of
  // 0 (fuzz_scenario; recording such a run gives the reduced values, which replay the same
  // run without it).
  bool record_choices = false;
  std::optional<std::vector<uint64_t>> replay_choices;
  bool replay_wrap = false;
};

// How a simulated run ended: its error (if any), seed, trace hash and counters.
struct Report {
  std::error_code error;
  std::string message;  // what failed, with the blocked routines on deadlock
  uint64_t seed = 0;
  uint64_t trace_hash = 0;
  uint64_t trace_events = 0;
  Instant virtual_time{0};
  uint64_t steps = 0;
  uint64_t faults_injected = 0;  // fault knobs and buggify that fired; a cluster adds its nemesis events
  size_t cancelled_at_shutdown = 0;
  size_t blocking_unstarted = 0;  // at shutdown: queued blocking calls dropped unrun
  size_t blocking_abandoned = 0;  // at shutdown: running ones left unfinished
  ShardStats stats;
  std::vector<TraceEvent> trace;
  // Steps whose runner (a shard or the kernel) differs from the previous step's, and of
  // those the preemptions: the previous runner could have gone on.
  uint64_t context_switches = 0;
  uint64_t preemptions = 0;
  // SimConfig::record_choices: the run's choice sequence, complete unless the run made
  // more than ChoiceSource::kMaxRecorded choices.
  std::vector<Choice> choices;
  bool choices_complete = true;

  bool ok() const noexcept { return !error; }
  // "RINGO_SEED=<n>": the environment that re-runs this seed in a program that takes its
  // seed from there (Runtime::create does; so do tests that use seed_from_env()).
  std::string replay_hint() const;
  std::string summary() const;
};

// A deterministic run of N shards on simulated rings, driven step by step on the calling
// thread (see this header's comment).
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
  detail::Shard& shard(uint32_t i) noexcept { return *shards_[i]; }
  const detail::Shard& shard(uint32_t i) const noexcept { return *shards_[i]; }
  detail::SimKernel& kernel() noexcept { return kernel_; }
  const detail::SimKernel& kernel() const noexcept { return kernel_; }
  // One scheduling decision. False when nothing can ever happen again (quiescent).
  bool step();
  ShardStats total_stats() const;
  BlockingPoolStats blocking_stats() const;
  std::string describe_blocked() const;

 private:
  Report finish(Report report);

  SimConfig config_;
  detail::SimKernel kernel_;
  detail::ShardGroup group_;
  std::vector<std::unique_ptr<detail::Shard>> shards_;
  std::unique_ptr<detail::SimBlockingPool> blocking_;  // installed on group_
  uint32_t pick(uint32_t kernel_slot);
  uint32_t pick_random();
  void draw_pct_priorities();
  void drain_blocking();

  // Doorbells rung from outside the simulation (ShardGroup::post_from_anywhere on a thread
  // running no shard of this group): the target runs at its next step, as a real shard
  // woken by the ring-less MSG_RING would. Heap-allocated: the group keeps the pointer.
  std::unique_ptr<std::atomic<bool>[]> woken_from_outside_;
  static bool wake_from_outside(void* ctx, uint32_t target);

  std::vector<uint32_t> candidates_;
  std::vector<uint64_t> priority_;       // pct: per shard, then the kernel
  std::vector<uint64_t> change_points_;  // pct: steps at which the runner drops
  uint64_t lowest_ = 0;                  // pct: next dropped priority (below all others)
  uint64_t steps_ = 0;
  // The previous step's pick: a shard, the kernel (UINT32_MAX), or none yet (UINT32_MAX - 1).
  uint32_t last_runner_ = UINT32_MAX - 1;
  uint64_t context_switches_ = 0;
  uint64_t preemptions_ = 0;
  bool stopped_ = false;
};

// Runs main_fn() under config and reports. The convenient entry point for tests.
Report run(const SimConfig& config, const std::function<Task<void>()>& main_fn);

// A seed as RINGO_SEED and ringo-sim's --seed spell it: decimal digits, or 0x and hex
// digits; the whole text, below 2^64, with no sign, space or leading zero (strtoull would
// read "012" as octal 10). Errors: errc::invalid_argument.
Result<uint64_t> parse_seed(std::string_view text);

// RINGO_SEED, or nullopt when it is not set. Errors: errc::invalid_argument when it is set
// but is not a seed (empty included); `why` then quotes it and says what a seed looks like.
Result<std::optional<uint64_t>> env_seed(std::string& why);

// RINGO_SEED if set (to replay a failure), else fallback. A malformed RINGO_SEED is
// printed with why and the program exits with status 2: running some other seed instead
// would pass that run off as the replay. Runtime::create reads RINGO_SEED by itself.
uint64_t seed_from_env(uint64_t fallback);

}  // namespace ringo::sim
