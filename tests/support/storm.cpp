// The cancellation storm (storm.hpp): each worker's acts, main's sends and aborts, and
// the invariants checked on the finished run.
#include "storm.hpp"

#include <memory>
#include <vector>

#include "ringo/ringo.hpp"

namespace ringo::storm {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

// Far beyond any run's length: an op this long ends only when it is cancelled.
constexpr Duration kLongOp = std::chrono::hours(1);

struct Side {
  Sender<int> tx;
  Receiver<int> rx;
};

Task<void> act_out(const Worker* w, Sender<int> tx, Receiver<int> rx, Side side, Counters* counters) {
  for (size_t i = 0; i < w->acts.size(); ++i) {
    const auto arg = w->args[i];
    const auto us = std::chrono::microseconds(arg % 200);
    switch (w->acts[i]) {
      case Act::sleep:
        if (!co_await sleep(us)) co_return;
        break;
      case Act::kernel_op: {
        // A worker that main aborts sometimes waits on an op only the abort can end.
        const bool long_op = w->abort_after_us >= 0 && arg % 5 == 0;
        Sqe t;
        t.opcode = Opcode::timeout;
        t.off = static_cast<uint64_t>(long_op ? kLongOp.count() : Duration(us).count());
        const Instant t0 = current_shard()->now();
        auto r = co_await submit(t);
        if (long_op && this_routine()->should_cancel()) {
          ++counters->long_ops_cancelled;
          if (current_shard()->now() - t0 >= kLongOp) ++counters->long_ops_not_cancelled;
        }
        if (!r && r.error() == errc::cancelled) co_return;
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
        // Every third child's op is one that only the cancel can end.
        const bool long_op = arg % 3 == 0;
        auto child = go([](uint64_t ns) -> Task<Result<int32_t>> {
          Sqe t;
          t.opcode = Opcode::timeout;
          t.off = ns;
          co_return co_await submit(t);
        }(static_cast<uint64_t>(long_op ? kLongOp.count() : Duration(us).count())));
        co_await yield_now();
        if (arg % 2 == 1) co_await yield_now();
        const Instant aborted_at = current_shard()->now();
        (void)child.abort();
        (void)co_await child.join();
        // Settled (unless this worker's own abort cut the join short): the child's op
        // ended by cancellation, not by running its full hour.
        if (long_op && !this_routine()->should_cancel()) {
          ++counters->long_ops_cancelled;
          if (current_shard()->now() - aborted_at >= kLongOp) ++counters->long_ops_not_cancelled;
        }
        break;
      }
      case Act::send: {
        auto s = co_await with_timeout(us, tx.send(static_cast<int>(arg)));
        if (s) ++counters->sent;
        if (!s && this_routine()->should_cancel()) co_return;
        break;
      }
      case Act::select_default: {
        if (rx.state()->home != current_shard()) break;
        auto rc = on_recv(rx);
        auto sc = on_send(tx, static_cast<int>(arg));
        auto r = co_await select(rc, sc, default_case());
        if (!r) co_return;
        if (*r == 0 && rc.value->has_value()) ++counters->received;
        if (*r == 1 && !sc.error) ++counters->sent;
        break;
      }
      case Act::select_shards: {
        auto rc = on_recv(rx);
        auto side_rc = on_recv(side.rx);
        auto side_sc = on_send(side.tx, static_cast<int>(arg));
        auto r = arg % 3 == 0 ? co_await select(rc, side_rc, side_sc, default_case())
                              : co_await select(rc, side_rc, side_sc, after(us));
        if (!r) co_return;
        if (*r == 0 && rc.value->has_value()) ++counters->received;
        if (*r == 1 && side_rc.value->has_value()) ++counters->side_received;
        if (*r == 2 && !side_sc.error) ++counters->side_sent;
        break;
      }
      case Act::count_: break;
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

// Whatever the kernel still holds is delivered now (virtual time is free) and looked at
// directly: a completion of an op or of its link timeout means the kernel was still
// running an op that no shard tracked any more (a cancel that never reached it, a record
// released too early). Ops parked on objects count too.
size_t kernel_ops_left(sim::detail::SimKernel& kernel, uint32_t shards) {
  size_t left_ops = kernel.parked_ops();
  for (int n = 0; n < 1'000'000 && kernel.in_flight() > 0; ++n) {
    if (kernel.has_due()) {
      kernel.deliver_one();
    } else {
      kernel.advance_to(kernel.next_event());
    }
  }
  std::vector<Cqe> left(64);
  for (uint32_t s = 0; s < shards; ++s) {
    while (const size_t n = kernel.ring(s).reap(left)) {
      for (size_t i = 0; i < n; ++i) {
        const UdKind kind = UserData::kind(left[i].user_data);
        if (kind == UdKind::op || kind == UdKind::link_timeout) ++left_ops;
      }
    }
  }
  return left_ops;
}

// Fills out.violation with the first invariant the run broke.
void check(const Program& p, Outcome& out) {
  const Counters& counters = out.counters;
  auto broken = [&](const char* what) {
    if (out.violation.empty()) out.violation = what;
  };
  if (!out.report.ok()) broken("the run failed (see report)");
  if (counters.joins != static_cast<int>(p.workers.size())) broken("a join did not resolve exactly once");
  if (counters.received + counters.drained != counters.sent) broken("a value was lost or duplicated");
  if (counters.side_received + counters.side_drained != counters.side_sent) {
    broken("a value on the side channel was lost or duplicated");
  }
  if (counters.early_timeouts != 0) broken("a deadline fired early");
  if (counters.late_timeouts != 0) broken("a deadline fired late");
  if (out.report.stats.routines_live != 0) broken("routines left after shutdown");
  if (out.report.cancelled_at_shutdown != 0) broken("routines still running when main returned");
  if (out.ops_left != 0) broken("kernel ops left after shutdown");
  if (counters.long_ops_not_cancelled != 0) {
    broken("an aborted routine's kernel op was not cancelled: it ran to its natural end");
  }
  if (out.kernel_ops_left != 0) broken("the kernel was still running ops that no shard tracked");
  if (out.timers_left != 0) broken("timers left after shutdown");
}

}  // namespace

Outcome run(const Program& p) {
  sim::SimConfig config;
  config.seed = p.seed;
  config.shards = p.shards;
  config.faults = p.swarm_faults ? sim::FaultConfig::swarm(p.seed) : sim::FaultConfig::none();
  Outcome out;
  Counters& counters = out.counters;
  auto sim_holder = std::make_unique<sim::Simulation>(config);
  sim::Simulation& sim = *sim_holder;
  out.report = sim.run([&]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(p.capacity));
    // Homed on the last shard, so that a select over both spans two shards.
    auto side_made = co_await submit_to(p.shards - 1, [] { return chan<int>(1); });
    if (!side_made) co_return;
    Side side{side_made->first, side_made->second};
    std::vector<JoinHandle<void>> hs;
    for (const Worker& w : p.workers) hs.push_back(spawn_on(w.shard, act_out(&w, tx, rx, side, &counters)));
    for (int v = 0; v < p.values; ++v) {
      if (auto s = co_await with_timeout(std::chrono::microseconds(300), tx.send(v)); s) ++counters.sent;
    }
    for (size_t i = 0; i < p.workers.size(); ++i) {
      if (p.workers[i].abort_after_us < 0) continue;
      co_await sleep(std::chrono::microseconds(p.workers[i].abort_after_us));
      (void)hs[i].abort();
    }
    (void)tx.close();
    for (auto& h : hs) {
      (void)co_await h.join();
      ++counters.joins;
    }
    while (auto v = rx.try_recv()) ++counters.drained;
    side.tx = Sender<int>();
    side_made->first = Sender<int>();  // closes the side channel
    while (auto v = co_await side.rx.recv()) ++counters.side_drained;
  }());
  for (uint32_t s = 0; s < p.shards; ++s) {
    out.ops_left += sim.shard(s).live_ops();
    out.timers_left += sim.shard(s).pending_timers();
  }
  out.kernel_ops_left = kernel_ops_left(sim.kernel(), p.shards);
  check(p, out);
  return out;
}

}  // namespace ringo::storm
