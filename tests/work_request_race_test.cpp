// Work requesting's sleep handshake (balancer.hpp) in the one interleaving the simulator
// cannot make: a thief's claim lands on a victim after the victim's last look at its
// request slot and before its sleep decision. The handshake says the victim then sees the
// claim and stays awake to answer it; a victim that slept on it would leave the thief
// waiting for an answer (asking nobody else) until something woke the victim.
//
// Why not the simulator: it runs one tick at a time, and a tick ends by publishing the
// shard's exact load. So a thief there only claims a shard that has at least two routines
// ready, and that shard answers at the start of its next tick, before it could be idle.
// The window needs the thief to read the victim's load (2), then the victim to run those
// routines itself, publish 0, start an idle tick and look at its empty slot, and only then
// the thief's claim to land. On io_uring and AIO the thief's read and claim are a few
// instructions apart, and an idle shard spins for idle_spin (50 us) before the tick that
// may sleep: the thief would have to stall that long between the two, so no real-backend
// test meets the window on purpose.
//
// Here three bare shards run on a lockstep kernel: each on its own thread, one thread
// running at a time in an order the test sets. Every tick is a real shard's blocking tick
// (run_once(true), a shard whose spin ran out), and a tick that blocks in its ring stays
// blocked, its inbox marked asleep, until a doorbell reaches the ring, as on io_uring and
// AIO (nothing has a timer, so nothing else ends the sleep). The thief's tick runs inside
// the victim's idle tick, at its tick hooks: inside the window.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "ringo/internal/core/shard.hpp"
#include "ringo/task.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

// Runs each shard's ticks on its own thread, one thread at a time: whoever holds the
// baton runs, and hands it on to run another shard's tick, which hands it back when the
// tick ends or blocks in its ring. So every run interleaves the same way, and a tick that
// blocks really stops where the kernel would stop it (its inbox keeps the asleep mark)
// until a doorbell wakes its ring and it is given the baton again.
class Lockstep {
 public:
  static constexpr int kDriver = -1;  // the test's own thread

  // Runs one tick of shard i (or the rest of the one it blocked in) and returns when that
  // tick ends or blocks. False if shard i is blocked: only a doorbell lets it go on.
  bool tick(uint32_t i) {
    std::unique_lock lock(m_);
    if (blocked_[i] && !stopping_) return false;
    hand_to(lock, i);
    return true;
  }
  bool blocked(uint32_t i) {
    std::lock_guard lock(m_);
    return blocked_[i];
  }

  void start(std::vector<std::unique_ptr<Shard>>& shards) {
    for (uint32_t i = 0; i < shards.size(); ++i)
      threads_.emplace_back([this, i, s = shards[i].get()] { serve(i, *s); });
  }
  // Lets every thread finish its tick and leave.
  void stop() {
    std::unique_lock lock(m_);
    stopping_ = true;
    for (uint32_t i = 0; i < threads_.size(); ++i) {
      while (!left_[i]) hand_to(lock, i);
    }
    lock.unlock();
    for (auto& t : threads_) t.join();
  }

  // The kernel side of ring i, called on shard i's thread while it holds the baton.
  void wait(uint32_t i) {  // submit_and_wait with min_complete > 0
    std::unique_lock lock(m_);
    if (std::exchange(cqe_ready_[i], false)) return;  // a doorbell came first: no wait
    blocked_[i] = true;
    give_back(i);
    cv_.wait(lock, [&] { return baton_ == static_cast<int>(i) && (!blocked_[i] || stopping_); });
  }
  void doorbell(uint32_t target) {
    std::lock_guard lock(m_);
    if (blocked_[target]) {
      blocked_[target] = false;  // it runs when next handed the baton
    } else {
      cqe_ready_[target] = true;  // awake: its next wait returns at once
    }
  }
  void reaped(uint32_t i) {
    std::lock_guard lock(m_);
    cqe_ready_[i] = false;
  }

 private:
  static constexpr uint32_t kMax = 3;
  static thread_local int me_;

  void hand_to(std::unique_lock<std::mutex>& lock, uint32_t i) {
    const int me = me_;
    return_to_[i] = me;
    baton_ = static_cast<int>(i);
    cv_.notify_all();
    cv_.wait(lock, [&] { return baton_ == me; });
  }
  void give_back(uint32_t i) {
    baton_ = return_to_[i];
    cv_.notify_all();
  }
  void serve(uint32_t i, Shard& shard) {
    me_ = static_cast<int>(i);
    CurrentShardScope scope(&shard);
    std::unique_lock lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return baton_ == static_cast<int>(i); });
      if (stopping_) break;
      lock.unlock();
      shard.run_once(true);
      lock.lock();
      give_back(i);
    }
    left_[i] = true;
    give_back(i);
  }

  std::mutex m_;
  std::condition_variable cv_;
  int baton_ = kDriver;
  int return_to_[kMax] = {kDriver, kDriver, kDriver};
  bool blocked_[kMax] = {};
  bool cqe_ready_[kMax] = {};  // a doorbell's CQE not reaped yet
  bool left_[kMax] = {};
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};
thread_local int Lockstep::me_ = Lockstep::kDriver;

// Ring i on the lockstep kernel: accepts every submission and completes nothing; a
// MSG_RING doorbell wakes its target.
class LockstepRing final : public Ring {
 public:
  LockstepRing(Lockstep& kernel, uint32_t id) : kernel_(kernel), id_(id) {}

  size_t push(std::span<const Sqe> sqes) override {
    for (const Sqe& s : sqes) {
      if (s.opcode == Opcode::msg_ring) kernel_.doorbell(static_cast<uint32_t>(s.fd));
    }
    return sqes.size();
  }
  Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) override {
    if (min_complete > 0 && timeout > Duration{0}) kernel_.wait(id_);
    return size_t{0};
  }
  size_t reap(std::span<Cqe>) override {  // a doorbell's CQE carries nothing a shard needs
    kernel_.reaped(id_);
    return 0;
  }
  Instant now() const override { return Instant{0}; }
  Caps caps() const override { return Caps{}; }
  int32_t msg_ring_id() const override { return static_cast<int32_t>(id_); }

 private:
  Lockstep& kernel_;
  const uint32_t id_;
};

// Runs the thief's tick inside the victim's, once. The thief reads the victim's load as
// its core last saw it (2: published before the victim ran those routines itself), claims
// the victim's slot and goes to sleep waiting for the answer.
struct ThiefTicksNow final : TickHook {
  Lockstep* kernel;
  uint32_t thief;
  ShardPort* victim;
  ThiefTicksNow(Lockstep& k, uint32_t t, ShardPort& v) : kernel(&k), thief(t), victim(&v) {}
  bool at_tick_end(Shard&, bool final) override {
    if (final) return false;
    const uint32_t published = victim->load.exchange(2, std::memory_order_relaxed);
    kernel->tick(thief);
    victim->load.store(published, std::memory_order_relaxed);
    return false;
  }
};

Task<void> note_shard(std::vector<uint32_t>* ran_on) {
  ran_on->push_back(current_shard()->index());
  co_return;
}

Task<void> own_work() { co_return; }

// Work that reaches the busy shard from outside: routines of its own (go), and behind them
// a few it may share (spawn).
struct FanOut final : Envelope {
  std::vector<uint32_t>* ran_on;
  int own;
  int shared;
  FanOut(std::vector<uint32_t>* r, int o, int s) : ran_on(r), own(o), shared(s) {}
  void deliver(Shard&) override {
    for (int i = 0; i < own; ++i) go(own_work()).detach();
    for (int i = 0; i < shared; ++i) spawn(note_shard(ran_on)).detach();
    delete this;
  }
};

class WorkRequestRace : public ::testing::Test {
 protected:
  // The busy shard comes after the thief in index order, so its nudge (balancer.cpp,
  // nudge_a_sleeper: the next sleeper after it) goes to the thief, not to the victim.
  static constexpr uint32_t kThief = 0, kVictim = 1, kBusy = 2, kShards = 3;

  WorkRequestRace() : group_(kShards) {
    for (uint32_t i = 0; i < kShards; ++i) {
      group_.port(i).ring_id = static_cast<int32_t>(i);
      rings_.push_back(std::make_unique<LockstepRing>(kernel_, i));
      // One routine per tick on the busy shard: its fan-out spans ticks, as routines that
      // take a while do, so a thief can ask between two of them.
      ShardConfig config;
      if (i == kBusy) config.run_budget = 1;
      shards_.push_back(std::make_unique<Shard>(group_, i, *rings_[i], config));
    }
    kernel_.start(shards_);
  }
  ~WorkRequestRace() override {
    kernel_.stop();
    for (auto& s : shards_) {
      CurrentShardScope scope(s.get());
      s.reset();
    }
  }

  Shard& shard(uint32_t i) { return *shards_[i]; }
  bool race_a_claim_into_the_victims_sleep();

  // From the test's thread: only before the shard's first tick (its thread waits for the
  // baton, in no tick; a shard that ticked may be blocked in the middle of one).
  void spawn_balanced(uint32_t on, int n) {
    ASSERT_EQ(shard(on).stats().ticks, 0u);
    CurrentShardScope scope(&shard(on));
    for (int i = 0; i < n; ++i) spawn(note_shard(&ran_on_)).detach();
  }

  // As another thread posts (ShardGroup::post_from_anywhere): into the inbox, and a
  // doorbell if the shard sleeps.
  void post_from_outside(uint32_t to, Envelope* env) {
    const Result<bool> rung = group_.enqueue(to, env);
    ASSERT_TRUE(rung.has_value());
    if (*rung) kernel_.doorbell(to);
  }

  // Rounds of one tick per shard not blocked in its ring, in index order, until every
  // shard is. Returns the rounds run, or -1 if they never all slept.
  int run_until_all_sleep() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (uint32_t i = 0; i < kShards; ++i) any = kernel_.tick(i) || any;
      if (!any) return round;
    }
    return -1;
  }

  ShardGroup group_;
  Lockstep kernel_;
  std::vector<std::unique_ptr<LockstepRing>> rings_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<uint32_t> ran_on_;  // the shard each balanced routine ran on
};

// The race, step by step; returns whether the victim blocked in its ring with the claim
// on it.
bool WorkRequestRace::race_a_claim_into_the_victims_sleep() {
  spawn_balanced(kVictim, 2);  // the victim publishes a load of 2 ...
  kernel_.tick(kVictim);       // ... and runs both itself
  EXPECT_EQ(ran_on_, (std::vector<uint32_t>{kVictim, kVictim}));
  EXPECT_EQ(group_.port(kVictim).load.load(), 0u);
  ran_on_.clear();

  ThiefTicksNow race(kernel_, kThief, group_.port(kVictim));
  shard(kVictim).add_tick_hook(&race);
  kernel_.tick(kVictim);  // idle: the thief's claim lands in it
  // The premise: the claim landed inside the window, and its thief sleeps until answered.
  EXPECT_EQ(shard(kThief).stats().work_requests_sent, 1u);
  EXPECT_EQ(group_.port(kVictim).work_request.load(), kThief + 1) << "no claim pending after the victim's tick";
  EXPECT_TRUE(kernel_.blocked(kThief));
  return kernel_.blocked(kVictim);
}

// Either the victim sees the claim and stays awake to answer it, or the thief sees the
// victim asleep and withdraws (balancer.hpp): a thief never waits on a sleeper. Here the
// victim saw it, so the claim is answered with nothing else to wake the victim.
TEST_F(WorkRequestRace, AClaimThatRacesTheVictimsSleepIsAnsweredWithoutAnythingElseWakingIt) {
  EXPECT_FALSE(race_a_claim_into_the_victims_sleep())
      << "the victim blocked in its ring with a thief's claim on it unanswered";
  ASSERT_GE(run_until_all_sleep(), 0) << "the shards never settled";
  EXPECT_EQ(shard(kVictim).stats().work_requests_answered, 1u) << "the victim never answered the claim";
  EXPECT_EQ(group_.port(kVictim).work_request.load(), 0u) << "the claim is still on the victim";
}

// What that is for: the thief is free to ask again, and takes part of the next work
// that can be shared. A victim asleep on the claim would leave the thief waiting for its
// answer until something woke the victim, and the busy shard would run it all alone.
// Three shareable routines: the busy shard publishes a load of 3 and so nudges one
// sleeper, the first after it in index order: the thief (the victim sleeps on, in both
// cases). Its own eight routines, one per tick, keep the three queued until the thief,
// woken, asks at its next tick.
TEST_F(WorkRequestRace, TheThiefWhoseClaimRacedTheVictimsSleepTakesPartOfTheNextWork) {
  race_a_claim_into_the_victims_sleep();
  ASSERT_GE(run_until_all_sleep(), 0) << "the shards never settled";
  constexpr int kShared = 3;
  post_from_outside(kBusy, new FanOut(&ran_on_, 8, kShared));
  ASSERT_GE(run_until_all_sleep(), 0) << "the shards never settled";
  ASSERT_EQ(ran_on_.size(), static_cast<size_t>(kShared));
  EXPECT_GT(std::count(ran_on_.begin(), ran_on_.end(), kThief), 0)
      << "the idle shard took none of the busy shard's balanced routines: it still waited for the victim";
}

}  // namespace
}  // namespace ringo
