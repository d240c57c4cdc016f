// A catalogue of small programs with real concurrency bugs, each a ringo-sim scenario.
// They are wrong on purpose: explore finds each within a few seeds, and the replayed run
// shows it (docs/simulation.md, "The bug catalogue"). Every one says where the bug is and
// what the fix would be.
#include <cstring>
#include <memory>
#include <string>

#include "ringo/ringo.hpp"
#include "ringo/sim/scenario.hpp"

using namespace ringo;
using namespace std::chrono_literals;

// 1. Lost wake-up. The waiter checks a flag, does some work, then waits for a signal; the
// notifier sets the flag and signals with try_send, which drops the signal when nobody is
// waiting yet. Fix: make the signal durable (a buffered channel, or send, not try_send).
RINGO_SCENARIO(lost_wakeup, 1, "a signal sent before the waiter blocks is dropped; the waiter sleeps forever") {
  auto [tx, rx] = std::move(*chan<int>(0));
  auto ready = std::make_shared<bool>(false);
  auto waiter = go([](std::shared_ptr<bool> flag, Receiver<int> signal) -> Task<Result<void>> {
    const bool seen = *flag;  // check ...
    (void)co_await nop();     // ... some work ...
    if (!seen) {
      if (auto v = co_await signal.recv(); !v) co_return std::unexpected(v.error());  // ... then wait
    }
    co_return Result<void>{};
  }(ready, rx));
  (void)co_await nop();
  *ready = true;
  (void)tx.try_send(1);  // BUG: with no receiver waiting, the signal is gone
  co_return co_await waiter.join();
}

// 2. A hand-rolled "first of two channels": race two receiving routines and abort the
// loser. The loser may already have taken a value, which is then dropped. Fix: ringo's
// select, which consumes from exactly one case.
RINGO_SCENARIO(racing_receivers_leak, 2, "first-of-two by racing receivers drops the loser's value") {
  auto [tx1, rx1] = std::move(*chan<int>(8));
  auto [tx2, rx2] = std::move(*chan<int>(8));
  constexpr int kRounds = 4;
  auto produce = [](Sender<int> to, int first) -> Task<void> {
    for (int i = 0; i < kRounds / 2; ++i) {
      (void)co_await nop();
      (void)co_await to.send(first + 2 * i);
    }
  };
  auto p1 = spawn_on(1, produce(tx1, 0));
  auto p2 = spawn_on(1, produce(tx2, 1));
  int received = 0;
  for (int round = 0; round < kRounds / 2; ++round) {
    auto [wtx, wrx] = std::move(*chan<int>(2));
    auto forward = [](Receiver<int> from, Sender<int> to) -> Task<void> {
      if (auto v = co_await from.recv()) (void)co_await to.send(*v);
    };
    auto a = go(forward(rx1, wtx));
    auto b = go(forward(rx2, wtx));
    if (co_await wrx.recv()) ++received;
    (void)a.abort();  // BUG: the loser may hold a value already
    (void)b.abort();
    (void)co_await a.join();
    (void)co_await b.join();
  }
  (void)co_await p1.join();
  (void)co_await p2.join();
  while (rx1.try_recv()) ++received;
  while (rx2.try_recv()) ++received;
  co_return sim::check(received == kRounds,
                       "sent " + std::to_string(kRounds) + ", accounted " + std::to_string(received));
}

// 3. A cancellation race on a buffer: the parent gives up on a child (abort) but does not
// join it, and reuses the buffer the child fills. The child's op may complete anyway (the
// cancel came too late) and the child then writes into reused memory. Fix: join the
// aborted child before touching what it owns.
RINGO_SCENARIO(abandoned_child_writes_buffer, 1, "an aborted, unjoined child writes into a reused buffer") {
  auto buffer = std::make_shared<std::string>("parent");
  auto child = go([](std::shared_ptr<std::string> buf) -> Task<void> {
    auto r = co_await nop();  // stands for a read into buf
    if (r) *buf = "child";    // BUG (in the parent): this may run after the parent moved on
  }(buffer));
  (void)co_await nop();  // meanwhile the child's op is in flight (or done)
  (void)child.abort();
  child.detach();  // BUG: not joined
  *buffer = "reused";
  co_await sleep(1ms);
  co_return sim::check(*buffer == "reused", "the abandoned child overwrote the reused buffer with '" + *buffer + "'");
}

// 4. A cross-shard request handled after its service shut down: the service on shard 1
// does not check whether it was stopped. Fix: check (and refuse) in the handler, or drain
// clients before stopping.
RINGO_SCENARIO(request_after_shutdown, 2, "a cross-shard request is served after the service stopped") {
  struct Service {
    bool stopped = false;
    int served_after_stop = 0;
  };
  auto svc = std::make_shared<Service>();  // touched only on shard 1
  auto client = go([](std::shared_ptr<Service> s) -> Task<Result<int>> {
    (void)co_await nop();
    co_return co_await submit_to(1, [s] {
      if (s->stopped) ++s->served_after_stop;  // BUG: should refuse
      return 1;
    });
  }(svc));
  (void)co_await nop();
  (void)co_await submit_to(1, [svc] {
    svc->stopped = true;
    return 0;
  });
  (void)co_await client.join();
  auto after = co_await submit_to(1, [svc] { return svc->served_after_stop; });
  co_return sim::check(after.value_or(-1) == 0, "a request was served after the service stopped");
}

// 5. Two channels used as locks (capacity 1: send = lock, recv = unlock), taken in
// opposite orders by two routines: a deadlock when each holds its first. Fix: one global
// lock order.
RINGO_SCENARIO(lock_order_deadlock, 1, "two channel-locks taken in opposite orders deadlock") {
  auto [l1, u1] = std::move(*chan<int>(1));
  auto [l2, u2] = std::move(*chan<int>(1));
  auto locker = [](bool late, Sender<int> first, Receiver<int> first_u, Sender<int> second,
                   Receiver<int> second_u) -> Task<void> {
    if (late) (void)co_await nop();
    (void)co_await first.send(0);  // lock first
    (void)co_await nop();
    (void)co_await second.send(0);  // lock second: BUG, the other routine's order is reversed
    (void)co_await second_u.recv();
    (void)co_await first_u.recv();
  };
  auto a = go(locker(false, l1, u1, l2, u2));
  auto b = go(locker(true, l2, u2, l1, u1));
  (void)co_await a.join();
  (void)co_await b.join();
  co_return Result<void>{};
}

// 6. An ordering assumption: the sender that started first is assumed to arrive first.
// Across shards every message has its own latency, so the later one can overtake. Fix:
// carry a sequence number, or send both from one routine.
RINGO_SCENARIO(ordering_assumption, 3, "assumes the message sent first across shards arrives first") {
  auto [tx, rx] = std::move(*chan<int>(8));
  auto a = spawn_on(1, [](Sender<int> t) -> Task<void> { (void)co_await t.send(1); }(tx));
  auto b = spawn_on(2, [](Sender<int> t) -> Task<void> {
    co_await sleep(5us);  // "surely long enough"
    (void)co_await t.send(2);
  }(tx));
  auto first = co_await rx.recv();
  (void)co_await a.join();
  (void)co_await b.join();
  co_return sim::check(first.value_or(0) == 1, "message 2 arrived before message 1");
}
