// What Go's own channel tests check (test/chan/*.go, test/chancap.go, test/closedchan.go,
// runtime/chan_test.go), said in ringo's terms, on every backend. Where ringo differs
// from Go on purpose (errors as values instead of panics, `.when(false)` for a nil case)
// the test says what ringo does instead (docs/channels-and-select.md).
#include <variant>
#include <vector>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;

class GoChannels : public testing::OnEveryBackend {};

// The error of a SendResult (its Rejected carries the value back too), or none.
std::error_code send_err(const SendResult<int>& r) { return r ? std::error_code{} : r.error().error; }
RINGO_ON_EVERY_BACKEND(GoChannels);

// chancap.go, TestChan's len/cap loop: cap() is the capacity given, len() the values
// buffered; an unbuffered channel's len stays 0 even with a sender parked on it.
TEST_P(GoChannels, LenAndCapAreWhatGoReports) {
  auto r = run([]() -> Task<void> {
    for (size_t cap : {size_t{0}, size_t{1}, size_t{10}, size_t{199}}) {
      auto [tx, rx] = chan<int>(cap).value();
      EXPECT_EQ(tx.capacity(), cap);
      EXPECT_EQ(rx.capacity(), cap);
      for (size_t i = 0; i < cap; ++i) {
        EXPECT_EQ(rx.len(), i);
        EXPECT_TRUE(tx.try_send(static_cast<int>(i)).has_value());
      }
      EXPECT_EQ(rx.len(), cap) << "cap " << cap;
      EXPECT_EQ(send_err(tx.try_send(-1)), errc::channel_full);
      EXPECT_TRUE(tx.close().has_value());
      EXPECT_EQ(rx.len(), cap) << "closing keeps what is buffered";
    }
    auto [tx, rx] = chan<int>(0).value();
    auto parked = go([](Sender<int> t) -> Task<void> { (void)co_await t.send(1); }(tx));
    co_await yield_now();
    EXPECT_EQ(rx.len(), 0u) << "a parked sender is not a buffered value";
    EXPECT_EQ((co_await rx.recv()).value_or(0), 1);
    (void)co_await parked.join();
    EXPECT_EQ(Receiver<int>{}.capacity(), 0u);
    EXPECT_EQ(Receiver<int>{}.len(), 0u);
  }());
  EXPECT_TRUE(r.has_value());
}

// nonblock.go: on an unbuffered channel a non-blocking send succeeds when a receiver is
// parked, and a non-blocking receive when a sender is.
TEST_P(GoChannels, NonBlockingOpsMeetAParkedPartnerOnAnUnbufferedChannel) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(0).value();
    EXPECT_EQ(send_err(tx.try_send(1)), errc::channel_full) << "nobody is receiving yet";
    auto receiver = go([](Receiver<int> in) -> Task<Result<int>> { co_return co_await in.recv(); }(rx));
    co_await yield_now();  // parked in recv
    EXPECT_TRUE(tx.try_send(7).has_value());
    EXPECT_EQ((co_await receiver.join()).value_or(0), 7);

    EXPECT_EQ(err(rx.try_recv()), errc::channel_empty) << "nobody is sending yet";
    auto sender = go([](Sender<int> out) -> Task<void> { (void)co_await out.send(8); }(tx));
    co_await yield_now();  // parked in send
    EXPECT_EQ(rx.try_recv().value_or(0), 8);
    (void)co_await sender.join();
  }());
  EXPECT_TRUE(r.has_value());
}

// fifo.go and Go's wait queues: blocked senders are served in the order they blocked,
// and so are blocked receivers.
TEST_P(GoChannels, BlockedSendersAndReceiversAreServedInTheOrderTheyBlocked) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(1).value();
    EXPECT_TRUE(tx.try_send(0).has_value());  // full
    std::vector<JoinHandle<void>> senders;
    for (int v = 1; v <= 3; ++v) {
      senders.push_back(go([](Sender<int> t, int value) -> Task<void> { (void)co_await t.send(value); }(tx, v)));
      co_await yield_now();  // each parks before the next starts
    }
    for (int want = 0; want <= 3; ++want) EXPECT_EQ((co_await rx.recv()).value_or(-1), want);
    for (auto& s : senders) (void)co_await s.join();

    std::vector<int> got;
    std::vector<JoinHandle<void>> receivers;
    for (int i = 0; i < 3; ++i) {
      receivers.push_back(go([](Receiver<int> in, std::vector<int>* out, int slot) -> Task<void> {
        auto v = co_await in.recv();
        (*out)[static_cast<size_t>(slot)] = v.value_or(-1);
      }(rx, &got, i)));
      got.push_back(0);
      co_await yield_now();
    }
    for (int v = 10; v <= 12; ++v) EXPECT_TRUE((co_await tx.send(v)).has_value());
    for (auto& h : receivers) (void)co_await h.join();
    EXPECT_EQ(got, (std::vector<int>{10, 11, 12}));
  }());
  EXPECT_TRUE(r.has_value());
}

// TestSelfSelect: a select that sends and receives on one unbuffered channel never meets
// itself; two routines doing so meet each other, and neither receives its own value.
TEST_P(GoChannels, ASelectNeverTakesItsOwnSendOnAnUnbufferedChannel) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(0).value();
    auto alone = co_await with_timeout(5ms, select(on_send(tx, 1), on_recv(rx)));
    EXPECT_EQ(err(alone), errc::timed_out);
    auto self_select = [](Sender<int> t, Receiver<int> in, int me) -> Task<int> {
      int own = 0;
      for (int i = 0; i < 200; ++i) {
        Result<int> got = std::unexpected(make_error_code(errc::cancelled));
        auto send = on_send(t, me);
        auto recv = on_recv(in);
        auto which = co_await select(send, recv);
        if (which && *which == 1 && recv.value) got = *recv.value;
        if (got && *got == me) ++own;
      }
      co_return own;
    };
    auto a = go(self_select(tx, rx, 1));
    auto b = go(self_select(tx, rx, 2));
    EXPECT_EQ((co_await a.join()).value_or(-1), 0);
    EXPECT_EQ((co_await b.join()).value_or(-1), 0);
  }());
  EXPECT_TRUE(r.has_value());
}

// zerosize.go: channels of empty types work like any other.
struct Empty {};
TEST_P(GoChannels, ChannelsOfEmptyTypes) {
  auto r = run([]() -> Task<void> {
    for (size_t cap : {size_t{0}, size_t{1}}) {
      auto [tx, rx] = chan<std::monostate>(cap).value();
      auto sender = go([](Sender<std::monostate> t) -> Task<void> { (void)co_await t.send({}); }(tx));
      EXPECT_TRUE((co_await rx.recv()).has_value());
      (void)co_await sender.join();
    }
    auto [tx, rx] = chan<Empty>(1).value();
    EXPECT_TRUE(tx.try_send(Empty{}).has_value());
    EXPECT_EQ(rx.len(), 1u);
    EXPECT_TRUE(rx.try_recv().has_value());
  }());
  EXPECT_TRUE(r.has_value());
}

// select5.go, closedchan.go: where the default case is written does not matter; a ready
// case (a value, or a closed channel) wins over it.
TEST_P(GoChannels, ADefaultWrittenFirstStillLosesToAReadyCase) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(1).value();
    EXPECT_EQ((co_await select(default_case(), on_recv(rx))).value_or(9), 0u) << "nothing ready: the default";
    EXPECT_TRUE(tx.try_send(5).has_value());
    auto recv = on_recv(rx);
    EXPECT_EQ((co_await select(default_case(), recv)).value_or(9), 1u);
    EXPECT_EQ(recv.value.value_or(Result<int>{0}).value_or(0), 5);
    EXPECT_TRUE(tx.close().has_value());
    auto closed = on_recv(rx);
    EXPECT_EQ((co_await select(default_case(), closed)).value_or(9), 1u);
    EXPECT_EQ(err(closed.value.value_or(Result<int>{0})), errc::channel_closed);
  }());
  EXPECT_TRUE(r.has_value());
}

// sendstmt.go's chanchan: a channel travels through a channel.
TEST_P(GoChannels, AChannelSentThroughAChannel) {
  auto r = run([]() -> Task<void> {
    auto [ctx, crx] = chan<Sender<int>>(1).value();
    auto [tx, rx] = chan<int>(1).value();
    EXPECT_TRUE((co_await ctx.send(tx)).has_value());
    auto got = co_await crx.recv();
    EXPECT_TRUE(got.has_value());
    if (got) {
      EXPECT_TRUE((co_await got->send(2)).has_value());
    }
    EXPECT_EQ((co_await rx.recv()).value_or(0), 2);
  }());
  EXPECT_TRUE(r.has_value());
}

// TestSelectDuplicateChannel: a parked select with the same channel in two cases, woken by
// a third, leaves that channel's queue as it found it: a receiver that parked on it after
// the select still gets the next value.
TEST_P(GoChannels, ASelectWokenElsewhereLeavesItsDuplicateCasesQueueIntact) {
  auto r = run([]() -> Task<void> {
    auto [ctx, crx] = chan<int>(0).value();
    auto [dtx, drx] = chan<int>(0).value();
    auto selecting = go([](Receiver<int> c, Receiver<int> d) -> Task<Result<size_t>> {
      co_return co_await select(on_recv(c), on_recv(c), on_recv(d));
    }(crx, drx));
    co_await yield_now();  // parked on c twice and on d
    auto plain = go([](Receiver<int> c) -> Task<Result<int>> { co_return co_await c.recv(); }(crx));
    co_await yield_now();  // parked on c behind the select's two cases
    EXPECT_TRUE((co_await dtx.send(7)).has_value());
    EXPECT_EQ((co_await selecting.join()).value_or(9), 2u);
    EXPECT_TRUE((co_await ctx.send(8)).has_value()) << "the plain receiver took it";
    EXPECT_EQ((co_await plain.join()).value_or(0), 8);
    EXPECT_EQ(send_err(ctx.try_send(9)), errc::channel_full) << "no waiter of the select was left on c";
  }());
  EXPECT_TRUE(r.has_value());
}

// select.go, select3.go, TestSelectStress: a nil channel in a select is never ready. Go
// drops a drained channel from a merge loop with `c1 = nil`; ringo's empty handle is that
// nil (`.when(false)` says the same). Until 2026-12-03 an empty handle failed the whole
// select with no_channel.
TEST_P(GoChannels, AnEmptyHandleInASelectIsANilChannel) {
  auto r = run([]() -> Task<void> {
    auto [tx1, rx1] = chan<int>(4).value();
    auto [tx2, rx2] = chan<int>(4).value();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(tx1.try_send(i).has_value());
    for (int i = 10; i < 12; ++i) EXPECT_TRUE(tx2.try_send(i).has_value());
    EXPECT_TRUE(tx1.close().has_value());
    EXPECT_TRUE(tx2.close().has_value());
    // for c1 != nil || c2 != nil { select { case v, ok := <-c1: if !ok { c1 = nil } ... } }
    int sum = 0, rounds = 0;
    while (rx1.valid() || rx2.valid()) {
      auto a = on_recv(rx1);
      auto b = on_recv(rx2);
      auto which = co_await select(a, b);
      if (!which || ++rounds > 20) break;
      Receiver<int>& from = *which == 0 ? rx1 : rx2;
      const Result<int>& got = *which == 0 ? *a.value : *b.value;
      if (got) {
        sum += *got;
      } else {
        from = Receiver<int>{};  // closed: nil it out
      }
    }
    EXPECT_EQ(sum, 0 + 1 + 2 + 10 + 11);
    EXPECT_EQ(rounds, 7) << "five values and two closes";
    Receiver<int> nil_rx;
    Sender<int> nil_tx;
    EXPECT_EQ((co_await select(on_recv(nil_rx), on_send(nil_tx, 1), default_case())).value_or(9), 2u);
    auto nothing = co_await with_timeout(2ms, select(on_recv(nil_rx)));
    EXPECT_EQ(err(nothing), errc::timed_out) << "only nil cases: blocks, as Go's select {}";
    Selector sel;
    sel.recv(nil_rx);
    sel.timeout(1ms);
    EXPECT_EQ((co_await sel.wait()).value_or(9), 1u);
    EXPECT_EQ(err(co_await nil_rx.recv()), errc::no_channel) << "a plain receive is still an error";
  }());
  EXPECT_TRUE(r.has_value());
}

// closedchan.go: a second close panics in Go; in ringo it is channel_closed, from any
// shard, and of two closes racing from two shards exactly one succeeds. A close made on
// another shard used to report success however many came before it (it is posted to the
// home shard, whose answer nobody read).
TEST_P(GoChannels, ASecondCloseIsChannelClosedFromAnyShard) {
  auto r = run([]() -> Task<void> {
    auto [tx, rx] = chan<int>(1).value();
    auto twice = spawn_on(1, [](Sender<int> t) -> Task<std::pair<Result<void>, Result<void>>> {
      Result<void> first = t.close();
      co_return std::pair{first, t.close()};
    }(tx));
    auto closes = co_await twice.join();
    EXPECT_TRUE(closes.has_value());
    if (closes) {
      EXPECT_TRUE(closes->first.has_value());
      EXPECT_EQ(err(closes->second), errc::channel_closed);
    }
    EXPECT_EQ(err(tx.close()), errc::channel_closed) << "closed from shard 1 already";
    EXPECT_EQ(err(co_await rx.recv()), errc::channel_closed);

    auto closer = [](Sender<int> t) -> Task<Result<void>> { co_return t.close(); };
    auto [tx2, rx2] = chan<int>(1).value();
    EXPECT_TRUE(tx2.close().has_value());
    auto late = spawn_on(1, closer(tx2));
    EXPECT_EQ(err(co_await late.join()), errc::channel_closed) << "closed on its home shard already";

    auto [tx3, rx3] = chan<int>(1).value();
    auto on1 = spawn_on(1, closer(tx3));
    auto here = go(closer(tx3));
    const Result<void> a = co_await on1.join();
    const Result<void> b = co_await here.join();
    EXPECT_EQ((a ? 1 : 0) + (b ? 1 : 0), 1) << "two closes, one success";
    EXPECT_EQ(err(co_await rx3.recv()), errc::channel_closed);
  }());
  EXPECT_TRUE(r.has_value());
}

}  // namespace
}  // namespace ringo
