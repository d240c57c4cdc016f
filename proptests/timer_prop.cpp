// Properties of timers, the heap alone and as routines see it:
//  - TimerHeap against a model (a sorted set): after any mix of inserts, cancels and pops,
//    pop returns the earliest timer (its instant, then its tie-break key), every linked
//    node knows its slot, and cancel of an unlinked node changes nothing;
//  - sleeps in the simulator, dozens at once on one shard with some of them aborted at
//    random instants: every sleep that was not aborted wakes exactly at its deadline in
//    virtual time (not early, and not late), and every aborted one reports cancelled (or
//    never started).
// The timing tests elsewhere keep at most three timers at once and check "not early"; a
// heap that misorders a few of dozens (a sift to the wrong child, a cancel that only
// sifts down) fires timers late, which only these properties see.
// Failures print the seed (RINGO_SEED=<n> replays the run).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "ringo/internal/core/timer_heap.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the heap itself
namespace {

// ---------------------------------------------------------------- the heap

enum class HeapOp : uint8_t { insert, cancel, pop };

// The model's order: the heap's (instant, tie-break), then the node's index, which only
// separates equal keys (the heap may pop either of two equal ones).
using ModelKey = std::tuple<int64_t, uint64_t, size_t>;

RC_GTEST_PROP(TimerHeapModel, PopsTheEarliestAfterAnyInsertsCancelsAndPops, ()) {
  // A heap of a few dozen first (deep enough that a cancel moves a node across subtrees),
  // then any mix.
  std::vector<HeapOp> ops(*rc::gen::inRange<size_t>(4, 40), HeapOp::insert);
  const auto mix = *rc::gen::container<std::vector<HeapOp>>(
      rc::gen::weightedElement<HeapOp>({{4, HeapOp::insert}, {3, HeapOp::cancel}, {2, HeapOp::pop}}));
  ops.insert(ops.end(), mix.begin(), mix.end());
  std::vector<std::unique_ptr<TimerNode>> nodes;
  std::set<ModelKey> model;
  TimerHeap heap;
  const auto key = [&](size_t i) { return ModelKey{nodes[i]->when.count(), nodes[i]->tiebreak, i}; };
  for (HeapOp op : ops) {
    if (op == HeapOp::insert) {
      auto node = std::make_unique<TimerNode>();
      node->when = Instant{*rc::gen::inRange<int64_t>(0, 64)};  // a small range: many ties
      node->tiebreak = *rc::gen::inRange<uint64_t>(0, 4);
      nodes.push_back(std::move(node));
      heap.insert(nodes.back().get());
      model.insert(key(nodes.size() - 1));
    } else if (op == HeapOp::cancel && !nodes.empty()) {
      // Mostly a node still in the heap (a cancel that moves another into its slot), at
      // times one that fired or was cancelled already (a no-op).
      std::vector<size_t> linked;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i]->linked()) linked.push_back(i);
      }
      const bool any = linked.empty() || *rc::gen::weightedElement<bool>({{4, false}, {1, true}});
      const size_t i = any ? *rc::gen::inRange<size_t>(0, nodes.size()) : *rc::gen::elementOf(linked);
      const bool was_linked = nodes[i]->linked();
      heap.cancel(nodes[i].get());  // a no-op when it already fired or was cancelled
      RC_ASSERT(!nodes[i]->linked());
      RC_ASSERT(model.erase(key(i)) == (was_linked ? 1u : 0u));
    } else if (op == HeapOp::pop) {
      TimerNode* got = heap.pop();
      if (model.empty()) {
        RC_ASSERT(got == nullptr);
        continue;
      }
      RC_ASSERT(got != nullptr);
      const auto [when, tiebreak, index] = *model.begin();
      RC_ASSERT(got->when.count() == when);
      RC_ASSERT(got->tiebreak == tiebreak);
      RC_ASSERT(!got->linked());
      size_t popped = 0;  // the node it returned (equal keys: any of them)
      while (nodes[popped].get() != got) ++popped;
      RC_ASSERT(model.erase(key(popped)) == 1u);
      (void)index;
    }
    RC_ASSERT(heap.size() == model.size());
    RC_ASSERT(heap.next_deadline() == (model.empty() ? kNoDeadline : Instant{std::get<0>(*model.begin())}));
  }
}

// ---------------------------------------------------------------- sleeps

struct SleepOutcome {
  Duration asked{0};
  Duration took{-1};
  bool aborted = false;  // the sleeper was aborted (decided before the run)
  bool started = false;  // an abort before its first step ends it unstarted
  bool cancelled = false;
};

Task<void> sleeper(SleepOutcome* out) {
  out->started = true;
  const Instant t0 = current_shard()->now();
  auto slept = co_await sleep(out->asked);
  out->cancelled = !slept && slept.error() == errc::cancelled;
  if (slept) out->took = current_shard()->now() - t0;
}

RC_GTEST_PROP(SleepTiming, EverySleepThatWasNotAbortedWakesExactlyAtItsDeadline, ()) {
  const size_t count = *rc::gen::inRange<size_t>(1, 48);
  std::vector<SleepOutcome> outcomes(count);
  std::vector<Duration> abort_at(count, Duration{-1});
  for (size_t i = 0; i < count; ++i) {
    outcomes[i].asked = std::chrono::microseconds(*rc::gen::inRange(0, 400));
    outcomes[i].aborted = *rc::gen::weightedElement<bool>({{3, false}, {1, true}});
    if (outcomes[i].aborted) abort_at[i] = std::chrono::microseconds(*rc::gen::inRange(0, 400));
  }
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = 1;
  auto report = sim::run(config, [&]() -> Task<void> {
    std::vector<JoinHandle<void>> handles;
    for (auto& o : outcomes) handles.push_back(go(sleeper(&o)));
    // Aborts in the order of their instants, each at its own (virtual) time.
    std::vector<size_t> order;
    for (size_t i = 0; i < count; ++i) {
      if (outcomes[i].aborted) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return abort_at[a] < abort_at[b]; });
    const Instant t0 = current_shard()->now();
    for (size_t i : order) {
      const Duration wait = t0 + abort_at[i] - current_shard()->now();
      if (wait > Duration{0}) co_await sleep(wait);
      (void)handles[i].abort();  // a sleeper that woke already has nothing to abort
    }
    for (auto& h : handles) (void)co_await h.join();
  });
  RC_LOG() << report.summary() << " " << report.replay_hint() << "\n";
  RC_ASSERT(report.ok());
  for (const SleepOutcome& o : outcomes) {
    if (o.took >= Duration{0}) {
      RC_ASSERT(o.took == o.asked);  // one shard, its own timers: exactly at the deadline
    } else {
      RC_ASSERT(o.aborted);  // only an abort ends a sleep without its deadline
      RC_ASSERT(o.cancelled || !o.started);
    }
  }
}

}  // namespace
}  // namespace ringo
