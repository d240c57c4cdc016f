// A simulation of several hosts: each a ringo runtime of its own (shards, descriptors,
// disk, a clock with skew and drift, address 10.0.0.<h + 1>), all over one simulated
// kernel (one true clock, one event queue, one ChoiceSource), joined by the simulated
// network. A nemesis (seeded, scripted, or both) partitions the network, heals it,
// crashes hosts and restarts them. Every decision goes through the kernel's choices, so a
// cluster run records, replays and shrinks like a single-host one (docs/simulation.md,
// "Several hosts").
//
//   ClusterConfig c;
//   c.sim.seed = 7;
//   c.hosts = 3;
//   c.crashes = c.partitions = true;
//   Cluster cluster(c, [](HostContext& host) -> Task<Result<void>> { ... });
//   Report r = cluster.run();   // until c.run_for of virtual time has passed
//
// A crash stops the host's shards and destroys every routine frame on them (a killed
// process), resets its connections (peers see ECONNRESET), closes its descriptors, and
// its disk keeps what the durability model says (fsynced bytes; later writes kept, lost
// or torn by the seed). A restart boots new shards on the same disk and address and runs
// the host's main again from scratch.
//
// Thread-safety: a Cluster is used by one thread.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ringo/sim/simulation.hpp"

namespace ringo::sim {

// A scripted fault at a virtual instant (true time since the start of the run).
struct ClusterEvent {
  enum class Kind : uint8_t { partition, heal, crash, restart };
  Duration at{0};
  Kind kind = Kind::heal;
  std::vector<uint32_t> side;  // partition: each host's side; hosts on different sides are cut off
  uint32_t host = 0;           // crash, restart
};

// Limits: a config outside them makes Cluster::run() report errc::invalid_argument (its
// message says which field) and run nothing.
struct ClusterConfig {
  static constexpr uint32_t kMaxHosts = 64;
  static constexpr uint32_t kMaxShardsPerHost = 64;
  static constexpr uint64_t kMaxNemesisEvents = 100'000;  // run_for / nemesis_min_gap
  static constexpr int64_t kMaxDriftPpm = 100'000;
  static constexpr size_t kMaxScriptEvents = 100'000;

  // Seed, fault preset, budgets and choice recording/replay. sim.shards and sim.strategy
  // are not used: shards_per_host gives the shards, and the strategy is random.
  SimConfig sim;
  uint32_t hosts = 3;
  uint32_t shards_per_host = 1;
  Duration run_for = std::chrono::seconds(10);  // virtual; then every host stops
  // Each host's clock is ahead of true time by an offset drawn from [0, max_clock_offset]
  // and runs at 1 + drift / 10^6 with drift drawn from [-max_drift_ppm, max_drift_ppm].
  Duration max_clock_offset = std::chrono::milliseconds(50);
  int64_t max_drift_ppm = 200;
  // The seeded nemesis: every [nemesis_min_gap, nemesis_max_gap] it picks one of nothing,
  // a partition (each host's side drawn), a heal, or a crash of a host that is up (if
  // enabled); a crashed host restarts after [restart_min, restart_max].
  bool partitions = false;
  bool crashes = false;
  Duration nemesis_min_gap = std::chrono::milliseconds(100);
  Duration nemesis_max_gap = std::chrono::seconds(1);
  Duration restart_min = std::chrono::milliseconds(10);
  Duration restart_max = std::chrono::milliseconds(500);
  std::vector<ClusterEvent> script;  // scripted faults, on top of the nemesis

  // What is wrong with this config ("" when nothing): hosts and shards_per_host in
  // [1, their limit], run_for > 0, each range's low end not above its high end, gaps > 0
  // and at most kMaxNemesisEvents of them, drift within kMaxDriftPpm, and every scripted
  // event at a time >= 0 naming a host that exists (a partition: at most one side per host).
  std::string problem() const;
};

class Cluster;
struct ClusterImpl;

// What a host's main sees of the cluster: who it is, the others' addresses, its clock,
// a source of choices, and the out-of-band oracle (fail(), shared()) that checkers use.
class HostContext {
 public:
  uint32_t id() const noexcept { return id_; }
  uint32_t hosts() const noexcept;
  uint32_t incarnation() const noexcept { return incarnation_; }  // 0, then +1 per restart
  // "10.0.0.<host + 1>"
  static std::string address(uint32_t host);
  // This host's clock (what every shard of it reads: sleep, deadlines, timers).
  Instant now() const;
  // A value in [0, bound) from the simulation's choices (0 is the simplest when shrinking).
  uint64_t random(uint64_t bound);
  // A safety violation seen by a checker: the run stops and fails with this text.
  void fail(std::string why);
  // State shared by every host of this run, outside the simulated world (for checkers:
  // what each host claimed). Created on first use; one T per run.
  template <class T>
  T& shared() {
    if (!shared_->has_value()) shared_->emplace<T>();
    return std::any_cast<T&>(*shared_);
  }

 private:
  friend class Cluster;
  friend struct ClusterImpl;
  Cluster* cluster_ = nullptr;
  std::any* shared_ = nullptr;
  uint32_t id_ = 0;
  uint32_t incarnation_ = 0;
};

class Cluster {
 public:
  using HostMain = std::function<Task<Result<void>>(HostContext&)>;
  Cluster(const ClusterConfig& config, HostMain main);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Boots every host and runs until run_for of virtual time has passed (or nothing can
  // happen any more, or a checker failed, or the step budget ran out: timed_out), then
  // stops every host. A host main that throws is routine_panicked.
  Report run();
  // The run's verdict beyond the report: a checker's fail() or a host main's error
  // (check_failed for ringo::sim::check), with its text.
  std::error_code verdict() const noexcept { return verdict_; }
  const std::string& why() const noexcept { return why_; }

  uint32_t hosts() const noexcept { return config_.hosts; }
  // For a host that does not exist: false, 0, nothing.
  bool up(uint32_t host) const noexcept;
  uint32_t restarts(uint32_t host) const noexcept;
  // A host's file as its disk holds it now (page cache view), or nothing.
  std::optional<std::string> file(uint32_t host, const std::string& path) const;
  // The offset and drift drawn for a host's clock (0 for a host that does not exist).
  Duration clock_offset(uint32_t host) const noexcept;
  int64_t clock_drift_ppm(uint32_t host) const noexcept;
  detail::SimKernel& kernel() noexcept;

 private:
  friend class HostContext;
  ClusterConfig config_;  // as given, or a default one when it was invalid (problem_)
  std::string problem_;
  std::unique_ptr<ClusterImpl> impl_;
  std::error_code verdict_;
  std::string why_;
};

}  // namespace ringo::sim
