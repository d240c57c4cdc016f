// The ringo-sim command line over the scenarios registered in this binary
// (see ringo/sim/scenario.hpp):
//
//   list
//   run --scenario S --seed N [--faults none|light|heavy|swarm] [--strategy random|pct]
//       [--depth D] [--buggify PPM] [--trace FILE] [--trace-format jsonl|chrome] [--check-determinism]
//   explore --scenario S --seeds A..B [--faults F] [--strategy S] [--depth D] [--buggify PPM]
//       [--time-budget SECONDS] [--stop-after N] [--save DIR] [--check-determinism]
//   replay FILE [--trace FILE] [--trace-format jsonl|chrome]
//
// Exit status: 0 when every run passed, 1 when a run failed (or a determinism check
// found a divergence), 2 for bad usage.
#pragma once

namespace ringo::sim {

int ringo_sim_main(int argc, char** argv);

}  // namespace ringo::sim
