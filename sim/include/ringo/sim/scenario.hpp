// Named simulation scenarios and what the ringo-sim command line does with them.
//
// A scenario is a program plus its own check. Register one in any test binary:
//
//   RINGO_SCENARIO(two_lock_deadlock, 2, "two channels used as locks, taken in opposite orders") {
//     ...                                   // the body of a Task<Result<void>>
//     co_return ringo::sim::check(counted == sent, "a value was lost");
//   }
//
// and give that binary the ringo-sim command line with
//
//   int main(int argc, char** argv) { return ringo::sim::ringo_sim_main(argc, argv); }
//
// (tools/ringo-sim/cli.cpp). A run fails when the scenario's check fails or when the
// simulator reports a deadlock, a livelock (budget exhausted) or a panic.
//
// Thread-safety: registration happens during static initialisation; everything else runs
// on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringo/sim/cluster.hpp"
#include "ringo/sim/simulation.hpp"
#include "ringo/task.hpp"

namespace ringo::sim {

// A named program the simulator can run and explore by seed (RINGO_SCENARIO, ringo-sim).
// A cluster scenario (RINGO_CLUSTER_SCENARIO) has hosts > 0: host_main runs on every
// host (again from scratch after each restart) and setup fills in the cluster's shape and
// nemesis; `shards` is then the shards per host.
struct Scenario {
  std::string name;
  std::string description;
  uint32_t shards = 2;
  std::function<Task<Result<void>>()> main;
  uint32_t hosts = 0;
  std::function<Task<Result<void>>(HostContext&)> host_main;
  std::function<void(ClusterConfig&)> setup;
};

// Returns true (registration helper for RINGO_SCENARIO).
bool register_scenario(Scenario s);
// Every registered scenario, by name.
std::vector<const Scenario*> scenarios();
const Scenario* find_scenario(std::string_view name);

// A scenario's check: ok, or errc::check_failed with `why` remembered for the report.
Result<void> check(bool ok, std::string why);

// How big a program a run makes of its scenario. `full` is the scenario as written (what
// CI explores); `small` is a short form of the same program for fuzzing (fuzz_scenario
// runs only small runs) and quick exploring: fewer connections, items and routines, a
// shorter virtual horizon. A scenario that is small already runs the same program in both.
enum class ScenarioSize : uint8_t { full, small };
// "full" or "small"; parse_size takes exactly those and leaves out alone otherwise.
const char* size_name(ScenarioSize size) noexcept;
bool parse_size(std::string_view text, ScenarioSize& out) noexcept;
// The size of the run going on (RunOptions::size), for a scenario's body and a cluster
// scenario's setup; full outside a run.
ScenarioSize scenario_size() noexcept;
// `full` in a full run, `small` in a small one: `load.connections = sim::sized(8u, 2u);`
template <class T>
T sized(T full, T small) {
  return scenario_size() == ScenarioSize::small ? small : full;
}

// How to run one scenario: seed, fault preset, strategy, buggify rate, size, tracing.
struct RunOptions {
  uint64_t seed = 1;
  std::string faults = "none";  // none | light | heavy | swarm
  Strategy strategy = Strategy::random;
  uint32_t pct_depth = 3;
  uint32_t buggify_ppm = 0;  // SimConfig::buggify_ppm
  bool keep_trace = false;
  bool record_choices = false;                   // SimConfig::record_choices
  std::optional<std::vector<uint64_t>> choices;  // SimConfig::replay_choices
  bool wrap_choices = false;                     // SimConfig::replay_wrap
  ScenarioSize size = ScenarioSize::full;        // scenario_size() during the run
};

// One scenario run: the simulator's report and the scenario's own verdict.
struct ScenarioResult {
  Report report;
  std::error_code check;  // the scenario's own verdict
  std::string why;        // the failed check's text, or the report's message
  bool failed() const noexcept { return !report.ok() || check; }
};

// Errors: errc::invalid_argument for an unknown fault preset, or the pct strategy for a
// cluster scenario (clusters run the random strategy; nothing runs).
Result<ScenarioResult> run_scenario(const Scenario& s, const RunOptions& options);
// The command line that replays this run with the ringo-sim tool named `program` (with
// --size small for a small run).
std::string replay_command(std::string_view program, const Scenario& s, const RunOptions& options);

// Trace exports of a kept trace (RunOptions::keep_trace).
// JSON lines: one object per event: {"i","t_ns","shard","kind","a","b"}.
void write_trace_jsonl(const std::vector<TraceEvent>& trace, std::ostream& out);
// Chrome trace event format (Perfetto, chrome://tracing): one process per shard, one
// track for the shard and one per routine; virtual time in microseconds, events at the
// same instant spread by 1 ns each so their order shows.
void write_trace_chrome(const std::vector<TraceEvent>& trace, std::ostream& out);
// The index of the first event where two traces differ (their sizes if one is a prefix
// of the other), or SIZE_MAX when they are equal.
size_t first_divergence(const std::vector<TraceEvent>& a, const std::vector<TraceEvent>& b);
std::string describe_event(const TraceEvent& e);

}  // namespace ringo::sim

#define RINGO_SCENARIO(ident, shard_count, description)                                                        \
  static ::ringo::Task<::ringo::Result<void>> ringo_scenario_##ident();                                        \
  [[maybe_unused]] static const bool ringo_scenario_registered_##ident =                                       \
      ::ringo::sim::register_scenario({#ident, description, shard_count, &ringo_scenario_##ident, 0, {}, {}}); \
  static ::ringo::Task<::ringo::Result<void>> ringo_scenario_##ident()

// A scenario of several hosts (cluster.hpp). `setup` names a function void(ClusterConfig&)
// that sets the hosts, shards per host, run length and nemesis; the body is the host main,
// a Task<Result<void>> with `ringo::sim::HostContext& host` in scope:
//
//   void three_hosts(ringo::sim::ClusterConfig& c) { c.hosts = 3; c.crashes = true; }
//   RINGO_CLUSTER_SCENARIO(election, three_hosts, "leader election over TCP") {
//     ... host.id(), host.address(peer), host.fail("two leaders in term 4") ...
//   }
#define RINGO_CLUSTER_SCENARIO(ident, setup_fn, what)                                                          \
  static ::ringo::Task<::ringo::Result<void>> ringo_cluster_scenario_##ident(::ringo::sim::HostContext& host); \
  [[maybe_unused]] static const bool ringo_scenario_registered_##ident = [] {                                  \
    ::ringo::sim::ClusterConfig c;                                                                             \
    setup_fn(c);                                                                                               \
    ::ringo::sim::Scenario s;                                                                                  \
    s.name = #ident;                                                                                           \
    s.description = what;                                                                                      \
    s.shards = c.shards_per_host;                                                                              \
    s.hosts = c.hosts;                                                                                         \
    s.host_main = &ringo_cluster_scenario_##ident;                                                             \
    s.setup = &setup_fn;                                                                                       \
    return ::ringo::sim::register_scenario(std::move(s));                                                      \
  }();                                                                                                         \
  static ::ringo::Task<::ringo::Result<void>> ringo_cluster_scenario_##ident(::ringo::sim::HostContext& host)
