#include "cli.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ringo/sim/scenario.hpp"

namespace ringo::sim {
namespace {

struct Args {
  std::string command;
  std::map<std::string, std::string> flags;  // --name value (or "1" for switches)
  std::vector<std::string> positional;
  bool has(const std::string& k) const { return flags.count(k) != 0; }
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = flags.find(k);
    return it == flags.end() ? fallback : it->second;
  }
};

int usage(const char* why) {
  std::fprintf(
      stderr,
      "ringo-sim: %s\n"
      "usage: ringo-sim list\n"
      "       ringo-sim run --scenario S --seed N [--faults F] [--strategy random|pct] [--depth D] [--buggify PPM]\n"
      "                     [--trace FILE] [--trace-format jsonl|chrome] [--check-determinism]\n"
      "       ringo-sim explore --scenario S --seeds A..B [--faults F] [--strategy S] [--depth D] [--buggify PPM]\n"
      "                     [--time-budget SECONDS] [--stop-after N] [--save DIR] [--check-determinism]\n"
      "       ringo-sim replay FILE [--trace FILE] [--trace-format jsonl|chrome]\n",
      why);
  return 2;
}

Args parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      const bool is_switch = s == "--check-determinism";
      a.flags[s.substr(2)] = is_switch || i + 1 >= argc ? "1" : argv[++i];
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

bool parse_u64(const std::string& text, uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text.c_str(), &end, 0);
  return !text.empty() && end != nullptr && *end == '\0';
}

// Fills options from flags; returns an error text or "".
std::string options_from(const Args& a, RunOptions& o) {
  o.faults = a.get("faults", "none");
  if (FaultConfig f; !FaultConfig::parse(o.faults, 0, f)) return "unknown --faults " + o.faults;
  if (!parse_strategy(a.get("strategy", "random"), o.strategy)) return "unknown --strategy";
  uint64_t depth = 3;
  if (a.has("depth") && (!parse_u64(a.get("depth"), depth) || depth == 0 || depth > 64)) return "bad --depth";
  o.pct_depth = static_cast<uint32_t>(depth);
  uint64_t buggify = 0;
  if (a.has("buggify") && (!parse_u64(a.get("buggify"), buggify) || buggify > 1000000)) return "bad --buggify (ppm)";
  o.buggify_ppm = static_cast<uint32_t>(buggify);
  return "";
}

void write_trace(const Args& a, const Report& report) {
  const std::string path = a.get("trace");
  std::ofstream out(path);
  if (a.get("trace-format", "chrome") == "jsonl") {
    write_trace_jsonl(report.trace, out);
  } else {
    write_trace_chrome(report.trace, out);
  }
  std::printf("trace: %zu events -> %s\n", report.trace.size(), path.c_str());
}

// Runs the seed twice and compares the traces; prints the first divergence.
bool deterministic(const Scenario& s, RunOptions o) {
  o.keep_trace = true;
  auto a = run_scenario(s, o);
  auto b = run_scenario(s, o);
  if (!a || !b) return false;
  const size_t at = first_divergence(a->report.trace, b->report.trace);
  if (at == SIZE_MAX && a->report.trace_hash == b->report.trace_hash) return true;
  std::printf("NONDETERMINISTIC seed=%llu: first divergence at event %zu\n  run 1: %s\n  run 2: %s\n",
              static_cast<unsigned long long>(o.seed), at,
              at < a->report.trace.size() ? describe_event(a->report.trace[at]).c_str() : "(end of trace)",
              at < b->report.trace.size() ? describe_event(b->report.trace[at]).c_str() : "(end of trace)");
  return false;
}

void save_failure(const std::string& dir, const Scenario& s, const RunOptions& o, const ScenarioResult& r) {
  const std::string path = dir + "/" + s.name + "-" + std::to_string(o.seed) + ".failure";
  std::ofstream out(path);
  out << "scenario=" << s.name << "\nseed=" << o.seed << "\nfaults=" << o.faults
      << "\nstrategy=" << strategy_name(o.strategy) << "\ndepth=" << o.pct_depth << "\nbuggify=" << o.buggify_ppm
      << "\n# " << r.why << "\n";
  std::printf("  saved %s\n", path.c_str());
}

int run_one(const Args& a, const Scenario& s, RunOptions o, const char* program) {
  o.keep_trace = a.has("trace");
  auto r = run_scenario(s, o);
  if (!r) return usage("bad options");
  std::printf("%s %s: %s\n", s.name.c_str(), r->failed() ? "FAILED" : "ok", r->report.summary().c_str());
  if (r->failed()) std::printf("  %s\n  replay: %s\n", r->why.c_str(), replay_command(program, s, o).c_str());
  if (a.has("trace")) write_trace(a, r->report);
  if (a.has("check-determinism") && !deterministic(s, o)) return 1;
  return r->failed() ? 1 : 0;
}

int explore(const Args& a, const Scenario& s, RunOptions o, const char* program) {
  const std::string range = a.get("seeds", "1..100");
  const size_t dots = range.find("..");
  uint64_t first = 0, last = 0;
  if (dots == std::string::npos || !parse_u64(range.substr(0, dots), first) ||
      !parse_u64(range.substr(dots + 2), last) || last < first) {
    return usage("--seeds wants A..B");
  }
  uint64_t budget_s = 0, stop_after = 0;
  if (a.has("time-budget") && !parse_u64(a.get("time-budget"), budget_s)) return usage("bad --time-budget");
  if (a.has("stop-after") && !parse_u64(a.get("stop-after"), stop_after)) return usage("bad --stop-after");
  const bool check_det = a.has("check-determinism");
  const auto start = std::chrono::steady_clock::now();
  uint64_t done = 0, failures = 0, nondeterministic = 0;
  for (uint64_t seed = first; seed <= last; ++seed) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (budget_s > 0 && elapsed >= static_cast<double>(budget_s)) break;
    o.seed = seed;
    auto r = run_scenario(s, o);
    if (!r) return usage("bad options");
    ++done;
    if (r->failed()) {
      ++failures;
      if (isatty(2)) std::fprintf(stderr, "\r\033[K");
      std::printf("FAIL seed=%llu: %s\n  replay: %s\n", static_cast<unsigned long long>(seed), r->why.c_str(),
                  replay_command(program, s, o).c_str());
      if (a.has("save")) save_failure(a.get("save"), s, o, *r);
      std::fflush(stdout);
    }
    if (check_det && !deterministic(s, o)) ++nondeterministic;
    if (isatty(2)) {
      std::fprintf(stderr, "\rseeds %llu/%llu  %.0f seeds/s  failures %llu", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(last - first + 1), static_cast<double>(done) / (elapsed + 1e-9),
                   static_cast<unsigned long long>(failures));
    }
    if (stop_after > 0 && failures >= stop_after) break;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (isatty(2)) std::fprintf(stderr, "\r\033[K");
  std::printf("explored %s: %llu seeds in %.2fs (%.0f seeds/s), %llu failing%s, strategy %s, faults %s\n",
              s.name.c_str(), static_cast<unsigned long long>(done), elapsed,
              static_cast<double>(done) / (elapsed + 1e-9), static_cast<unsigned long long>(failures),
              check_det ? (", " + std::to_string(nondeterministic) + " nondeterministic").c_str() : "",
              strategy_name(o.strategy), o.faults.c_str());
  return failures > 0 || nondeterministic > 0 ? 1 : 0;
}

int replay(const Args& a, const char* program) {
  if (a.positional.empty()) return usage("replay wants a failure file");
  std::ifstream in(a.positional[0]);
  if (!in) return usage("cannot read the failure file");
  Args saved;
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    saved.flags[line.substr(0, eq)] = line.substr(eq + 1);
  }
  const Scenario* s = find_scenario(saved.get("scenario"));
  if (s == nullptr) return usage("the failure file names no known scenario");
  RunOptions o;
  if (std::string e = options_from(saved, o); !e.empty()) return usage(e.c_str());
  if (!parse_u64(saved.get("seed"), o.seed)) return usage("the failure file has no seed");
  Args merged = a;
  return run_one(merged, *s, o, program);
}

}  // namespace

int ringo_sim_main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const char* program = argc > 0 ? argv[0] : "ringo-sim";
  if (a.command == "list") {
    for (const Scenario* s : scenarios()) {
      std::printf("%-28s %u shards  %s\n", s->name.c_str(), s->shards, s->description.c_str());
    }
    return 0;
  }
  if (a.command == "replay") return replay(a, program);
  if (a.command != "run" && a.command != "explore") return usage("unknown command");
  const Scenario* s = find_scenario(a.get("scenario"));
  if (s == nullptr) return usage("unknown --scenario (see `list`)");
  RunOptions o;
  if (std::string e = options_from(a, o); !e.empty()) return usage(e.c_str());
  if (a.command == "run") {
    if (!parse_u64(a.get("seed", "1"), o.seed)) return usage("bad --seed");
    return run_one(a, *s, o, program);
  }
  return explore(a, *s, o, program);
}

}  // namespace ringo::sim
