// The simulator's promises: same seed → same trace; different seeds → different
// interleavings; deadlocks and livelocks are reported with what every routine waits on;
// the three outcomes of a cancel race all occur; faults are survived.
#include "ringo/sim.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "ringo/ringo.hpp"
#include "scoped_env.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

// A multi-shard program whose interleaving the seed decides.
Task<void> ping_pong_program(std::vector<int>* order) {
  std::vector<JoinHandle<void>> hs;
  for (int i = 0; i < 6; ++i) {
    hs.push_back(spawn_on(static_cast<uint32_t>(i % 2), [](std::vector<int>* o, int id) -> Task<void> {
      for (int k = 0; k < 3; ++k) {
        co_await nop();
        o->push_back(id * 10 + k);
        co_await yield_now();
      }
    }(order, i)));
  }
  for (auto& h : hs) co_await h.join();
}

sim::Report run_seed(uint64_t seed, std::vector<int>* order, sim::FaultConfig faults = sim::FaultConfig::none()) {
  sim::SimConfig c;
  c.seed = seed;
  c.shards = 2;
  c.faults = faults;
  return sim::run(c, [order] { return ping_pong_program(order); });
}

TEST(Simulator, SameSeedSameTraceHash) {
  const uint64_t seed = sim::seed_from_env(7);
  std::vector<int> a, b;
  auto r1 = run_seed(seed, &a);
  auto r2 = run_seed(seed, &b);
  ASSERT_TRUE(r1.ok()) << r1.message << " " << r1.replay_hint();
  EXPECT_EQ(r1.trace_hash, r2.trace_hash) << r1.replay_hint();
  EXPECT_EQ(r1.trace_events, r2.trace_events);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 18u);
}

TEST(Simulator, HundredSeedsGiveManyInterleavings) {
  std::set<uint64_t> hashes;
  std::set<std::vector<int>> orders;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    std::vector<int> order;
    auto r = run_seed(seed, &order);
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    hashes.insert(r.trace_hash);
    orders.insert(order);
  }
  EXPECT_GT(hashes.size(), 50u);
  EXPECT_GT(orders.size(), 1u);
}

TEST(Simulator, HeavyFaultsAreSurvived) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::vector<int> order;
    auto r = run_seed(seed, &order, sim::FaultConfig::heavy());
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    EXPECT_EQ(order.size(), 18u) << r.replay_hint();
  }
}

TEST(Simulator, SwarmFaultsAreSurvived) {
  uint64_t faults = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::vector<int> order;
    auto r = run_seed(seed, &order, sim::FaultConfig::swarm(seed));
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    EXPECT_EQ(order.size(), 18u) << r.replay_hint();
    faults += r.faults_injected;
  }
  EXPECT_GT(faults, 0u);
}

// A wait nobody will ever end: the shape of a lost wake-up.
struct LostWakeup {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept {
    Routine* me = this_routine();
    static constexpr WaitKind kWait{nullptr, [](const void*) { return WaitInfo{"lost wake-up", 0}; }};
    me->shard->park(me, h, kWait, nullptr);
  }
  void await_resume() const noexcept {}
};

TEST(Simulator, DeadlockIsReportedWithEachBlockedRoutine) {
  sim::SimConfig c;
  c.seed = 3;
  auto r = sim::run(c, []() -> Task<void> {
    // Two routines joining each other, and main waiting for a wake-up that never comes.
    struct Slots {
      JoinHandle<void> a, b;
    };
    Slots slots_storage;
    Slots* slots = &slots_storage;  // owned by main's frame: no reference cycle
    auto waiter = [](Slots* s, bool first) -> Task<void> {
      co_await yield_now();
      if (first) {
        co_await s->b.join();
      } else {
        co_await s->a.join();
      }
    };
    slots->a = go(waiter(slots, true));
    slots->b = go(waiter(slots, false));
    co_await sleep(1ms);  // a pending timer is not a deadlock: time jumps to it
    co_await LostWakeup{};
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error, errc::deadlock);
  EXPECT_GE(r.virtual_time, Instant{1ms});
  EXPECT_NE(r.message.find("lost wake-up"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("routine #2: join"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("routine #3: join"), std::string::npos) << r.message;
}

TEST(Simulator, LivelockHitsTheVirtualTimeBudget) {
  sim::SimConfig c;
  c.time_budget = 1s;
  auto r = sim::run(c, []() -> Task<void> {
    while (co_await sleep(1ms)) {
    }
  });
  EXPECT_EQ(r.error, errc::timed_out);
  EXPECT_GE(r.virtual_time, Instant{1s});
}

TEST(Simulator, TimersDueAtTheSameInstantFireInSeedOrder) {
  std::set<std::vector<int>> orders;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<int> order;
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    auto r = sim::run(c, [&order]() -> Task<void> {
      const Instant at = current_shard()->now() + 5ms;
      std::vector<JoinHandle<void>> hs;
      for (int i = 0; i < 5; ++i) {
        hs.push_back(go([](std::vector<int>* o, Instant t, int id) -> Task<void> {
          co_await sleep_until(t);
          o->push_back(id);
        }(&order, at, i)));
      }
      for (auto& h : hs) co_await h.join();
    });
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(order.size(), 5u);
    orders.insert(order);
  }
  EXPECT_GT(orders.size(), 3u);
}

TEST(Simulator, CancelRaceProducesAllThreeOutcomes) {
  ShardStats total;
  uint64_t delivered_despite_cancel = 0;
  for (uint64_t seed = 1; seed <= 90; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    auto r = sim::run(c, [&delivered_despite_cancel, seed]() -> Task<void> {
      auto h = go([](uint64_t* delivered) -> Task<void> {
        Sqe t;
        t.opcode = Opcode::timeout;
        t.off = static_cast<uint64_t>(Duration(3us).count());
        auto res = co_await submit(t);
        // Outcome 3: aborted, yet the op's real result (TIMEOUT's -ETIME) arrives.
        if (this_routine()->cancel_requested && !res && res.error() == std::errc::stream_timeout) ++*delivered;
      }(&delivered_despite_cancel));
      // Abort at a seed-chosen moment: queued (before submission) or in flight.
      if (seed % 2 == 0) {
        co_await yield_now();
      } else {
        co_await sleep(2us);
      }
      (void)h.abort();
      co_await h.join();
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    total += r.stats;
  }
  EXPECT_GT(total.ops_cancelled_before_submit, 0u);
  EXPECT_GT(total.ops_cancelled_by_kernel, 0u);
  EXPECT_GT(total.ops_completed_despite_cancel, 0u);
  EXPECT_EQ(delivered_despite_cancel, total.ops_completed_despite_cancel);
}

TEST(Simulator, ExceptionInMainIsReported) {
  auto r = sim::run({}, []() -> Task<void> {
    co_await yield_now();
    throw std::runtime_error("main failed");
  });
  EXPECT_EQ(r.error, errc::routine_panicked);
  EXPECT_NE(r.message.find("main failed"), std::string::npos);
}

TEST(Simulator, ReplayHintNamesTheSeed) {
  sim::SimConfig c;
  c.seed = 991;
  auto r = sim::run(c, []() -> Task<void> { co_return; });
  EXPECT_EQ(r.replay_hint(), "RINGO_SEED=991");
}

TEST(SeedFromEnv, ParseSeedTakesWholeDecimalOrHexNumbersOnly) {
  EXPECT_EQ(sim::parse_seed("0"), 0u);
  EXPECT_EQ(sim::parse_seed("42"), 42u);
  EXPECT_EQ(sim::parse_seed("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(sim::parse_seed("0x2a"), 42u);
  EXPECT_EQ(sim::parse_seed("0X2A"), 42u);
  EXPECT_EQ(sim::parse_seed("0x00ffffffffffffffff"), UINT64_MAX);
  for (const char* bad : {"", "abc", "12 ", " 12", "-1", "+1", "012", "1e3", "4.0", "0x", "0x-1", "0xg",
                          "18446744073709551616", "99999999999999999999999", "0x10000000000000000"}) {
    EXPECT_EQ(sim::parse_seed(bad).error(), errc::invalid_argument) << "'" << bad << "'";
  }
}

// A test that silently ran another seed would pass off some other run as the replay.
TEST(SeedFromEnvDeathTest, AMalformedSeedStopsTheProgram) {
  for (const char* value : {"abc", "12 ", "", "-1", "99999999999999999999999", "012"}) {
    testing::ScopedEnv env("RINGO_SEED", value);
    EXPECT_EXIT(sim::seed_from_env(1), ::testing::ExitedWithCode(2), "RINGO_SEED=\"" + std::string(value) + "\"")
        << "RINGO_SEED='" << value << "'";
  }
}

TEST(SeedFromEnv, ReadsDecimalAndHex) {
  {
    testing::ScopedEnv env("RINGO_SEED", nullptr);
    EXPECT_EQ(sim::seed_from_env(7), 7u);
  }
  {
    testing::ScopedEnv env("RINGO_SEED", "18446744073709551615");
    EXPECT_EQ(sim::seed_from_env(7), UINT64_MAX);
  }
  {
    testing::ScopedEnv env("RINGO_SEED", "0xFFff");
    EXPECT_EQ(sim::seed_from_env(7), 0xffffu);
  }
  {
    testing::ScopedEnv env("RINGO_SEED", "0");
    EXPECT_EQ(sim::seed_from_env(7), 0u);
  }
}

// Destroying a simulation (or a sim Runtime) mid-call, without shutdown(), frees the
// routine serving the call and its envelope: ASan's leak check fails this test otherwise.
TEST(Simulator, TeardownMidCrossShardCallLeaksNothing) {
  {
    sim::SimConfig c;
    c.shards = 2;
    sim::Simulation sim(c);
    auto r = sim.drive([]() -> Task<void> {
      spawn_on(1,
               []() -> Task<int> {
                 co_await sleep(std::chrono::hours(1));
                 co_return 1;
               }())
          .detach();
      co_await sleep(std::chrono::milliseconds(1));
    }());
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(sim.shard(1).stats().routines_live, 1u);  // still serving when torn down
  }
  auto rt = Runtime::create({.shards = 2, .backend = Backend::sim});
  ASSERT_TRUE(rt.has_value());
  auto v = rt->block_on([]() -> Task<int> {
    spawn_on(1,
             []() -> Task<int> {
               co_await sleep(std::chrono::hours(1));
               co_return 1;
             }())
        .detach();
    co_return 7;
  }());
  EXPECT_EQ(v, 7);
}

}  // namespace
}  // namespace ringo
