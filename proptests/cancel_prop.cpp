// Cancellation storms on the simulator: random multi-shard programs of sleeps, kernel ops
// (some with deadlines), channel waits, selects, cross-shard calls, scopes and aborts.
// At the end: no live routine, op or timer on any shard, and no op left running in the
// simulated kernel; every join returned exactly once; every value that a receive took was
// counted. Plus: a deadline never reports timed_out before it is due, and an aborted
// routine's kernel op that only a cancel can end (a 1 h TIMEOUT) ends by cancellation
// once the abort settles, not by running its hour.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "rc_sim.hpp"
#include "storm.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using storm::Act;

rc::Gen<storm::Worker> gen_worker(uint32_t shards) {
  return rc::gen::mapcat(rc::gen::inRange<size_t>(0, 10), [shards](size_t n) {
    return rc::gen::build<storm::Worker>(
        rc::gen::set(&storm::Worker::shard, rc::gen::inRange<uint32_t>(0, shards)),
        rc::gen::set(&storm::Worker::acts,
                     rc::gen::container<std::vector<Act>>(
                         n, rc::gen::element(Act::sleep, Act::kernel_op, Act::deadline_op, Act::recv, Act::select,
                                             Act::call, Act::scope, Act::timeout_recv, Act::spawn_abort, Act::send,
                                             Act::select_default, Act::select_shards))),
        rc::gen::set(&storm::Worker::args,
                     rc::gen::container<std::vector<uint16_t>>(n, rc::gen::arbitrary<uint16_t>())),
        rc::gen::set(&storm::Worker::abort_after_us, rc::gen::element(-1, 0, 3, 40, 150)));
  });
}

RC_GTEST_PROP(CancellationStorm, NothingLeftBehindAndEveryJoinResolvedOnce, ()) {
  storm::Program p;
  p.shards = *rc::gen::inRange<uint32_t>(1, 4);
  p.workers = *rc::gen::container<std::vector<storm::Worker>>(gen_worker(p.shards));
  p.values = *rc::gen::inRange(0, 20);
  p.capacity = *rc::gen::element<size_t>(0, 1, 2, 8);
  p.seed = *rc::gen::arbitrary<uint64_t>();
  p.swarm_faults = *rc::gen::arbitrary<bool>();
  const storm::Outcome out = storm::run(p);
  sim::rc_log_run(out.report);
  RC_CLASSIFY(out.report.stats.ops_cancelled_before_submit > 0, "cancel: before submit");
  RC_CLASSIFY(out.report.stats.ops_cancelled_by_kernel > 0, "cancel: by kernel");
  RC_CLASSIFY(out.report.stats.ops_completed_despite_cancel > 0, "cancel: completed anyway");
  RC_CLASSIFY(out.report.stats.deadline_expiries > 0, "op deadline expired");
  RC_CLASSIFY(out.counters.long_ops_cancelled > 0, "an op only a cancel can end was cancelled");
  RC_ASSERT(out.violation == "");
}

}  // namespace
}  // namespace ringo
