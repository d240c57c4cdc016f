// raw::Lane (raw/lane.hpp): lane A as a stream of events, on every backend.
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <set>
#include <vector>

#include "backends.hpp"
#include "ringo/raw/lane.hpp"

using namespace ringo;
using namespace std::chrono_literals;
using ringo::testing::OnEveryBackend;

namespace {

class RawLanes : public OnEveryBackend {};
RINGO_ON_EVERY_BACKEND(RawLanes);

// ASSERT_EQ returns from the function, which a coroutine cannot: this co_returns.
#define CO_ASSERT_EQ(a, b)        \
  do {                            \
    EXPECT_EQ(a, b);              \
    if (!((a) == (b))) co_return; \
  } while (false)

std::error_code err(const auto& r) { return r ? std::error_code{} : r.error(); }

// Takes events until `want` have arrived (or next() fails); the Io and RingMsg events apart.
struct Collected {
  std::vector<raw::Io> io;
  std::vector<raw::RingMsg> msgs;
  std::error_code error;
};
Task<Collected> collect(raw::Lane& lane, size_t want) {
  Collected c;
  std::array<raw::Event, 4> batch;
  while (c.io.size() + c.msgs.size() < want) {
    auto n = co_await lane.next(batch);
    if (!n) {
      c.error = n.error();
      break;
    }
    for (size_t i = 0; i < *n; ++i) {
      if (const auto* io = std::get_if<raw::Io>(&batch[i])) c.io.push_back(*io);
      if (const auto* m = std::get_if<raw::RingMsg>(&batch[i])) c.msgs.push_back(*m);
    }
  }
  co_return c;
}

TEST_P(RawLanes, EveryOpGivesOneEventWithItsToken) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open();
    EXPECT_TRUE(lane.has_value());
    if (!lane) co_return;
    for (uint64_t token : {10, 11, 12}) EXPECT_TRUE(lane->submit(raw::nop(), token).has_value());
    EXPECT_EQ(lane->in_flight(), 3u);
    Collected c = co_await collect(*lane, 3);
    std::set<uint64_t> tokens;
    for (const raw::Io& io : c.io) {
      tokens.insert(io.token);
      EXPECT_EQ(io.result, 0);
      EXPECT_FALSE(io.more());
    }
    EXPECT_EQ(tokens, (std::set<uint64_t>{10, 11, 12}));
    EXPECT_EQ(lane->in_flight(), 0u);
    std::array<raw::Event, 2> none;
    EXPECT_EQ(lane->poll(none).value_or(99), 0u);  // nothing more: one event per op
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, MessagesFromAnotherShardArriveInTheStream) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open();
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    auto sent = co_await submit_to(1, [] {
      auto a = RemoteShard(0).send_raw(7, 99);
      auto b = RemoteShard(0).send_raw(8, 100);
      return a && b;
    });
    EXPECT_TRUE(sent.value_or(false));
    EXPECT_TRUE(lane->submit(raw::nop(), 1).has_value());
    Collected c = co_await collect(*lane, 3);
    CO_ASSERT_EQ(c.msgs.size(), 2u);
    if (c.msgs[0].tag == 8) std::swap(c.msgs[0], c.msgs[1]);  // raw messages keep no order
    EXPECT_EQ(c.msgs[0], (raw::RingMsg{1, 7, 99}));
    EXPECT_EQ(c.msgs[1], (raw::RingMsg{1, 8, 100}));
    EXPECT_EQ(c.io.size(), 1u);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, OneLanePerShardAndItsHandlerIsReturned) {
  auto r = run([]() -> Task<void> {
    {
      auto first = raw::Lane::open();
      EXPECT_TRUE(first.has_value());
      EXPECT_EQ(err(raw::Lane::open()), std::errc::device_or_resource_busy);
      auto on_other_shard = co_await submit_to(1, [] { return raw::Lane::open().has_value(); });
      EXPECT_TRUE(on_other_shard.value_or(false));  // shard 1 has its own (dropped at once)
    }
    EXPECT_TRUE(raw::Lane::open().has_value());  // the first one closed
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, CancelEndsAnOpWithOneEvent) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open();
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    // Cancelled before it reached the kernel: -ECANCELED at once, in the stream.
    auto queued = lane->submit(raw::timeout(1h), 1);
    EXPECT_TRUE(lane->cancel(*queued).has_value());
    // Cancelled in the kernel: it waits an hour unless cancelled.
    auto armed = lane->submit(raw::timeout(1h), 2);
    (void)co_await nop();  // a tick: now it is in flight
    EXPECT_TRUE(lane->cancel(*armed).has_value());
    Collected c = co_await collect(*lane, 2);
    CO_ASSERT_EQ(c.io.size(), 2u);
    for (const raw::Io& io : c.io) EXPECT_EQ(io.result, -ECANCELED) << "token " << io.token;
    // The ids name nothing now.
    EXPECT_EQ(err(lane->cancel(*armed)), errc::invalid_argument);
    EXPECT_EQ(err(lane->cancel(raw::OpId{999999, 0})), errc::invalid_argument);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, ADeadlineThatWinsIsFlagged) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open();
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    const Instant deadline = *now() + 2ms;
    EXPECT_TRUE(lane->submit(raw::timeout(1h), 5, deadline).has_value());
    Collected c = co_await collect(*lane, 1);
    CO_ASSERT_EQ(c.io.size(), 1u);
    EXPECT_EQ(c.io[0].result, -ETIME);
    EXPECT_NE(c.io[0].flags & raw::kDeadlineExpired, 0u);
    EXPECT_GE(*now(), deadline);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, OpsBeyondTheLimitAreRefusedUnsubmitted) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open({.max_ops = 2});
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    EXPECT_TRUE(lane->submit(raw::nop(), 1).has_value());
    EXPECT_TRUE(lane->submit(raw::nop(), 2).has_value());
    EXPECT_EQ(err(lane->submit(raw::nop(), 3)), errc::queue_full);
    Collected c = co_await collect(*lane, 2);
    EXPECT_EQ(c.io.size(), 2u);
    EXPECT_TRUE(lane->submit(raw::nop(), 4).has_value());  // room again
    c = co_await collect(*lane, 1);
    CO_ASSERT_EQ(c.io.size(), 1u);
    EXPECT_EQ(c.io[0].token, 4u);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, EventsOutrunningTheOwnerAreKeptNotDropped) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open({.max_ops = 1});  // room for 2 events before it grows
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    constexpr uint64_t kMessages = 40;
    auto sent = co_await submit_to(1, [] {
      bool ok = true;
      for (uint64_t i = 0; i < kMessages; ++i) ok = RemoteShard(0).send_raw(1, i).has_value() && ok;
      return ok;
    });
    EXPECT_TRUE(sent.value_or(false));
    co_await sleep(5ms);  // the owner looks away while they arrive
    Collected c = co_await collect(*lane, kMessages);
    CO_ASSERT_EQ(c.msgs.size(), kMessages);
    // Each exactly once. (The simulator delivers MSG_RING completions in a seeded order,
    // so raw messages promise no order; lane B envelopes do.)
    std::set<uint64_t> values;
    for (const raw::RingMsg& m : c.msgs) values.insert(m.value);
    EXPECT_EQ(values.size(), kMessages);
    EXPECT_EQ(*values.rbegin(), kMessages - 1);
    EXPECT_GT(lane->queue_growths(), 0u);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, BadUseGetsClearErrors) {
  EXPECT_EQ(err(raw::Lane::open()), errc::not_in_runtime);
  auto r = run([]() -> Task<void> {
    EXPECT_EQ(err(raw::Lane::open({.max_ops = 0})), errc::invalid_argument);
    EXPECT_EQ(err(raw::Lane::open({.max_ops = (1u << 16) + 1})), errc::invalid_argument);
    auto lane = raw::Lane::open();
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    std::span<raw::Event> empty;
    EXPECT_EQ(err(co_await lane->next(empty)), errc::invalid_argument);
    EXPECT_EQ(err(lane->poll(empty)), errc::invalid_argument);
    raw::Lane* mine = &*lane;
    auto elsewhere = co_await submit_to(1, [mine] { return err(mine->submit(raw::nop(), 1)); });
    EXPECT_EQ(elsewhere.value_or(std::error_code{}), errc::wrong_shard);
    raw::Lane taken = std::move(*lane);
    EXPECT_EQ(err(lane->submit(raw::nop(), 1)), std::errc::bad_file_descriptor);
    std::array<raw::Event, 1> one;
    EXPECT_EQ(err(co_await lane->next(one)), std::errc::bad_file_descriptor);
    EXPECT_TRUE(taken.submit(raw::nop(), 1).has_value());  // the moved-to lane works
    EXPECT_EQ(err(co_await taken.next(one)), std::error_code{});
  }());
  EXPECT_TRUE(r.has_value());
}

Task<std::error_code> wait_for_nothing(raw::Lane& lane) {
  std::array<raw::Event, 1> one;
  co_return err(co_await lane.next(one));
}

TEST_P(RawLanes, AnAbortedWaitReportsCancelledAndTheLaneStaysUsable) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open();
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    auto waiter = go(wait_for_nothing(*lane));
    co_await sleep(1ms);
    EXPECT_TRUE(waiter.abort().has_value());
    EXPECT_EQ((co_await waiter.join()).value_or(std::error_code{}), errc::cancelled);
    EXPECT_TRUE(lane->submit(raw::nop(), 3).has_value());
    Collected c = co_await collect(*lane, 1);
    EXPECT_EQ(c.io.size(), 1u);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, ADroppedLaneCancelsWhatIsInFlightAndWakesItsWaiter) {
  auto r = run([]() -> Task<void> {
    std::error_code waiter_saw;
    {
      auto lane = raw::Lane::open();
      if (!lane) co_return ADD_FAILURE() << lane.error().message();
      for (uint64_t t = 0; t < 4; ++t) EXPECT_TRUE(lane->submit(raw::timeout(1h), t).has_value());
      (void)co_await nop();
      auto waiter = go(wait_for_nothing(*lane));
      co_await sleep(1ms);  // the waiter is parked in next()
      raw::Lane dropped = std::move(*lane);
      { raw::Lane gone = std::move(dropped); }  // closed here, with 4 ops in flight
      waiter_saw = (co_await waiter.join()).value_or(std::error_code{});
    }
    EXPECT_EQ(waiter_saw, std::errc::bad_file_descriptor);
    // The shard's lane is free again at once; the old state ends when its cancels land
    // (AddressSanitizer reports it if it never does, or if it is used after).
    auto again = raw::Lane::open();
    EXPECT_TRUE(again.has_value());
    co_await sleep(2ms);
  }());
  EXPECT_TRUE(r.has_value());
}

TEST_P(RawLanes, MultishotAcceptGivesOneEventPerConnection) {
  auto r = run([]() -> Task<void> {
    auto addr = net::SocketAddr::parse("127.0.0.1:0");
    auto listener = net::TcpListener::bind(*addr);
    if (!listener) co_return ADD_FAILURE() << listener.error().message();
    auto lane = raw::Lane::open();
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    auto id = lane->submit(raw::accept(listener->fd(), true), 77);
    EXPECT_TRUE(id.has_value());
    const auto where = *listener->local_addr();
    constexpr size_t kClients = 3;
    std::vector<net::TcpStream> clients;
    for (size_t i = 0; i < kClients; ++i) {
      auto c = co_await net::TcpStream::connect(where);
      EXPECT_TRUE(c.has_value());
      if (c) clients.push_back(std::move(*c));
    }
    Collected c = co_await collect(*lane, kClients);
    CO_ASSERT_EQ(c.io.size(), kClients);
    for (const raw::Io& io : c.io) {
      EXPECT_EQ(io.token, 77u);
      EXPECT_GE(io.result, 0);
      EXPECT_TRUE(io.more());  // still armed
      EXPECT_TRUE(lane->submit(raw::close(io.result), 0).has_value());
    }
    EXPECT_TRUE(lane->cancel(*id).has_value());  // its last event: cancelled, no kMore
    c = co_await collect(*lane, kClients + 1);
    CO_ASSERT_EQ(c.io.size(), kClients + 1);
    size_t ended = 0;
    for (const raw::Io& io : c.io) {
      if (io.token == 77) {
        ++ended;
        EXPECT_FALSE(io.more());
      } else {
        EXPECT_EQ(io.result, 0);  // the closes
      }
    }
    EXPECT_EQ(ended, 1u);
  }());
  EXPECT_TRUE(r.has_value());
}

}  // namespace
