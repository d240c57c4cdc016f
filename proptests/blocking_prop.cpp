// blocking(fn) under random cancellation, in the simulator: N calls from routines on
// several shards, some aborted at random instants, through pools of random bounds and
// latencies. Every call ends in exactly one outcome (its own value, cancelled or
// queue_full), none is lost, a value comes only from a fn that ran, and the pool's books
// balance: every fn that ran was started once, every accepted call was started or dropped.
// The same program and seed replay to the same trace hash.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "rc_sim.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

struct Call {
  uint32_t shard = 0;
  int abort_after_us = -1;  // -1: never aborted
};

struct Plan {
  std::vector<Call> calls;
  uint32_t shards = 1;
  BlockingPoolConfig pool;
  Duration min_latency{0};
  Duration max_latency{0};
  uint64_t seed = 1;
};

enum class End : uint8_t { none, value, cancelled, queue_full, other };

struct Books {
  std::vector<End> ends;
  std::vector<int> runs;  // how often each call's fn ran
};

Task<Result<int>> make_call(int i, Books* books) {
  auto call = blocking([i, books] {
    ++books->runs[i];
    return i;
  });
  co_return co_await call;
}

Task<void> caller(int i, int abort_after_us, Books* books) {
  auto h = go(make_call(i, books));
  if (abort_after_us >= 0) {
    co_await sleep(std::chrono::microseconds(abort_after_us));
    (void)h.abort();
  }
  auto r = co_await h.join();
  End& end = books->ends[i];
  if (end != End::none)
    end = End::other;  // joined twice: cannot happen
  else if (r && *r == i)
    end = End::value;
  else if (!r && r.error() == errc::cancelled)
    end = End::cancelled;
  else if (!r && r.error() == errc::queue_full)
    end = End::queue_full;
  else
    end = End::other;
}

Task<void> run_plan(const Plan* plan, Books* books) {
  std::vector<JoinHandle<void>> hs;
  for (size_t i = 0; i < plan->calls.size(); ++i) {
    const Call& c = plan->calls[i];
    hs.push_back(spawn_on(c.shard, caller(static_cast<int>(i), c.abort_after_us, books)));
  }
  for (auto& h : hs) (void)co_await h.join();
}

struct Run {
  sim::Report report;
  BlockingPoolStats pool;
};

Run run(const Plan& plan, Books& books) {
  books.ends.assign(plan.calls.size(), End::none);
  books.runs.assign(plan.calls.size(), 0);
  sim::SimConfig c;
  c.seed = plan.seed;
  c.shards = plan.shards;
  c.blocking = plan.pool;
  c.faults.blocking_min_latency = plan.min_latency;
  c.faults.blocking_max_latency = plan.max_latency;
  sim::Simulation s(c);
  Run out{s.run(run_plan(&plan, &books)), {}};
  out.pool = s.blocking_stats();
  return out;
}

rc::Gen<Plan> gen_plan() {
  return rc::gen::mapcat(rc::gen::inRange<uint32_t>(1, 4), [](uint32_t shards) {
    auto call = rc::gen::build<Call>(rc::gen::set(&Call::shard, rc::gen::inRange<uint32_t>(0, shards)),
                                     rc::gen::set(&Call::abort_after_us, rc::gen::element(-1, -1, 0, 5, 20, 60, 150)));
    return rc::gen::map(rc::gen::tuple(rc::gen::container<std::vector<Call>>(call), rc::gen::inRange<uint32_t>(1, 5),
                                       rc::gen::inRange<uint32_t>(0, 6), rc::gen::inRange<int64_t>(0, 50000),
                                       rc::gen::inRange<int64_t>(0, 200000), rc::gen::arbitrary<uint64_t>()),
                        [shards](const auto& t) {
                          Plan p;
                          p.shards = shards;
                          p.calls = std::get<0>(t);
                          p.pool.max_threads = std::get<1>(t);
                          p.pool.max_queue = std::get<2>(t);
                          p.pool.idle_retire = std::chrono::microseconds(100);
                          p.min_latency = Duration{std::get<3>(t)};
                          p.max_latency = p.min_latency + Duration{std::get<4>(t)};
                          p.seed = std::get<5>(t);
                          return p;
                        });
  });
}

RC_GTEST_PROP(BlockingPool, EveryCallEndsOnceNoneLostAndTheBooksBalance, ()) {
  const Plan plan = *gen_plan();
  Books books;
  const Run r = run(plan, books);
  sim::rc_require_ok(r.report);
  size_t values = 0, cancelled = 0, refused = 0, ran = 0;
  for (size_t i = 0; i < plan.calls.size(); ++i) {
    RC_ASSERT(books.ends[i] != End::none);   // lost
    RC_ASSERT(books.ends[i] != End::other);  // a wrong value, or two ends
    RC_ASSERT(books.runs[i] <= 1);
    if (books.ends[i] == End::value) RC_ASSERT(books.runs[i] == 1);
    if (books.ends[i] == End::queue_full) RC_ASSERT(books.runs[i] == 0);
    values += books.ends[i] == End::value;
    cancelled += books.ends[i] == End::cancelled;
    refused += books.ends[i] == End::queue_full;
    ran += static_cast<size_t>(books.runs[i]);
  }
  const ShardStats& s = r.report.stats;
  RC_ASSERT(refused == r.pool.calls_rejected);
  RC_ASSERT(s.blocking_calls == plan.calls.size() - refused);
  RC_ASSERT(cancelled == s.blocking_cancelled_before_start + s.blocking_cancelled_while_running);
  RC_ASSERT(ran == r.pool.calls_started);
  RC_ASSERT(r.pool.calls_accepted == r.pool.calls_started + r.pool.calls_dropped + r.report.blocking_unstarted);
  RC_ASSERT(r.report.blocking_unstarted == 0u);  // every routine was joined: nothing left queued
  RC_ASSERT(s.routines_live == 0u);
  RC_CLASSIFY(s.blocking_cancelled_before_start > 0, "cancelled before start");
  RC_CLASSIFY(s.blocking_cancelled_while_running > 0, "cancelled while running");
  RC_CLASSIFY(s.blocking_completed_despite_cancel > 0, "completed despite cancel");
  RC_CLASSIFY(refused > 0, "queue_full");
  RC_CLASSIFY(values > 0, "value");
  Books again;
  RC_ASSERT(run(plan, again).report.trace_hash == r.report.trace_hash);
}

}  // namespace
}  // namespace ringo
