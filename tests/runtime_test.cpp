// Several runtimes in one process and on one thread, runtimes created inside routines,
// moved, and destroyed away from their owner thread: none may damage another, leak its
// shard threads or hang. Every case that runs real threads is bounded by a watchdog.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::err;

// Aborts the test binary, naming what it waited for, if the scope is still alive after
// `limit`: a bug here tends to hang a join or a drain rather than fail an expectation.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::string what)
      : what_(std::move(what)), thread_([this, limit] { watch(limit); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void watch(std::chrono::seconds limit) {
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
    std::fprintf(stderr, "watchdog: %s did not finish within %lld s\n", what_.c_str(),
                 static_cast<long long>(limit.count()));
    std::abort();
  }

  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

// Shard threads alive now of runtimes whose thread_name is `name` ("<name>-<i>").
size_t shard_threads(const std::string& name) {
  size_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream comm(it->path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line.starts_with(name + "-")) ++n;
  }
  return n;
}

// A joined thread can stay listed in /proc for a moment after join() returns, and a new
// one names itself only once it runs: wait (bounded) for the count to settle at n.
bool shard_threads_settle_at(const std::string& name, size_t n) {
  for (int i = 0; i < 400; ++i) {
    if (shard_threads(name) == n) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}
bool shard_threads_gone(const std::string& name) { return shard_threads_settle_at(name, 0); }

RuntimeConfig config_for(Backend backend, const std::string& name, uint32_t shards = 2) {
  RuntimeConfig c;
  c.backend = backend;
  c.shards = shards;
  c.thread_name = name;
  c.seed = sim::seed_from_env(7);
  c.shutdown_timeout = 500ms;
  return c;
}
RuntimeConfig on_uring(const std::string& name, uint32_t shards = 2) {
  return config_for(Backend::uring, name, shards);
}
RuntimeConfig on_sim(uint32_t shards = 2) { return config_for(Backend::sim, "sim", shards); }

std::optional<Runtime> make(const RuntimeConfig& config) {
  auto rt = Runtime::create(config);
  if (!rt) return std::nullopt;
  return std::move(*rt);
}

Task<int> answer() { co_return 42; }
Task<Result<void>> nap(Duration d) { co_return co_await sleep(d); }

// Crosses to shard 1 and back: shard 1's thread, both inboxes and the doorbells work.
Task<int> across() {
  auto h = spawn_on(1, answer());
  co_return (co_await h.join()).value_or(-1);
}

// Leaves a routine asleep on shard 0 and one on shard 1 for shutdown to cancel.
Task<void> leave_sleepers() {
  go(nap(1h)).detach();
  spawn_on(1, nap(1h)).detach();
  co_await sleep(2ms);
}

Task<void> block_on_inside(Runtime* rt, std::error_code* got) {
  *got = err(rt->block_on(answer()));
  co_return;
}

Task<void> shutdown_inside(Runtime* rt, ShutdownReport* report) {
  *report = rt->shutdown();
  co_return;
}

// ---------------------------------------------------------------- two on one thread

TEST(TwoRuntimesOnOneThread, BothWorkOnUring) {
  Watchdog dog(30s, "two io_uring runtimes on one thread");
  auto a = make(on_uring("rt2a"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->block_on(across()).value_or(0), 42);
  EXPECT_TRUE(a->block_on(leave_sleepers()).has_value());

  auto b = make(on_uring("rt2b", 3));
  ASSERT_TRUE(b.has_value());
  // Making b took nothing from a.
  EXPECT_EQ(a->block_on(across()).value_or(0), 42);
  EXPECT_EQ(b->block_on(across()).value_or(0), 42);
  EXPECT_EQ(a->block_on(across()).value_or(0), 42);

  auto report = a->shutdown();
  EXPECT_FALSE(report.error) << report.summary();
  EXPECT_GE(report.routines_cancelled, 2u) << report.summary();
  EXPECT_EQ(report.routines_abandoned, 0u) << report.summary();
  EXPECT_TRUE(shard_threads_gone("rt2a"));
  EXPECT_EQ(err(a->block_on(answer())), errc::shard_stopped);

  EXPECT_EQ(b->block_on(across()).value_or(0), 42);
  report = b->shutdown();
  EXPECT_FALSE(report.error) << report.summary();
  EXPECT_TRUE(shard_threads_gone("rt2b"));
}

TEST(TwoRuntimesOnOneThread, DestroyedInEitherOrderOnUring) {
  Watchdog dog(30s, "two io_uring runtimes destroyed in either order");
  for (bool first_goes_first : {true, false}) {
    SCOPED_TRACE(first_goes_first ? "first made, first destroyed" : "last made, first destroyed");
    auto a = make(on_uring("rt2c"));
    auto b = make(on_uring("rt2d"));
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_TRUE(a->block_on(leave_sleepers()).has_value());
    EXPECT_TRUE(b->block_on(leave_sleepers()).has_value());
    auto& gone = first_goes_first ? a : b;
    auto& kept = first_goes_first ? b : a;
    const char* gone_name = first_goes_first ? "rt2c" : "rt2d";
    const char* kept_name = first_goes_first ? "rt2d" : "rt2c";
    gone.reset();  // destructor: shuts down
    EXPECT_TRUE(shard_threads_gone(gone_name));
    EXPECT_TRUE(shard_threads_settle_at(kept_name, 1)) << shard_threads(kept_name);
    EXPECT_EQ(kept->block_on(across()).value_or(0), 42);
    kept.reset();
    EXPECT_TRUE(shard_threads_gone(kept_name));
  }
}

TEST(TwoRuntimesOnOneThread, SimAndUringMixOnUring) {
  Watchdog dog(30s, "a simulated and an io_uring runtime on one thread");
  for (bool sim_first : {true, false}) {
    SCOPED_TRACE(sim_first ? "simulator made first" : "io_uring made first");
    std::optional<Runtime> s, u;
    if (sim_first) s = make(on_sim());
    u = make(on_uring("rtmx"));
    if (!sim_first) s = make(on_sim());
    ASSERT_TRUE(s.has_value() && u.has_value());
    EXPECT_EQ(u->block_on(across()).value_or(0), 42);
    EXPECT_EQ(s->block_on(across()).value_or(0), 42);
    EXPECT_EQ(u->block_on(across()).value_or(0), 42);

    std::error_code got;
    EXPECT_TRUE(u->block_on(block_on_inside(&*s, &got)).has_value());
    EXPECT_EQ(got, errc::nested_block_on);
    got = {};
    EXPECT_TRUE(s->block_on(block_on_inside(&*u, &got)).has_value());
    EXPECT_EQ(got, errc::nested_block_on);

    EXPECT_EQ(s->block_on(across()).value_or(0), 42);
    EXPECT_EQ(u->block_on(across()).value_or(0), 42);
    if (sim_first) s.reset();
    u.reset();
    EXPECT_TRUE(shard_threads_gone("rtmx"));
  }
}

// ---------------------------------------------------------------- nesting, on each backend

class Nesting : public ::testing::TestWithParam<Backend> {
 protected:
  RuntimeConfig config(const std::string& name) const { return config_for(GetParam(), name); }
  Watchdog dog_{30s, "a nested runtime call"};
};
RINGO_ON_EVERY_BACKEND(Nesting);

TEST_P(Nesting, BlockOnInsideItsOwnRoutineIsRefused) {
  auto rt = make(config("rtn1"));
  ASSERT_TRUE(rt.has_value());
  std::error_code got;
  EXPECT_TRUE(rt->block_on(block_on_inside(&*rt, &got)).has_value());
  EXPECT_EQ(got, errc::nested_block_on);
  EXPECT_EQ(rt->block_on(across()).value_or(0), 42);
  EXPECT_FALSE(rt->shutdown().error);
}

TEST_P(Nesting, BlockOnOfAnotherRuntimeInsideARoutineIsRefused) {
  auto a = make(config("rtn2"));
  auto b = make(config("rtn3"));
  ASSERT_TRUE(a.has_value() && b.has_value());
  std::error_code got;
  EXPECT_TRUE(a->block_on(block_on_inside(&*b, &got)).has_value());
  EXPECT_EQ(got, errc::nested_block_on);
  EXPECT_EQ(b->block_on(across()).value_or(0), 42);
  EXPECT_EQ(a->block_on(across()).value_or(0), 42);
}

TEST_P(Nesting, ShutdownInsideItsOwnRoutineIsRefused) {
  auto rt = make(config("rtn4"));
  ASSERT_TRUE(rt.has_value());
  ShutdownReport inside;
  EXPECT_TRUE(rt->block_on(shutdown_inside(&*rt, &inside)).has_value());
  EXPECT_EQ(inside.error, errc::nested_block_on) << inside.summary();
  EXPECT_EQ(rt->block_on(across()).value_or(0), 42);
  auto report = rt->shutdown();
  EXPECT_FALSE(report.error) << report.summary();
  EXPECT_TRUE(shard_threads_gone("rtn4"));
}

// Shutting down a runtime that is not running is bounded (shutdown_timeout), so it is
// allowed from a routine of another one: a runtime dropped inside a routine is stopped.
TEST_P(Nesting, ShutdownOfAnotherRuntimeInsideARoutineWorks) {
  for (Backend other : {Backend::sim, Backend::uring, Backend::aio}) {
    SCOPED_TRACE(backend_name(other));
    auto a = make(config("rtn5"));
    auto b = make(config_for(other, "rtn6"));
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_TRUE(b->block_on(leave_sleepers()).has_value());
    ShutdownReport inside;
    EXPECT_TRUE(a->block_on(shutdown_inside(&*b, &inside)).has_value());
    EXPECT_FALSE(inside.error) << inside.summary();
    EXPECT_GE(inside.routines_cancelled, 2u) << inside.summary();
    EXPECT_EQ(inside.routines_abandoned, 0u) << inside.summary();
    EXPECT_TRUE(shard_threads_gone("rtn6"));
    EXPECT_EQ(err(b->block_on(answer())), errc::shard_stopped);
    EXPECT_EQ(a->block_on(across()).value_or(0), 42);
  }
}

// Makes a runtime inside a routine, checks that it cannot block_on there, and hands it out.
Task<void> make_inside(RuntimeConfig config, std::optional<Runtime>* out) {
  auto made = Runtime::create(config);
  EXPECT_TRUE(made.has_value());
  if (!made) co_return;
  EXPECT_EQ(err(made->block_on(answer())), errc::nested_block_on);
  EXPECT_EQ(co_await across(), 42);  // the outer runtime still works
  out->emplace(std::move(*made));
}

// Makes a runtime inside a routine and drops it there.
Task<int> make_and_drop_inside(RuntimeConfig config) {
  {
    auto made = Runtime::create(config);
    EXPECT_TRUE(made.has_value());
  }
  co_return co_await across();
}

TEST_P(Nesting, RuntimeMadeInsideARoutineWorksOnceOutside) {
  for (Backend inner : {Backend::sim, Backend::uring, Backend::aio}) {
    SCOPED_TRACE(backend_name(inner));
    auto a = make(config("rtn7"));
    ASSERT_TRUE(a.has_value());
    std::optional<Runtime> b;
    EXPECT_TRUE(a->block_on(make_inside(config_for(inner, "rtn8"), &b)).has_value());
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->block_on(across()).value_or(0), 42);
    EXPECT_EQ(a->block_on(across()).value_or(0), 42);
    EXPECT_EQ(b->block_on(across()).value_or(0), 42);
    EXPECT_EQ(a->block_on(make_and_drop_inside(config_for(inner, "rtn9"))).value_or(0), 42);
    EXPECT_TRUE(shard_threads_gone("rtn9"));
    EXPECT_EQ(a->block_on(across()).value_or(0), 42);
    a.reset();
    EXPECT_EQ(b->block_on(across()).value_or(0), 42);
    b.reset();
    EXPECT_TRUE(shard_threads_gone("rtn7"));
    EXPECT_TRUE(shard_threads_gone("rtn8"));
  }
}

Task<void> destroy_inside(std::optional<Runtime>* rt) {
  rt->reset();
  co_return;
}

// It would free the shard that runs the caller: the process stops with a message rather
// than crash somewhere later. (Not in the ThreadSanitizer run: it forks.)
TEST(NestingDeathTest, RuntimeDestroyedInsideItsOwnRoutineAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (Backend backend : {Backend::sim, Backend::uring, Backend::aio}) {
    SCOPED_TRACE(backend_name(backend));
    EXPECT_DEATH(
        {
          auto rt = make(config_for(backend, "rtd1"));
          if (rt) (void)rt->block_on(destroy_inside(&rt));
        },
        "destroyed from inside one of its own routines");
  }
}

// ---------------------------------------------------------------- moves

TEST_P(Nesting, MovedRuntimeWorksAndMovedFromFailsCleanly) {
  auto a = make(config("rtm1"));
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->block_on(leave_sleepers()).has_value());
  Runtime b = std::move(*a);
  EXPECT_EQ(b.block_on(across()).value_or(0), 42);

  EXPECT_EQ(err(a->block_on(answer())), errc::shard_stopped);
  EXPECT_FALSE(a->shutdown().error);
  EXPECT_EQ(a->shard_count(), 0u);
  EXPECT_TRUE(a->stats().shards.empty());

  // Assigning over a live runtime shuts the old one down.
  auto c = make(config("rtm2"));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->block_on(leave_sleepers()).has_value());
  *c = std::move(b);
  EXPECT_TRUE(shard_threads_gone("rtm2"));
  EXPECT_EQ(c->block_on(across()).value_or(0), 42);
  auto report = c->shutdown();
  EXPECT_FALSE(report.error) << report.summary();
  EXPECT_GE(report.routines_cancelled, 2u) << report.summary();
  c.reset();
  a.reset();
  EXPECT_TRUE(shard_threads_gone("rtm1"));
}

// ---------------------------------------------------------------- off the owner thread

// On shard 2: waits for a call served on shard 0, which nobody drives between block_on calls.
Task<void> wait_on_shard0() {
  auto h = spawn_on(0, nap(1h));
  (void)co_await h.join();
}

Task<void> leave_work_everywhere() {
  go(nap(1h)).detach();
  spawn_on(1, nap(1h)).detach();
  spawn_on(2, wait_on_shard0()).detach();
  co_await sleep(5ms);
}

void refused_there_but_destroyed_there(const RuntimeConfig& config) {
  Watchdog dog(30s, "a runtime destroyed off its owner thread");
  auto rt = make(config);
  ASSERT_TRUE(rt.has_value());
  EXPECT_TRUE(rt->block_on(leave_work_everywhere()).has_value());
  std::thread elsewhere([&rt] {
    EXPECT_EQ(err(rt->block_on(answer())), errc::wrong_thread);
    auto report = rt->shutdown();
    EXPECT_EQ(report.error, errc::wrong_thread) << report.summary();
  });
  elsewhere.join();
  // Refused there, nothing done: the owner can still use it.
  EXPECT_EQ(rt->block_on(across()).value_or(0), 42);

  std::thread destroyer([&rt] { rt.reset(); });
  destroyer.join();
  EXPECT_TRUE(shard_threads_gone(config.thread_name));
}

TEST(OffOwnerThread, RefusedThereButDestroyedThereStopsEveryShardOnUring) {
  refused_there_but_destroyed_there(on_uring("rto1", 3));
}

// The same on AIO: the other shards are woken by the ring-less wake (a mailbox post).
TEST(OffOwnerThread, RefusedThereButDestroyedThereStopsEveryShardOnAio) {
  refused_there_but_destroyed_there(config_for(Backend::aio, "rto3", 3));
}

TEST(OffOwnerThread, OwnerThreadGoneFirstOnUring) {
  Watchdog dog(30s, "a runtime outliving its owner thread");
  std::optional<Runtime> rt;
  std::thread owner([&rt] {
    rt = make(on_uring("rto2", 3));
    ASSERT_TRUE(rt.has_value());
    EXPECT_EQ(rt->block_on(across()).value_or(0), 42);
    EXPECT_TRUE(rt->block_on(leave_work_everywhere()).has_value());
  });
  owner.join();
  ASSERT_TRUE(rt.has_value());
  EXPECT_EQ(err(rt->block_on(answer())), errc::wrong_thread);
  // A later thread may reuse the owner's thread id; it must not pass for the owner.
  std::thread later([&rt] { EXPECT_EQ(err(rt->block_on(answer())), errc::wrong_thread); });
  later.join();
  rt.reset();
  EXPECT_TRUE(shard_threads_gone("rto2"));
}

// A shard that never goes idle still publishes its stats (at most every 10 ms): read
// while it works, Runtime::stats() shows that work, not the shard's last idle moment.
// Before, a shard under constant load showed the numbers of its start forever.
Task<void> yield_until(std::atomic<bool>* stop) {
  while (!stop->load(std::memory_order_relaxed)) co_await yield_now();
}

Task<uint64_t> watch_busy_shard(Runtime* rt, std::atomic<bool>* stop) {
  auto busy = spawn_on(1, yield_until(stop));
  uint64_t seen = 0;
  // Waits at most 2 s (400 x 5 ms) for shard 1's published resumes to pass 1000.
  for (int i = 0; i < 400 && seen < 1000; ++i) {
    (void)co_await sleep(5ms);
    seen = rt->stats().shards[1].resumes;
  }
  stop->store(true, std::memory_order_relaxed);
  (void)co_await busy.join();
  co_return seen;
}

void expect_busy_shard_publishes(Backend backend) {
  RuntimeConfig config;
  config.shards = 2;
  config.backend = backend;
  config.work_requesting = false;
  auto rt = Runtime::create(config);
  ASSERT_TRUE(rt) << rt.error().message();
  std::atomic<bool> stop{false};
  auto seen = rt->block_on(watch_busy_shard(&*rt, &stop));
  ASSERT_TRUE(seen);
  EXPECT_GE(*seen, 1000u) << "a busy shard's stats were not published within 2 s";
}

TEST(RuntimeStats, ABusyShardPublishesWhileItWorksOnUring) { expect_busy_shard_publishes(Backend::uring); }
TEST(RuntimeStats, ABusyShardPublishesWhileItWorksOnAio) { expect_busy_shard_publishes(Backend::aio); }

}  // namespace
}  // namespace ringo
