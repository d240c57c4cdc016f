// Failure files: what `ringo-sim explore --save` and `ringo-sim shrink` write and
// `ringo-sim replay` / `shrink` read. Text, one key=value per line, '#' lines are notes:
//
//   scenario=lost_wakeup
//   seed=7
//   faults=none
//   strategy=pct
//   depth=3
//   buggify=0
//   size=small                  (only for a small run: ringo/sim/scenario.hpp, ScenarioSize)
//   choices=z2,1,3e8,z40,1      (optional: the run's choice sequence, ringo/sim/choice.hpp)
//   # the failure, as the run reported it
//
// With a choices line the run takes its decisions from the sequence (the seed still seeds
// what is not a choice: the shards' own PRNGs and swarm fault rates); without one, from
// the seed alone, as files written before choice sequences existed.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "ringo/sim/scenario.hpp"

namespace ringo::sim {

// A sequence as a file holds it: trailing zeros dropped (a replay reads 0 past the end).
std::vector<uint64_t> trimmed_choices(std::vector<uint64_t> values);

// Writes the file's lines: the options, o.choices when set, and `notes` as '#' lines.
void write_failure(std::ostream& out, const Scenario& s, const RunOptions& o, const std::vector<std::string>& notes);

// Fills `lines` with the file's key=value lines (blank lines and notes skipped: lines that
// start with '#', or with a space or tab, as the rest of a multi-line note in older files). Returns ""
// or what is wrong: the file cannot be read, a line is neither a note nor key=value, a key
// is given twice.
std::string read_failure(const std::string& path, std::map<std::string, std::string>& lines);

}  // namespace ringo::sim
