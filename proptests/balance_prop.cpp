// Properties of work requesting over random programs in the simulator. Main spawns
// balanced (spawn) and pinned (go) routines of random shapes from shard 0, aborts some at
// random moments, and joins them all:
//  - no routine is lost or run twice: each body starts at most once, and exactly once
//    unless it was aborted; every join returns the routine's own value or, if aborted,
//    errc::cancelled;
//  - a routine never changes shards once it has started, and pinned ones never move;
//  - what was given was received, and nothing is left at the end;
//  - the same seed gives the same trace (the balancing decisions included).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

enum class Step : uint8_t { yield, sleep, nop };

struct RoutinePlan {
  bool balanced;
  bool abort;            // main aborts it (after abort_after_us)
  uint16_t abort_after;  // µs of main's virtual time before the abort
  std::vector<Step> steps;
};

struct Program {
  uint32_t shards;
  std::vector<RoutinePlan> routines;
};

struct Record {
  int starts = 0;
  int32_t shard = -1;
  bool moved_while_running = false;
};

Task<int> run_plan(const RoutinePlan* plan, int id, Record* rec) {
  ++rec->starts;
  rec->shard = static_cast<int32_t>(current_shard()->index());
  for (const Step s : plan->steps) {
    if (s == Step::yield) co_await yield_now();
    if (s == Step::sleep) (void)co_await sleep(std::chrono::microseconds(1 + id % 7));
    if (s == Step::nop) co_await nop();
    if (static_cast<int32_t>(current_shard()->index()) != rec->shard) rec->moved_while_running = true;
  }
  co_return id;
}

Task<void> run_program(const Program* p, std::vector<Record>* recs, std::vector<Result<int>>* joined) {
  std::vector<JoinHandle<int>> hs;
  for (size_t i = 0; i < p->routines.size(); ++i) {
    auto task = run_plan(&p->routines[i], static_cast<int>(i), &(*recs)[i]);
    hs.push_back(p->routines[i].balanced ? spawn(std::move(task)) : go(std::move(task)));
  }
  // Aborts in the order of their delays, each after its own virtual moment.
  for (uint16_t t = 0; t <= 20; ++t) {
    for (size_t i = 0; i < hs.size(); ++i) {
      if (p->routines[i].abort && p->routines[i].abort_after % 21 == t) (void)hs[i].abort();
    }
    co_await sleep(std::chrono::microseconds(1));
  }
  for (auto& h : hs) {
    auto r = co_await h.join();
    joined->push_back(std::move(r));
  }
}

rc::Gen<Program> gen_program() {
  return rc::gen::mapcat(rc::gen::inRange<uint32_t>(2, 5), [](uint32_t shards) {
    auto plan = rc::gen::build<RoutinePlan>(
        rc::gen::set(&RoutinePlan::balanced, rc::gen::weightedElement<bool>({{4, true}, {1, false}})),
        rc::gen::set(&RoutinePlan::abort, rc::gen::weightedElement<bool>({{1, true}, {4, false}})),
        rc::gen::set(&RoutinePlan::abort_after, rc::gen::arbitrary<uint16_t>()),
        rc::gen::set(&RoutinePlan::steps,
                     rc::gen::container<std::vector<Step>>(rc::gen::element(Step::yield, Step::sleep, Step::nop))));
    return rc::gen::build<Program>(
        rc::gen::set(&Program::shards, rc::gen::just(shards)),
        rc::gen::set(&Program::routines, rc::gen::resize(80, rc::gen::container<std::vector<RoutinePlan>>(plan))));
  });
}

struct Outcome {
  sim::Report report;
  std::vector<Record> records;
  std::vector<Result<int>> joined;
};

Outcome run_once(const Program& program, const sim::SimConfig& config) {
  Outcome out;
  out.records.resize(program.routines.size());
  out.report = sim::run(config, [&] { return run_program(&program, &out.records, &out.joined); });
  return out;
}

RC_GTEST_PROP(Balance, NoRoutineLostRunTwiceOrMovedWhileRunning, ()) {
  const Program program = *gen_program();
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = program.shards;
  config.buggify_ppm = *rc::gen::element<uint32_t>(0, 20000);
  const Outcome a = run_once(program, config);
  RC_LOG() << a.report.summary() << " replay: " << a.report.replay_hint() << "\n";
  RC_ASSERT(a.report.ok());
  RC_ASSERT(a.joined.size() == program.routines.size());
  for (size_t i = 0; i < program.routines.size(); ++i) {
    const RoutinePlan& plan = program.routines[i];
    const Record& rec = a.records[i];
    RC_ASSERT(rec.starts <= 1);
    RC_ASSERT(!rec.moved_while_running);
    if (!plan.balanced && rec.starts == 1) RC_ASSERT(rec.shard == 0);
    if (a.joined[i].has_value()) {
      RC_ASSERT(*a.joined[i] == static_cast<int>(i));
      RC_ASSERT(rec.starts == 1);
    } else {
      RC_ASSERT(plan.abort);
      RC_ASSERT(a.joined[i].error() == errc::cancelled);
    }
    if (!plan.abort) RC_ASSERT(rec.starts == 1);
  }
  const ShardStats& s = a.report.stats;
  RC_ASSERT(s.routines_given == s.routines_received);
  RC_ASSERT(s.routines_live == 0u);
  RC_ASSERT(s.routines_spawned == s.routines_finished);
  RC_TAG(s.routines_given > 0 ? "some moved" : "none moved");

  const Outcome b = run_once(program, config);
  RC_ASSERT(a.report.trace_hash == b.report.trace_hash);
}

// A skewed spawner does not starve anyone: with balanced work queued on shard 0, every
// other shard ends up running some of it.
RC_GTEST_PROP(Balance, EveryShardGetsSomeOfASkewedSpawnersWork, ()) {
  Program program;
  program.shards = *rc::gen::inRange<uint32_t>(2, 5);
  program.routines.assign(400, RoutinePlan{true, false, 0, {Step::yield, Step::nop, Step::yield}});
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = program.shards;
  const Outcome a = run_once(program, config);
  RC_ASSERT(a.report.ok());
  std::vector<int> per_shard(program.shards, 0);
  for (const Record& r : a.records) ++per_shard[static_cast<size_t>(r.shard)];
  for (uint32_t i = 0; i < program.shards; ++i) RC_ASSERT(per_shard[i] > 0);
}

}  // namespace
}  // namespace ringo
