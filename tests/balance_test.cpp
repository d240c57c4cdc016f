// Balanced spawn and work requesting (core/src/work_request.cpp), on every backend:
// spawn() from one shard keeps every shard busy; go() never moves; joins, aborts and
// failures of routines that moved behave as at home; shutdown loses none of them.
#include <atomic>
#include <stdexcept>
#include <vector>

#include "backends.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using testing::err;
using testing::OnEveryBackend;

// An idle shard asks for work only while it is awake: beside a co-tenant (a parallel
// ctest) a shard whose spin gives way sleeps after 5 µs and may miss the work appearing.
class Balance : public OnEveryBackend {
 protected:
  Balance() { spin_gives_way_ = false; }
};
RINGO_ON_EVERY_BACKEND(Balance);

// About 20-50 µs of CPU in a debug build: long enough that a second shard asks for work
// on a real backend (the simulator interleaves shards whatever the cost).
uint64_t burn(uint64_t rounds) {
  uint64_t x = rounds;
  for (uint64_t i = 0; i < rounds; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

Task<uint32_t> shard_after_work(uint64_t rounds, uint64_t* sink) {
  *sink = burn(rounds);
  co_return current_shard()->index();
}

constexpr int kWorkers = 400;

Task<std::vector<uint32_t>> fan_out(bool balanced, std::vector<uint64_t>* sinks) {
  // Shard 1 is up before the work appears (a real shard's thread may not have run yet).
  EXPECT_TRUE((co_await submit_to(1, [] { return 0; })).has_value());
  std::vector<JoinHandle<uint32_t>> hs;
  for (int i = 0; i < kWorkers; ++i) {
    auto task = shard_after_work(20000, &(*sinks)[static_cast<size_t>(i)]);
    hs.push_back(balanced ? spawn(std::move(task)) : go(std::move(task)));
  }
  std::vector<uint32_t> ran_on;
  for (auto& h : hs) {
    const auto joined = co_await h.join();
    ran_on.push_back(joined.value_or(99));
  }
  co_return ran_on;
}

std::vector<int> per_shard(const std::vector<uint32_t>& ran_on) {
  std::vector<int> count(3, 0);
  for (uint32_t s : ran_on) ++count[s < 2 ? s : 2];
  return count;
}

TEST_P(Balance, SpawnedWorkFromMainRunsOnEveryShard) {
  std::vector<uint64_t> sinks(kWorkers);
  auto r = run(fan_out(/*balanced=*/true, &sinks));
  ASSERT_TRUE(r.has_value()) << err(r).message();
  const std::vector<int> count = per_shard(*r);
  EXPECT_EQ(count[2], 0) << "a join failed";
  EXPECT_GT(count[0], 0);
  EXPECT_GT(count[1], 0) << "shard 1 never got work";
  const ShardStats& t = last_stats_.total;
  EXPECT_EQ(static_cast<int>(t.routines_given), count[1]);
  EXPECT_EQ(t.routines_received, t.routines_given);
  EXPECT_GT(t.work_requests_answered, 0u);
  EXPECT_EQ(t.routines_live, 0u);
  EXPECT_EQ(t.routines_spawned, t.routines_finished);
}

TEST_P(Balance, GoNeverMovesAndNeitherDoesSpawnWithRequestingOff) {
  std::vector<uint64_t> sinks(kWorkers);
  auto r = run(fan_out(/*balanced=*/false, &sinks));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(per_shard(*r)[0], kWorkers);
  EXPECT_EQ(last_stats_.total.routines_given, 0u);

  RuntimeConfig c = config();
  c.work_requesting = false;
  auto rt = Runtime::create(c);
  ASSERT_TRUE(rt) << rt.error().message();
  auto off = rt->block_on(fan_out(/*balanced=*/true, &sinks));
  ASSERT_TRUE(off.has_value());
  EXPECT_EQ(per_shard(*off)[0], kWorkers);
  (void)rt->shutdown();
  EXPECT_EQ(rt->stats().total.routines_given, 0u);
}

// Each sleeper records where it runs and then sleeps "forever"; main aborts them all
// through their handles at home, wherever they run, and each join says cancelled.
Task<Result<void>> sleeper(std::atomic<int>* started, uint64_t* sink) {
  *sink = burn(20000);
  started->fetch_add(1);
  co_return co_await sleep(1h);
}

TEST_P(Balance, AbortAndJoinOfMovedRoutinesBehaveAsAtHome) {
  constexpr int kSleepers = 200;
  std::vector<uint64_t> sinks(kSleepers);
  std::atomic<int> started{0};
  auto r = run([](std::atomic<int>* started, std::vector<uint64_t>* sinks) -> Task<int> {
    // Shard 1 is up before the work appears (a real shard's thread may not have run yet).
    EXPECT_TRUE((co_await submit_to(1, [] { return 0; })).has_value());
    std::vector<JoinHandle<Result<void>>> hs;
    for (int i = 0; i < kSleepers; ++i) hs.push_back(spawn(sleeper(started, &(*sinks)[static_cast<size_t>(i)])));
    while (started->load() < kSleepers) co_await sleep(1ms);
    for (auto& h : hs) EXPECT_TRUE(h.abort().has_value());
    int cancelled = 0;
    for (auto& h : hs) {
      const auto joined = co_await h.join();
      if (err(joined) == errc::cancelled) ++cancelled;
    }
    co_return cancelled;
  }(&started, &sinks));
  ASSERT_TRUE(r.has_value()) << err(r).message();
  EXPECT_EQ(*r, kSleepers);
  EXPECT_GT(last_stats_.total.routines_given, 0u)
      << "nothing moved: the test checked only local aborts; requests sent " << last_stats_.total.work_requests_sent
      << ", answered " << last_stats_.total.work_requests_answered;
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
}

TEST_P(Balance, AbortedBeforeItStartsABalancedRoutineNeverRuns) {
  auto r = run([]() -> Task<int> {
    int ran = 0;
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 100; ++i) {
      hs.push_back(spawn([](int* ran) -> Task<void> {
        ++*ran;
        co_return;
      }(&ran)));
      EXPECT_TRUE(hs.back().abort().has_value());
    }
    int cancelled = 0;
    for (auto& h : hs) {
      const auto joined = co_await h.join();
      if (err(joined) == errc::cancelled) ++cancelled;
    }
    EXPECT_EQ(ran, 0);
    co_return cancelled;
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 100);
}

Task<int> fails_after_work(uint64_t* sink) {
  *sink = burn(20000);
  if (current_shard() != nullptr) throw std::runtime_error("moved or not, a panic");
  co_return 0;
}

TEST_P(Balance, APanicInAMovedRoutineReachesItsJoinAtHome) {
  std::vector<uint64_t> sinks(kWorkers);
  auto r = run([](std::vector<uint64_t>* sinks) -> Task<int> {
    std::vector<JoinHandle<int>> hs;
    for (int i = 0; i < kWorkers; ++i) hs.push_back(spawn(fails_after_work(&(*sinks)[static_cast<size_t>(i)])));
    int panicked = 0;
    for (auto& h : hs) {
      const auto joined = co_await h.join();
      if (err(joined) == errc::routine_panicked) ++panicked;
    }
    co_return panicked;
  }(&sinks));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, kWorkers);
  EXPECT_EQ(last_stats_.total.routines_panicked, static_cast<uint64_t>(kWorkers));
}

// Main returns while balanced routines are still queued or running on both shards:
// shutdown cancels them wherever they are, and none is left or lost.
TEST_P(Balance, ShutdownWithBalancedRoutinesInFlightLeavesNone) {
  std::vector<uint64_t> sinks(kWorkers);
  std::atomic<int> started{0};
  auto r = run([](std::atomic<int>* started, std::vector<uint64_t>* sinks) -> Task<void> {
    for (int i = 0; i < kWorkers; ++i) (void)spawn(sleeper(started, &(*sinks)[static_cast<size_t>(i)]));
    co_await sleep(2ms);
  }(&started, &sinks));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(last_shutdown_.error) << last_shutdown_.error.message();
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
  EXPECT_EQ(last_stats_.total.routines_spawned, last_stats_.total.routines_finished);
}

}  // namespace
}  // namespace ringo
