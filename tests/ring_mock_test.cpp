// The engine against a trompeloeil mock of Ring: the clearest check of what the shard
// asks of its ring.
#include <gtest/gtest.h>
// clang-format off
#include <gtest/trompeloeil.hpp>
// clang-format on

#include <cerrno>
#include <utility>
#include <vector>

#include "ringo/internal/core/shard.hpp"
#include "ringo/task.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
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

// The generation in a handle is what tells two uses of one slot apart. An op cancelled
// before it was pushed leaves its Sqe queued until the flush; when a new op takes the same
// slot in the meantime, only the generation stops that stale Sqe from reaching the ring
// and its completion from being credited to the new op.
TEST_F(RingMock, OpCancelledBeforeFlushDoesNotReachTheRingWhenItsSlotIsReused) {
  Shard shard(group_, 0, ring_);
  Counter old_op, new_op;
  Sqe s;
  s.opcode = Opcode::nop;
  const OpToken old_token = shard.submit_raw(s, &Counter::on, &old_op);
  EXPECT_TRUE(shard.cancel(old_token));  // outcome 1: its Sqe stays queued, its slot is freed
  EXPECT_EQ(old_op.calls, 1);
  EXPECT_EQ(old_op.last, -ECANCELED);
  const OpToken new_token = shard.submit_raw(s, &Counter::on, &new_op);
  // The premise: the same slot, told apart by its generation alone.
  ASSERT_EQ(UserData::slot(new_token.user_data), UserData::slot(old_token.user_data));
  ASSERT_NE(UserData::generation(new_token.user_data), UserData::generation(old_token.user_data));
  std::vector<uint64_t> pushed;
  {
    REQUIRE_CALL(ring_, push(_))
        .TIMES(1)
        .LR_SIDE_EFFECT(for (const Sqe& q
                             : _1) pushed.push_back(q.user_data))
        .RETURN(_1.size());
    REQUIRE_CALL(ring_, submit_and_wait_count(0u, _)).RETURN(1u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  EXPECT_EQ(pushed, std::vector<uint64_t>{new_token.user_data}) << "the cancelled op's Sqe reached the ring";
  EXPECT_EQ(shard.stats().ops_submitted, 1u);
  // Had the stale Sqe been pushed, its completion would come back: it must not count.
  const std::vector<Cqe> cqes = {{old_token.user_data, 111, 0}, {new_token.user_data, 222, 0}};
  {
    ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
    REQUIRE_CALL(ring_, reap(_))
        .TIMES(1)
        .LR_SIDE_EFFECT(std::copy(cqes.begin(), cqes.end(), _1.begin()))
        .RETURN(cqes.size());
    shard.run_once(false);
  }
  EXPECT_EQ(old_op.calls, 1);  // still just its -ECANCELED
  EXPECT_EQ(new_op.calls, 1);
  EXPECT_EQ(new_op.last, 222);
  EXPECT_EQ(shard.stats().stale_completions, 1u);
  EXPECT_EQ(shard.live_ops(), 0u);
}

// A completion carrying an old generation of a slot that a new op now holds in flight
// (a late duplicate, or a forgery) must not complete the new op: it is counted and dropped,
// and the new op completes with its own result.
TEST_F(RingMock, StaleGenerationCompletionIsNotCreditedToTheSlotsNewOp) {
  Shard shard(group_, 0, ring_);
  Counter old_op, new_op;
  Sqe s;
  s.opcode = Opcode::nop;
  ALLOW_CALL(ring_, push(_)).RETURN(_1.size());
  ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
  const OpToken old_token = shard.submit_raw(s, &Counter::on, &old_op);
  std::vector<Cqe> cqes = {{old_token.user_data, 7, 0}};
  auto deliver = [&] {
    REQUIRE_CALL(ring_, reap(_))
        .TIMES(1)
        .LR_SIDE_EFFECT(std::copy(cqes.begin(), cqes.end(), _1.begin()))
        .RETURN(cqes.size());
    shard.run_once(false);
  };
  deliver();  // pushes the old op and completes it: its slot is free again
  EXPECT_EQ(old_op.calls, 1);
  EXPECT_EQ(old_op.last, 7);
  const OpToken new_token = shard.submit_raw(s, &Counter::on, &new_op);
  ASSERT_EQ(UserData::slot(new_token.user_data), UserData::slot(old_token.user_data));
  cqes = {{old_token.user_data, 111, 0},
          {UserData::make(UdKind::link_timeout, UserData::generation(old_token.user_data),
                          UserData::slot(old_token.user_data)),
           -ETIME, 0}};
  deliver();  // pushes the new op; the old generation's completions arrive while it is in flight
  EXPECT_EQ(new_op.calls, 0) << "a stale completion was credited to the slot's new op";
  EXPECT_EQ(old_op.calls, 1);
  EXPECT_EQ(shard.stats().stale_completions, 2u);
  EXPECT_EQ(shard.live_ops(), 1u);
  cqes = {{new_token.user_data, 222, 0}};
  deliver();
  EXPECT_EQ(new_op.calls, 1);
  EXPECT_EQ(new_op.last, 222);
  EXPECT_EQ(shard.live_ops(), 0u);
}

// A token kept past its op's end must not cancel whatever op holds the slot now.
TEST_F(RingMock, StaleTokenDoesNotCancelTheSlotsNewOp) {
  Shard shard(group_, 0, ring_);
  Counter old_op, new_op;
  Sqe s;
  s.opcode = Opcode::nop;
  std::vector<Sqe> pushed;
  ALLOW_CALL(ring_, push(_)).LR_SIDE_EFFECT(pushed.insert(pushed.end(), _1.begin(), _1.end())).RETURN(_1.size());
  ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
  const OpToken old_token = shard.submit_raw(s, &Counter::on, &old_op);
  const std::vector<Cqe> done = {{old_token.user_data, 0, 0}};
  {
    REQUIRE_CALL(ring_, reap(_)).LR_SIDE_EFFECT(std::copy(done.begin(), done.end(), _1.begin())).RETURN(done.size());
    shard.run_once(false);
  }
  ASSERT_EQ(old_op.calls, 1);
  const OpToken new_token = shard.submit_raw(s, &Counter::on, &new_op);
  ASSERT_EQ(UserData::slot(new_token.user_data), UserData::slot(old_token.user_data));
  EXPECT_FALSE(shard.cancel(old_token));  // queued new op: it must not be cancelled before submit
  EXPECT_EQ(new_op.calls, 0);
  pushed.clear();
  {
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  EXPECT_FALSE(shard.cancel(old_token));  // in flight: no ASYNC_CANCEL for it either
  {
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].user_data, new_token.user_data);
  EXPECT_EQ(shard.stats().ops_cancelled_before_submit, 0u);
  const std::vector<Cqe> finish = {{new_token.user_data, 5, 0}};
  {
    REQUIRE_CALL(ring_, reap(_))
        .LR_SIDE_EFFECT(std::copy(finish.begin(), finish.end(), _1.begin()))
        .RETURN(finish.size());
    shard.run_once(false);
  }
  EXPECT_EQ(new_op.calls, 1);
  EXPECT_EQ(new_op.last, 5);
  EXPECT_EQ(shard.stats().ops_completed_despite_cancel, 0u);
}

// An op whose own completion and its deadline's both report success in one batch (the
// op finished as the link timeout fired): the op's real result is delivered, "completed
// anyway", never swapped for a timeout.
TEST_F(RingMock, OpCompletingInItsDeadlinesBatchKeepsItsResult) {
  Shard shard(group_, 0, ring_);
  Counter op;
  Sqe s;
  s.opcode = Opcode::nop;
  ALLOW_CALL(ring_, push(_)).RETURN(_1.size());
  ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
  const OpToken token = shard.submit_raw(s, &Counter::on, &op, Instant{1000});
  {
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  const std::vector<Cqe> cqes = {{UserData::with_kind(token.user_data, UdKind::link_timeout), -ETIME, 0},
                                 {token.user_data, 42, 0}};
  {
    REQUIRE_CALL(ring_, reap(_)).LR_SIDE_EFFECT(std::copy(cqes.begin(), cqes.end(), _1.begin())).RETURN(cqes.size());
    shard.run_once(false);
  }
  EXPECT_EQ(op.calls, 1);
  EXPECT_EQ(op.last, 42) << "the op's result was dropped because its deadline fired too";
  EXPECT_EQ(shard.stats().deadline_expiries, 0u);
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

// SEND_ZC posts its result (kCqeMore) and later the notification (kCqeNotif). The op must
// complete only at the notification, with the result: before it the kernel may still read
// the caller's buffer.
TEST_F(RingMock, ZeroCopySendCompletesAtItsNotificationWithItsResult) {
  Shard shard(group_, 0, ring_);
  Counter counter;
  Sqe s;
  s.opcode = Opcode::send_zc;
  const OpToken token = shard.submit_raw(s, &Counter::on, &counter);
  {
    REQUIRE_CALL(ring_, push(_)).RETURN(_1.size());
    REQUIRE_CALL(ring_, submit_and_wait_count(_, _)).RETURN(1u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  auto deliver = [&](Cqe cqe) {
    ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
    REQUIRE_CALL(ring_, reap(_)).TIMES(1).LR_SIDE_EFFECT(_1[0] = cqe).RETURN(1u);
    shard.run_once(false);
  };
  deliver({token.user_data, 1234, kCqeMore});
  EXPECT_EQ(counter.calls, 0) << "resumed before the notification";
  EXPECT_EQ(shard.live_ops(), 1u);
  deliver({token.user_data, 0, kCqeNotif});
  EXPECT_EQ(counter.calls, 1);
  EXPECT_EQ(counter.last, 1234);
  EXPECT_EQ(shard.live_ops(), 0u);
}

// A SEND_ZC that fails before sending posts one CQE, without kCqeMore: that is its end.
TEST_F(RingMock, ZeroCopySendThatFailsAtOnceCompletesWithItsError) {
  Shard shard(group_, 0, ring_);
  Counter counter;
  Sqe s;
  s.opcode = Opcode::send_zc;
  const OpToken token = shard.submit_raw(s, &Counter::on, &counter);
  {
    REQUIRE_CALL(ring_, push(_)).RETURN(_1.size());
    REQUIRE_CALL(ring_, submit_and_wait_count(_, _)).RETURN(1u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
  }
  const Cqe cqe{token.user_data, -EINVAL, 0};
  ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
  REQUIRE_CALL(ring_, reap(_)).TIMES(1).LR_SIDE_EFFECT(_1[0] = cqe).RETURN(1u);
  shard.run_once(false);
  EXPECT_EQ(counter.calls, 1);
  EXPECT_EQ(counter.last, -EINVAL);
}

// What an early zero-copy send's callback saw, call by call.
struct Calls {
  std::vector<std::pair<int32_t, uint32_t>> seen;  // (res, flags)
  static void on(void* ctx, int32_t res, uint32_t flags) { static_cast<Calls*>(ctx)->seen.emplace_back(res, flags); }
};

class EarlyZeroCopy : public RingMock {
 protected:
  // Submits a SEND_ZC with submit_send_zc_early and pushes it to the ring.
  OpToken submit(Shard& shard, Calls& calls, Instant deadline = kNoDeadline) {
    Sqe s;
    s.opcode = Opcode::send_zc;
    const OpToken token = shard.ops().submit_send_zc_early(s, &Calls::on, &calls, deadline);
    REQUIRE_CALL(ring_, push(_)).RETURN(_1.size());
    REQUIRE_CALL(ring_, submit_and_wait_count(_, _)).RETURN(1u);
    REQUIRE_CALL(ring_, reap(_)).RETURN(0u);
    shard.run_once(false);
    return token;
  }
  void deliver(Shard& shard, Cqe cqe) {
    ALLOW_CALL(ring_, submit_and_wait_count(_, _)).RETURN(0u);
    ALLOW_CALL(ring_, push(_)).RETURN(_1.size());
    REQUIRE_CALL(ring_, reap(_)).TIMES(1).LR_SIDE_EFFECT(_1[0] = cqe).RETURN(1u);
    shard.run_once(false);
  }
};

// An owned-buffer SEND_ZC (write_all_owned) reports its result at the result CQE, so the
// writer goes on at once, and its end at the notification, when the buffer may be freed.
TEST_F(EarlyZeroCopy, ReportsItsResultAtOnceAndItsEndAtTheNotification) {
  Shard shard(group_, 0, ring_);
  Calls calls;
  const OpToken token = submit(shard, calls);
  deliver(shard, {token.user_data, 1234, kCqeMore});
  ASSERT_EQ(calls.seen.size(), 1u) << "the result waited for the notification";
  EXPECT_EQ(calls.seen[0].first, 1234);
  EXPECT_NE(calls.seen[0].second & kCqeMore, 0u) << "the end was reported with the result";
  EXPECT_EQ(shard.live_ops(), 1u);
  EXPECT_FALSE(shard.ops().cancel(shard, token)) << "a notification is not cancellable";
  deliver(shard, {token.user_data, 0, kCqeNotif});
  ASSERT_EQ(calls.seen.size(), 2u);
  EXPECT_EQ(calls.seen[1].second & kCqeMore, 0u);
  EXPECT_NE(calls.seen[1].second & kOpResultReported, 0u);
  EXPECT_EQ(shard.live_ops(), 0u);
}

// With a deadline the result waits for the link timeout's CQE, which tells whether the
// deadline won: a -ECANCELED result is then the deadline's -ETIME.
TEST_F(EarlyZeroCopy, WithADeadlineTheResultWaitsForTheLinkTimeout) {
  Shard shard(group_, 0, ring_);
  Calls calls;
  const OpToken token = submit(shard, calls, Instant{1000});
  deliver(shard, {token.user_data, -ECANCELED, kCqeMore});
  EXPECT_TRUE(calls.seen.empty()) << "reported before the link timeout told who won";
  deliver(shard, {UserData::with_kind(token.user_data, UdKind::link_timeout), -ETIME, 0});
  ASSERT_EQ(calls.seen.size(), 1u);
  EXPECT_EQ(calls.seen[0].first, -ETIME);
  EXPECT_NE(calls.seen[0].second & kOpDeadlineExpired, 0u);
  EXPECT_NE(calls.seen[0].second & kCqeMore, 0u);
  deliver(shard, {token.user_data, 0, kCqeNotif});
  ASSERT_EQ(calls.seen.size(), 2u);
  EXPECT_NE(calls.seen[1].second & kOpResultReported, 0u);
  EXPECT_EQ(shard.live_ops(), 0u);
}

// A notification before the link timeout's CQE: one call carries result and end.
TEST_F(EarlyZeroCopy, ANotificationBeforeTheLinkTimeoutEndsItInOneCall) {
  Shard shard(group_, 0, ring_);
  Calls calls;
  const OpToken token = submit(shard, calls, Instant{1000});
  deliver(shard, {token.user_data, 77, kCqeMore});
  deliver(shard, {token.user_data, 0, kCqeNotif});
  EXPECT_TRUE(calls.seen.empty());
  deliver(shard, {UserData::with_kind(token.user_data, UdKind::link_timeout), -ECANCELED, 0});
  ASSERT_EQ(calls.seen.size(), 1u);
  EXPECT_EQ(calls.seen[0].first, 77);
  EXPECT_EQ(calls.seen[0].second & (kCqeMore | kOpResultReported), 0u);
  EXPECT_EQ(shard.live_ops(), 0u);
}

// One CQE without kCqeMore (it failed before sending): result and end in one call.
TEST_F(EarlyZeroCopy, AFailureAtOnceIsResultAndEndInOneCall) {
  Shard shard(group_, 0, ring_);
  Calls calls;
  const OpToken token = submit(shard, calls);
  deliver(shard, {token.user_data, -EPIPE, 0});
  ASSERT_EQ(calls.seen.size(), 1u);
  EXPECT_EQ(calls.seen[0].first, -EPIPE);
  EXPECT_EQ(calls.seen[0].second & (kCqeMore | kOpResultReported), 0u);
  EXPECT_EQ(shard.live_ops(), 0u);
}

}  // namespace
}  // namespace ringo
