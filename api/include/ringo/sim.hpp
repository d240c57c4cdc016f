// Simulator entry points for tests and tools: ringo::sim::run(SimConfig, main) -> Report,
// FaultConfig presets, seed_from_env() for RINGO_SEED replays (parse_seed() for the syntax).
#pragma once

#include "ringo/sim/simulation.hpp"
