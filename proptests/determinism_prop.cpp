// Properties over random multi-shard programs run in the simulator:
//  - determinism: the same program under the same seed gives the same trace hash;
//  - completion: every spawned routine is joined exactly once with its own value;
//  - no leaks: at the end no routine, op or timer is left.
// On failure rapidcheck prints its own replay line and the report prints RINGO_SEED=<n>.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

enum class Step : uint8_t { nop, sleep, yield, call_other, deadline_op };

struct RoutinePlan {
  uint32_t shard;
  std::vector<Step> steps;
  std::vector<uint16_t> args;
};

struct Program {
  uint32_t shards;
  std::vector<RoutinePlan> routines;
};

Task<int> run_plan(const RoutinePlan* plan, int id) {
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const uint16_t arg = plan->args[i];
    switch (plan->steps[i]) {
      case Step::nop: co_await nop(); break;
      case Step::sleep: co_await sleep(std::chrono::microseconds(arg % 500)); break;
      case Step::yield: co_await yield_now(); break;
      case Step::call_other: {
        const uint32_t target = arg % current_shard()->group().size();
        auto r = co_await submit_to(target, [arg] { return static_cast<int>(arg); });
        if (!r || *r != arg) co_return -1;
        break;
      }
      case Step::deadline_op: {
        Sqe t;
        t.opcode = Opcode::timeout;
        t.off = static_cast<uint64_t>(Duration(std::chrono::microseconds(arg % 300)).count());
        const Instant deadline = current_shard()->now() + std::chrono::microseconds(150);
        auto r = co_await submit(t, deadline);
        // Either the timeout fired first (its own -ETIME) or the deadline won.
        if (r || (r.error() != errc::timed_out && r.error() != std::errc::stream_timeout)) co_return -1;
        break;
      }
    }
  }
  co_return id;
}

Task<void> run_program(const Program* p, std::vector<int>* joined) {
  std::vector<JoinHandle<int>> hs;
  for (size_t i = 0; i < p->routines.size(); ++i) {
    hs.push_back(spawn_on(p->routines[i].shard, run_plan(&p->routines[i], static_cast<int>(i))));
  }
  for (auto& h : hs) joined->push_back((co_await h.join()).value_or(-2));
}

rc::Gen<Program> gen_program() {
  return rc::gen::mapcat(rc::gen::inRange<uint32_t>(1, 4), [](uint32_t shards) {
    auto plan = rc::gen::mapcat(rc::gen::inRange<size_t>(0, 12), [shards](size_t n) {
      return rc::gen::build<RoutinePlan>(
          rc::gen::set(&RoutinePlan::shard, rc::gen::inRange<uint32_t>(0, shards)),
          rc::gen::set(&RoutinePlan::steps,
                       rc::gen::container<std::vector<Step>>(n, rc::gen::element(Step::nop, Step::sleep, Step::yield,
                                                                                 Step::call_other, Step::deadline_op))),
          rc::gen::set(&RoutinePlan::args,
                       rc::gen::container<std::vector<uint16_t>>(n, rc::gen::arbitrary<uint16_t>())));
    });
    return rc::gen::build<Program>(
        rc::gen::set(&Program::shards, rc::gen::just(shards)),
        rc::gen::set(&Program::routines, rc::gen::container<std::vector<RoutinePlan>>(plan)));
  });
}

RC_GTEST_PROP(Determinism, SameSeedSameTraceAndEveryRoutineJoinedOnce, ()) {
  const Program program = *gen_program();
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const bool faulty = *rc::gen::arbitrary<bool>();
  sim::SimConfig config;
  config.seed = seed;
  config.shards = program.shards;
  config.faults = faulty ? sim::FaultConfig::swarm(seed) : sim::FaultConfig::none();

  std::vector<int> first, second;
  auto r1 = sim::run(config, [&] { return run_program(&program, &first); });
  auto r2 = sim::run(config, [&] { return run_program(&program, &second); });
  RC_LOG() << r1.summary() << " replay: " << r1.replay_hint() << "\n";
  RC_ASSERT(r1.ok());
  RC_ASSERT(r1.trace_hash == r2.trace_hash);
  RC_ASSERT(first == second);
  RC_ASSERT(first.size() == program.routines.size());
  for (size_t i = 0; i < first.size(); ++i) RC_ASSERT(first[i] == static_cast<int>(i));
  RC_ASSERT(r1.stats.routines_live == 0u);
  RC_ASSERT(r1.stats.routines_spawned == r1.stats.routines_finished);
}

}  // namespace
}  // namespace ringo
