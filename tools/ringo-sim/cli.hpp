// The ringo-sim command line over the scenarios registered in this binary
// (see ringo/sim/scenario.hpp):
//
//   list
//   run --scenario S --seed N [--faults none|light|heavy|swarm] [--strategy random|pct]
//       [--depth D] [--buggify PPM] [--trace FILE] [--trace-format jsonl|chrome|html] [--check-determinism]
//   explore --scenario S --seeds A..B [--faults F] [--strategy S] [--depth D] [--buggify PPM]
//       [--time-budget SECONDS] [--stop-after N] [--save DIR] [--corpus DIR [--corpus-all]] [--check-determinism]
//   replay FILE [--trace FILE] [--trace-format jsonl|chrome|html] [--check-determinism]
//   shrink FILE [--out FILE] [--trace FILE] [--trace-format jsonl|chrome|html] [--max-runs N]
//   from-fuzz INPUT [--out FILE]
//
// --trace-format html writes the offline timeline page (timeline_html.hpp).
//
// FILE is a failure file (failure_file.hpp); shrink writes the smaller one to --out
// (default: NAME.shrunk.failure for NAME.failure) and searches for at most --max-runs
// runs (default 2000; shrink.hpp).
//
// explore --corpus DIR writes each failing seed's run (with --corpus-all every seed's) as
// a fuzz_scenario input (scenario_input.hpp) named by its SHA-1, as libFuzzer names corpus
// files. from-fuzz turns such an input (a crash the fuzzer saved) into a failure file,
// --out (default INPUT.failure), that replay and shrink take.
//
// Numbers (seeds included) are decimal or 0x-hex, whole, without sign or leading zero. An
// unknown command or flag, a flag without its value, a stray argument or a malformed
// number is bad usage: nothing runs.
//
// Exit status: 0 when every run passed, 1 when a run failed (or a determinism check
// found a divergence), 2 for bad usage, 3 when an output could not be written (--trace,
// --save, stdout; checked after closing, and before running where it can be: a path that
// cannot be opened, a --save that is not a writable directory). 3 wins over 1: the
// failing seeds are still printed. shrink: 0 when it wrote the shrunk file (the failure
// reproduced), 4 when there is nothing to shrink (the file's run does not fail, or makes
// more choices than can be recorded), 2 and 3 as above. from-fuzz: 0 when it wrote the
// failure file, 4 when the input's run does not fail (nothing written), 2 for an input
// that is no fuzz_scenario input (empty, an unknown scenario, a bad header), 3 as above.
#pragma once

namespace ringo::sim {

int ringo_sim_main(int argc, char** argv);

}  // namespace ringo::sim
