// The engine against a trompeloeil mock of Ring: the clearest check of what the shard
// asks of its ring.
#include <gtest/gtest.h>
// clang-format off
#include <gtest/trompeloeil.hpp>
// clang-format on

#include <vector>

#include "ringo/core/shard.hpp"
#include "ringo/core/task.hpp"

namespace ringo {
namespace {

using trompeloeil::_;

class MockRing : public trompeloeil::mock_interface<Ring> {
 public:
  IMPLEMENT_MOCK1(push);
  // std::expected trips trompeloeil's value printer under GCC 12, so the mocked call
  // returns the count and the override wraps it.
  MAKE_MOCK2(submit_and_wait_count, size_t(unsigned, Duration));
  Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) override {
    return submit_and_wait_count(min_complete, timeout);
  }
  IMPLEMENT_MOCK1(reap);
  IMPLEMENT_CONST_MOCK0(now);
  IMPLEMENT_CONST_MOCK0(caps);
  IMPLEMENT_CONST_MOCK0(msg_ring_id);
};

struct Counter {
  int calls = 0;
  int32_t last = 0;
  static void on(void* ctx, int32_t res, uint32_t) {
    auto* c = static_cast<Counter*>(ctx);
    ++c->calls;
    c->last = res;
  }
};

class RingMock : public ::testing::Test {
 protected:
  RingMock() : group_(1) {
    group_.port(0).ring_id = 0;
    allow_now_ = NAMED_ALLOW_CALL(ring_, now()).RETURN(Instant{0});
    allow_caps_ = NAMED_ALLOW_CALL(ring_, caps()).RETURN(Caps{});
    allow_id_ = NAMED_ALLOW_CALL(ring_, msg_ring_id()).RETURN(0);
  }
  MockRing ring_;
  ShardGroup group_;
  std::unique_ptr<trompeloeil::expectation> allow_now_, allow_caps_, allow_id_;
};

TEST_F(RingMock, OneTicksSubmissionsReachTheRingInOneBatch) {
  Shard shard(group_, 0, ring_);
  Counter counter;
  for (int i = 0; i < 5; ++i) {
    Sqe s;
    s.opcode = Opcode::nop;
    shard.submit_raw(s, &Counter::on, &counter);
  }
  std::vector<uint64_t> submitted;
  {
    REQUIRE_CALL(ring_, push(_))
        .WITH(_1.size() == 5)
        .TIMES(1)
        .LR_SIDE_EFFECT(for (const Sqe& s
                             : _1) submitted.push_back(s.user_data))
        .RETURN(_1.size());
    REQUIRE_CALL(ring_, submit_and_wait_count(0u, _)).TIMES(1).RETURN(5u);
    REQUIRE_CALL(ring_, reap(_)).TIMES(1).RETURN(0u);
    shard.run_once(false);
  }
  ASSERT_EQ(submitted.size(), 5u);
  EXPECT_EQ(shard.stats().batches_pushed, 1u);
  EXPECT_EQ(shard.stats().ops_submitted, 5u);
  EXPECT_EQ(shard.live_ops(), 5u);
}

TEST_F(RingMock, ForgedAndStaleCompletionsAreDroppedAndCounted) {
  Shard shard(group_, 0, ring_);
  Counter counter;
  Sqe s;
  s.opcode = Opcode::nop;
  const OpToken token = shard.submit_raw(s, &Counter::on, &counter);
  {
    REQUIRE_CALL(ring_, push(_)).RETURN(_1.size());
    REQUIRE_CALL(ring_, submit_and_wait_count(_, _)).RETURN(1u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  // The real completion, a duplicate of it, a forged handle (slot 999), a wrong
  // generation for the live slot, and a garbage kind byte.
  const std::vector<Cqe> cqes = {
      {token.user_data, 0, 0},
      {token.user_data, 0, 0},
      {UserData::make(UdKind::op, 1, 999), 0, 0},
      {UserData::make(UdKind::op, UserData::generation(token.user_data) + 7, UserData::slot(token.user_data)), 0, 0},
      {0x4242424242424242ULL, 0, 0},
  };
  {
    ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
    REQUIRE_CALL(ring_, reap(_))
        .TIMES(1)
        .LR_SIDE_EFFECT(std::copy(cqes.begin(), cqes.end(), _1.begin()))
        .RETURN(cqes.size());
    shard.run_once(false);
  }
  EXPECT_EQ(counter.calls, 1);
  EXPECT_EQ(counter.last, 0);
  EXPECT_EQ(shard.stats().stale_completions, 4u);
  EXPECT_EQ(shard.live_ops(), 0u);
}

TEST_F(RingMock, ForgedRingMessageFromUnknownShardIsDropped) {
  Shard shard(group_, 0, ring_);
  const std::vector<Cqe> cqes = {{UserData::message(5), static_cast<int32_t>((77u << 16) | 3u), 0}};
  ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
  REQUIRE_CALL(ring_, reap(_)).LR_SIDE_EFFECT(std::copy(cqes.begin(), cqes.end(), _1.begin())).RETURN(cqes.size());
  shard.run_once(false);
  EXPECT_EQ(shard.stats().messages_dropped, 1u);
  EXPECT_EQ(shard.stats().messages_delivered, 0u);
}

TEST_F(RingMock, SqFullKeepsTheRestForTheNextTick) {
  Shard shard(group_, 0, ring_);
  Counter counter;
  for (int i = 0; i < 4; ++i) shard.submit_raw(Sqe{}, &Counter::on, &counter);
  {
    REQUIRE_CALL(ring_, push(_)).WITH(_1.size() == 4).RETURN(1u);
    REQUIRE_CALL(ring_, submit_and_wait_count(0u, _)).RETURN(1u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(true);  // would block, but a full SQ must not sleep
  }
  {
    REQUIRE_CALL(ring_, push(_)).WITH(_1.size() == 3).RETURN(3u);
    REQUIRE_CALL(ring_, submit_and_wait_count(_, _)).RETURN(3u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  EXPECT_EQ(shard.stats().ops_submitted, 4u);
}

// A tick that did work must not go to sleep in the ring: the work may be what the
// caller waits for (block_on's main returning), and with no timer or op left nothing
// would wake the shard again. Only a tick that found nothing to do may block.
TEST_F(RingMock, ATickThatDidWorkNeverBlocks) {
  Shard shard(group_, 0, ring_);
  bool finished = false;
  ALLOW_CALL(ring_, push(_)).RETURN(_1.size());
  ALLOW_CALL(ring_, reap(_)).RETURN(0u);
  {
    CurrentShardScope scope(&shard);
    spawn_local(shard,
                [](bool* f) -> Task<void> {
                  *f = true;
                  co_return;
                }(&finished))
        .detach();
  }
  {
    REQUIRE_CALL(ring_, submit_and_wait_count(0u, _)).TIMES(1).RETURN(0u);
    EXPECT_TRUE(shard.run_once(true));
  }
  EXPECT_TRUE(finished);
  {
    // Now idle with nothing pending: blocking is right.
    REQUIRE_CALL(ring_, submit_and_wait_count(1u, Duration::max())).TIMES(1).RETURN(0u);
    EXPECT_FALSE(shard.run_once(true));
  }
}

}  // namespace
}  // namespace ringo
