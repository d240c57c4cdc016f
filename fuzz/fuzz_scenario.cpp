// fuzz_scenario: input bytes are a ringo-sim scenario run (tools/ringo-sim/scenario_input.hpp:
// scenario name, faults, seed, strategy, then the choice sequence the simulator replays,
// each value read modulo its decision's bound, 0 past the end). A finding is the
// scenario's check failing or the simulator reporting a deadlock, livelock or panic, or
// a crash or sanitizer report.
//
// It fuzzes the scenarios that must never fail (ringo-sim's own and the cluster's
// election): a failure there is a real bug. The catalogue's planted bugs fail by design,
// so their inputs are rejected (return -1: not kept) unless RINGO_FUZZ_PLANTED=1, which
// scripts/fuzz.sh sets to check that the target finds such a failure from its corpus
// entry. Input that is no scenario run (an unknown scenario, a bad header) is rejected.
//
// It runs small runs only (the size byte says small: ScenarioSize::small, the scenarios'
// short forms), so one input is a few hundred to a few thousand simulated steps; an input
// of a full run is rejected (docs/fuzzing.md, "fuzz_scenario": a full election run is
// 14,000 steps, 10 inputs a second).
#include <cstdio>
#include <cstdlib>

#include "fuzz_fingerprint.hpp"
#include "scenario_input.hpp"

namespace {

bool planted_on() {
  static const bool on = [] {
    const char* v = std::getenv("RINGO_FUZZ_PLANTED");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return on;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringo::sim::ScenarioInput in;
  if (!ringo::sim::decode_scenario_input({data, size}, in).empty()) return -1;
  if (in.options.size != ringo::sim::ScenarioSize::small) return -1;
  if (ringo::sim::planted_bug(in.scenario->name) && !planted_on()) return -1;
  in.options.wrap_choices = true;
  auto r = ringo::sim::run_scenario(*in.scenario, in.options);
  if (!r) return -1;
  ringo::fuzz::print_fingerprint("fuzz_scenario", r->report, r->failed());
  if (r->failed()) {
    std::fprintf(stderr,
                 "fuzz_scenario: scenario %s FAILED (seed=%llu faults=%s): %s\n%s\n"
                 "turn the input into a failure file: ringo-sim from-fuzz INPUT (then replay, shrink)\n",
                 in.scenario->name.c_str(), static_cast<unsigned long long>(in.options.seed), in.options.faults.c_str(),
                 r->why.c_str(), r->report.summary().c_str());
    std::abort();
  }
  return 0;
}
