// The ringo-sim command line (cli.hpp): strict parsing of commands, flags and numbers,
// then list, run, explore and replay over the scenarios registered in this binary.
#include "cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "failure_file.hpp"
#include "ringo/sim/scenario.hpp"
#include "scenario_input.hpp"
#include "sha1.hpp"
#include "shrink.hpp"
#include "timeline_html.hpp"

namespace ringo::sim {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

// Exit statuses (cli.hpp).
constexpr int kPassed = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kUnwritten = 3;
constexpr int kNothingToShrink = 4;

struct Args {
  std::string command;
  std::map<std::string, std::string> flags;  // --name value (or "1" for the switch)
  std::vector<std::string> positional;
  bool has(const std::string& k) const { return flags.count(k) != 0; }
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = flags.find(k);
    return it == flags.end() ? fallback : it->second;
  }
};

int usage(const std::string& why) {
  std::fprintf(
      stderr,
      "ringo-sim: %s\n"
      "usage: ringo-sim list\n"
      "       ringo-sim run --scenario S --seed N [--faults F] [--strategy random|pct] [--depth D] [--buggify PPM]\n"
      "                     [--size full|small]\n"
      "                     [--trace FILE] [--trace-format jsonl|chrome|html] [--check-determinism]\n"
      "       ringo-sim explore --scenario S --seeds A..B [--faults F] [--strategy S] [--depth D] [--buggify PPM]\n"
      "                     [--size full|small]\n"
      "                     [--time-budget SECONDS] [--stop-after N] [--save DIR] [--corpus DIR [--corpus-all]]\n"
      "                     [--check-determinism]\n"
      "       ringo-sim replay FILE [--trace FILE] [--trace-format jsonl|chrome|html] [--check-determinism]\n"
      "       ringo-sim shrink FILE [--out FILE] [--trace FILE] [--trace-format jsonl|chrome|html] [--max-runs N]\n"
      "       ringo-sim from-fuzz INPUT [--out FILE]\n"
      "numbers are decimal or 0x-hex, without sign, space or leading zero\n",
      why.c_str());
  return kUsage;
}

// The flags each command takes. Every flag wants a value but the switches (kSwitches), and
// a flag that is not here is an error: a misspelt --seed must not run seed 1.
const std::map<std::string, std::vector<std::string>> kFlags = {
    {"list", {}},
    {"run",
     {"scenario", "seed", "faults", "strategy", "depth", "buggify", "size", "trace", "trace-format",
      "check-determinism"}},
    {"explore",
     {"scenario", "seeds", "faults", "strategy", "depth", "buggify", "size", "time-budget", "stop-after", "save",
      "corpus", "corpus-all", "check-determinism"}},
    {"replay", {"trace", "trace-format", "check-determinism"}},
    {"shrink", {"out", "trace", "trace-format", "max-runs"}},
    {"from-fuzz", {"out"}},
};
const std::vector<std::string> kSwitches = {"check-determinism", "corpus-all"};

// Fills a from argv; returns what is wrong with the command line, or "".
std::string parse(int argc, char** argv, Args& a) {
  if (argc < 2) return "no command";
  a.command = argv[1];
  const auto known = kFlags.find(a.command);
  if (known == kFlags.end()) return "unknown command \"" + a.command + "\"";
  for (int i = 2; i < argc; ++i) {
    const std::string s = argv[i];
    if (!s.starts_with("--")) {
      a.positional.push_back(s);
      continue;
    }
    const std::string name = s.substr(2);
    if (std::find(known->second.begin(), known->second.end(), name) == known->second.end()) {
      return "unknown flag " + s + " for " + a.command;
    }
    if (a.has(name)) return s + " given twice";
    if (std::find(kSwitches.begin(), kSwitches.end(), name) != kSwitches.end()) {
      a.flags[name] = "1";
    } else if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--")) {
      return s + " wants a value";
    } else {
      a.flags[name] = argv[++i];
    }
  }
  const size_t files = a.command == "replay" || a.command == "shrink" || a.command == "from-fuzz" ? 1 : 0;
  if (a.positional.size() < files) {
    return a.command + (a.command == "from-fuzz" ? " wants a fuzz input" : " wants a failure file");
  }
  if (a.positional.size() > files) return "unexpected argument \"" + a.positional[files] + "\"";
  return "";
}

// The whole text as a number, as strictly as a seed (parse_seed): no sign, no trailing
// text, no overflow.
bool parse_u64(const std::string& text, uint64_t& out) {
  auto v = parse_seed(text);
  if (v) out = *v;
  return v.has_value();
}

// --name into out when given, within lo..hi; returns an error text or "".
std::string number_flag(const Args& a, const std::string& name, uint64_t lo, uint64_t hi, uint64_t& out) {
  if (!a.has(name)) return "";
  const std::string text = a.get(name);
  if (parse_u64(text, out) && out >= lo && out <= hi) return "";
  return "bad --" + name + " \"" + text + "\": want a whole number from " + std::to_string(lo) + " to " +
         std::to_string(hi);
}

// Fills options from flags; returns an error text or "".
std::string options_from(const Args& a, RunOptions& o) {
  o.faults = a.get("faults", "none");
  if (FaultConfig f; !FaultConfig::parse(o.faults, 0, f)) return "unknown --faults " + o.faults;
  if (!parse_strategy(a.get("strategy", "random"), o.strategy)) return "unknown --strategy";
  if (const std::string size = a.get("size", "full"); !parse_size(size, o.size)) {
    return "unknown --size " + size + " (full or small)";
  }
  uint64_t depth = 3, buggify = 0;
  if (std::string e = number_flag(a, "depth", 1, 64, depth); !e.empty()) return e;
  if (std::string e = number_flag(a, "buggify", 0, 1000000, buggify); !e.empty()) return e + " (ppm)";
  o.pct_depth = static_cast<uint32_t>(depth);
  o.buggify_ppm = static_cast<uint32_t>(buggify);
  return "";
}

// Says on stderr that path could not be written, with the system's reason when it gave one.
void cannot_write(const std::string& what, const std::string& path) {
  std::fprintf(stderr, "ringo-sim: cannot write %s %s%s%s\n", what.c_str(), path.c_str(), errno != 0 ? ": " : "",
               errno != 0 ? std::strerror(errno) : "");
}

// Opened before the run, so a bad path costs nothing.
bool open_output(const std::string& what, const std::string& path, std::ofstream& out) {
  errno = 0;
  out.open(path);
  if (!out) cannot_write(what, path);
  return static_cast<bool>(out);
}

// Closes out and says whether everything written to it reached the file.
bool close_output(const std::string& what, const std::string& path, std::ofstream& out) {
  errno = 0;
  out.close();
  if (!out) cannot_write(what, path);
  return static_cast<bool>(out);
}

bool write_trace(const Args& a, const TimelineRun& run, std::ofstream& out) {
  const std::string path = a.get("trace");
  const Report& report = run.result.report;
  if (a.get("trace-format", "chrome") == "jsonl") {
    write_trace_jsonl(report.trace, out);
  } else if (a.get("trace-format") == "html") {
    write_trace_html(run, out);  // timeline_html.hpp
  } else {
    write_trace_chrome(report.trace, out);
  }
  if (!close_output("the trace to", path, out)) return false;
  std::printf("trace: %zu events -> %s\n", report.trace.size(), path.c_str());
  return true;
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

bool save_failure(const std::string& dir, const Scenario& s, RunOptions o, const ScenarioResult& r) {
  const std::string path = dir + "/" + s.name + "-" + std::to_string(o.seed) + ".failure";
  std::ofstream out;
  if (!open_output("the failure to", path, out)) return false;
  std::vector<std::string> notes;
  if (r.report.choices_complete) {
    o.choices = trimmed_choices(choice_values(r.report.choices));
  } else {
    notes.push_back("no choices line: the run made more than " + std::to_string(detail::ChoiceSource::kMaxRecorded) +
                    " choices (replayed from the seed)");
  }
  notes.push_back(r.why);
  write_failure(out, s, o, notes);
  if (!close_output("the failure to", path, out)) return false;
  std::printf("  saved %s\n", path.c_str());
  return true;
}

// The run as a fuzz_scenario corpus entry (scenario_input.hpp) in dir, named by its
// content's SHA-1 as libFuzzer names its corpus files.
bool write_corpus_entry(const std::string& dir, const Scenario& s, RunOptions o, const ScenarioResult& r) {
  if (!r.report.choices_complete) {
    std::fprintf(stderr, "ringo-sim: seed %llu not written to the corpus: it made more than %zu choices\n",
                 static_cast<unsigned long long>(o.seed), detail::ChoiceSource::kMaxRecorded);
    return false;
  }
  o.choices = trimmed_choices(choice_values(r.report.choices));
  const std::string bytes = encode_scenario_input(s, o);
  const std::string path = dir + "/" + sha1_hex(bytes);
  std::ofstream out;
  if (!open_output("the corpus entry to", path, out)) return false;
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!close_output("the corpus entry to", path, out)) return false;
  if (r.failed()) std::printf("  corpus entry %s\n", path.c_str());
  return true;
}

// --save's or --corpus's directory, checked before exploring for minutes.
bool writable_directory(const Args& a, const std::string& flag) {
  const std::string dir = a.get(flag);
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec) && access(dir.c_str(), W_OK) == 0) return true;
  std::fprintf(stderr, "ringo-sim: --%s %s: not a writable directory\n", flag.c_str(), dir.c_str());
  return false;
}

// What explore counts over its seeds.
struct Tally {
  uint64_t done = 0, failures = 0, nondeterministic = 0, unsaved = 0, entries = 0;
};

// Keeps one run as --save and --corpus ask; counts what could not be written.
void keep_run(const Args& a, const Scenario& s, const RunOptions& o, const ScenarioResult& r, Tally& t) {
  if (r.failed() && a.has("save") && !save_failure(a.get("save"), s, o, r)) ++t.unsaved;
  if (!a.has("corpus") || !(r.failed() || a.has("corpus-all"))) return;
  if (write_corpus_entry(a.get("corpus"), s, o, r)) {
    ++t.entries;
  } else {
    ++t.unsaved;
  }
}

int run_one(const Args& a, const Scenario& s, RunOptions o, const std::string& replay_hint) {
  std::ofstream trace;
  if (a.has("trace") && !open_output("the trace to", a.get("trace"), trace)) return kUnwritten;
  o.keep_trace = a.has("trace");
  auto r = run_scenario(s, o);
  if (!r) return usage("bad options");
  std::printf("%s %s: %s\n", s.name.c_str(), r->failed() ? "FAILED" : "ok", r->report.summary().c_str());
  if (r->failed()) std::printf("  %s\n  replay: %s\n", r->why.c_str(), replay_hint.c_str());
  const bool wrote = !a.has("trace") || write_trace(a, {s, o, *r, replay_hint}, trace);
  const bool failed = r->failed() || (a.has("check-determinism") && !deterministic(s, o));
  return !wrote ? kUnwritten : failed ? kFailed : kPassed;
}

int explore(const Args& a, const Scenario& s, RunOptions o, const char* program) {
  const std::string range = a.get("seeds", "1..100");
  const size_t dots = range.find("..");
  uint64_t first = 0, last = 0;
  if (dots == std::string::npos || !parse_u64(range.substr(0, dots), first) ||
      !parse_u64(range.substr(dots + 2), last) || last < first) {
    return usage("bad --seeds \"" + range + "\": want A..B with A <= B");
  }
  uint64_t budget_s = 0, stop_after = 0;
  if (std::string e = number_flag(a, "time-budget", 0, UINT64_MAX, budget_s); !e.empty()) return usage(e);
  if (std::string e = number_flag(a, "stop-after", 0, UINT64_MAX, stop_after); !e.empty()) return usage(e);
  if (a.has("corpus-all") && !a.has("corpus")) return usage("--corpus-all wants --corpus DIR");
  for (const char* flag : {"save", "corpus"}) {
    if (a.has(flag) && !writable_directory(a, flag)) return kUnwritten;
  }
  const bool check_det = a.has("check-determinism");
  // A saved failure and a corpus entry carry the run's choice sequence.
  o.record_choices = a.has("save") || a.has("corpus");
  const auto start = std::chrono::steady_clock::now();
  Tally t;
  uint64_t& done = t.done;
  uint64_t& failures = t.failures;
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
    }
    keep_run(a, s, o, *r, t);
    std::fflush(stdout);
    if (check_det && !deterministic(s, o)) ++t.nondeterministic;
    if (isatty(2)) {
      std::fprintf(stderr, "\rseeds %llu/%llu  %.0f seeds/s  failures %llu", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(last - first + 1), static_cast<double>(done) / (elapsed + 1e-9),
                   static_cast<unsigned long long>(failures));
    }
    if (stop_after > 0 && failures >= stop_after) break;
    if (seed == last) break;  // last may be UINT64_MAX
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (isatty(2)) std::fprintf(stderr, "\r\033[K");
  std::printf("explored %s: %llu seeds in %.2fs (%.0f seeds/s), %llu failing%s, strategy %s, faults %s%s\n",
              s.name.c_str(), static_cast<unsigned long long>(done), elapsed,
              static_cast<double>(done) / (elapsed + 1e-9), static_cast<unsigned long long>(failures),
              check_det ? (", " + std::to_string(t.nondeterministic) + " nondeterministic").c_str() : "",
              strategy_name(o.strategy), o.faults.c_str(), o.size == ScenarioSize::small ? ", size small" : "");
  if (a.has("corpus"))
    std::printf("corpus: %llu entries in %s\n", static_cast<unsigned long long>(t.entries), a.get("corpus").c_str());
  if (t.unsaved > 0) return kUnwritten;
  return failures > 0 || t.nondeterministic > 0 ? kFailed : kPassed;
}

// The keys a failure file may hold (failure_file.hpp).
const std::vector<std::string> kFailureKeys = {"scenario", "seed",    "faults", "strategy",
                                               "depth",    "buggify", "size",   "choices"};

// Reads a failure file into s and o; returns what is wrong with it, or "".
std::string load_failure(const std::string& path, const Scenario*& s, RunOptions& o) {
  Args saved;
  if (std::string e = read_failure(path, saved.flags); !e.empty()) return e;
  for (const auto& [key, value] : saved.flags) {
    if (std::find(kFailureKeys.begin(), kFailureKeys.end(), key) == kFailureKeys.end()) {
      return path + ": unknown key \"" + key + "\"";
    }
  }
  s = find_scenario(saved.get("scenario"));
  if (s == nullptr) return path + " names no known scenario";
  if (std::string e = options_from(saved, o); !e.empty()) return path + ": " + e;
  if (!parse_u64(saved.get("seed"), o.seed)) return path + " has no seed";
  if (saved.has("choices")) {
    auto values = decode_choices(saved.get("choices"), detail::ChoiceSource::kMaxRecorded);
    if (!values) return path + ": bad choices line: want comma-separated hex values and z<count> runs of zeros";
    o.choices = std::move(*values);
  }
  return "";
}

int replay(const Args& a, const char* program) {
  const Scenario* s = nullptr;
  RunOptions o;
  if (std::string e = load_failure(a.positional[0], s, o); !e.empty()) return usage(e);
  return run_one(a, *s, o, std::string(program) + " replay " + a.positional[0]);
}

// ---------------------------------------------------------------- shrink

void print_size(const char* label, const RunSize& z) {
  std::printf(
      "  %-7s %zu choices (%zu non-zero), %llu faults injected, %llu context switches (%llu preemptions), %llu trace "
      "events\n",
      label, z.choices, z.nonzero, static_cast<unsigned long long>(z.faults),
      static_cast<unsigned long long>(z.context_switches), static_cast<unsigned long long>(z.preemptions),
      static_cast<unsigned long long>(z.trace_events));
}

// Where shrink writes by default: name.failure -> name.shrunk.failure.
std::string default_shrunk_path(const std::string& in) {
  const std::string ext = ".failure";
  if (in.size() > ext.size() && in.ends_with(ext)) return in.substr(0, in.size() - ext.size()) + ".shrunk" + ext;
  return in + ".shrunk";
}

int shrink_command(const Args& a, const char* program) {
  const std::string in = a.positional[0];
  ShrinkLimits limits;
  if (std::string e = number_flag(a, "max-runs", 1, UINT64_MAX, limits.max_runs); !e.empty()) return usage(e);
  const Scenario* s = nullptr;
  RunOptions o;
  if (std::string e = load_failure(in, s, o); !e.empty()) return usage(e);
  const std::string out_path = a.get("out", default_shrunk_path(in));
  std::ofstream out, trace;
  if (!open_output("the shrunk failure to", out_path, out)) return kUnwritten;
  if (a.has("trace") && !open_output("the trace to", a.get("trace"), trace)) return kUnwritten;
  o.keep_trace = a.has("trace");
  Shrunk shrunk;
  if (std::string e = shrink(*s, o, limits, shrunk); !e.empty()) {
    std::fprintf(stderr, "ringo-sim: shrink %s: %s\n", in.c_str(), e.c_str());
    return kNothingToShrink;
  }
  std::printf("%s shrunk: %s\n", s->name.c_str(), shrunk.signature.c_str());
  print_size("before:", shrunk.before);
  print_size("after:", shrunk.after);
  std::printf("  runs:   %llu%s\n", static_cast<unsigned long long>(shrunk.runs),
              shrunk.budget_spent ? " (the --max-runs budget ran out before a fixed point)" : " (a fixed point)");
  write_failure(out, *s, shrunk.options,
                {"shrunk from " + in + " in " + std::to_string(shrunk.runs) + " runs", shrunk.result.why});
  if (!close_output("the shrunk failure to", out_path, out)) return kUnwritten;
  std::printf("  wrote %s\n", out_path.c_str());
  const std::string replay = std::string(program) + " replay " + out_path;
  if (a.has("trace") && !write_trace(a, {*s, shrunk.options, shrunk.result, replay}, trace)) return kUnwritten;
  return kPassed;
}

// ---------------------------------------------------------------- from-fuzz

// Reads path whole into bytes; returns "" or why not.
std::string read_bytes(const std::string& path, std::string& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read the fuzz input " + path;
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return "cannot read the fuzz input " + path;
  return "";
}

// A fuzz_scenario input (a crash libFuzzer saved) as a failure file that replay and shrink
// take: the run as the target made it (values read modulo their bounds), recorded, so the
// file's choices are each below its bound and replay the same run without the modulo.
int from_fuzz(const Args& a, const char* program) {
  const std::string in_path = a.positional[0];
  std::string bytes;
  if (std::string e = read_bytes(in_path, bytes); !e.empty()) return usage(e);
  ScenarioInput in;
  if (std::string e = decode_scenario_input({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, in);
      !e.empty()) {
    return usage(in_path + " is no fuzz_scenario input: " + e);
  }
  RunOptions o = in.options;
  o.wrap_choices = o.record_choices = true;
  auto r = run_scenario(*in.scenario, o);
  if (!r) return usage("bad options");
  std::printf("%s %s: %s\n", in.scenario->name.c_str(), r->failed() ? "FAILED" : "ok", r->report.summary().c_str());
  if (!r->failed() || !r->report.choices_complete) {
    std::fprintf(stderr, "ringo-sim: from-fuzz %s: %s; nothing written\n", in_path.c_str(),
                 r->failed() ? "the run made too many choices to record" : "the input's run does not fail");
    return kNothingToShrink;
  }
  const std::string out_path = a.get("out", in_path + ".failure");
  std::ofstream out;
  if (!open_output("the failure to", out_path, out)) return kUnwritten;
  o.wrap_choices = o.record_choices = false;
  o.choices = trimmed_choices(choice_values(r->report.choices));
  write_failure(out, *in.scenario, o, {"from fuzz input " + in_path, r->why});
  if (!close_output("the failure to", out_path, out)) return kUnwritten;
  std::printf("  %s\n  wrote %s\n  replay: %s replay %s\n", r->why.c_str(), out_path.c_str(), program,
              out_path.c_str());
  return kPassed;
}

int dispatch(const Args& a, const char* program) {
  if (const std::string f = a.get("trace-format", "chrome"); f != "chrome" && f != "jsonl" && f != "html") {
    return usage("unknown --trace-format " + f + " (jsonl, chrome or html)");
  }
  if (a.command == "list") {
    for (const Scenario* s : scenarios()) {
      if (s->hosts > 0) {
        std::printf("%-28s %u hosts x %u shards  %s\n", s->name.c_str(), s->hosts, s->shards, s->description.c_str());
      } else {
        std::printf("%-28s %u shards  %s\n", s->name.c_str(), s->shards, s->description.c_str());
      }
    }
    return kPassed;
  }
  if (a.command == "replay") return replay(a, program);
  if (a.command == "shrink") return shrink_command(a, program);
  if (a.command == "from-fuzz") return from_fuzz(a, program);
  const Scenario* s = find_scenario(a.get("scenario"));
  if (s == nullptr) return usage("unknown --scenario \"" + a.get("scenario") + "\" (see `list`)");
  RunOptions o;
  if (std::string e = options_from(a, o); !e.empty()) return usage(e);
  if (s->hosts > 0 && o.strategy != Strategy::random) return usage("a cluster scenario runs the random strategy only");
  if (a.command == "explore") return explore(a, *s, o, program);
  if (!parse_u64(a.get("seed", "1"), o.seed)) {
    return usage("bad --seed \"" + a.get("seed") + "\": want a whole number below 2^64");
  }
  return run_one(a, *s, o, replay_command(program, *s, o));
}

}  // namespace

int ringo_sim_main(int argc, char** argv) {
  Args a;
  if (std::string e = parse(argc, argv, a); !e.empty()) return usage(e);
  int status = dispatch(a, argc > 0 ? argv[0] : "ringo-sim");
  // Results that never reached stdout (a full disk, a closed pipe) are no results.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "ringo-sim: writing to stdout failed\n");
    status = kUnwritten;
  }
  return status;
}

}  // namespace ringo::sim
