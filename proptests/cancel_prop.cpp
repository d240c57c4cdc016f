// Cancellation storms on the simulator: random multi-shard programs of sleeps, kernel ops
// (some with deadlines), channel waits, selects, cross-shard calls, scopes and aborts.
// At the end: no live routine, op or timer on any shard; every join returned exactly
// once; every value that a receive took was counted. Plus: a deadline never reports
// timed_out before it is due.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {
namespace {

enum class Act : uint8_t { sleep, kernel_op, deadline_op, recv, select, call, scope, timeout_recv, spawn_abort };

struct Worker {
  uint32_t shard;
  std::vector<Act> acts;
  std::vector<uint16_t> args;
  int abort_after_us;  // < 0: never
};

struct Counters {
  int joins = 0;
  int received = 0;
  int sent = 0;
  int early_timeouts = 0;
  int late_timeouts = 0;
};

Task<void> act_out(const Worker* w, Receiver<int> rx, Counters* counters) {
  for (size_t i = 0; i < w->acts.size(); ++i) {
    const auto arg = w->args[i];
    const auto us = std::chrono::microseconds(arg % 200);
    switch (w->acts[i]) {
      case Act::sleep:
        if (!co_await sleep(us)) co_return;
        break;
      case Act::kernel_op: {
        Sqe t;
        t.opcode = Opcode::timeout;
        t.off = static_cast<uint64_t>(Duration(us).count());
        if (auto r = co_await submit(t); !r && r.error() == errc::cancelled) co_return;
        break;
      }
      case Act::deadline_op: {
        Sqe t;
        t.opcode = Opcode::timeout;
        t.off = static_cast<uint64_t>(Duration(us).count());
        const Instant deadline = current_shard()->now() + std::chrono::microseconds(arg % 97);
        auto r = co_await submit(t, deadline);
        if (!r && r.error() == errc::timed_out && current_shard()->now() < deadline) ++counters->early_timeouts;
        // The simulator's timer slack is zero: a deadline op resumes at its deadline.
        if (!r && r.error() == errc::timed_out && current_shard()->now() > deadline) ++counters->late_timeouts;
        if (!r && r.error() == errc::cancelled) co_return;
        break;
      }
      case Act::recv: {
        auto v = co_await rx.recv();
        if (!v) co_return;
        ++counters->received;
        break;
      }
      case Act::timeout_recv: {
        const Instant deadline = current_shard()->now() + us;
        auto v = co_await with_deadline(deadline, rx.recv());
        if (v) ++counters->received;
        if (!v && v.error() == errc::timed_out && current_shard()->now() < deadline) ++counters->early_timeouts;
        if (!v && v.error() != errc::timed_out) co_return;
        break;
      }
      case Act::select: {
        if (rx.state()->home != current_shard()) break;
        auto c = on_recv(rx);
        auto r = co_await select(c, after(us));
        if (!r) co_return;
        if (*r == 0 && c.value->has_value()) ++counters->received;
        break;
      }
      case Act::call: {
        const uint32_t target = arg % current_shard()->group().size();
        auto r = co_await submit_to(target, [us]() -> Task<Result<void>> { co_return co_await sleep(us); });
        if (!r && r.error() == errc::cancelled) co_return;
        break;
      }
      case Act::spawn_abort: {
        // A child queues a kernel op; aborting it in the same tick cancels it before it
        // reaches the kernel, a tick later the kernel races the cancel.
        auto child = go([](uint64_t ns) -> Task<Result<int32_t>> {
          Sqe t;
          t.opcode = Opcode::timeout;
          t.off = ns;
          co_return co_await submit(t);
        }(static_cast<uint64_t>(Duration(us).count())));
        co_await yield_now();
        if (arg % 2 == 1) co_await yield_now();
        (void)child.abort();
        (void)co_await child.join();
        break;
      }
      case Act::scope: {
        TaskScope scope;
        for (int k = 0; k < 3; ++k) {
          (void)scope.spawn([](std::chrono::microseconds d) -> Task<Result<void>> { co_return co_await sleep(d); }(us));
        }
        if (auto r = co_await scope.join_all(); !r && r.error() == errc::cancelled) co_return;
        break;
      }
    }
  }
}

rc::Gen<Worker> gen_worker(uint32_t shards) {
  return rc::gen::mapcat(rc::gen::inRange<size_t>(0, 10), [shards](size_t n) {
    return rc::gen::build<Worker>(
        rc::gen::set(&Worker::shard, rc::gen::inRange<uint32_t>(0, shards)),
        rc::gen::set(&Worker::acts,
                     rc::gen::container<std::vector<Act>>(
                         n, rc::gen::element(Act::sleep, Act::kernel_op, Act::deadline_op, Act::recv, Act::select,
                                             Act::call, Act::scope, Act::timeout_recv, Act::spawn_abort))),
        rc::gen::set(&Worker::args, rc::gen::container<std::vector<uint16_t>>(n, rc::gen::arbitrary<uint16_t>())),
        rc::gen::set(&Worker::abort_after_us, rc::gen::element(-1, 0, 3, 40, 150)));
  });
}

RC_GTEST_PROP(CancellationStorm, NothingLeftBehindAndEveryJoinResolvedOnce, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const auto workers = *rc::gen::container<std::vector<Worker>>(gen_worker(shards));
  const int values = *rc::gen::inRange(0, 20);
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = shards;
  config.faults = *rc::gen::arbitrary<bool>() ? sim::FaultConfig::swarm(config.seed) : sim::FaultConfig::none();

  Counters counters;
  int drained = 0;
  std::unique_ptr<sim::Simulation> sim_holder = std::make_unique<sim::Simulation>(config);
  sim::Simulation& sim = *sim_holder;
  auto report = sim.run([&]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(2));
    std::vector<JoinHandle<Result<void>>> hs;
    for (const Worker& w : workers) hs.push_back(spawn_on(w.shard, act_out(&w, rx, &counters)));
    for (int v = 0; v < values; ++v) {
      if (auto s = co_await with_timeout(std::chrono::microseconds(300), tx.send(v)); s) ++counters.sent;
    }
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i].abort_after_us < 0) continue;
      co_await sleep(std::chrono::microseconds(workers[i].abort_after_us));
      (void)hs[i].abort();
    }
    (void)tx.close();
    for (auto& h : hs) {
      (void)co_await h.join();
      ++counters.joins;
    }
    while (auto v = rx.try_recv()) ++drained;
  }());
  RC_LOG() << report.summary() << " " << report.replay_hint() << "\n";
  RC_ASSERT(report.ok());
  RC_CLASSIFY(report.stats.ops_cancelled_before_submit > 0, "cancel: before submit");
  RC_CLASSIFY(report.stats.ops_cancelled_by_kernel > 0, "cancel: by kernel");
  RC_CLASSIFY(report.stats.ops_completed_despite_cancel > 0, "cancel: completed anyway");
  RC_CLASSIFY(report.stats.deadline_expiries > 0, "op deadline expired");
  RC_ASSERT(counters.joins == static_cast<int>(workers.size()));
  RC_ASSERT(counters.received + drained == counters.sent);
  RC_ASSERT(counters.early_timeouts == 0);
  RC_ASSERT(counters.late_timeouts == 0);
  RC_ASSERT(report.stats.routines_live == 0u);
  RC_ASSERT(report.cancelled_at_shutdown == 0u);
  for (uint32_t s = 0; s < shards; ++s) {
    RC_ASSERT(sim.shard(s).live_ops() == 0u);
    RC_ASSERT(sim.shard(s).pending_timers() == 0u);
  }
}

}  // namespace
}  // namespace ringo
