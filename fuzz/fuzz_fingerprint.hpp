// RINGO_FUZZ_TRACE set: every input prints its run's fingerprint (trace hash, events,
// steps, virtual time, and whether an invariant broke) on stdout. scripts/fuzz.sh uses it
// to check that an input replays the same in a fresh process and in one that ran other
// inputs first: nothing a target keeps between inputs may change a run.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "ringo/sim/simulation.hpp"

namespace ringo::fuzz {

inline void print_fingerprint(const char* target, const sim::Report& r, bool broken) {
  static const bool on = std::getenv("RINGO_FUZZ_TRACE") != nullptr;
  if (!on) return;
  std::printf("%s trace=%016llx events=%llu steps=%llu vtime=%lld %s\n", target,
              static_cast<unsigned long long>(r.trace_hash), static_cast<unsigned long long>(r.trace_events),
              static_cast<unsigned long long>(r.steps), static_cast<long long>(r.virtual_time.count()),
              broken ? "broken" : "ok");
  std::fflush(stdout);
}

}  // namespace ringo::fuzz
