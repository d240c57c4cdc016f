// Channels and select, on the simulator and on io_uring.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <sstream>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;
using testing::not_early;
using testing::OnEveryBackend;

class Channels : public OnEveryBackend {};
RINGO_ON_EVERY_BACKEND(Channels);

TEST_P(Channels, BoundedIsFifoAndTrySendReportsFull) {
  auto r = run([]() -> Task<void> {
    auto ch = chan<int>(2);
    EXPECT_TRUE(ch.has_value());
    auto [tx, rx] = std::move(*ch);
    EXPECT_TRUE(tx.try_send(1).has_value());
    EXPECT_TRUE(tx.try_send(2).has_value());
    auto full = tx.try_send(3);
    EXPECT_FALSE(full.has_value());
    if (!full) {
      EXPECT_EQ(full.error().error, errc::channel_full);
      EXPECT_EQ(full.error().value, 3);  // handed back
    }
    EXPECT_EQ(rx.len(), 2u);
    EXPECT_EQ((co_await rx.recv()).value_or(0), 1);
    EXPECT_EQ(rx.try_recv().value_or(0), 2);
    EXPECT_EQ(err(rx.try_recv()), errc::channel_empty);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, UnbufferedSenderResumesOnlyAfterTheValueIsTaken) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    std::vector<std::string> log;
    auto sender = go([](Sender<int> t, std::vector<std::string>* l) -> Task<void> {
      l->push_back("send");
      auto s = co_await t.send(7);
      EXPECT_TRUE(s.has_value());
      l->push_back("sent");
    }(tx, &log));
    const Instant t0 = current_shard()->now();
    co_await sleep(1ms);
    EXPECT_TRUE(not_early(t0, 1ms));
    EXPECT_EQ(log, (std::vector<std::string>{"send"}));  // still blocked: nobody took it
    log.push_back("recv");
    EXPECT_EQ((co_await rx.recv()).value_or(0), 7);
    co_await sender.join();
    EXPECT_EQ(log, (std::vector<std::string>{"send", "recv", "sent"}));
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, CloseDrainsThenReportsClosedAndSendHandsValueBack) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<std::string>(4));
    co_await tx.send("a");
    co_await tx.send("b");
    EXPECT_TRUE(tx.close().has_value());
    EXPECT_EQ(err(tx.close()), errc::channel_closed);
    auto rejected = co_await tx.send("lost?");
    EXPECT_FALSE(rejected.has_value());
    if (!rejected) {
      EXPECT_EQ(rejected.error().error, errc::channel_closed);
      EXPECT_EQ(rejected.error().value, "lost?");
    }
    EXPECT_EQ((co_await rx.recv()).value_or(""), "a");
    EXPECT_EQ((co_await rx.recv()).value_or(""), "b");
    EXPECT_EQ(err(co_await rx.recv()), errc::channel_closed);
    EXPECT_EQ(err(co_await rx.recv()), errc::channel_closed);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, CloseWakesBlockedReceiversAndSenders) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    auto receiver = go([](Receiver<int> x) -> Task<Result<int>> { co_return co_await x.recv(); }(rx));
    auto [tx2, rx2] = std::move(*chan<int>(0));
    auto sender = go([](Sender<int> t) -> Task<int> {
      auto s = co_await t.send(5);
      co_return s ? -1 : s.error().value;
    }(tx2));
    co_await sleep(1ms);
    EXPECT_TRUE(tx.close().has_value());
    EXPECT_TRUE(tx2.close().has_value());
    EXPECT_EQ(err(co_await receiver.join()), errc::channel_closed);
    EXPECT_EQ((co_await sender.join()).value_or(0), 5);
  }());
  EXPECT_TRUE(r.has_value());
}

// Every blocked party learns of the close, not just the first in line (found by `make
// mutants`: a close that woke one sender survived the suite).
TEST_P(Channels, CloseWakesEveryBlockedSenderAndEveryBlockedReceiver) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(1));
    EXPECT_TRUE(tx.try_send(0).has_value());  // full: the next senders block
    auto [tx2, rx2] = std::move(*chan<int>(0));
    std::vector<JoinHandle<int>> senders;
    std::vector<JoinHandle<Result<int>>> receivers;
    for (int i = 1; i <= 3; ++i) {
      senders.push_back(go([](Sender<int> t, int v) -> Task<int> {
        auto s = co_await t.send(v);
        co_return s ? -1 : s.error().value;
      }(tx, i)));
      receivers.push_back(go([](Receiver<int> x) -> Task<Result<int>> { co_return co_await x.recv(); }(rx2)));
    }
    co_await sleep(1ms);
    EXPECT_TRUE(tx.close().has_value());
    EXPECT_TRUE(tx2.close().has_value());
    for (int i = 1; i <= 3; ++i) {
      const auto handed_back = co_await senders[static_cast<size_t>(i - 1)].join();
      EXPECT_EQ(handed_back.value_or(0), i);
      const auto got = co_await receivers[static_cast<size_t>(i - 1)].join();
      EXPECT_EQ(err(got), errc::channel_closed);
    }
    EXPECT_EQ(rx.try_recv().value_or(-1), 0);  // the buffered value survives the close
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, LastSenderDroppedClosesTheChannel) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(unbounded));
    {
      Sender<int> clone = tx;
      Sender<int> gone = std::move(tx);
      co_await clone.send(1);
    }
    EXPECT_TRUE(rx.is_closed());
    EXPECT_EQ((co_await rx.recv()).value_or(0), 1);
    EXPECT_EQ(err(co_await rx.recv()), errc::channel_closed);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, BadUseGetsClearErrors) {
  auto r = run([]() -> Task<void> {
    EXPECT_EQ(err(chan<int>(kMaxChannelCapacity + 1)), errc::invalid_argument);
    Receiver<int> none;
    EXPECT_EQ(err(co_await none.recv()), errc::no_channel);
    Sender<int> nobody;
    auto s = co_await nobody.send(1);
    EXPECT_EQ(s ? std::error_code{} : s.error().error, errc::no_channel);
    auto empty = co_await select();
    EXPECT_EQ(err(empty), errc::invalid_argument);
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(err(chan<int>(1)), errc::not_in_runtime);
}

TEST_P(Channels, CrossShardSendAndReceive) {
  auto r = run([]() -> Task<int> {
    auto [tx, rx] = std::move(*chan<int>(0));
    auto producer = spawn_on(1, [](Sender<int> t) -> Task<void> {
      for (int i = 1; i <= 10; ++i) co_await t.send(i);
    }(tx));
    tx = Sender<int>();  // only the remote producer holds a sender now
    int sum = 0;
    for (;;) {
      auto v = co_await rx.recv();
      if (!v) break;
      sum += *v;
    }
    co_await producer.join();
    co_return sum;
  }());
  EXPECT_EQ(r.value_or(0), 55);
}

// A count never means "unbounded": SIZE_MAX was the sentinel and silently meant it.
TEST_P(Channels, OnlyTheUnboundedTagMakesAnUnboundedChannel) {
  auto r = run([]() -> Task<void> {
    EXPECT_EQ(err(chan<int>(SIZE_MAX)), errc::invalid_argument);
    EXPECT_EQ(err(chan<int>(kMaxChannelCapacity + 1)), errc::invalid_argument);
    auto bounded = chan<int>(kMaxChannelCapacity);
    EXPECT_TRUE(bounded.has_value() && !bounded->first.is_unbounded());
    auto [tx, rx] = chan<int>(unbounded).value();
    EXPECT_TRUE(tx.is_unbounded());
    for (int i = 0; i < 10'000; ++i) EXPECT_TRUE(tx.try_send(i).has_value());
    EXPECT_EQ(rx.len(), 10'000u);
    co_return;
  }());
  EXPECT_TRUE(r.has_value());
}

// A channel made in one Runtime and used from another is refused with foreign_runtime:
// the other runtime's shards must never touch its state (they run concurrently with its
// home shard: a data race, which TSan checks on io_uring). The last sender dropped there
// still closes it, through the home runtime's inbox.
struct ForeignUse {
  std::error_code send, recv, try_send, try_recv, close, select;
  int value_back = 0;
};
Task<ForeignUse> use_channel_of_another_runtime(Sender<int> tx, Receiver<int> rx, Sender<int> last) {
  ForeignUse out;
  auto sent = co_await tx.send(7);
  out.send = sent ? std::error_code{} : sent.error().error;
  out.value_back = sent ? 0 : sent.error().value;
  out.recv = err(co_await rx.recv());
  auto tried = tx.try_send(8);
  out.try_send = tried ? std::error_code{} : tried.error().error;
  out.try_recv = err(rx.try_recv());
  out.close = err(tx.close());
  auto c = on_recv(rx);
  out.select = err(co_await select(c, after(1ms)));
  { Sender<int> dropped = std::move(last); }  // the last sender of its channel
  co_return out;
}

TEST_P(Channels, ChannelOfAnotherRuntimeIsRefusedAndNeverTouched) {
  auto a = Runtime::create(config(2));
  ASSERT_TRUE(a.has_value());
  auto made = a->block_on([]() -> Task<Result<std::array<std::pair<Sender<int>, Receiver<int>>, 2>>> {
    auto one = co_await chan_on<int>(1, 1);
    auto two = co_await chan_on<int>(1, 1);
    if (!one || !two) co_return fail(errc::invalid_argument);
    co_return std::array{std::move(*one), std::move(*two)};
  }());
  ASSERT_TRUE(made.has_value());
  auto& [used, closed_there] = *made;
  ForeignUse seen;
  std::thread other([&] {  // another runtime, on its own thread
    auto b = Runtime::create(config(2));
    ASSERT_TRUE(b.has_value());
    auto r = b->block_on(use_channel_of_another_runtime(used.first, used.second, std::move(closed_there.first)));
    ASSERT_TRUE(r.has_value());
    seen = *r;
  });
  other.join();
  EXPECT_EQ(seen.send, errc::foreign_runtime);
  EXPECT_EQ(seen.value_back, 7);
  EXPECT_EQ(seen.recv, errc::foreign_runtime);
  EXPECT_EQ(seen.try_send, errc::foreign_runtime);
  EXPECT_EQ(seen.try_recv, errc::foreign_runtime);
  EXPECT_EQ(seen.close, errc::foreign_runtime);
  EXPECT_EQ(seen.select, errc::foreign_runtime);
  auto back_home = a->block_on([](Sender<int> tx, Receiver<int> rx, Receiver<int> closed) -> Task<void> {
    EXPECT_EQ(rx.len(), 0u);  // nothing of the foreign sends arrived
    EXPECT_TRUE(co_await tx.send(5));
    EXPECT_EQ((co_await rx.recv()).value_or(0), 5);
    EXPECT_EQ(err(co_await with_timeout(5s, closed.recv())), errc::channel_closed);
  }(std::move(used.first), std::move(used.second), std::move(closed_there.second)));
  EXPECT_TRUE(back_home.has_value());
}

// Case bodies: every case carries a handler, the chosen one runs, the select returns its
// value. Cases may be temporaries. (Handlers capture by reference: GCC 12 destroys the
// captures of a lambda built inside a co_await expression twice.)
enum class Step { got, sent, tick, idle };

TEST_P(Channels, SelectWithHandlersRunsTheChosenCaseBody) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(1).value();
    auto [out_tx, out_rx] = chan<int>(0).value();
    int got = 0;
    EXPECT_TRUE(tx.try_send(5).has_value());
    Result<Step> first = co_await select(on_recv(rx, [&](Result<int> v) { return got = v.value_or(-1), Step::got; }),
                                         on_send(out_tx, 1, [&](SendResult<int>) { return Step::sent; }),
                                         default_case([&] { return Step::idle; }));
    EXPECT_EQ(first.value_or(Step::idle), Step::got);
    EXPECT_EQ(got, 5);
    Result<Step> idle =
        co_await select(on_recv(rx, [&](Result<int>) { return Step::got; }), default_case([&] { return Step::idle; }));
    EXPECT_EQ(idle.value_or(Step::got), Step::idle);
    Result<Step> tick =
        co_await select(on_recv(rx, [&](Result<int>) { return Step::got; }), after(1ms, [&] { return Step::tick; }));
    EXPECT_EQ(tick.value_or(Step::got), Step::tick);
    // A send refused on a closed channel hands its value to the handler.
    EXPECT_TRUE(out_tx.close().has_value());
    int refused = 0;
    Result<void> sent = co_await select(on_send(out_tx, 9, [&](SendResult<int> s) {
      if (!s) refused = s.error().value;
    }));
    EXPECT_TRUE(sent.has_value());
    EXPECT_EQ(refused, 9);
  }());
  EXPECT_TRUE(r.has_value());
}

// when(false) switches a case off, as a nil channel does in Go: never chosen, its value
// untouched; a select whose every case is off waits until it is cancelled.
TEST_P(Channels, DisabledCasesTakeNoPart) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(4).value();
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(tx.try_send(i).has_value());
    for (int round = 0; round < 20; ++round) {
      auto off = on_recv(rx).when(false);
      auto on_timeout = co_await select(off, after(1ms));
      EXPECT_EQ(on_timeout.value_or(9), 1u);
      Result<int> which = co_await select(on_recv(rx, [&](Result<int>) { return 0; }).when(false),
                                          on_send(tx, 7, [&](SendResult<int>) { return 1; }).when(false),
                                          default_case([&] { return 2; }));
      EXPECT_EQ(which.value_or(-1), 2);
    }
    EXPECT_EQ(rx.len(), 4u);
    Selector sel;
    sel.recv(rx).when(false);
    auto forever = co_await with_timeout(5ms, sel.wait());
    EXPECT_EQ(err(forever), errc::timed_out);
    EXPECT_EQ(rx.len(), 4u);
  }());
  EXPECT_TRUE(r.has_value());
}

// Go's non-blocking send and receive work from any shard: send_now / recv_now.
TEST_P(Channels, NonBlockingSendAndReceiveWorkFromAnyShard) {
  auto r = run([]() -> Task<void> {
    auto made = co_await chan_on<int>(1, 1);
    EXPECT_TRUE(made.has_value());
    if (!made) co_return;
    auto& [tx, rx] = *made;
    EXPECT_EQ(err(rx.try_recv()), errc::wrong_shard);  // the synchronous form stays home-only
    EXPECT_EQ(err(co_await recv_now(rx)), errc::channel_empty);
    EXPECT_TRUE((co_await send_now(tx, 1)).has_value());
    auto full = co_await send_now(tx, 2);
    EXPECT_TRUE(!full && full.error().error == errc::channel_full && full.error().value == 2);
    EXPECT_EQ((co_await recv_now(rx)).value_or(0), 1);
    EXPECT_TRUE(tx.close().has_value());
    auto closed = co_await send_now(tx, 3);
    EXPECT_TRUE(!closed && closed.error().error == errc::channel_closed && closed.error().value == 3);
    EXPECT_EQ(err(co_await recv_now(rx)), errc::channel_closed);
    auto [here_tx, here_rx] = chan<int>(1).value();
    EXPECT_TRUE((co_await send_now(here_tx, 4)).has_value());
    EXPECT_EQ((co_await recv_now(here_rx)).value_or(0), 4);
  }());
  EXPECT_TRUE(r.has_value());
}

// A remote send that waits and is then cancelled gets its value back and leaves no
// waiter at home: the next receive there finds nothing.
TEST_P(Channels, CancelledRemoteSendHandsValueBackAndLeavesNoWaiter) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<std::string>(0));
    auto h = spawn_on(1, [](Sender<std::string> t) -> Task<SendResult<std::string>> {
      const Instant t0 = current_shard()->now();
      auto s = co_await with_timeout(5ms, t.send("kept"));
      EXPECT_TRUE(not_early(t0, 5ms));
      co_return s;
    }(tx));
    auto sent = co_await h.join();
    EXPECT_TRUE(sent.has_value());
    EXPECT_FALSE(sent->has_value());
    if (sent && !*sent) {
      EXPECT_EQ(sent->error().error, errc::timed_out);
      EXPECT_EQ(sent->error().value, "kept");
    }
    EXPECT_EQ(err(rx.try_recv()), errc::channel_empty);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, CancelledRemoteRecvTakesNothing) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    auto h = spawn_on(1, [](Receiver<int> x) -> Task<Result<int>> { co_return co_await x.recv(); }(rx));
    co_await sleep(2ms);
    EXPECT_TRUE(h.abort().has_value());
    EXPECT_EQ(err(co_await h.join()), errc::cancelled);
    EXPECT_EQ(tx.try_send(1).error().error, errc::channel_full);  // no receiver left waiting
  }());
  EXPECT_TRUE(r.has_value());
}

// A remote receiver parked at home is woken by a local send, and by a close.
TEST_P(Channels, RemoteWaitersAreWokenByLocalSendAndByClose) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    auto first = spawn_on(1, [](Receiver<int> x) -> Task<Result<int>> { co_return co_await x.recv(); }(rx));
    co_await sleep(1ms);
    EXPECT_TRUE((co_await tx.send(7)).has_value());
    auto got = co_await first.join();
    EXPECT_EQ(got.value_or(0), 7);
    auto second = spawn_on(1, [](Receiver<int> x) -> Task<Result<int>> { co_return co_await x.recv(); }(rx));
    co_await sleep(1ms);
    (void)tx.close();
    auto closed = co_await second.join();
    EXPECT_EQ(err(closed), errc::channel_closed);
  }());
  EXPECT_TRUE(r.has_value());
}

// A remote producer's first send is answered with a lease; the next ten complete at once
// on its own shard and travel home in one shipment at the end of its tick. A close that
// the producer's signal triggers comes after them: the receiver gets all eleven, in
// order, then channel_closed, and the producer's next send fails (the lease is revoked).
// (A close concurrent with the shipment is the flow property's job in chan_prop.)
TEST_P(Channels, ValuesSentUnderLeaseArriveBeforeALaterClose) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(64));
    auto [sig_tx, sig_rx] = std::move(*chan<int>(1));
    auto producer = spawn_on(1, [](Sender<int> t, Sender<int> sig) -> Task<void> {
      int ok = 0;
      for (int i = 0; i < 11; ++i) ok += (co_await t.send(i)).has_value() ? 1 : 0;
      (void)co_await sig.send(ok);
      co_await sleep(1ms);  // the close (and the lease's revocation) has happened by now
      auto late = co_await t.send(99);
      EXPECT_EQ(late ? errc{} : static_cast<errc>(late.error().error.value()), errc::channel_closed);
    }(tx, std::move(sig_tx)));
    EXPECT_EQ((co_await sig_rx.recv()).value_or(0), 11);
    (void)tx.close();
    std::vector<int> got;
    while (auto v = co_await rx.recv()) got.push_back(*v);
    std::vector<int> expected(11);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(got, expected);
    co_await producer.join();
  }());
  EXPECT_TRUE(r.has_value());
}

// A shard that stops sending gives its unused lease back (at the end of its first tick
// without a send): the home shard can then fill the buffer to its capacity. A lease kept
// while idle left a channel "full" with fewer values in it than cap() (planted bug
// chan-lease-kept-while-idle).
TEST_P(Channels, AnIdleSendersLeaseComesBackSoTheBufferFillsToItsCapacity) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(8).value();
    auto [done_tx, done_rx] = chan<int>(0).value();
    auto producer = spawn_on(1, [](Sender<int> t, Receiver<int> done) -> Task<void> {
      for (int i = 0; i < 3; ++i) (void)co_await t.send(i);  // under a lease after the first
      (void)co_await done.recv();                            // idle, the Sender still held
    }(tx, std::move(done_rx)));
    // Until the three values are here and no slot is lent out (bounded: 2 s).
    const ChanState<int>& st = *tx.state();
    const Instant give_up = current_shard()->now() + 2s;
    while ((rx.len() < 3 || st.leased > 0) && current_shard()->now() < give_up) co_await sleep(100us);
    EXPECT_EQ(st.leased, 0u) << "shard 1 kept its lease while idle";
    while (tx.try_send(100).has_value()) {
    }
    EXPECT_EQ(rx.len(), rx.capacity()) << "the buffer is full with fewer values than its capacity";
    (void)co_await done_tx.send(0);
    (void)co_await producer.join();
  }());
  EXPECT_TRUE(r.has_value());
}

// A close that races a remote producer sending under lease: every send that succeeded
// is received before the receiver sees the close, and nothing arrives after it. Found by
// `make mutants`: telling a parked receiver "closed" while leased values were still on
// their way survived the suite (those values then landed after the close).
TEST_P(Channels, ACloseRacingLeasedSendsLosesNoValueAndNothingFollowsIt) {
  for (uint64_t seed = 1; seed <= (GetParam() == Backend::sim ? 40u : 5u); ++seed) {
    RuntimeConfig c = config(2);
    c.seed = seed;
    auto rt = Runtime::create(c);
    ASSERT_TRUE(rt) << rt.error().message();
    auto counts = rt->block_on([]() -> Task<std::pair<int, int>> {
      auto [tx, rx] = std::move(*chan<int>(32));
      auto producer = spawn_on(1, [](Sender<int> t) -> Task<int> {
        int sent = 0;
        while ((co_await t.send(sent)).has_value()) ++sent;
        co_return sent;
      }(tx));
      int received = 0;
      for (int i = 0; i < 200; ++i) {
        if (!co_await rx.recv()) break;
        ++received;
      }
      EXPECT_TRUE(tx.close().has_value());
      while (co_await rx.recv()) ++received;  // drained: now closed for good
      const int sent = (co_await producer.join()).value_or(-1);
      co_await sleep(2ms);
      EXPECT_EQ(err(rx.try_recv()), errc::channel_closed) << "a value arrived after the close";
      co_return std::pair<int, int>{sent, received};
    }());
    (void)rt->shutdown();
    ASSERT_TRUE(counts.has_value());
    EXPECT_EQ(counts->first, counts->second) << "seed " << seed << ": sent vs received";
  }
}

// Leased slots count against the capacity: a fast remote producer never has more than
// `capacity` values buffered or in flight, and a single producer's order survives.
TEST_P(Channels, RemoteProducerRespectsCapacityAndOrder) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(8));
    auto producer = spawn_on(1, [](Sender<int> t) -> Task<void> {
      for (int i = 0; i < 500; ++i) co_await t.send(i);
    }(std::move(tx)));
    int next = 0;
    while (auto v = co_await rx.recv()) {
      EXPECT_EQ(*v, next++);
      EXPECT_LE(rx.len() + rx.state()->leased, 8u);
      if (next % 50 == 0) co_await sleep(100us);  // let the producer fill up
    }
    EXPECT_EQ(next, 500);
    co_await producer.join();
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, ProducerConsumerTenByHundredAcrossShards) {
  auto r = run([]() -> Task<int> {
    auto [tx, rx] = std::move(*chan<int>(16));
    std::vector<JoinHandle<void>> producers;
    for (int p = 0; p < 10; ++p) {
      producers.push_back(spawn_on(static_cast<uint32_t>(p % 2), [](Sender<int> t, int base) -> Task<void> {
        for (int i = 0; i < 100; ++i) co_await t.send(base + i);
      }(tx, p * 1000)));
    }
    tx = Sender<int>();
    std::vector<int> got;
    for (;;) {
      auto v = co_await rx.recv();
      if (!v) break;
      got.push_back(*v);
    }
    for (auto& p : producers) co_await p.join();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end());  // no duplicate
    co_return static_cast<int>(got.size());
  }());
  EXPECT_EQ(r.value_or(0), 1000);
}

TEST_P(Channels, FanOutFanInFiveWorkersHundredTasks) {
  auto r = run([]() -> Task<long> {
    auto [jobs_tx, jobs_rx] = std::move(*chan<int>(8));
    auto [results_tx, results_rx] = std::move(*chan<long>(8));
    std::vector<JoinHandle<void>> workers;
    for (int w = 0; w < 5; ++w) {
      workers.push_back(spawn_on(static_cast<uint32_t>(w % 2), [](Receiver<int> jobs, Sender<long> out) -> Task<void> {
        for (;;) {
          auto j = co_await jobs.recv();
          if (!j) break;
          co_await out.send(long{*j} * *j);
        }
      }(jobs_rx, results_tx)));
    }
    results_tx = Sender<long>();
    auto feeder = go([](Sender<int> t) -> Task<void> {
      for (int i = 1; i <= 100; ++i) co_await t.send(i);
    }(std::move(jobs_tx)));
    long sum = 0;
    int count = 0;
    for (;;) {
      auto v = co_await results_rx.recv();
      if (!v) break;
      sum += *v;
      ++count;
    }
    co_await feeder.join();
    for (auto& w : workers) co_await w.join();
    EXPECT_EQ(count, 100);
    co_return sum;
  }());
  EXPECT_EQ(r.value_or(0), 338350);  // sum of squares 1..100
}

TEST_P(Channels, SelectPicksTheReadyCaseAndLeavesOthersUntouched) {
  auto r = run([]() -> Task<void> {
    auto [atx, arx] = std::move(*chan<int>(1));
    auto [btx, brx] = std::move(*chan<int>(1));
    co_await btx.send(42);
    auto a = on_recv(arx);
    auto b = on_recv(brx);
    auto i = co_await select(a, b);
    EXPECT_EQ(i.value_or(9), 1u);
    EXPECT_EQ(b.value->value_or(0), 42);
    EXPECT_FALSE(a.value.has_value());
    EXPECT_EQ(arx.len(), 0u);
    // default when nothing is ready; nothing consumed
    co_await atx.send(1);
    auto c = on_recv(brx);
    auto d = co_await select(c, default_case());
    EXPECT_EQ(d.value_or(9), 1u);
    EXPECT_EQ(arx.len(), 1u);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, SelectTimeoutFiresAtItsDeadlineAndLeavesNoWaiter) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    Shard& shard = *current_shard();
    const Instant t0 = shard.now();
    auto c = on_recv(rx);
    auto i = co_await select(c, after(3ms));
    EXPECT_EQ(i.value_or(9), 1u);
    EXPECT_TRUE(not_early(t0, 3ms));
    if (GetParam() == Backend::sim) {
      EXPECT_EQ(shard.now() - t0, Duration(3ms));  // virtual time: exactly at the deadline
    }
    // The select left no receiver behind: a try_send finds nobody waiting.
    EXPECT_EQ(tx.try_send(1).error().error, errc::channel_full);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, BlockedSelectIsWokenBySendOnOneCase) {
  auto r = run([]() -> Task<void> {
    auto [atx, arx] = std::move(*chan<int>(0));
    auto [btx, brx] = std::move(*chan<int>(0));
    auto sender = go([](Sender<int> t) -> Task<void> {
      co_await sleep(1ms);
      co_await t.send(9);
    }(btx));
    const Instant t0 = current_shard()->now();
    Selector sel;
    auto& ca = sel.recv(arx);
    auto& cb = sel.recv(brx);
    sel.timeout(1s);
    auto i = co_await sel.wait();
    EXPECT_EQ(i.value_or(9), 1u);
    EXPECT_TRUE(not_early(t0, 1ms));  // sent after the sender's sleep
    EXPECT_FALSE(ca.value.has_value());
    EXPECT_EQ(cb.value->value_or(0), 9);
    co_await sender.join();
    EXPECT_EQ(atx.try_send(1).error().error, errc::channel_full);  // no leftover waiter on a
  }());
  EXPECT_TRUE(r.has_value());
}

// A select that parks with several cases one event can satisfy must choose among them
// uniformly, as Go's TestPseudoRandomSend expects: the cases join the wait queues in a
// seeded random order. Before, the first case won 2,000 times out of 2,000.
Task<size_t> park_two_sends(Sender<int> tx) {
  auto first = on_send(tx, 0);
  auto second = on_send(tx, 1);
  co_return (co_await select(first, second)).value_or(99);
}
Task<size_t> park_two_receives(Receiver<int> rx) {
  auto first = on_recv(rx);
  auto second = on_recv(rx);
  co_return (co_await select(first, second)).value_or(99);
}

// Each round parks a select first, then satisfies it with one event; counts per case.
Task<std::array<int, 2>> parked_select_rounds(bool by_close, int rounds) {
  std::array<int, 2> wins{};
  for (int i = 0; i < rounds; ++i) {
    auto [tx, rx] = std::move(*chan<int>(0));
    if (by_close) {
      auto selecting = go(park_two_receives(rx));
      co_await yield_now();  // the select parks
      EXPECT_TRUE(tx.close().has_value());
      const size_t won = (co_await selecting.join()).value_or(99);
      if (won < 2) ++wins[won];
    } else {
      auto selecting = go(park_two_sends(tx));
      co_await yield_now();
      const int value = (co_await rx.recv()).value_or(-1);
      const size_t won = (co_await selecting.join()).value_or(99);
      EXPECT_EQ(static_cast<size_t>(value), won);  // the value is the chosen case's
      if (won < 2) ++wins[won];
    }
  }
  co_return wins;
}

TEST_P(Channels, ParkedSelectChoosesUniformlyAmongCasesOneEventSatisfies) {
  constexpr int kRounds = 2000;  // binomial sd 22: the bounds are 6.7 sd from 1000
  for (bool by_close : {false, true}) {
    auto wins = run(parked_select_rounds(by_close, kRounds), 1);
    ASSERT_TRUE(wins.has_value());
    EXPECT_EQ((*wins)[0] + (*wins)[1], kRounds);
    EXPECT_GT((*wins)[0], 850) << (by_close ? "close" : "receive");
    EXPECT_GT((*wins)[1], 850) << (by_close ? "close" : "receive");
  }
}

TEST_P(Channels, AbortedSelectLeavesNoTrace) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(0));
    auto h = go([](Receiver<int> x) -> Task<Result<size_t>> {
      auto c = on_recv(x);
      co_return co_await select(c, after(1h));
    }(rx));
    const Instant t0 = current_shard()->now();
    co_await sleep(1ms);
    EXPECT_TRUE(not_early(t0, 1ms));
    EXPECT_TRUE(h.abort().has_value());
    EXPECT_EQ(err(co_await h.join()), errc::cancelled);
    EXPECT_EQ(tx.try_send(1).error().error, errc::channel_full);
    EXPECT_EQ(current_shard()->pending_timers(), 0u);
  }());
  EXPECT_TRUE(r.has_value());
}

// A select whose channels all live on another shard runs there: ready cases, a blocked
// select woken by a send, a timeout, a default, and an abort that leaves nothing behind.
TEST_P(Channels, SelectOverAnotherShardsChannels) {
  auto r = run([]() -> Task<void> {
    auto [a_tx, a_rx] = std::move(*chan<int>(1));
    auto [b_tx, b_rx] = std::move(*chan<int>(0));
    (void)a_tx.try_send(5);
    auto first = spawn_on(1, [](Receiver<int> a, Receiver<int> b) -> Task<int> {
      auto ca = on_recv(a);
      auto cb = on_recv(b);
      auto i = co_await select(ca, cb);
      co_return i&&* i == 0 && *ca.value ? **ca.value : -1;
    }(a_rx, b_rx));
    EXPECT_EQ((co_await first.join()).value_or(0), 5);

    auto woken = spawn_on(1, [](Receiver<int> a, Sender<int> b) -> Task<int> {
      auto ca = on_recv(a);
      auto cb = on_send(b, 7);  // nobody receives from b: only a can fire
      auto i = co_await select(ca, cb, after(1h));
      co_return i&&* i == 0 && *ca.value ? **ca.value : -1;
    }(a_rx, b_tx));
    co_await sleep(1ms);
    EXPECT_TRUE((co_await a_tx.send(6)).has_value());
    EXPECT_EQ((co_await woken.join()).value_or(0), 6);

    auto timed = spawn_on(1, [](Receiver<int> b) -> Task<size_t> {
      auto cb = on_recv(b);
      const Instant t0 = current_shard()->now();
      auto i = co_await select(cb, after(2ms));
      EXPECT_TRUE(not_early(t0, 2ms));
      co_return i.value_or(99);
    }(b_rx));
    EXPECT_EQ((co_await timed.join()).value_or(0), 1u);
    auto dflt = spawn_on(1, [](Receiver<int> b) -> Task<size_t> {
      auto cb = on_recv(b);
      co_return (co_await select(cb, default_case())).value_or(99);
    }(b_rx));
    EXPECT_EQ((co_await dflt.join()).value_or(0), 1u);

    auto aborted = spawn_on(1, [](Receiver<int> b) -> Task<Result<size_t>> {
      auto cb = on_recv(b);
      co_return co_await select(cb);
    }(b_rx));
    co_await sleep(1ms);
    EXPECT_TRUE(aborted.abort().has_value());
    EXPECT_EQ(err(co_await aborted.join()), errc::cancelled);
    EXPECT_EQ(b_tx.try_send(1).error().error, errc::channel_full);  // no waiter left
  }());
  EXPECT_TRUE(r.has_value());
}

// Nothing of a select over several shards stays behind on a channel.
bool untouched(const detail::ChanHandle<int>& h) { return h.state()->subs == 0; }

TEST_P(Channels, SelectAcrossShardsTakesTheReadyCaseAndNothingElse) {
  auto r = run([]() -> Task<void> {
    auto [a_tx, a_rx] = std::move(*chan<int>(1));
    auto b = co_await chan_on<int>(1, 1);
    EXPECT_TRUE(b.has_value());
    if (!b) co_return;
    auto& [b_tx, b_rx] = *b;
    EXPECT_TRUE(co_await b_tx.send(7));  // buffered on shard 1
    auto ca = on_recv(a_rx);
    auto cb = on_recv(b_rx);
    auto i = co_await select(ca, cb);
    EXPECT_EQ(i.value_or(9), 1u);
    EXPECT_EQ(cb.value && *cb.value ? **cb.value : -1, 7);
    EXPECT_FALSE(ca.value.has_value());
    EXPECT_TRUE(untouched(a_rx) && untouched(b_rx));
    EXPECT_TRUE(a_tx.try_send(1).has_value());  // no receiver of a took anything
    EXPECT_EQ(a_rx.len(), 1u);
    // Both ready: either may win; the other keeps its value.
    EXPECT_TRUE(co_await b_tx.send(8));
    auto ca2 = on_recv(a_rx);
    auto cb2 = on_recv(b_rx);
    auto j = co_await select(ca2, cb2, default_case());
    EXPECT_TRUE(j.has_value() && *j < 2);
    EXPECT_EQ(a_rx.len(), *j == 0 ? 0u : 1u);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, SelectAcrossShardsWaitsTimesOutAndDefaults) {
  auto r = run([]() -> Task<void> {
    auto [a_tx, a_rx] = std::move(*chan<int>(0));
    auto b = co_await chan_on<int>(1, 0);
    if (!b) co_return ADD_FAILURE();
    auto& [b_tx, b_rx] = *b;
    // Woken by a plain send on shard 1's channel, from shard 1 (t0 first: on io_uring the
    // sender's sleep may start before this routine reads the clock otherwise).
    const Instant t0 = current_shard()->now();
    auto sender = spawn_on(1, [](Sender<int> tx) -> Task<bool> {
      co_await sleep(2ms);
      co_return (co_await tx.send(42)).has_value();
    }(b_tx));
    auto ca = on_recv(a_rx);
    auto cb = on_recv(b_rx);
    auto i = co_await select(ca, cb, after(1h));
    EXPECT_EQ(i.value_or(9), 1u);
    EXPECT_EQ(cb.value && *cb.value ? **cb.value : -1, 42);
    EXPECT_TRUE(not_early(t0, 2ms));
    EXPECT_TRUE((co_await sender.join()).value_or(false));
    EXPECT_TRUE(untouched(a_rx) && untouched(b_rx));

    auto ta = on_recv(a_rx);
    auto tb = on_recv(b_rx);
    const Instant t1 = current_shard()->now();
    EXPECT_EQ((co_await select(ta, tb, after(3ms))).value_or(9), 2u);
    EXPECT_TRUE(not_early(t1, 3ms));
    auto da = on_recv(a_rx);
    auto db = on_send(b_tx, 1);
    EXPECT_EQ((co_await select(da, default_case(), db)).value_or(9), 1u);
    EXPECT_EQ(db.value, 1);
    EXPECT_TRUE(untouched(a_rx) && untouched(b_rx));
    EXPECT_EQ(a_tx.try_send(1).error().error, errc::channel_full);  // no receiver left on a
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, SelectAcrossShardsSendCaseAndClose) {
  auto r = run([]() -> Task<void> {
    auto [a_tx, a_rx] = std::move(*chan<std::string>(0));
    auto made = co_await submit_to(1, [] { return chan<std::string>(0); });
    if (!made) co_return ADD_FAILURE();
    auto& [b_tx, b_rx] = *made;
    auto receiver = spawn_on(1, [](Receiver<std::string> rx) -> Task<std::string> {
      co_return (co_await rx.recv()).value_or("none");
    }(b_rx));
    auto sa = on_send(a_tx, "to a");
    auto sb = on_send(b_tx, "to b");
    EXPECT_EQ((co_await select(sa, sb)).value_or(9), 1u);
    EXPECT_EQ(sa.value, "to a");  // not sent: still ours
    EXPECT_EQ((co_await receiver.join()).value_or(""), "to b");
    (void)b_tx.close();
    auto ra = on_recv(a_rx);
    auto rb = on_recv(b_rx);
    EXPECT_EQ((co_await select(ra, rb)).value_or(9), 1u);
    EXPECT_EQ(rb.value ? err(*rb.value) : std::error_code{}, errc::channel_closed);
    auto sc = on_send(b_tx, "late");
    auto sd = on_send(a_tx, "never");
    EXPECT_EQ((co_await select(sd, sc)).value_or(9), 1u);
    EXPECT_EQ(sc.error, errc::channel_closed);
    EXPECT_EQ(sc.value, "late");
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, SelectAcrossShardsAbortLeavesNothingBehind) {
  auto r = run([]() -> Task<void> {
    auto [a_tx, a_rx] = std::move(*chan<int>(1));
    auto b = co_await chan_on<int>(1, 1);
    if (!b) co_return ADD_FAILURE();
    auto& [b_tx, b_rx] = *b;
    auto selecting = go([](Receiver<int> a, Receiver<int> b) -> Task<Result<size_t>> {
      auto ca = on_recv(a);
      auto cb = on_recv(b);
      co_return co_await select(ca, cb);
    }(a_rx, b_rx));
    co_await sleep(1ms);
    EXPECT_TRUE(selecting.abort().has_value());
    EXPECT_EQ(err(co_await selecting.join()), errc::cancelled);
    EXPECT_TRUE(untouched(a_rx) && untouched(b_rx));
    EXPECT_TRUE(a_tx.try_send(1).has_value());
    EXPECT_EQ(a_rx.len(), 1u);
    EXPECT_TRUE(co_await b_tx.send(2));
    auto take = submit_to(1, [rx = b_rx]() mutable { return rx.try_recv(); });  // named: see below
    auto left = co_await take;
    EXPECT_EQ(left.value_or(0), 2);

    // Named awaitables: GCC 12 destroys a temporary holding a handle twice when it is
    // built inside the co_await expression.
    auto waiting = [](Receiver<int> a, Receiver<int> b) -> Task<Result<size_t>> {
      auto ca = on_recv(a);
      auto cb = on_recv(b);
      (void)co_await a.recv();  // empties a
      co_return co_await select(ca, cb);
    }(a_rx, b_rx);
    const Instant t0 = current_shard()->now();
    auto timed = co_await with_timeout(2ms, std::move(waiting));
    EXPECT_EQ(err(timed), errc::timed_out);
    EXPECT_TRUE(not_early(t0, 2ms));
    EXPECT_TRUE(untouched(a_rx) && untouched(b_rx));
  }());
  EXPECT_TRUE(r.has_value());
}

// Select against select on one unbuffered channel, both selects over several shards:
// neither is ready alone; the channel's home pairs them.
// Envelopes go back to the shard that made them (envelope_pool.hpp), so a long exchange
// across shards reuses a few blocks instead of taking one from the system per message:
// round trips (each envelope comes back to its maker as the answer) and selects across
// shards (arms are made on the selecting shard and freed on the channel's, notes the other
// way round: without the way back one pool would fill while the other kept allocating).
TEST_P(Channels, CrossShardTrafficReusesItsEnvelopeBlocks) {
  if (EnvelopePool::bypassed())
    GTEST_SKIP() << "AddressSanitizer build: every envelope comes from the system allocator";
  constexpr int kRounds = 2000;
  auto r = run([]() -> Task<void> {
    auto there = co_await chan_on<int>(1, 0);
    auto full = co_await chan_on<int>(1, unbounded);
    EXPECT_TRUE(there && full);
    if (!there || !full) co_return;
    auto& [ping_tx, ping_rx] = *there;
    auto [pong_tx, pong_rx] = std::move(*chan<int>(0));
    auto echo = spawn_on(1, [](Receiver<int> in, Sender<int> out) -> Task<void> {
      while (auto v = co_await in.recv()) (void)co_await out.send(*v);
    }(ping_rx, std::move(pong_tx)));
    for (int i = 0; i < kRounds; ++i) {
      EXPECT_TRUE(co_await ping_tx.send(i));
      EXPECT_EQ((co_await pong_rx.recv()).value_or(-1), i);
    }
    (void)ping_tx.close();
    (void)co_await echo.join();
    auto& [full_tx, full_rx] = *full;
    auto fill = submit_to(1, [tx = full_tx]() mutable {
      for (int i = 0; i < kRounds; ++i) (void)tx.try_send(i);
    });
    (void)co_await fill;
    auto [idle_tx, idle_rx] = std::move(*chan<int>(1));
    for (int i = 0; i < kRounds; ++i) {
      auto a = on_recv(idle_rx);
      auto b = on_recv(full_rx);
      EXPECT_EQ((co_await select(a, b)).value_or(9), 1u);
    }
  }());
  EXPECT_TRUE(r.has_value());
  EXPECT_GE(last_stats_.total.envelopes_delivered, uint64_t{4 * kRounds});
  // About ten blocks here, against one per select (4,000) when blocks stay where freed.
  EXPECT_LT(last_stats_.total.envelope_blocks, 100u);
}

TEST_P(Channels, SelectAgainstSelectAcrossShards) {
  auto r = run(
      []() -> Task<void> {
        auto c = co_await chan_on<int>(1, 0);
        if (!c) co_return ADD_FAILURE();
        auto& [c_tx, c_rx] = *c;
        auto [x_tx, x_rx] = std::move(*chan<int>(0));  // shard 0, nobody sends
        auto y = co_await chan_on<int>(2, 0);          // shard 2, nobody sends
        if (!y) co_return ADD_FAILURE();
        auto& [y_tx, y_rx] = *y;
        for (int round = 0; round < 20; ++round) {
          // The sender selects from shard 2 over c (shard 1) and x (shard 0).
          auto sending = spawn_on(2, [](Sender<int> c, Receiver<int> x, int v) -> Task<size_t> {
            auto sc = on_send(c, v);
            auto rx = on_recv(x);
            co_return (co_await select(rx, sc, after(1h))).value_or(9);
          }(c_tx, x_rx, round));
          if (round % 2 == 0) co_await sleep(1ms);  // either may arrive first
          auto rc = on_recv(c_rx);
          auto ry = on_recv(y_rx);
          auto i = co_await select(ry, rc, after(1h));
          EXPECT_EQ(i.value_or(9), 1u);
          EXPECT_EQ(rc.value && *rc.value ? **rc.value : -1, round);
          EXPECT_EQ((co_await sending.join()).value_or(0), 1u);
          EXPECT_TRUE(untouched(c_rx) && untouched(x_rx) && untouched(y_rx));
        }
        // Against a plain select on the channel's own shard.
        auto local = spawn_on(1, [](Sender<int> c) -> Task<size_t> {
          auto sc = on_send(c, 99);
          co_return (co_await select(sc, after(1h))).value_or(9);
        }(c_tx));
        auto rc = on_recv(c_rx);
        auto ry = on_recv(y_rx);
        EXPECT_EQ((co_await select(ry, rc)).value_or(9), 1u);
        EXPECT_EQ(rc.value && *rc.value ? **rc.value : -1, 99);
        EXPECT_EQ((co_await local.join()).value_or(9), 0u);
      }(),
      3);
  EXPECT_TRUE(r.has_value());
}

// Selects meet selects on every shard at once: producers send by select over three
// channels homed on three shards, consumers receive by select (with a timeout) over all
// three; every value arrives exactly once. On io_uring the shards are real threads.
TEST_P(Channels, SelectsAcrossShardsUnderLoad) {
  constexpr int kProducers = 3;
  constexpr int kValues = 150;
  auto r = run(
      []() -> Task<int64_t> {
        std::vector<Sender<int>> txs;
        std::vector<Receiver<int>> rxs;
        for (uint32_t home = 0; home < 3; ++home) {
          auto made = co_await chan_on<int>(home, home == 0 ? 4 : 0);
          if (!made) co_return -1;
          txs.push_back(std::move(made->first));
          rxs.push_back(std::move(made->second));
        }
        std::vector<JoinHandle<void>> producers;
        for (int p = 0; p < kProducers; ++p) {
          producers.push_back(
              spawn_on(static_cast<uint32_t>(p % 3), [](std::vector<Sender<int>> out, int base) -> Task<void> {
                for (int i = 1; i <= kValues; ++i) {
                  auto a = on_send(out[0], base + i);
                  auto b = on_send(out[1], base + i);
                  auto c = on_send(out[2], base + i);
                  if (!co_await select(a, b, c)) co_return;
                }
              }(txs, p * 1000)));
        }
        txs.clear();  // closed once the producers are done
        auto consumer = [](std::vector<Receiver<int>> in) -> Task<int64_t> {
          int64_t sum = 0;
          std::vector<bool> open(in.size(), true);
          for (int left = 3; left > 0;) {
            auto a = on_recv(in[0]);
            auto b = on_recv(in[1]);
            auto c = on_recv(in[2]);
            const Instant t0 = current_shard()->now();
            auto i = co_await select(a, b, c, after(20ms));
            if (!i) co_return -1;
            RecvCase<int>* cases[] = {&a, &b, &c};
            if (*i == 3) {
              EXPECT_TRUE(not_early(t0, 20ms));
              continue;
            }
            auto& v = *cases[*i]->value;
            if (v) {
              sum += *v;
            } else if (open[*i]) {
              open[*i] = false;
              --left;
            }
          }
          co_return sum;
        };
        auto remote = spawn_on(1, consumer(rxs));
        auto here = co_await consumer(rxs);
        auto there = co_await remote.join();
        for (auto& p : producers) co_await p.join();
        for (auto& rx : rxs) EXPECT_TRUE(untouched(rx));
        co_return here + there.value_or(-1000000);
      }(),
      3);
  int64_t want = 0;
  for (int p = 0; p < kProducers; ++p) want += int64_t{kValues} * p * 1000 + int64_t{kValues} * (kValues + 1) / 2;
  EXPECT_EQ(r.value_or(0), want);
}

// The worked example of docs/for-go-programmers.md, as written there.
Task<int> sum_squares() {
  auto [tx, rx] = ringo::chan<int>(0).value();
  for (int i = 0; i < 4; ++i) {
    ringo::go([](ringo::Sender<int> out, int i) -> ringo::Task<void> { co_await out.send(i * i); }(tx, i)).detach();
  }
  int sum = 0;
  for (int i = 0; i < 4; ++i) {
    auto v = ringo::on_recv(rx);
    auto chosen = co_await ringo::select(v, ringo::after(1s));
    if (!chosen || *chosen == 1) co_return -1;  // cancelled, or timed out
    sum += v.value->value_or(0);
  }
  co_return sum;
}

TEST_P(Channels, GoGuideExampleSumsSquares) { EXPECT_EQ(run(sum_squares()).value_or(0), 0 + 1 + 4 + 9); }

// The guide's second form, with case bodies.
Task<int> sum_squares_with_case_bodies() {
  auto [tx, rx] = ringo::chan<int>(0).value();
  for (int i = 0; i < 4; ++i) {
    ringo::go([](ringo::Sender<int> out, int i) -> ringo::Task<void> { co_await out.send(i * i); }(tx, i)).detach();
  }
  int sum = 0;
  for (int i = 0; i < 4; ++i) {
    auto more =
        co_await ringo::select(ringo::on_recv(rx, [&](ringo::Result<int> v) { return sum += v.value_or(0), true; }),
                               ringo::after(1s, [&] { return false; }));
    if (!more.value_or(false)) co_return -1;  // cancelled, or timed out
  }
  co_return sum;
}

TEST_P(Channels, GoGuideExampleWithCaseBodiesSumsSquares) {
  EXPECT_EQ(run(sum_squares_with_case_bodies()).value_or(0), 0 + 1 + 4 + 9);
}

TEST_P(Channels, SelectSendCaseOnClosedChannelHandsValueBack) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<std::string>(0));
    (void)tx.close();
    auto s = on_send(tx, "payload");
    auto i = co_await select(s);
    EXPECT_EQ(i.value_or(9), 0u);
    EXPECT_EQ(s.error, errc::channel_closed);
    EXPECT_EQ(s.value, "payload");
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(Channels, PipelineWithSelectTimeoutAndClose) {
  auto r = run([]() -> Task<int> {
    auto [numbers_tx, numbers_rx] = std::move(*chan<int>(4));
    auto [squares_tx, squares_rx] = std::move(*chan<int>(4));
    auto [quit_tx, quit_rx] = std::move(*chan<int>(0));
    auto stage1 = go([](Sender<int> out) -> Task<void> {
      for (int i = 1; i <= 20; ++i) co_await out.send(i);
    }(std::move(numbers_tx)));
    auto stage2 = spawn_on(1, [](Receiver<int> in, Sender<int> out) -> Task<void> {
      for (;;) {
        auto v = co_await in.recv();
        if (!v) break;
        co_await out.send(*v * *v);
      }
    }(numbers_rx, std::move(squares_tx)));
    int total = 0;
    int timeouts = 0;
    for (bool open = true; open;) {
      auto sq = on_recv(squares_rx);
      auto quit = on_recv(quit_rx);
      const Instant t0 = current_shard()->now();
      auto i = co_await select(sq, quit, after(50ms));
      if (!i) co_return -1;
      if (*i == 2) {
        EXPECT_TRUE(not_early(t0, 50ms));
      }
      if (*i == 0) {
        if (!sq.value->has_value()) {
          open = false;  // stage 2 closed its output
        } else {
          total += **sq.value;
        }
      } else if (*i == 2) {
        ++timeouts;
      } else {
        open = false;
      }
    }
    co_await stage1.join();
    co_await stage2.join();
    EXPECT_LT(timeouts, 100);
    co_return total;
  }());
  EXPECT_EQ(r.value_or(0), 2870);  // sum of squares 1..20
}

// The sleep handshake on real threads. With idle_spin 0 a shard sleeps in the kernel the
// moment it is idle, so nearly every hop must ring its doorbell; with 2 us a hop finds its
// target asleep, awake or on its way to sleep. A lost wake-up shows as the timeout.
Task<Result<long>> traffic_between_three_shards() {
  constexpr int kRoundTrips = 2000;
  constexpr int kStream = 5000;
  auto ping = co_await submit_to(1, [] { return chan<int>(0); });
  auto stream = chan<int>(4);  // homed here: shard 2 sends, shard 1 receives
  if (!ping || !stream) co_return -1;
  auto [ping_tx, ping_rx] = std::move(*ping);
  auto [pong_tx, pong_rx] = std::move(*chan<int>(0));
  auto [stream_tx, stream_rx] = std::move(*stream);
  auto echo = spawn_on(1, [](Receiver<int> in, Sender<int> out) -> Task<void> {
    while (auto v = co_await in.recv()) (void)co_await out.send(*v + 1);
  }(std::move(ping_rx), std::move(pong_tx)));
  auto producer = spawn_on(2, [](Sender<int> out) -> Task<void> {
    for (int i = 1; i <= kStream; ++i) (void)co_await out.send(i);
  }(std::move(stream_tx)));
  auto consumer = spawn_on(1, [](Receiver<int> in) -> Task<long> {
    long sum = 0;
    while (auto v = co_await in.recv()) sum += *v;
    co_return sum;
  }(std::move(stream_rx)));
  long echoed = 0;
  for (int i = 0; i < kRoundTrips; ++i) {
    if (!co_await ping_tx.send(i)) co_return -2;
    echoed += (co_await pong_rx.recv()).value_or(-1000000) - i;
  }
  (void)ping_tx.close();
  (void)co_await echo.join();
  (void)co_await producer.join();
  auto sum = co_await consumer.join();
  co_return echoed == kRoundTrips&& sum.value_or(0) == long{kStream} * (kStream + 1) / 2 ? 1 : -3;
}

Task<Result<long>> traffic_within_10s() {
  auto traffic = traffic_between_three_shards();
  co_return co_await with_timeout(10s * testing::kSlowdown, std::move(traffic));
}

TEST(ChannelsOnUring, CrossShardTrafficSurvivesShardsThatSleepWhenIdle) {
  // Shard 0's own deadline (10 s a run, more under sanitizers) reports a wake-up lost on
  // shards 1 and 2; the watchdog catches one lost on shard 0 itself, or a shutdown that
  // never ends.
  testing::Watchdog guard{std::chrono::seconds(30),
                          "ping-pong and a stream across 3 io_uring shards that sleep when idle"};
  for (const Duration spin : {Duration{0}, Duration{2us}}) {
    RuntimeConfig c;
    c.shards = 3;
    c.backend = Backend::uring;
    c.idle_spin = spin;
    auto rt = Runtime::create(c);
    ASSERT_TRUE(rt.has_value());
    auto r = rt->block_on(traffic_within_10s());
    ASSERT_TRUE(r.has_value()) << "idle_spin " << spin.count() << " ns: " << r.error().message();
    EXPECT_EQ(*r, 1) << "idle_spin " << spin.count() << " ns";
    (void)rt->shutdown();
    EXPECT_GT(rt->stats().total.doorbells_sent, 0u);  // the sleeping path was taken
  }
}

// The three ways a select crosses shards (docs/channels-and-select.md, "Three paths
// across shards"), by what they cost in envelopes on the simulator, where the count is
// exact: the selecting routine on shard 0, the ready case on shard 1.
enum class Crossing { shipped, pregranted, claimed };

// Envelopes delivered in the whole run, `selects` selects of the given shape.
uint64_t envelopes_for_selects(Crossing shape, int selects) {
  constexpr int kFill = 64;
  RuntimeConfig c;
  c.backend = Backend::sim;
  c.shards = 3;
  c.seed = 7;
  auto rt = Runtime::create(c);
  EXPECT_TRUE(rt.has_value());
  if (!rt) return 0;
  auto r = rt->block_on([](Crossing shape, int n) -> Task<void> {
    auto ready = co_await chan_on<int>(1, unbounded);  // the case that is taken, every time
    auto idle_there = co_await chan_on<int>(shape == Crossing::claimed ? 2 : 1, 0);
    if (!ready || !idle_there) co_return ADD_FAILURE();
    auto fill = submit_to(1, [tx = ready->first]() mutable {
      for (int i = 0; i < kFill; ++i) (void)tx.try_send(i);
    });
    (void)co_await fill;
    auto [idle_tx, idle_here] = std::move(*chan<int>(0));
    for (int i = 0; i < n; ++i) {
      auto a = on_recv(ready->second);
      auto b = on_recv(shape == Crossing::pregranted ? idle_here : idle_there->second);
      EXPECT_EQ((co_await select(a, b)).value_or(9), 0u);
    }
  }(shape, selects));
  EXPECT_TRUE(r.has_value());
  (void)rt->shutdown();
  return rt->stats().total.envelopes_delivered;
}

double envelopes_per_select(Crossing shape) {
  constexpr int kSelects = 50;
  return static_cast<double>(envelopes_for_selects(shape, kSelects) - envelopes_for_selects(shape, 0)) / kSelects;
}

// Every case on one other shard: the whole select is one cross-shard call (the request
// and its answer). Sent through the claim protocol instead (tried 2026-12: select.hpp
// made to take that path) it took 4: the arm, the claim, the grant and the commit.
TEST(SelectAcrossShardsCost, EveryCaseOnOneOtherShardIsOneRoundTrip) {
  EXPECT_EQ(envelopes_per_select(Crossing::shipped), 2.0);
}
// This shard's cases not ready, the rest on one other shard: that arm leaves holding the
// lock and commits at once (the local arm is delivered without a port or doorbell, but
// it is an envelope too, and so is its retirement and answer).
TEST(SelectAcrossShardsCost, PregrantedArmIsOneRoundTripToTheOtherShard) {
  EXPECT_EQ(envelopes_per_select(Crossing::pregranted), 6.0);
}
// Channels of two other shards: arms out, a report, claim and grant, commit, and the
// retirement of the other arm.
TEST(SelectAcrossShardsCost, ClaimProtocolOverTwoOtherShards) {
  EXPECT_EQ(envelopes_per_select(Crossing::claimed), 8.0);
}

}  // namespace
}  // namespace ringo

// ---------------------------------------------------------------- select fairness
//
// When several cases of a select can proceed, each must be chosen equally often: cases
// ready when the select starts, and cases of a select that already waits (parked) when
// one event makes several of them ready at once. Shapes: send cases, receive and send
// mixed, duplicate cases on one channel, with a default, ready cases among idle ones.
// Every case runs on one shard with a seeded PRNG, so on io_uring too the outcome is a
// function of the seed: a fixed seed loop, and a chi-square test at p = 1e-5 over the
// summed counts (a fair engine fails that once per 100,000 seeds; an engine that always
// picks one case fails it by orders of magnitude).

namespace ringo {
namespace {

using namespace std::chrono_literals;

// Upper critical value of chi-square with df degrees of freedom at p = 1e-5
// (Wilson-Hilferty; a little above the exact value for small df, so on the safe side).
double chi_square_critical_p1e5(size_t df) {
  const double z = 4.2649;
  const double k = 2.0 / (9.0 * static_cast<double>(df));
  return static_cast<double>(df) * std::pow(1.0 - k + z * std::sqrt(k), 3.0);
}

// Whether counts[i] is uniform over the positions in `fair` and 0 everywhere else.
::testing::AssertionResult uniform_over(const std::vector<int>& counts, const std::vector<size_t>& fair) {
  std::ostringstream text;
  for (size_t i = 0; i < counts.size(); ++i) text << (i == 0 ? "counts {" : ", ") << counts[i];
  text << "}";
  int total = 0;
  for (size_t i : fair) total += counts[i];
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != 0 && std::find(fair.begin(), fair.end(), i) == fair.end()) {
      return ::testing::AssertionFailure() << "position " << i << " cannot proceed but was chosen: " << text.str();
    }
  }
  if (total == 0) return ::testing::AssertionFailure() << "no select completed: " << text.str();
  const double expected = static_cast<double>(total) / static_cast<double>(fair.size());
  double chi2 = 0;
  for (size_t i : fair) chi2 += std::pow(counts[i] - expected, 2) / expected;
  const double critical = chi_square_critical_p1e5(fair.size() - 1);
  if (chi2 < critical) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "not uniform: chi-square " << chi2 << " >= " << critical << " (p = 1e-5, "
                                       << fair.size() - 1 << " df), " << text.str();
}

// Channels for the ready shapes: `full` always has a value to receive, `open` always has
// room (unbounded), `idle` never lets a receive or a send proceed (unbuffered, nobody at
// the other end).
struct Chans {
  Chans() {
    auto f = std::move(*chan<int>(unbounded));
    full_tx = std::move(f.first);
    full_rx = std::move(f.second);
    auto o = std::move(*chan<int>(unbounded));
    open_tx = std::move(o.first);
    open_rx = std::move(o.second);
    auto i = std::move(*chan<int>(0));
    idle_tx = std::move(i.first);
    idle_rx = std::move(i.second);
  }
  void fill(int n) {
    for (int v = 0; v < n; ++v) (void)full_tx.try_send(v);
  }
  Sender<int> full_tx, open_tx, idle_tx;
  Receiver<int> full_rx, open_rx, idle_rx;
};

enum class Case : uint8_t { recv_full, recv_idle, send_open, send_idle, dflt };

// One select per round over `shape`, all on this shard; counts[i] = times position i won.
Task<std::vector<int>> ready_rounds(std::vector<Case> shape, int rounds) {
  Chans ch;
  ch.fill(rounds * static_cast<int>(shape.size()));
  std::vector<int> counts(shape.size(), 0);
  for (int r = 0; r < rounds; ++r) {
    Selector sel;
    for (Case c : shape) {
      switch (c) {
        case Case::recv_full: sel.recv(ch.full_rx); break;
        case Case::recv_idle: sel.recv(ch.idle_rx); break;
        case Case::send_open: sel.send(ch.open_tx, r); break;
        case Case::send_idle: sel.send(ch.idle_tx, r); break;
        case Case::dflt: sel.default_case(); break;
      }
    }
    auto i = co_await sel.wait();
    if (!i || *i >= counts.size()) co_return std::vector<int>{};
    ++counts[*i];
    while (ch.open_rx.try_recv()) {
    }
  }
  co_return counts;
}

class SelectFairness : public testing::OnEveryBackend {
 protected:
  static constexpr uint64_t kSeeds = 4;

  // Runs body(rounds) on a one-shard runtime for each of kSeeds seeds and sums the
  // position counts it returns. (RINGO_SEED overrides them all: four runs of one seed.)
  template <class Body>
  std::vector<int> counts_over_seeds(size_t positions, int rounds, Body body) {
    std::vector<int> total(positions, 0);
    for (uint64_t n = 0; n < kSeeds; ++n) {
      RuntimeConfig c = config(1);
      c.seed = c.seed.value_or(42) + 1000 * n;
      auto rt = Runtime::create(c);
      if (!rt) {
        ADD_FAILURE() << rt.error().message();
        return total;
      }
      auto counts = rt->block_on(body(positions, rounds));
      EXPECT_TRUE(counts.has_value()) << "seed " << rt->seed();
      if (!counts) continue;
      for (size_t i = 0; i < positions && i < counts->size(); ++i) total[i] += (*counts)[i];
    }
    return total;
  }

  // Every position that can proceed (a full receive, an open send) wins equally often.
  void expect_ready_shape_uniform(std::vector<Case> shape, int rounds_per_seed) {
    std::vector<size_t> fair;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == Case::recv_full || shape[i] == Case::send_open) fair.push_back(i);
    }
    auto counts = counts_over_seeds(shape.size(), rounds_per_seed,
                                    [&](size_t, int rounds) { return ready_rounds(shape, rounds); });
    EXPECT_TRUE(uniform_over(counts, fair));
  }
};
RINGO_ON_EVERY_BACKEND(SelectFairness);

TEST_P(SelectFairness, ReadySendCases) {
  expect_ready_shape_uniform({Case::send_open, Case::send_open}, 500);
  expect_ready_shape_uniform({Case::send_open, Case::send_open, Case::send_open, Case::send_open}, 1000);
}

TEST_P(SelectFairness, ReadyReceiveAndSendCasesMixed) {
  expect_ready_shape_uniform({Case::recv_full, Case::send_open}, 500);
  expect_ready_shape_uniform({Case::send_open, Case::recv_full, Case::send_open, Case::recv_full, Case::dflt}, 1000);
}

// All the receive cases are on one channel, all the send cases on another.
TEST_P(SelectFairness, ReadyDuplicateCasesOnOneChannel) {
  expect_ready_shape_uniform({Case::recv_full, Case::recv_full, Case::recv_full}, 750);
  expect_ready_shape_uniform({Case::send_open, Case::send_open, Case::send_open, Case::dflt}, 750);
}

// Cases that cannot proceed are never chosen, the default neither, and the ready ones are
// chosen uniformly.
TEST_P(SelectFairness, ReadyCasesAmongIdleOnes) {
  expect_ready_shape_uniform({Case::recv_idle, Case::recv_full, Case::send_idle, Case::send_open, Case::recv_full,
                              Case::recv_idle, Case::dflt},
                             750);
}

// Go's TestPseudoRandomSend: a select with two send cases on one unbuffered channel, and
// a receiver. Each round the receiver is spawned before the select starts and so is
// already waiting: both cases are ready at once.
TEST_P(SelectFairness, TwoSendCasesOnOneChannelWithTheReceiverWaiting) {
  auto counts = counts_over_seeds(2, 500, [](size_t, int rounds) -> Task<std::vector<int>> {
    auto [tx, rx] = std::move(*chan<int>(0));
    std::vector<int> counts(2, 0);
    for (int r = 0; r < rounds; ++r) {
      auto receiver = go([](Receiver<int> x) -> Task<int> { co_return (co_await x.recv()).value_or(-1); }(rx));
      co_await yield_now();  // the receiver parks in recv
      auto a = on_send(tx, 0);
      auto b = on_send(tx, 1);
      auto i = co_await select(a, b);
      const int got = (co_await receiver.join()).value_or(-1);
      if (!i || got != static_cast<int>(*i)) co_return std::vector<int>{};
      ++counts[*i];
    }
    co_return counts;
  });
  EXPECT_TRUE(uniform_over(counts, {0, 1}));
}

// The same with the select parked first: the receiver arrives after it, and its one
// receive makes both send cases able to proceed at once. Go's TestPseudoRandomSend is
// this case.
TEST_P(SelectFairness, ParkedSelectWithTwoSendCasesOnOneChannel) {
  auto counts = counts_over_seeds(2, 500, [](size_t, int rounds) -> Task<std::vector<int>> {
    auto [tx, rx] = std::move(*chan<int>(0));
    std::vector<int> counts(2, 0);
    for (int r = 0; r < rounds; ++r) {
      // Runs only once this routine is parked in the select below.
      auto receiver = go([](Receiver<int> x) -> Task<int> { co_return (co_await x.recv()).value_or(-1); }(rx));
      auto a = on_send(tx, 0);
      auto b = on_send(tx, 1);
      auto i = co_await select(a, b);
      const int got = (co_await receiver.join()).value_or(-1);
      if (!i || got != static_cast<int>(*i)) co_return std::vector<int>{};
      ++counts[*i];
    }
    co_return counts;
  });
  EXPECT_TRUE(uniform_over(counts, {0, 1}));
}

// A parked select with three receive cases on one channel, woken by one send.
TEST_P(SelectFairness, ParkedSelectWithDuplicateReceiveCasesWokenByASend) {
  auto counts = counts_over_seeds(3, 500, [](size_t, int rounds) -> Task<std::vector<int>> {
    auto [tx, rx] = std::move(*chan<int>(0));
    std::vector<int> counts(3, 0);
    for (int r = 0; r < rounds; ++r) {
      auto sender = go([](Sender<int> t, int v) -> Task<bool> { co_return (co_await t.send(v)).has_value(); }(tx, r));
      auto a = on_recv(rx);
      auto b = on_recv(rx);
      auto c = on_recv(rx);
      auto i = co_await select(a, b, c);
      EXPECT_TRUE((co_await sender.join()).value_or(false));
      if (!i) co_return std::vector<int>{};
      ++counts[*i];
    }
    co_return counts;
  });
  EXPECT_TRUE(uniform_over(counts, {0, 1, 2}));
}

// A parked select with four receive cases on one channel: a close makes all four ready at
// once.
TEST_P(SelectFairness, ParkedSelectWhoseCasesACloseMakesReady) {
  auto counts = counts_over_seeds(4, 500, [](size_t, int rounds) -> Task<std::vector<int>> {
    std::vector<int> counts(4, 0);
    for (int r = 0; r < rounds; ++r) {
      auto [tx, rx] = std::move(*chan<int>(0));
      auto closer = go([](Sender<int> t) -> Task<void> {
        (void)t.close();
        co_return;
      }(std::move(tx)));
      auto a = on_recv(rx);
      auto b = on_recv(rx);
      auto c = on_recv(rx);
      auto d = on_recv(rx);
      auto i = co_await select(a, b, c, d);
      co_await closer.join();
      if (!i) co_return std::vector<int>{};
      RecvCase<int>* cases[] = {&a, &b, &c, &d};
      EXPECT_EQ(cases[*i]->value ? err(*cases[*i]->value) : std::error_code{}, errc::channel_closed);
      ++counts[*i];
    }
    co_return counts;
  });
  EXPECT_TRUE(uniform_over(counts, {0, 1, 2, 3}));
}

// A parked select with receive and send cases on one channel besides an idle one: a close
// makes the receive and the send case ready at once (the send fails with channel_closed),
// never the idle one.
TEST_P(SelectFairness, ParkedSelectWithReceiveAndSendCasesACloseMakesReady) {
  auto counts = counts_over_seeds(3, 500, [](size_t, int rounds) -> Task<std::vector<int>> {
    std::vector<int> counts(3, 0);
    auto [idle_tx, idle_rx] = std::move(*chan<int>(0));
    for (int r = 0; r < rounds; ++r) {
      auto [tx, rx] = std::move(*chan<int>(0));
      auto closer = go([](Sender<int> t) -> Task<void> {
        (void)t.close();
        co_return;
      }(tx));
      auto a = on_recv(rx);
      auto b = on_recv(idle_rx);
      auto c = on_send(tx, r);
      auto i = co_await select(a, b, c);
      co_await closer.join();
      if (!i) co_return std::vector<int>{};
      ++counts[*i];
    }
    co_return counts;
  });
  EXPECT_TRUE(uniform_over(counts, {0, 2}));
}

// The parked send cases again, with the channel on another shard (simulator only: the
// receiver must come after the select has parked there, which virtual time guarantees and
// real threads do not). counts[i]: how often send case i was taken.
std::vector<int> parked_sends_to_another_shard(bool with_idle_case_here) {
  std::vector<int> counts(2, 0);
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 2;
    auto report = sim::run(c, [&]() -> Task<void> {
      auto made = co_await submit_to(1, [] { return chan<int>(0); });
      if (!made) co_return ADD_FAILURE();
      auto& [tx, rx] = *made;
      auto [idle_tx, idle_rx] = std::move(*chan<int>(0));
      for (int r = 0; r < 500; ++r) {
        auto receiver = spawn_on(1, [](Receiver<int> x) -> Task<int> {
          co_await sleep(1ms);  // the select has parked by then
          co_return (co_await x.recv()).value_or(-1);
        }(rx));
        auto a = on_send(tx, 0);
        auto b = on_send(tx, 1);
        auto idle = on_recv(idle_rx);
        // Not `?:` around the co_awaits: GCC 12 miscompiles that (chan_prop.cpp).
        Result<size_t> i = fail(errc::invalid_argument);
        if (with_idle_case_here) {
          i = co_await select(a, b, idle);
        } else {
          i = co_await select(a, b);
        }
        const int got = (co_await receiver.join()).value_or(-1);
        if (!i || got != static_cast<int>(*i)) co_return ADD_FAILURE() << "round " << r;
        ++counts[*i];
      }
    });
    EXPECT_TRUE(report.ok()) << report.message << " " << report.replay_hint();
  }
  return counts;
}

// Every case on the other shard: the select runs there, with the one-shard engine.
TEST(SelectFairnessInSim, ParkedSelectRunOnTheChannelsShard) {
  EXPECT_TRUE(uniform_over(parked_sends_to_another_shard(false), {0, 1}));
}

// An idle case on this shard too: the claim protocol of a select over several shards.
TEST(SelectFairnessInSim, ParkedSelectAcrossShards) {
  EXPECT_TRUE(uniform_over(parked_sends_to_another_shard(true), {0, 1}));
}

}  // namespace
}  // namespace ringo
