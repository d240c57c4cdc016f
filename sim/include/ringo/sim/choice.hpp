// Choice sequences: every decision a simulated run makes, in order, as a value below its
// bound, 0 being the simplest option (no fault, no extra delay, no context switch, the
// oldest due completion). A run records its sequence when SimConfig::record_choices is
// set and replays one given in SimConfig::replay_choices; ringo-sim shrink edits them
// (docs/simulation.md, "Shrinking").
//
// Text form (the `choices=` line of a failure file): comma-separated tokens, each either a
// value in lowercase hex without prefix ("1", "f4240") or a run of zeros, "z" and its
// length in decimal ("z17" is seventeen zeros). "" is the empty sequence.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringo/error.hpp"

namespace ringo::sim {

// What a decision decides. Faults (a fault knob firing, buggify, a cluster nemesis's
// event) are marked so that the shrinker can remove them one at a time before anything
// else: fewer faults is the first thing a reader of a shrunk failure wants.
enum class ChoiceKind : uint8_t { schedule, fault };

// One decision: the value taken, below the number of options it had.
struct Choice {
  uint64_t value = 0;
  uint64_t bound = 0;
  ChoiceKind kind = ChoiceKind::schedule;
  bool operator==(const Choice&) const = default;
};

std::string encode_choices(const std::vector<uint64_t>& values);
// Errors: errc::invalid_argument for any token that is not hex or z<decimal>, an empty
// token, a value above 2^64 - 1, or a sequence longer than max_values.
Result<std::vector<uint64_t>> decode_choices(std::string_view text, size_t max_values);

std::vector<uint64_t> choice_values(const std::vector<Choice>& choices);

}  // namespace ringo::sim
