// Cluster (cluster.hpp): the driver of a several-host simulation. One SimKernel holds
// every host's rings (grouped by host: each host its own ShardGroup, blocking pool and
// devices); each step is one decision from the kernel's ChoiceSource among the runnable
// shards of the hosts that are up and the kernel, as Simulation::step does for one host.
// Driver events (the nemesis, restarts, scripted faults) run between steps at their
// virtual time, so a crash never happens inside a shard's tick or a kernel callback.
#include "ringo/sim/cluster.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>

#include "fault_kind.hpp"
#include "ringo/internal/core/assert.hpp"
#include "sim_blocking.hpp"
#include "sim_fabric.hpp"

namespace ringo::sim {

using namespace ringo::detail;

namespace {
constexpr uint32_t kKernel = UINT32_MAX;
constexpr uint32_t kNoRunner = UINT32_MAX - 1;
enum StepKind : uint64_t { kRunShard = 3 };
// Trace records of the nemesis: TraceKind::fault, a = kind, b = host (or side bits).
enum NemesisKind : uint64_t { kPartition = 20, kHeal = 21, kHostCrash = 22, kHostRestart = 23 };

struct HostMainState {
  bool done = false;
  bool panicked = false;
  std::string what;
  Result<void> result;
};

Task<void> run_host_main(Cluster::HostMain main, HostContext& ctx, std::shared_ptr<HostMainState> state) {
  try {
    state->result = co_await main(ctx);
  } catch (const std::exception& e) {
    state->panicked = true;
    state->what = e.what();
  } catch (...) {
    state->panicked = true;
    state->what = "non-standard exception";
  }
  state->done = true;
}

// A shard's trace records name it by its slot in the cluster (host * shards_per_host +
// index), so the hosts' shards stay apart in a trace, and carry true virtual time (the
// shard stamps them with its host's clock).
class HostTracer final : public Tracer {
 public:
  HostTracer(detail::SimKernel& to, uint32_t base) : to_(to), base_(base) {}
  void record(const TraceEvent& e) override {
    TraceEvent m = e;
    if (m.shard != UINT32_MAX) m.shard += base_;
    m.time_ns = to_.now().count();
    to_.record(m);
  }

 private:
  detail::SimKernel& to_;
  uint32_t base_;
};

bool wake_from_outside(void* ctx, uint32_t target) {
  static_cast<std::atomic<bool>*>(ctx)[target].store(true, std::memory_order_release);
  return true;
}
}  // namespace

// One boot of a host: its rings, shard group, pool and shards. After a crash the shards
// are gone but the rest stays (stopped) until the cluster ends: the kernel may still
// hold events that name the pool.
struct Incarnation {
  std::vector<uint32_t> rings;
  std::unique_ptr<ShardGroup> group;
  std::unique_ptr<detail::SimBlockingPool> pool;
  std::unique_ptr<std::atomic<bool>[]> woken;
  std::unique_ptr<HostTracer> tracer;
  std::vector<std::unique_ptr<Shard>> shards;
  std::shared_ptr<HostMainState> main;
};

struct HostSlot {
  HostContext ctx;
  std::unique_ptr<Incarnation> life;  // null while the host is down
  detail::SimKernel::Clock clock;
  uint32_t restarts = 0;
};

struct ClusterImpl {
  struct DriverEvent {
    enum class Kind : uint8_t { planned, restart, script };
    Kind kind;
    uint32_t host = 0;
    size_t index = 0;
  };

  ClusterImpl(Cluster& owner, const ClusterConfig& c, Cluster::HostMain m);
  ~ClusterImpl();
  void boot(uint32_t h);
  void crash(uint32_t h);
  void retire(Incarnation& life);
  bool step();
  void gather_candidates();
  Instant next_wakeup();
  uint32_t pick_random();
  void run_driver_events();
  void plan_nemesis();
  void apply_planned(size_t index);
  void apply_script(const ClusterEvent& e);
  void partition(const std::vector<uint32_t>& side);
  void add_event(Instant at, DriverEvent e) { events_.emplace(std::make_pair(at, seq_++), e); }
  bool host_failed();
  Report finish(Report report);

  Cluster& owner_;
  const ClusterConfig& config_;
  Cluster::HostMain main_;
  detail::SimKernel kernel_;
  std::vector<HostSlot> hosts_;
  std::vector<std::unique_ptr<Incarnation>> graveyard_;
  std::any shared_;
  std::map<std::pair<Instant, uint64_t>, DriverEvent> events_;  // by (time, order added)
  std::vector<ClusterEvent> plan_;                              // the seeded nemesis's events
  std::vector<Duration> plan_restart_;                          // per plan entry: a crash's restart delay
  uint64_t seq_ = 0;
  std::vector<uint32_t> candidates_;  // shard slots (host * shards_per_host + index), or kKernel
  uint32_t last_runner_ = kNoRunner;
  uint64_t steps_ = 0;
  uint64_t context_switches_ = 0;
  uint64_t preemptions_ = 0;
  uint64_t nemesis_events_ = 0;  // planned events applied (counted as faults in the report)
  ShardStats retired_stats_;
};

namespace {
FaultConfig cluster_faults(const ClusterConfig& c) {
  FaultConfig f = c.sim.faults;
  f.buggify_ppm = c.sim.buggify_ppm;
  return f;
}
}  // namespace

ClusterImpl::ClusterImpl(Cluster& owner, const ClusterConfig& c, Cluster::HostMain m)
    : owner_(owner), config_(c), main_(std::move(m)), kernel_(c.sim.seed, 0, cluster_faults(c), c.sim.keep_trace) {
  detail::ChoiceSource& choices = kernel_.choices();
  if (c.sim.replay_choices) choices.replay(*c.sim.replay_choices, c.sim.replay_wrap);
  choices.record(c.sim.record_choices);
  // Clocks are the run's first choices: value 0 is no offset and no drift.
  std::vector<detail::SimKernel::Clock> clocks(c.hosts);
  for (auto& clock : clocks) {
    clock.offset_ns = kernel_.draw(Duration{0}, c.max_clock_offset).count();
    const uint64_t span = static_cast<uint64_t>(2 * std::max<int64_t>(0, c.max_drift_ppm)) + 1;
    const uint64_t v = kernel_.choices().below(span);  // 0: no drift, then +1, -1, +2, -2...
    clock.drift_ppm = v % 2 == 1 ? static_cast<int64_t>(v / 2 + 1) : -static_cast<int64_t>(v / 2);
  }
  kernel_.make_cluster(clocks);
  hosts_.resize(c.hosts);
  for (uint32_t h = 0; h < c.hosts; ++h) {
    hosts_[h].ctx.cluster_ = &owner;
    hosts_[h].ctx.shared_ = &shared_;
    hosts_[h].ctx.id_ = h;
    hosts_[h].clock = clocks[h];
  }
}

ClusterImpl::~ClusterImpl() {
  for (auto& slot : hosts_) {
    if (slot.life) retire(*slot.life);
  }
}

// Stops the incarnation's rings, drops its pool's calls and destroys its shards (every
// routine frame with them), as a killed process loses its threads.
void ClusterImpl::retire(Incarnation& life) {
  for (uint32_t r : life.rings) kernel_.ring(r).stop();
  life.pool->close();
  for (auto& s : life.shards) {
    retired_stats_ += s->stats();
    CurrentShardScope scope(s.get());
    s.reset();
  }
  life.shards.clear();
}

void ClusterImpl::boot(uint32_t h) {
  const uint32_t n = config_.shards_per_host;
  auto life = std::make_unique<Incarnation>();
  life->group = std::make_unique<ShardGroup>(n);
  life->woken.reset(new std::atomic<bool>[n]);
  for (uint32_t i = 0; i < n; ++i) {
    life->rings.push_back(kernel_.add_ring(h));
    life->group->port(i).ring_id = kernel_.ring(life->rings.back()).msg_ring_id();
    life->woken[i].store(false, std::memory_order_relaxed);
  }
  life->group->set_external_wake(&wake_from_outside, life->woken.get());
  life->pool = std::make_unique<detail::SimBlockingPool>(detail::DeviceHost(kernel_), kernel_.faults(), *life->group,
                                                         config_.sim.blocking);
  life->group->set_blocking_executor(life->pool.get());
  life->tracer = std::make_unique<HostTracer>(kernel_, h * n);
  HostSlot& slot = hosts_[h];
  for (uint32_t i = 0; i < n; ++i) {
    ShardConfig sc;
    sc.run_budget = config_.sim.run_budget;
    sc.work_requesting = config_.sim.work_requesting;
    sc.max_routines = config_.sim.max_routines_per_shard;
    sc.seed = config_.sim.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t{h} + 1)) ^ (uint64_t{slot.restarts} << 40);
    sc.buggify_ppm = config_.sim.buggify_ppm;
    life->shards.push_back(std::make_unique<Shard>(*life->group, i, kernel_.ring(life->rings[i]), sc));
    life->shards.back()->set_tracer(life->tracer.get());
  }
  slot.ctx.incarnation_ = slot.restarts;
  life->main = std::make_shared<HostMainState>();
  {
    CurrentShardScope scope(life->shards[0].get());
    auto handle = spawn_local(*life->shards[0], run_host_main(main_, slot.ctx, life->main));
    RINGO_ASSERT(handle.valid(), "a fresh shard takes its host's main");
  }
  slot.life = std::move(life);
  kernel_.fabric()->set_up(h, true);
}

void ClusterImpl::crash(uint32_t h) {
  HostSlot& slot = hosts_[h];
  if (!slot.life) return;
  kernel_.fabric()->set_up(h, false);
  for (uint32_t r : slot.life->rings) kernel_.ring(r).stop();
  kernel_.crash_host(h);  // resets, closes, tears the disk; waiters on its rings are dropped
  retire(*slot.life);
  graveyard_.push_back(std::move(slot.life));
}

void ClusterImpl::partition(const std::vector<uint32_t>& side) {
  uint64_t bits = 0;
  for (size_t h = 0; h < side.size() && h < 64; ++h) bits |= uint64_t{side[h] != 0} << h;
  kernel_.fabric()->split(side);
  kernel_.record({kernel_.now().count(), UINT32_MAX, TraceKind::fault, kPartition, bits});
}

// The seeded nemesis's whole plan, drawn before anything runs: a block of choices at the
// start of the sequence, so that shrinking the schedule's choices never shifts the plan.
// Every entry takes the same choices, whatever it turns out to be: the gap since the last,
// what (0 nothing, 1 partition, 2 heal, 3 crash), each host's side, a host and a restart
// delay. So zeroing an entry's `what` removes one fault and shifts nothing after it.
void ClusterImpl::plan_nemesis() {
  if (!config_.partitions && !config_.crashes) return;
  detail::ChoiceSource& choices = kernel_.choices();
  const Instant end = Instant{0} + config_.run_for;
  for (Instant t = kernel_.draw(config_.nemesis_min_gap, config_.nemesis_max_gap); t < end;
       t += std::max(Duration{1}, kernel_.draw(config_.nemesis_min_gap, config_.nemesis_max_gap))) {
    ClusterEvent e;
    e.at = t;
    const uint64_t what = choices.below(4, ChoiceKind::fault);
    e.side.resize(config_.hosts);
    for (auto& side : e.side) side = static_cast<uint32_t>(choices.below(2));
    e.host = static_cast<uint32_t>(choices.below(config_.hosts));
    const Duration restart = kernel_.draw(config_.restart_min, config_.restart_max);
    if (what == 1 && config_.partitions) {
      e.kind = ClusterEvent::Kind::partition;
    } else if (what == 2 && config_.partitions) {
      e.kind = ClusterEvent::Kind::heal;
    } else if (what == 3 && config_.crashes) {
      e.kind = ClusterEvent::Kind::crash;
    } else {
      continue;  // nothing
    }
    plan_.push_back(std::move(e));
    plan_restart_.push_back(restart);
    add_event(t, DriverEvent{DriverEvent::Kind::planned, 0, plan_.size() - 1});
  }
}

// A planned crash of a host that is up, and its restart after the planned delay.
void ClusterImpl::apply_planned(size_t index) {
  const ClusterEvent& e = plan_[index];
  if (e.kind == ClusterEvent::Kind::crash && !hosts_[e.host].life) return;
  ++nemesis_events_;
  apply_script(e);
  if (e.kind == ClusterEvent::Kind::crash) {
    add_event(kernel_.now() + plan_restart_[index], DriverEvent{DriverEvent::Kind::restart, e.host, 0});
  }
}

void ClusterImpl::apply_script(const ClusterEvent& e) {
  switch (e.kind) {
    case ClusterEvent::Kind::partition: {
      std::vector<uint32_t> side = e.side;
      side.resize(config_.hosts, 0);
      partition(side);
      break;
    }
    case ClusterEvent::Kind::heal:
      kernel_.fabric()->heal();
      kernel_.record({kernel_.now().count(), UINT32_MAX, TraceKind::fault, kHeal, 0});
      break;
    case ClusterEvent::Kind::crash:
      if (e.host < config_.hosts && hosts_[e.host].life) {
        kernel_.record({kernel_.now().count(), UINT32_MAX, TraceKind::fault, kHostCrash, e.host});
        crash(e.host);
      }
      break;
    case ClusterEvent::Kind::restart:
      if (e.host < config_.hosts && !hosts_[e.host].life) {
        ++hosts_[e.host].restarts;
        kernel_.record({kernel_.now().count(), UINT32_MAX, TraceKind::fault, kHostRestart, e.host});
        boot(e.host);
      }
      break;
  }
}

void ClusterImpl::run_driver_events() {
  while (!events_.empty() && events_.begin()->first.first <= kernel_.now()) {
    const DriverEvent e = events_.begin()->second;
    events_.erase(events_.begin());
    if (e.kind == DriverEvent::Kind::planned) {
      apply_planned(e.index);
    } else if (e.kind == DriverEvent::Kind::script) {
      apply_script(config_.script[e.index]);
    } else if (!hosts_[e.host].life) {
      ++hosts_[e.host].restarts;
      kernel_.record({kernel_.now().count(), UINT32_MAX, TraceKind::fault, kHostRestart, e.host});
      boot(e.host);
    }
  }
}

void ClusterImpl::gather_candidates() {
  candidates_.clear();
  const uint32_t n = config_.shards_per_host;
  for (uint32_t h = 0; h < hosts_.size(); ++h) {
    Incarnation* life = hosts_[h].life.get();
    if (life == nullptr) continue;
    for (uint32_t i = 0; i < n; ++i) {
      Shard& s = *life->shards[i];
      if (s.has_local_work() || kernel_.ring(life->rings[i]).cq_ready() > 0 || !s.prepare_to_sleep() ||
          life->woken[i].load(std::memory_order_acquire)) {
        candidates_.push_back(h * n + i);
      }
    }
  }
  if (kernel_.has_due()) candidates_.push_back(kKernel);
}

// The next instant anything happens: a kernel event, a shard's timer (on its host's
// clock, so converted to true time), a driver event; kNoDeadline if none.
Instant ClusterImpl::next_wakeup() {
  Instant next = kernel_.next_event();
  for (auto& slot : hosts_) {
    if (!slot.life) continue;
    for (uint32_t i = 0; i < slot.life->shards.size(); ++i) {
      next = std::min(next, kernel_.to_true(slot.life->rings[i], slot.life->shards[i]->next_timer()));
    }
  }
  if (!events_.empty()) next = std::min(next, events_.begin()->first.first);
  return next;
}

uint32_t ClusterImpl::pick_random() {
  const uint64_t n = candidates_.size();
  const auto it = std::find(candidates_.begin(), candidates_.end(), last_runner_);
  const uint64_t last = it == candidates_.end() ? 0 : static_cast<uint64_t>(it - candidates_.begin());
  auto encode = [n, last](uint64_t raw) { return (raw + n - last) % n; };
  auto decode = [n, last](uint64_t v) { return (last + v) % n; };
  return candidates_[kernel_.choices().choose(n, encode, decode)];
}

bool ClusterImpl::step() {
  run_driver_events();
  gather_candidates();
  ++steps_;
  if (candidates_.empty()) {
    const Instant next = next_wakeup();
    if (next == kNoDeadline) return false;
    // A timer that is due makes its shard runnable (to_true rounds up), so the next
    // instant lies ahead; the nanosecond floor keeps time moving whatever a clock says.
    kernel_.advance_to(std::max(next, kernel_.now() + Duration{1}));
    return true;
  }
  const uint32_t pick = pick_random();
  if (pick != last_runner_ && last_runner_ != kNoRunner) {
    ++context_switches_;
    preemptions_ += std::find(candidates_.begin(), candidates_.end(), last_runner_) != candidates_.end();
  }
  last_runner_ = pick;
  if (pick == kKernel) {
    kernel_.deliver_one();
    return true;
  }
  const uint32_t h = pick / config_.shards_per_host;
  const uint32_t i = pick % config_.shards_per_host;
  Incarnation& life = *hosts_[h].life;
  kernel_.record({kernel_.now().count(), pick, TraceKind::kernel_step, kRunShard, 0});
  life.woken[i].store(false, std::memory_order_relaxed);
  life.shards[i]->run_once(false);
  return true;
}

// A host main that ended with an error or threw fails the run (the first one found).
bool ClusterImpl::host_failed() {
  for (auto& slot : hosts_) {
    if (!slot.life || !slot.life->main->done) continue;
    const HostMainState& m = *slot.life->main;
    if (m.panicked || !m.result) return true;
  }
  return false;
}

Report ClusterImpl::finish(Report report) {
  report.stats = retired_stats_;
  for (auto& slot : hosts_) {
    if (!slot.life) continue;
    for (auto& s : slot.life->shards) report.stats += s->stats();
  }
  report.steps = steps_;
  report.trace_hash = kernel_.trace_hash();
  report.trace_events = kernel_.trace_events();
  report.virtual_time = kernel_.now();
  report.faults_injected = kernel_.faults_injected() + nemesis_events_;
  if (config_.sim.keep_trace) report.trace = kernel_.trace();
  report.context_switches = context_switches_;
  report.preemptions = preemptions_;
  if (config_.sim.record_choices) {
    report.choices = kernel_.choices().recorded();
    report.choices_complete = kernel_.choices().recording_complete();
  }
  return report;
}

// ---------------------------------------------------------------- Cluster

namespace {
std::string script_problem(const ClusterConfig& c) {
  if (c.script.size() > ClusterConfig::kMaxScriptEvents) return "script: more than kMaxScriptEvents events";
  for (size_t i = 0; i < c.script.size(); ++i) {
    const ClusterEvent& e = c.script[i];
    const std::string which = "script[" + std::to_string(i) + "]";
    if (e.at < Duration{0}) return which + ".at is negative";
    const bool names_host = e.kind == ClusterEvent::Kind::crash || e.kind == ClusterEvent::Kind::restart;
    if (names_host && e.host >= c.hosts) return which + ".host " + std::to_string(e.host) + " does not exist";
    if (e.kind == ClusterEvent::Kind::partition && e.side.size() > c.hosts)
      return which + ".side has more sides than hosts";
  }
  return "";
}
}  // namespace

std::string ClusterConfig::problem() const {
  if (hosts == 0 || hosts > kMaxHosts) return "hosts must be 1.." + std::to_string(kMaxHosts);
  if (shards_per_host == 0 || shards_per_host > kMaxShardsPerHost) {
    return "shards_per_host must be 1.." + std::to_string(kMaxShardsPerHost);
  }
  if (run_for <= Duration{0}) return "run_for must be positive";
  if (max_clock_offset < Duration{0}) return "max_clock_offset is negative";
  if (max_drift_ppm < 0 || max_drift_ppm > kMaxDriftPpm)
    return "max_drift_ppm must be 0.." + std::to_string(kMaxDriftPpm);
  if (restart_min < Duration{0} || restart_min > restart_max) return "restart_min must be 0..restart_max";
  if (partitions || crashes) {
    if (nemesis_min_gap <= Duration{0} || nemesis_min_gap > nemesis_max_gap) {
      return "nemesis_min_gap must be positive and at most nemesis_max_gap";
    }
    if (static_cast<uint64_t>(run_for / nemesis_min_gap) > kMaxNemesisEvents) {
      return "run_for / nemesis_min_gap is above kMaxNemesisEvents";
    }
  }
  return script_problem(*this);
}

Cluster::Cluster(const ClusterConfig& config, HostMain main) : config_(config), problem_(config.problem()) {
  if (!problem_.empty()) {  // run() reports it; the accessors see a valid, idle cluster
    config_ = ClusterConfig{};
    config_.sim = config.sim;
  }
  impl_ = std::make_unique<ClusterImpl>(*this, config_, std::move(main));
}

Cluster::~Cluster() = default;

Report Cluster::run() {
  ClusterImpl& m = *impl_;
  Report report;
  report.seed = config_.sim.seed;
  if (!problem_.empty()) {
    report.error = make_error_code(errc::invalid_argument);
    report.message = "bad ClusterConfig: " + problem_;
    return report;
  }
  for (uint32_t h = 0; h < config_.hosts; ++h) m.boot(h);
  for (size_t i = 0; i < config_.script.size(); ++i) {
    m.add_event(Instant{0} + config_.script[i].at, {ClusterImpl::DriverEvent::Kind::script, 0, i});
  }
  m.plan_nemesis();
  const Instant end = Instant{0} + config_.run_for;
  while (m.kernel_.now() < end && !verdict_ && !m.host_failed()) {
    if (m.steps_ >= config_.sim.max_steps) {
      report.error = make_error_code(errc::timed_out);
      report.message = "livelock or runaway: budget of " + std::to_string(config_.sim.max_steps) + " steps exhausted";
      break;
    }
    if (!m.step()) break;  // nothing can happen any more: the cluster is idle for good
  }
  for (auto& slot : m.hosts_) {
    if (verdict_ || !slot.life || !slot.life->main->done) continue;
    HostMainState& s = *slot.life->main;
    if (s.panicked) {
      report.error = make_error_code(errc::routine_panicked);
      report.message = "host " + std::to_string(slot.ctx.id()) + " main threw: " + s.what;
    } else if (!s.result) {
      verdict_ = s.result.error();
    }
  }
  return m.finish(std::move(report));
}

bool Cluster::up(uint32_t host) const noexcept { return host < config_.hosts && impl_->hosts_[host].life != nullptr; }

uint32_t Cluster::restarts(uint32_t host) const noexcept {
  return host < config_.hosts ? impl_->hosts_[host].restarts : 0;
}

std::optional<std::string> Cluster::file(uint32_t host, const std::string& path) const {
  if (host >= config_.hosts) return std::nullopt;
  return impl_->kernel_.file_contents(host, path);
}

Duration Cluster::clock_offset(uint32_t host) const noexcept {
  return Duration{host < config_.hosts ? impl_->hosts_[host].clock.offset_ns : 0};
}

int64_t Cluster::clock_drift_ppm(uint32_t host) const noexcept {
  return host < config_.hosts ? impl_->hosts_[host].clock.drift_ppm : 0;
}

detail::SimKernel& Cluster::kernel() noexcept { return impl_->kernel_; }

// ---------------------------------------------------------------- HostContext

uint32_t HostContext::hosts() const noexcept { return cluster_->hosts(); }

std::string HostContext::address(uint32_t host) {
  const uint32_t ip = detail::SimFabric::ipv4_of(host);
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xFF) + "." + std::to_string((ip >> 8) & 0xFF) +
         "." + std::to_string(ip & 0xFF);
}

Instant HostContext::now() const {
  Shard* s = current_shard();
  return s != nullptr ? s->now() : Instant{0};
}

uint64_t HostContext::random(uint64_t bound) { return cluster_->impl_->kernel_.choices().below(bound); }

void HostContext::fail(std::string why) {
  if (cluster_->verdict_) return;  // the first violation is the run's
  cluster_->verdict_ = make_error_code(errc::check_failed);
  cluster_->why_ = "host " + std::to_string(id_) + ": " + std::move(why);
}

}  // namespace ringo::sim
