// rapidcheck helpers for properties over simulated runs. On failure rapidcheck prints the
// logged lines for the shrunk case: the run's summary and the RINGO_SEED that replays it.
//
//   RC_GTEST_PROP(My, Property, ()) {
//     sim::Report r = sim::run(config, main);
//     ringo::sim::rc_require_ok(r);     // logs "seed=... replay: RINGO_SEED=..." and asserts
//   }
#pragma once

#include <rapidcheck.h>

#include "ringo/sim/simulation.hpp"

namespace ringo::sim {

// Logs the report (summary, replay hint, message) for the current case.
inline void rc_log_run(const Report& r) {
  RC_LOG() << r.summary() << "\n  replay: " << r.replay_hint() << "\n" << r.message << "\n";
}

// Logs the report and fails the case unless the run succeeded.
inline void rc_require_ok(const Report& r) {
  rc_log_run(r);
  RC_ASSERT(r.ok());
}

}  // namespace ringo::sim
