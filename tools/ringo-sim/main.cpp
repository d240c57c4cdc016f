// ringo-sim with ringo's own scenarios (tools/ringo-sim/scenarios.cpp) and the bug
// catalogue (examples/buggy/buggy.cpp). Your test binary gets the same command line by
// registering scenarios and calling ringo_sim_main.
#include "cli.hpp"

int main(int argc, char** argv) { return ringo::sim::ringo_sim_main(argc, argv); }
