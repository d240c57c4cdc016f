// SimEngine: the Runtime's engine on the simulator (Backend::sim). A Simulation with the
// runtime's config; block_on drives it until main returns, shutdown cancels and drains.
// Private to api/.
#include <cstdio>

#include "engine.hpp"
#include "ringo/sim/simulation.hpp"

namespace ringo::detail {
namespace {

class SimEngine final : public Engine {
 public:
  explicit SimEngine(const sim::SimConfig& config) : sim_(config) {
    report_ = "simulator: " + std::to_string(config.shards) + " shards";
  }
  // Like the real engine: a runtime dropped without shutdown() cancels and drains first.
  // The simulator has no thread of its own, so any thread may do it.
  ~SimEngine() override {
    if (inside_own_shard(group())) die_destroyed_from_inside();
    shutdown();
  }
  Backend backend() const noexcept override { return Backend::sim; }
  uint32_t shard_count() const noexcept override { return sim_.shard_count(); }

  Result<void> drive(Task<void> main) override {
    // Inside a routine (of this or any runtime) a nested drive would block that routine's
    // shard, or re-enter the shard that is running it.
    if (current_shard() != nullptr) return fail(errc::nested_block_on);
    sim::Report r = sim_.drive(std::move(main));
    if (r.ok()) return {};
    std::fprintf(stderr, "ringo simulator: %s\n%s (replay with %s)\n", r.error.message().c_str(), r.message.c_str(),
                 r.replay_hint().c_str());
    return std::unexpected(r.error);
  }

  RuntimeStats stats() const override {
    RuntimeStats out;
    for (uint32_t i = 0; i < sim_.shard_count(); ++i) {
      out.shards.push_back(sim_.shard(i).stats());
      out.total += out.shards.back();
    }
    out.blocking = sim_.blocking_stats();
    return out;
  }

  uint64_t trace_hash() const noexcept override { return sim_.kernel().trace_hash(); }

  ShutdownReport shutdown() override {
    ShutdownReport out;
    if (sim_.stopped()) return out;
    if (inside_own_shard(group())) {
      out.error = make_error_code(errc::nested_block_on);
      return out;
    }
    sim::Report r;
    sim_.shutdown(r);
    out.routines_cancelled = r.cancelled_at_shutdown;
    out.routines_abandoned = r.stats.routines_live;
    out.blocking_unstarted = r.blocking_unstarted;
    out.blocking_abandoned = r.blocking_abandoned;
    return out;
  }

 private:
  const ShardGroup& group() noexcept { return sim_.shard(0).group(); }

  sim::Simulation sim_;
};

}  // namespace

Result<std::unique_ptr<Engine>> make_sim_engine(const RuntimeConfig& config) {
  sim::SimConfig sc;
  sc.seed = config.seed.value_or(1);
  sc.shards = config.shards;
  sc.faults = config.faults;
  sc.keep_trace = config.keep_trace;
  sc.max_routines_per_shard = config.max_routines_per_shard;
  sc.work_requesting = config.work_requesting;
  sc.blocking = config.blocking;
  sc.blocking_shutdown_wait = config.shutdown_timeout;
  return std::unique_ptr<Engine>(new SimEngine(sc));
}

}  // namespace ringo::detail
