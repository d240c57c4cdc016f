// Choice-sequence shrinking (docs/simulation.md, "Shrinking"): given a failing run, find a
// shorter, simpler choice sequence whose run fails the same way.
//
// "The same way" (failure_signature): the same kind of failure (the scenario's check
// failed, the scenario returned an error, or the simulator ended the run: deadlock,
// livelock, panic) with the same first line of its message once every run of digits is
// replaced by '#' (the simulator's first line names which of its ends it was). A deadlock whose blocked routines
// differ, or a check whose numbers differ ("sent 4, accounted 3" vs "... 2"), is the same
// failure; a check with other words, or a deadlock turned livelock, is not.
//
// "Smaller" (shortlex): a shorter sequence (trailing zeros dropped), or as long and less at
// the first value that differs. A candidate is kept only when its run fails the same way
// and the sequence that run actually used (normalised by the replay: out-of-range values
// read as 0) is smaller than the best so far, so every kept step makes progress and the
// search ends.
//
// Passes, repeated until one whole round changes nothing or the run budget is spent: cut
// the tail (the shortest failing prefix, by binary search), delete chunks of 8, 4, 2, 1
// values (from the end first), zero chunks of the same sizes, minimise each value (0
// first, then binary search between 0 and the value), and swap adjacent values that are
// out of order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringo/sim/scenario.hpp"

namespace ringo::sim {

// The kind and normalised first line of a failed run's failure; "" for a run that passed.
std::string failure_signature(const ScenarioResult& r);

// Sizes of one run, for the before/after lines.
struct RunSize {
  size_t choices = 0;  // the sequence's length, trailing zeros dropped
  size_t nonzero = 0;
  uint64_t faults = 0;
  uint64_t context_switches = 0;
  uint64_t preemptions = 0;
  uint64_t trace_events = 0;
};
RunSize run_size(const std::vector<uint64_t>& sequence, const Report& report);

struct ShrinkLimits {
  // Scenario runs the search may spend, the start's run included (one more run confirms
  // the result and keeps its trace).
  uint64_t max_runs = 2000;
};

struct Shrunk {
  RunOptions options;  // the start's, with the shrunk sequence in `choices`
  std::string signature;
  RunSize before, after;
  uint64_t runs = 0;          // the search's, the start's run included
  bool budget_spent = false;  // stopped by max_runs, not at a fixed point
  ScenarioResult result;      // the shrunk run (its trace kept when the start asked)
};

// Shrinks the run `start` describes (from its seed, or from start.choices). Returns "" and
// fills out, or what went wrong: the run does not fail, or it makes more choices than can
// be recorded.
std::string shrink(const Scenario& s, const RunOptions& start, const ShrinkLimits& limits, Shrunk& out);

}  // namespace ringo::sim
