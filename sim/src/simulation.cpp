// Simulation (simulation.hpp): the driver over the event core. Each step() is one
// decision from the kernel's ChoiceSource (tick a shard that can run, or let the kernel
// deliver a due completion); when nothing can run the clock jumps to the next kernel
// event or shard timer. Also the run's Report, the pct strategy's priorities, and
// RINGO_SEED parsing.
#include "ringo/sim/simulation.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ringo/internal/core/assert.hpp"
#include "sim_blocking.hpp"

namespace ringo::sim {

// The public simulator API, implemented in terms of the engine's internals.
using namespace ringo::detail;

namespace {
constexpr uint32_t kKernel = UINT32_MAX;
constexpr uint32_t kNoRunner = UINT32_MAX - 1;  // before the first step
enum StepKind : uint64_t { kRunShard = 3 };

struct MainState {
  bool done = false;
  bool panicked = false;
  std::string what;
};

// The state is shared: main may finish during shutdown, after drive() has returned.
Task<void> run_main(Task<void> main, std::shared_ptr<MainState> state) {
  try {
    co_await std::move(main);
  } catch (const std::exception& e) {
    state->panicked = true;
    state->what = e.what();
  } catch (...) {
    state->panicked = true;
    state->what = "non-standard exception";
  }
  state->done = true;
}
}  // namespace

const char* strategy_name(Strategy s) noexcept { return s == Strategy::pct ? "pct" : "random"; }

bool parse_strategy(const std::string& name, Strategy& out) {
  if (name == "random") return out = Strategy::random, true;
  if (name == "pct") return out = Strategy::pct, true;
  return false;
}

namespace {
FaultConfig with_buggify(const SimConfig& c) {
  FaultConfig f = c.faults;
  f.buggify_ppm = c.buggify_ppm;
  return f;
}
}  // namespace

std::string Report::replay_hint() const { return "RINGO_SEED=" + std::to_string(seed); }

std::string Report::summary() const {
  char line[256];
  std::snprintf(line, sizeof line, "seed=%llu %s hash=%016llx events=%llu steps=%llu vtime=%.6fs faults=%llu",
                static_cast<unsigned long long>(seed), ok() ? "ok" : error.message().c_str(),
                static_cast<unsigned long long>(trace_hash), static_cast<unsigned long long>(trace_events),
                static_cast<unsigned long long>(steps), static_cast<double>(virtual_time.count()) / 1e9,
                static_cast<unsigned long long>(faults_injected));
  return line;
}

Simulation::Simulation(const SimConfig& config)
    : config_(config),
      kernel_(config.seed, config.shards, with_buggify(config), config.keep_trace),
      group_(config.shards),
      woken_from_outside_(new std::atomic<bool>[config.shards]) {
  for (uint32_t i = 0; i < config.shards; ++i) group_.port(i).ring_id = kernel_.ring(i).msg_ring_id();
  for (uint32_t i = 0; i < config.shards; ++i) woken_from_outside_[i].store(false, std::memory_order_relaxed);
  group_.set_external_wake(&Simulation::wake_from_outside, woken_from_outside_.get());
  blocking_ =
      std::make_unique<detail::SimBlockingPool>(detail::DeviceHost(kernel_), kernel_.faults(), group_, config.blocking);
  group_.set_blocking_executor(blocking_.get());
  for (uint32_t i = 0; i < config.shards; ++i) {
    ShardConfig sc;
    sc.run_budget = config.run_budget;
    sc.work_requesting = config.work_requesting;
    sc.max_routines = config.max_routines_per_shard;
    sc.seed = config.seed;
    sc.buggify_ppm = config.buggify_ppm;
    shards_.push_back(std::make_unique<Shard>(group_, i, kernel_.ring(i), sc));
    shards_.back()->set_tracer(&kernel_);
  }
  detail::ChoiceSource& choices = kernel_.choices();
  if (config.replay_choices) choices.replay(*config.replay_choices, config.replay_wrap);
  choices.record(config.record_choices);
  if (config.strategy == Strategy::pct) draw_pct_priorities();
}

// PCT's priorities and change points: the run's first choices, drawn from a stream of
// their own so the kernel's draws under a seed stay what they are. Value 0 is the simplest:
// no swap in the shuffle (runner order = priority order), the latest possible change point
// (the fewest preemptions).
void Simulation::draw_pct_priorities() {
  Prng p(config_.seed ^ 0x9c7f3a11d2b4e605ULL);
  detail::ChoiceSource& choices = kernel_.choices();
  const uint32_t runners = config_.shards + 1;
  const uint64_t depth = std::max<uint32_t>(1, config_.pct_depth);
  for (uint32_t i = 0; i < runners; ++i) priority_.push_back(depth + i);
  for (uint32_t i = runners; i > 1; --i) {
    auto flip = [i](uint64_t x) { return uint64_t{i} - 1 - x; };
    std::swap(priority_[i - 1], priority_[choices.choose(i, flip, flip, p)]);
  }
  const uint64_t steps = std::max<uint64_t>(1, config_.pct_steps);
  auto latest_first = [steps](uint64_t x) { return steps - 1 - x; };
  for (uint64_t i = 1; i < depth; ++i) change_points_.push_back(choices.choose(steps, latest_first, latest_first, p));
  std::sort(change_points_.begin(), change_points_.end());
  lowest_ = depth - 1;
}

// Random strategy: a uniform pick among the candidates. Its choice value counts from the
// runner of the previous step (candidates in their stable order, wrapping round), so
// value 0 means no context switch, or the first candidate when the last runner cannot run.
uint32_t Simulation::pick_random() {
  const uint64_t n = candidates_.size();
  const auto it = std::find(candidates_.begin(), candidates_.end(), last_runner_);
  const uint64_t last = it == candidates_.end() ? 0 : static_cast<uint64_t>(it - candidates_.begin());
  auto encode = [n, last](uint64_t raw) { return (raw + n - last) % n; };
  auto decode = [n, last](uint64_t v) { return (last + v) % n; };
  return candidates_[kernel_.choices().choose(n, encode, decode)];
}

uint32_t Simulation::pick(uint32_t kernel_slot) {
  RINGO_ASSERT(!candidates_.empty(), "a step picks among the shards that can run and the kernel");
  if (config_.strategy == Strategy::random) return pick_random();
  auto slot = [&](uint32_t c) { return c == kKernel ? kernel_slot : c; };
  uint32_t best = candidates_.front();
  for (uint32_t c : candidates_) {
    if (priority_[slot(c)] > priority_[slot(best)]) best = c;
  }
  while (!change_points_.empty() && change_points_.front() <= steps_) {
    change_points_.erase(change_points_.begin());
    priority_[slot(best)] = lowest_ > 0 ? lowest_-- : 0;
  }
  return best;
}

Simulation::~Simulation() {
  for (auto& s : shards_) kernel_.ring(s->index()).stop();
  // Destroy shards (and any frames they still own) before the kernel and group.
  for (auto& s : shards_) {
    CurrentShardScope scope(s.get());
    s.reset();
  }
}

bool Simulation::wake_from_outside(void* ctx, uint32_t target) {
  static_cast<std::atomic<bool>*>(ctx)[target].store(true, std::memory_order_release);
  return true;
}

bool Simulation::step() {
  candidates_.clear();
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    // A shard left idle goes to sleep as a real one would: mail then needs its doorbell,
    // and mail that came while it was awake makes it runnable.
    Shard& s = *shards_[i];
    if (s.has_local_work() || kernel_.ring(i).cq_ready() > 0 || !s.prepare_to_sleep() ||
        woken_from_outside_[i].load(std::memory_order_acquire)) {
      candidates_.push_back(i);
    }
  }
  if (kernel_.has_due()) candidates_.push_back(kKernel);
  ++steps_;
  if (candidates_.empty()) {
    Instant next = kernel_.next_event();
    for (auto& s : shards_) next = std::min(next, s->next_timer());
    if (next == kNoDeadline) return false;
    // A due timer makes its shard runnable and a due event the kernel, so time moves.
    RINGO_ASSERT(next > kernel_.now(), "with nothing runnable, the next event lies ahead");
    kernel_.advance_to(next);
    return true;
  }
  const uint32_t pick = this->pick(static_cast<uint32_t>(shards_.size()));
  if (pick != last_runner_ && last_runner_ != kNoRunner) {
    ++context_switches_;
    preemptions_ += std::find(candidates_.begin(), candidates_.end(), last_runner_) != candidates_.end();
  }
  last_runner_ = pick;
  if (pick == kKernel) {
    kernel_.deliver_one();
  } else {
    kernel_.record({kernel_.now().count(), pick, TraceKind::kernel_step, kRunShard, 0});
    woken_from_outside_[pick].store(false, std::memory_order_relaxed);  // this tick drains its inbox
    shards_[pick]->run_once(false);
  }
  return true;
}

BlockingPoolStats Simulation::blocking_stats() const { return blocking_->stats(); }

ShardStats Simulation::total_stats() const {
  ShardStats total;
  for (const auto& s : shards_) total += s->stats();
  return total;
}

std::string Simulation::describe_blocked() const {
  std::string out;
  for (const auto& s : shards_) out += s->describe_blocked();
  return out;
}

Report Simulation::run(Task<void> main) {
  Report report = drive(std::move(main));
  shutdown(report);
  return report;
}

Report Simulation::drive(Task<void> main) {
  Report report;
  report.seed = config_.seed;
  if (stopped_) {
    report.error = make_error_code(errc::shard_stopped);
    report.message = "the simulation was shut down";
    return report;
  }
  auto shared_state = std::make_shared<MainState>();
  MainState& state = *shared_state;
  {
    CurrentShardScope scope(shards_[0].get());
    auto handle = spawn_local(*shards_[0], run_main(std::move(main), shared_state));
    if (!handle.valid()) {
      report.error = handle.spawn_error();
      report.message = "could not spawn main: " + report.error.message();
      return finish(std::move(report));
    }
  }
  const Instant limit = kernel_.now() + config_.time_budget;
  while (!state.done) {
    if (steps_ >= config_.max_steps || kernel_.now() > limit) {
      report.error = make_error_code(errc::timed_out);
      report.message = "livelock or runaway: budget of " + std::to_string(config_.max_steps) + " steps / " +
                       std::to_string(config_.time_budget.count() / 1000000000) +
                       "s virtual time exhausted; live routines:\n" + describe_blocked();
      return finish(std::move(report));
    }
    if (!step()) {
      report.error = make_error_code(errc::deadlock);
      report.message = "deadlock: every routine is blocked and nothing is pending\n" + describe_blocked();
      return finish(std::move(report));
    }
  }
  if (state.panicked) {
    report.error = make_error_code(errc::routine_panicked);
    report.message = "main threw: " + state.what;
  }
  return finish(std::move(report));
}

void Simulation::shutdown(Report& report) {
  if (stopped_) return;
  stopped_ = true;
  // Cancel every routine still alive and drain until nothing is left (bounded).
  for (auto& s : shards_) report.cancelled_at_shutdown += s->abort_all();
  for (uint64_t n = 0; n < config_.shutdown_steps; ++n) {
    bool live = false;
    for (auto& s : shards_) live = live || s->stats().routines_live > 0 || s->live_ops() > 0;
    if (!live || !step()) break;
  }
  drain_blocking();
  for (auto& s : shards_) s->close_inbox();
  const detail::SimBlockingPool::Closed pool = blocking_->close();
  report.blocking_unstarted = pool.unstarted;
  report.blocking_abandoned = pool.abandoned;
  report = finish(std::move(report));
}

// Blocking calls still running at shutdown get blocking_shutdown_wait of virtual time to
// finish (their results are dropped at home), like the real pool's bounded wait.
void Simulation::drain_blocking() {
  const Instant until = kernel_.now() + config_.blocking_shutdown_wait;
  for (uint64_t n = 0; n < config_.shutdown_steps && blocking_->in_flight() > 0; ++n) {
    Instant next = kernel_.next_event();
    for (auto& s : shards_) next = std::min(next, s->next_timer());
    if (next > until || !step()) break;  // the next event is past the wait: stop before the clock jumps
  }
}

Report Simulation::finish(Report report) {
  report.stats = total_stats();
  report.steps = steps_;
  report.trace_hash = kernel_.trace_hash();
  report.trace_events = kernel_.trace_events();
  report.virtual_time = kernel_.now();
  report.faults_injected = kernel_.faults_injected();
  if (config_.keep_trace) report.trace = kernel_.trace();
  report.context_switches = context_switches_;
  report.preemptions = preemptions_;
  if (config_.record_choices) {
    report.choices = kernel_.choices().recorded();
    report.choices_complete = kernel_.choices().recording_complete();
  }
  return report;
}

Report run(const SimConfig& config, const std::function<Task<void>()>& main_fn) {
  Simulation sim(config);
  return sim.run(main_fn());
}

Result<uint64_t> parse_seed(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.size() > 1 && text[0] == '0') {
    return fail(errc::invalid_argument);  // octal to strtoull, decimal to a reader: refuse
  }
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [at, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc{} || at != end) return fail(errc::invalid_argument);
  return value;
}

Result<std::optional<uint64_t>> env_seed(std::string& why) {
  const char* text = std::getenv("RINGO_SEED");
  if (text == nullptr) return std::nullopt;
  auto seed = parse_seed(text);
  if (!seed) {
    why = std::string("RINGO_SEED=\"") + text +
          "\" is not a seed: want a decimal or 0x-hex integer below 2^64, with no sign, space or leading zero";
    return std::unexpected(seed.error());
  }
  return *seed;
}

uint64_t seed_from_env(uint64_t fallback) {
  std::string why;
  auto seed = env_seed(why);
  if (!seed) {
    std::fprintf(stderr, "ringo: %s\n", why.c_str());
    std::exit(2);
  }
  return seed->value_or(fallback);
}

}  // namespace ringo::sim
