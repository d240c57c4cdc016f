// fuzz_program: input bytes decode to a cancellation-storm program (tests/support/storm.hpp:
// workers on up to 3 shards doing sleeps, kernel ops with deadlines, channel sends,
// receives and selects with timeouts and defaults, cross-shard calls, scopes, aborts;
// unbuffered or buffered channel; swarm faults) run in the simulator. A finding is a
// crash, a sanitizer report, or a broken invariant: a value lost or duplicated, a join
// not resolved exactly once, a deadline early or late, a routine, op or timer left.
#include <cstdio>
#include <cstdlib>

#include "fuzz_fingerprint.hpp"
#include "fuzz_input.hpp"
#include "storm.hpp"

namespace ringo::fuzz {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

storm::Program decode(const uint8_t* data, size_t size) {
  Input in(data, size);
  storm::Program p;
  p.seed = in.take<uint16_t>();
  p.shards = 1 + in.below(3);
  p.values = static_cast<int>(in.below(20));
  static const size_t kCapacities[] = {0, 1, 2, 8};
  p.capacity = kCapacities[in.below(4)];
  p.swarm_faults = in.below(2) == 1;
  static const int kAborts[] = {-1, 0, 3, 40, 150};
  const uint32_t workers = in.below(8);
  for (uint32_t w = 0; w < workers && !in.empty(); ++w) {
    storm::Worker worker;
    worker.shard = in.below(p.shards);
    worker.abort_after_us = kAborts[in.below(5)];
    const uint32_t acts = in.below(10);
    for (uint32_t a = 0; a < acts; ++a) {
      worker.acts.push_back(static_cast<storm::Act>(in.below(static_cast<uint32_t>(storm::Act::count_))));
      worker.args.push_back(in.take<uint16_t>());
    }
    p.workers.push_back(std::move(worker));
  }
  return p;
}

}  // namespace
}  // namespace ringo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ringo::storm::Program p = ringo::fuzz::decode(data, size);
  const ringo::storm::Outcome out = ringo::storm::run(p);
  ringo::fuzz::print_fingerprint("fuzz_program", out.report, !out.violation.empty());
  if (!out.violation.empty()) {
    std::fprintf(stderr, "fuzz_program: %s\n%s\n%s\n", out.violation.c_str(), out.report.summary().c_str(),
                 out.report.message.c_str());
    std::abort();
  }
  return 0;
}
