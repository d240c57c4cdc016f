// Runs a test body on every backend: a parameterised suite, not copies.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"
#include "watchdog.hpp"

namespace ringo::testing {

// How long one io_uring case may take before its watchdog ends the process (times
// kSlowdown under sanitizers). The slowest io_uring case takes about 4 s in a debug build.
inline constexpr std::chrono::seconds kUringCaseLimit{20};

class OnEveryBackend : public ::testing::TestWithParam<Backend> {
 protected:
  // Every io_uring and AIO case runs under a watchdog (watchdog.hpp): a lost wake-up ends the
  // test in seconds, naming it, instead of at ctest's timeout. The simulator needs none:
  // it reports a deadlock, and its budgets end a livelock.
  OnEveryBackend() {
    if (GetParam() == Backend::uring) watchdog_.emplace(kUringCaseLimit, current_test_name() + " on io_uring");
    if (GetParam() == Backend::aio) watchdog_.emplace(kUringCaseLimit, current_test_name() + " on AIO");
  }

  RuntimeConfig config(uint32_t shards = 2) const {
    RuntimeConfig c;
    c.shards = shards;
    c.backend = GetParam();
    c.seed = 42;  // RINGO_SEED overrides it (Runtime::create)
    return c;
  }

  // Runs task on a fresh runtime; fails the test if the runtime cannot start.
  template <class T>
  Joined<T> run(Task<T> task, uint32_t shards = 2) {
    auto rt = Runtime::create(config(shards));
    if (!rt) {
      ADD_FAILURE() << "runtime: " << rt.error().message();
      return std::unexpected(rt.error());
    }
    auto result = rt->block_on(std::move(task));
    last_shutdown_ = rt->shutdown();
    last_stats_ = rt->stats();
    return result;
  }

  ShutdownReport last_shutdown_;
  RuntimeStats last_stats_;

 private:
  std::optional<Watchdog> watchdog_;
};

// "Never early": a sleep, timer, deadline or select timeout that asked for `asked`,
// measured from `t0`, must not have returned before it. Both instants come from the
// runtime's own clock (Shard::now(): virtual on the simulator, CLOCK_MONOTONIC on
// io_uring, the same on every shard), so a timer that fires even 1 ns early fails on the
// simulator; on io_uring it is caught once it is earlier than the wake-up latency.
inline ::testing::AssertionResult not_early(Instant t0, Duration asked, Instant now) {
  if (now - t0 >= asked) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "returned " << (t0 + asked - now).count() << " ns early: asked for "
                                       << asked.count() << " ns, took " << (now - t0).count() << " ns";
}
inline ::testing::AssertionResult not_early(Instant t0, Duration asked) {
  return not_early(t0, asked, detail::current_shard()->now());
}

// The error of a Result, or an empty error_code if it holds a value.
template <class R>
std::error_code err(const R& r) {
  return r ? std::error_code{} : r.error();
}

inline std::string backend_test_name(const ::testing::TestParamInfo<Backend>& info) { return backend_name(info.param); }

#define RINGO_ON_EVERY_BACKEND(Suite)                                                                                \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                                          \
                           ::testing::Values(::ringo::Backend::sim, ::ringo::Backend::uring, ::ringo::Backend::aio), \
                           ::ringo::testing::backend_test_name)

}  // namespace ringo::testing
