// Choice-sequence shrinking (shrink.hpp): a Shrinker holds the best sequence so far and
// tries edits of it, each one scenario run, keeping an edit when the run fails the same
// way with a smaller sequence.
#include "shrink.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "failure_file.hpp"

namespace ringo::sim {

namespace {

// check: the scenario's check failed; returned: the scenario returned an error; run: the
// simulator ended the run (deadlock, livelock, panic: the message's first words say which).
const char* kind_of(const ScenarioResult& r) {
  if (r.check == errc::check_failed) return "check";
  if (r.check) return "returned";
  return "run";
}

// The first line, every run of digits as one '#'.
std::string without_numbers(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size() && text[i] != '\n'; ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
      out += text[i];
    } else if (out.empty() || out.back() != '#') {
      out += '#';
    }
  }
  return out;
}

bool shortlex_less(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

class Shrinker {
 public:
  Shrinker(const Scenario& s, RunOptions options, const ShrinkLimits& limits)
      : s_(s), options_(std::move(options)), limits_(limits) {}

  // The start's run; "" when it fails and its sequence was recorded whole.
  std::string start(Shrunk& out);
  void search();
  std::vector<uint64_t> best() const { return best_; }
  uint64_t runs() const noexcept { return runs_; }
  bool budget_spent() const noexcept { return runs_ >= limits_.max_runs; }

 private:
  bool attempt(std::vector<uint64_t> candidate);
  void take_best(std::vector<uint64_t> values, const std::vector<Choice>& recorded);
  bool drop_faults();
  bool cut_tail();
  bool chunk_pass(bool zero);
  bool minimise_values();
  bool minimise_value(size_t i);
  bool sort_adjacent();

  const Scenario& s_;
  RunOptions options_;
  ShrinkLimits limits_;
  std::string signature_;
  std::vector<uint64_t> best_;
  std::vector<size_t> best_faults_;  // positions in best_ of its fault choices that fire
  std::set<std::vector<uint64_t>> tried_;
  uint64_t runs_ = 0;
};

std::string Shrinker::start(Shrunk& out) {
  options_.record_choices = true;
  options_.keep_trace = false;
  auto r = run_scenario(s_, options_);
  ++runs_;
  if (!r) return "bad options";
  signature_ = failure_signature(*r);
  if (signature_.empty()) return "the run does not fail: nothing to shrink";
  if (!r->report.choices_complete) {
    return "the run makes more than " + std::to_string(detail::ChoiceSource::kMaxRecorded) +
           " choices: too long to record, so too long to shrink";
  }
  take_best(trimmed_choices(choice_values(r->report.choices)), r->report.choices);
  out.signature = signature_;
  out.before = run_size(best_, r->report);
  return "";
}

// Runs the candidate; keeps it (as the sequence its run used) when the run fails the same
// way with a smaller sequence.
bool Shrinker::attempt(std::vector<uint64_t> candidate) {
  candidate = trimmed_choices(std::move(candidate));
  if (!shortlex_less(candidate, best_) || budget_spent() || !tried_.insert(candidate).second) return false;
  ++runs_;
  options_.choices = std::move(candidate);
  auto r = run_scenario(s_, options_);
  if (!r || !r->report.choices_complete || failure_signature(*r) != signature_) return false;
  std::vector<uint64_t> used = trimmed_choices(choice_values(r->report.choices));
  if (!shortlex_less(used, best_)) return false;
  take_best(std::move(used), r->report.choices);
  return true;
}

void Shrinker::take_best(std::vector<uint64_t> values, const std::vector<Choice>& recorded) {
  best_ = std::move(values);
  best_faults_.clear();
  for (size_t i = 0; i < best_.size() && i < recorded.size(); ++i) {
    if (recorded[i].kind == ChoiceKind::fault && best_[i] != 0) best_faults_.push_back(i);
  }
}

// Each fault that fires (a fault knob, buggify, a cluster nemesis's event), zeroed one at a
// time from the first: one run per fault. Zeroing a fault's choice keeps every choice
// before it (a fault knob that no longer fires may change what follows; a nemesis plan
// entry takes the same choices either way, so there nothing shifts). This reaches a plan
// drawn at the start of the run, which the chunk passes (working from the end) may never
// reach within the budget; and fewer faults is the first thing a reader wants.
bool Shrinker::drop_faults() {
  bool progress = false;
  for (size_t n = 0; n < best_faults_.size() && !budget_spent();) {
    std::vector<uint64_t> c = best_;
    c[best_faults_[n]] = 0;
    if (attempt(std::move(c))) {
      progress = true;  // the faults before n are those of the same prefix: n is the next one
    } else {
      ++n;
    }
  }
  return progress;
}

// The shortest prefix that still fails, by binary search (a replay reads 0 past the end):
// about log2(n) runs, where deleting chunks from the end would take n / 8 at best.
bool Shrinker::cut_tail() {
  if (attempt({})) return true;
  bool progress = false;
  size_t lo = 0;  // a prefix this long does not reproduce
  while (lo + 1 < best_.size() && !budget_spent()) {
    const size_t mid = lo + (best_.size() - lo) / 2;
    if (attempt(std::vector<uint64_t>(best_.begin(), best_.begin() + static_cast<std::ptrdiff_t>(mid)))) {
      progress = true;
    } else {
      lo = mid;
    }
  }
  return progress;
}

// Chunk sizes for the chunk passes: halves, quarters... of the sequence down to 16, each
// tried at aligned positions (a step of k), then 8, 4, 2, 1 at every position. The big ones
// cost about n/8 runs in all and clear long stretches of irrelevant choices at once; the
// small ones alone would cost a run per position and size.
std::vector<std::pair<size_t, size_t>> chunk_schedule(size_t n) {
  std::vector<std::pair<size_t, size_t>> sizes;  // (chunk, step)
  size_t big = 16;
  while (big * 2 <= n / 2) big *= 2;
  for (; big >= 16 && big <= n / 2; big /= 2) sizes.emplace_back(big, big);
  for (size_t k : {size_t{8}, size_t{4}, size_t{2}, size_t{1}}) sizes.emplace_back(k, 1);
  return sizes;
}

// Chunks removed (or set to 0: zero = true, skipped where already all 0), from the end of
// the sequence toward its start.
bool Shrinker::chunk_pass(bool zero) {
  bool progress = false;
  for (const auto& [k, step] : chunk_schedule(best_.size())) {
    for (size_t i = best_.size() >= k ? (best_.size() - k) / step * step + step : 0; i >= step && !budget_spent();) {
      i -= step;
      if (i + k > best_.size()) continue;  // the sequence shrank under us
      const auto from = best_.begin() + static_cast<std::ptrdiff_t>(i);
      const auto to = from + static_cast<std::ptrdiff_t>(k);
      if (zero && std::all_of(from, to, [](uint64_t v) { return v == 0; })) continue;
      std::vector<uint64_t> c = best_;
      const auto at = c.begin() + static_cast<std::ptrdiff_t>(i);
      if (zero) {
        std::fill_n(at, k, 0);
      } else {
        c.erase(at, at + static_cast<std::ptrdiff_t>(k));
      }
      progress = attempt(std::move(c)) || progress;
    }
  }
  return progress;
}

// best_[i] toward 0: 0 itself, then a binary search for the least value that still fails
// (assumes that values below a passing one pass too: a heuristic, each step still checked).
bool Shrinker::minimise_value(size_t i) {
  std::vector<uint64_t> c = best_;
  c[i] = 0;
  if (attempt(std::move(c))) return true;
  bool progress = false;
  uint64_t lo = 0;  // known not to reproduce
  while (i < best_.size() && best_[i] > lo + 1 && !budget_spent()) {
    const uint64_t mid = lo + (best_[i] - lo) / 2;
    c = best_;
    c[i] = mid;
    if (attempt(std::move(c))) {
      progress = true;
    } else {
      lo = mid;
    }
  }
  return progress;
}

bool Shrinker::minimise_values() {
  bool progress = false;
  for (size_t i = best_.size(); i-- > 0 && !budget_spent();) {
    if (i < best_.size() && best_[i] != 0) progress = minimise_value(i) || progress;
  }
  return progress;
}

// Adjacent values out of order, swapped: the same values, lexicographically smaller.
bool Shrinker::sort_adjacent() {
  bool progress = false;
  for (size_t i = 0; i + 1 < best_.size() && !budget_spent(); ++i) {
    if (best_[i] <= best_[i + 1]) continue;
    std::vector<uint64_t> c = best_;
    std::swap(c[i], c[i + 1]);
    progress = attempt(std::move(c)) || progress;
  }
  return progress;
}

void Shrinker::search() {
  bool progress = true;
  while (progress && !budget_spent()) {
    progress = cut_tail();
    progress = drop_faults() || progress;
    progress = chunk_pass(true) || progress;   // zero first: cheap on long sequences, and
    progress = chunk_pass(false) || progress;  // deleting among zeros repeats candidates
    progress = minimise_values() || progress;
    progress = sort_adjacent() || progress;
  }
}

}  // namespace

std::string failure_signature(const ScenarioResult& r) {
  if (!r.failed()) return "";
  return std::string(kind_of(r)) + ": " + without_numbers(r.why);
}

RunSize run_size(const std::vector<uint64_t>& sequence, const Report& report) {
  RunSize s;
  s.choices = sequence.size();
  s.nonzero = static_cast<size_t>(std::count_if(sequence.begin(), sequence.end(), [](uint64_t v) { return v != 0; }));
  s.faults = report.faults_injected;
  s.context_switches = report.context_switches;
  s.preemptions = report.preemptions;
  s.trace_events = report.trace_events;
  return s;
}

std::string shrink(const Scenario& s, const RunOptions& start, const ShrinkLimits& limits, Shrunk& out) {
  Shrinker shrinker(s, start, limits);
  if (std::string e = shrinker.start(out); !e.empty()) return e;
  shrinker.search();
  // The shrunk run once more, as replay will run it (and with its trace when asked).
  out.options = start;
  out.options.choices = shrinker.best();
  out.options.record_choices = false;
  auto r = run_scenario(s, out.options);
  if (!r || failure_signature(*r) != out.signature) return "the shrunk sequence does not replay its failure (a bug)";
  out.result = std::move(*r);
  out.runs = shrinker.runs();
  out.budget_spent = shrinker.budget_spent();
  out.after = run_size(*out.options.choices, out.result.report);
  return "";
}

}  // namespace ringo::sim
