// Balanced spawn and work requesting (core/src/work_request.cpp), on every backend:
// spawn() from one shard keeps every shard busy; go() never moves; joins, aborts and
// failures of routines that moved behave as at home; shutdown loses none of them.
#include <atomic>
#include <stdexcept>
#include <vector>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;
using testing::OnEveryBackend;

// With the default spin, which gives way beside a co-tenant: a sleeping shard is nudged
// awake when work appears (work_request.cpp), so balancing does not depend on spinning.
class Balance : public OnEveryBackend {};
RINGO_ON_EVERY_BACKEND(Balance);

// About 20-50 µs of CPU in a debug build: long enough that a second shard asks for work
// on a real backend (the simulator interleaves shards whatever the cost). The result
// feeds a counter no one expects to move, so the loop is not optimised away.
std::atomic<uint64_t> g_unlikely{0};
void burn(uint64_t rounds) {
  uint64_t x = rounds;
  for (uint64_t i = 0; i < rounds; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  if (x == 0x5eed) g_unlikely.fetch_add(1);
}

Task<uint32_t> shard_after_work() {
  burn(20000);
  co_return current_shard()->index();
}

// Spawns waves of `wave` routines from make() until this shard has handed some to
// another shard, or 5 s of the runtime's clock passed (a real shard's thread may wait
// that long for a CPU on a loaded machine; a test that needs a move then says so).
template <class T, class Make>
Task<void> spawn_until_moved(std::vector<JoinHandle<T>>* hs, Make make, int wave, bool balanced = true) {
  const Instant give_up = current_shard()->now() + 5s;
  do {
    for (int i = 0; i < wave; ++i) hs->push_back(balanced ? spawn(make()) : go(make()));
    co_await sleep(1ms);
  } while (current_shard()->stats().routines_given == 0 && current_shard()->now() < give_up);
}

constexpr int kWave = 100;

enum class Spawn { balanced_until_moved, balanced_once, pinned };

Task<std::vector<uint32_t>> fan_out(Spawn how) {
  std::vector<JoinHandle<uint32_t>> hs;
  if (how == Spawn::balanced_until_moved) {
    auto make = [] { return shard_after_work(); };
    co_await spawn_until_moved(&hs, make, kWave);
  } else {
    for (int i = 0; i < 4 * kWave; ++i) {
      hs.push_back(how == Spawn::pinned ? go(shard_after_work()) : spawn(shard_after_work()));
    }
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
  auto r = run(fan_out(Spawn::balanced_until_moved));
  ASSERT_TRUE(r.has_value()) << err(r).message();
  const std::vector<int> count = per_shard(*r);
  EXPECT_EQ(count[2], 0) << "a join failed";
  EXPECT_GT(count[0], 0);
  EXPECT_GT(count[1], 0) << "shard 1 never got work in 5 s";
  const ShardStats& t = last_stats_.total;
  EXPECT_EQ(static_cast<int>(t.routines_given), count[1]);
  EXPECT_EQ(t.routines_received, t.routines_given);
  EXPECT_GT(t.work_requests_answered, 0u);
  EXPECT_EQ(t.routines_live, 0u);
  EXPECT_EQ(t.routines_spawned, t.routines_finished);
}

TEST_P(Balance, GoNeverMovesAndNeitherDoesSpawnWithRequestingOff) {
  auto r = run(fan_out(Spawn::pinned));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(per_shard(*r)[0], 4 * kWave);
  EXPECT_EQ(last_stats_.total.routines_given, 0u);

  RuntimeConfig c = config();
  c.work_requesting = false;
  auto rt = Runtime::create(c);
  ASSERT_TRUE(rt) << rt.error().message();
  auto off = rt->block_on(fan_out(Spawn::balanced_once));
  ASSERT_TRUE(off.has_value());
  EXPECT_EQ(per_shard(*off)[0], 4 * kWave);
  (void)rt->shutdown();
  EXPECT_EQ(rt->stats().total.routines_given, 0u);
}

// Each sleeper works a little and then sleeps "forever"; main aborts them all through
// their handles at home, wherever they run, and each join says cancelled.
Task<Result<void>> sleeper(std::atomic<int>* started) {
  burn(20000);
  started->fetch_add(1);
  co_return co_await sleep(1h);
}

TEST_P(Balance, AbortAndJoinOfMovedRoutinesBehaveAsAtHome) {
  std::atomic<int> started{0};
  auto r = run([](std::atomic<int>* started) -> Task<int> {
    std::vector<JoinHandle<Result<void>>> hs;
    auto make = [started] { return sleeper(started); };  // named: GCC 12 and lambdas in co_await
    co_await spawn_until_moved(&hs, make, kWave);
    while (started->load() < static_cast<int>(hs.size())) co_await sleep(1ms);
    for (auto& h : hs) EXPECT_TRUE(h.abort().has_value());
    int not_cancelled = 0;
    for (auto& h : hs) {
      const auto joined = co_await h.join();
      if (err(joined) != errc::cancelled) ++not_cancelled;
    }
    co_return not_cancelled;
  }(&started));
  ASSERT_TRUE(r.has_value()) << err(r).message();
  EXPECT_EQ(*r, 0);
  EXPECT_GT(last_stats_.total.routines_given, 0u)
      << "nothing moved in 5 s: the test checked only local aborts; requests sent "
      << last_stats_.total.work_requests_sent << ", answered " << last_stats_.total.work_requests_answered;
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

Task<int> fails_after_work() {
  burn(20000);
  if (current_shard() != nullptr) throw std::runtime_error("moved or not, a panic");
  co_return 0;
}

TEST_P(Balance, APanicInAMovedRoutineReachesItsJoinAtHome) {
  auto r = run([]() -> Task<int> {
    std::vector<JoinHandle<int>> hs;
    auto make = [] { return fails_after_work(); };
    co_await spawn_until_moved(&hs, make, kWave);
    int not_panicked = 0;
    for (auto& h : hs) {
      const auto joined = co_await h.join();
      if (err(joined) != errc::routine_panicked) ++not_panicked;
    }
    co_return not_panicked;
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0);
  EXPECT_GT(last_stats_.total.routines_given, 0u) << "nothing moved in 5 s";
  EXPECT_EQ(last_stats_.total.routines_panicked, last_stats_.total.routines_spawned - 1);  // all but main
}

// Main returns while balanced routines are still queued or running on both shards:
// shutdown cancels them wherever they are, and none is left or lost.
TEST_P(Balance, ShutdownWithBalancedRoutinesInFlightLeavesNone) {
  std::atomic<int> started{0};
  auto r = run([](std::atomic<int>* started) -> Task<void> {
    for (int i = 0; i < 4 * kWave; ++i) (void)spawn(sleeper(started));
    co_await sleep(2ms);
  }(&started));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(last_shutdown_.error) << last_shutdown_.error.message();
  EXPECT_EQ(last_stats_.total.routines_live, 0u);
  EXPECT_EQ(last_stats_.total.routines_spawned, last_stats_.total.routines_finished);
}

}  // namespace
}  // namespace ringo
