// Scenarios (scenario.hpp): the registry, running one under a seed and its options, the
// replay command line, and the trace exports (JSON lines, Chrome trace format).
#include "ringo/sim/scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>
#include <set>

namespace ringo::sim {

// The public simulator API, implemented in terms of the engine's internals.
using namespace ringo::detail;
namespace {

std::map<std::string, Scenario, std::less<>>& registry() {
  static std::map<std::string, Scenario, std::less<>> r;
  return r;
}

// The text of the last failed check(), for the run that is going on (one thread).
std::string& last_check() {
  static std::string why;
  return why;
}

// The size of the run going on (one thread); full between runs.
ScenarioSize& current_size() {
  static ScenarioSize size = ScenarioSize::full;
  return size;
}

// Sets the current size for one run, and back to full after it (a run that ends by an
// exception included).
class SizeScope {
 public:
  explicit SizeScope(ScenarioSize size) { current_size() = size; }
  ~SizeScope() { current_size() = ScenarioSize::full; }
  SizeScope(const SizeScope&) = delete;
  SizeScope& operator=(const SizeScope&) = delete;
};

}  // namespace

bool register_scenario(Scenario s) {
  std::string name = s.name;
  registry().insert_or_assign(std::move(name), std::move(s));
  return true;
}

std::vector<const Scenario*> scenarios() {
  std::vector<const Scenario*> out;
  for (const auto& [name, s] : registry()) out.push_back(&s);
  return out;
}

const Scenario* find_scenario(std::string_view name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

const char* size_name(ScenarioSize size) noexcept { return size == ScenarioSize::small ? "small" : "full"; }

bool parse_size(std::string_view text, ScenarioSize& out) noexcept {
  if (text == "full") {
    out = ScenarioSize::full;
  } else if (text == "small") {
    out = ScenarioSize::small;
  } else {
    return false;
  }
  return true;
}

ScenarioSize scenario_size() noexcept { return current_size(); }

Result<void> check(bool ok, std::string why) {
  if (ok) return {};
  last_check() = std::move(why);
  return fail(errc::check_failed);
}

namespace {

// Why a run failed, from the scenario's verdict or else the simulator's report.
void explain(ScenarioResult& out, const std::string& check_text) {
  if (out.check == errc::check_failed) {
    out.why = check_text;
  } else if (out.check) {
    out.why = "the scenario returned " + out.check.message();
  } else if (!out.report.ok()) {
    out.why = out.report.message;
  }
}

Result<ScenarioResult> run_cluster_scenario(const Scenario& s, const SimConfig& config) {
  ClusterConfig c;
  s.setup(c);
  c.sim = config;
  Cluster cluster(c, s.host_main);
  ScenarioResult out;
  out.report = cluster.run();
  out.check = cluster.verdict();
  explain(out, cluster.why().empty() ? last_check() : cluster.why());
  return out;
}

}  // namespace

Result<ScenarioResult> run_scenario(const Scenario& s, const RunOptions& options) {
  SimConfig config;
  config.seed = options.seed;
  config.shards = s.shards;
  config.strategy = options.strategy;
  config.pct_depth = options.pct_depth;
  config.keep_trace = options.keep_trace;
  config.buggify_ppm = options.buggify_ppm;
  config.record_choices = options.record_choices;
  config.replay_choices = options.choices;
  config.replay_wrap = options.wrap_choices;
  config.max_steps = 20'000'000;
  config.time_budget = std::chrono::seconds(600);
  if (!FaultConfig::parse(options.faults, options.seed, config.faults)) return fail(errc::invalid_argument);
  last_check().clear();
  SizeScope size(options.size);
  if (s.hosts > 0) {
    if (options.strategy != Strategy::random) return fail(errc::invalid_argument);
    return run_cluster_scenario(s, config);
  }
  ScenarioResult out;
  auto verdict = std::make_shared<std::error_code>();
  out.report = run(config, [&s, verdict]() -> Task<void> {
    Result<void> r = co_await s.main();
    if (!r) *verdict = r.error();
  });
  out.check = *verdict;
  explain(out, last_check());
  return out;
}

std::string replay_command(std::string_view program, const Scenario& s, const RunOptions& o) {
  std::string cmd = std::string(program) + " run --scenario " + s.name + " --seed " + std::to_string(o.seed) +
                    " --faults " + o.faults + " --strategy " + strategy_name(o.strategy);
  if (o.strategy == Strategy::pct) cmd += " --depth " + std::to_string(o.pct_depth);
  if (o.buggify_ppm != 0) cmd += " --buggify " + std::to_string(o.buggify_ppm);
  if (o.size != ScenarioSize::full) cmd += std::string(" --size ") + size_name(o.size);
  return cmd;
}

std::string describe_event(const TraceEvent& e) {
  char line[160];
  std::snprintf(line, sizeof line, "t=%lldns shard=%d %s a=%llu b=%llu", static_cast<long long>(e.time_ns),
                e.shard == UINT32_MAX ? -1 : static_cast<int>(e.shard), trace_kind_name(e.kind),
                static_cast<unsigned long long>(e.a), static_cast<unsigned long long>(e.b));
  return line;
}

void write_trace_jsonl(const std::vector<TraceEvent>& trace, std::ostream& out) {
  for (size_t i = 0; i < trace.size(); ++i) {
    const TraceEvent& e = trace[i];
    out << "{\"i\":" << i << ",\"t_ns\":" << e.time_ns
        << ",\"shard\":" << (e.shard == UINT32_MAX ? -1 : static_cast<int64_t>(e.shard)) << ",\"kind\":\""
        << trace_kind_name(e.kind) << "\",\"a\":" << e.a << ",\"b\":" << e.b << "}\n";
  }
}

namespace {

bool routine_event(TraceKind k) { return k == TraceKind::spawn || k == TraceKind::resume || k == TraceKind::finish; }

}  // namespace

void write_trace_chrome(const std::vector<TraceEvent>& trace, std::ostream& out) {
  constexpr int kKernelPid = 1000000;
  std::set<std::pair<int64_t, uint64_t>> tracks;  // (pid, tid) seen
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto emit = [&](const std::string& json) {
    out << (first ? "" : ",\n") << json;
    first = false;
  };
  for (size_t i = 0; i < trace.size(); ++i) {
    const TraceEvent& e = trace[i];
    const int64_t pid = e.shard == UINT32_MAX ? kKernelPid : static_cast<int64_t>(e.shard);
    // Routine ids are (shard << 48) | sequence: the sequence names the routine's track.
    const uint64_t tid = routine_event(e.kind) ? (e.a & ((uint64_t{1} << 48) - 1)) : 0;
    tracks.insert({pid, tid});
    char ts[64];
    std::snprintf(ts, sizeof ts, "%.3f", static_cast<double>(e.time_ns) / 1e3 + static_cast<double>(i) * 1e-3);
    emit("{\"name\":\"" + std::string(trace_kind_name(e.kind)) + "\",\"ph\":\"i\",\"s\":\"t\",\"ts\":" + ts +
         ",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(tid) + ",\"args\":{\"a\":" +
         std::to_string(e.a) + ",\"b\":" + std::to_string(e.b) + ",\"i\":" + std::to_string(i) + "}}");
  }
  for (const auto& [pid, tid] : tracks) {
    if (tid == 0) {
      const std::string name = pid == kKernelPid ? "simulated kernel" : "shard " + std::to_string(pid);
      emit("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) + ",\"args\":{\"name\":\"" + name +
           "\"}}");
      emit("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) +
           ",\"tid\":0,\"args\":{\"name\":\"" + (pid == kKernelPid ? std::string("kernel") : "shard") + "\"}}");
    } else {
      emit("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(tid) +
           ",\"args\":{\"name\":\"routine " + std::to_string(tid) + "\"}}");
    }
  }
  out << "\n]}\n";
}

size_t first_divergence(const std::vector<TraceEvent>& a, const std::vector<TraceEvent>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const TraceEvent& x = a[i];
    const TraceEvent& y = b[i];
    if (x.time_ns != y.time_ns || x.shard != y.shard || x.kind != y.kind || x.a != y.a || x.b != y.b) return i;
  }
  return a.size() == b.size() ? SIZE_MAX : n;
}

}  // namespace ringo::sim
