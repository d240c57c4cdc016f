// A scenario run as bytes: the input format of the fuzz_scenario target (fuzz/), which
// `ringo-sim explore --corpus` writes and `ringo-sim from-fuzz` reads
// (docs/fuzzing.md, "fuzz_scenario").
//
//   <scenario name> '\n'     by name, not by index: adding a scenario shifts no entry
//   <faults> '\n'            a --faults spec: none, light, heavy, swarm, with knobs
//   u8 format                2 (1: as 2 without the size byte, a full run)
//   u64 seed                 little-endian; still seeds what is not a choice
//   u8 strategy              0 random, 1 pct (not for a cluster scenario)
//   u8 depth                 PCT depth, 1..64
//   u32 buggify              ppm, 0..1,000,000, little-endian
//   u8 size                  0 full, 1 small (ScenarioSize; fuzz_scenario runs small only)
//   choices...               the choice sequence, each value as LEB128 (7 bits a byte,
//                            low first, high bit = more bytes follow), to the end
//
// Decoding is strict up to the choices (an unknown scenario or a bad field is an error,
// so the CLI can say what is wrong) and total in them: any bytes are a sequence (a value's
// bits past 64 are dropped; a last value cut short is taken as read). Past the end of the
// sequence every choice is 0, as in any replay.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ringo/sim/scenario.hpp"

namespace ringo::sim {

struct ScenarioInput {
  const Scenario* scenario = nullptr;
  RunOptions options;  // choices always set (possibly empty: all zeros)
};

// The bytes for scenario s run with options o (o.choices, when set, as the sequence).
std::string encode_scenario_input(const Scenario& s, const RunOptions& o);

// Fills out from bytes; returns "" or what is wrong: no scenario line, a scenario this
// binary does not have, a bad faults spec, a header cut short, an unknown format, strategy
// or size, a depth or buggify out of range, pct for a cluster scenario, more choices than
// ChoiceSource::kMaxRecorded.
std::string decode_scenario_input(std::span<const uint8_t> bytes, ScenarioInput& out);

// The catalogue's scenarios with a planted bug (examples/buggy, election_unsynced_vote):
// they fail by design, so fuzz_scenario runs them only when asked (RINGO_FUZZ_PLANTED=1).
bool planted_bug(std::string_view scenario_name);

}  // namespace ringo::sim
