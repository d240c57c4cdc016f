// Runs a test body on every backend: a parameterised suite, not copies.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo::testing {

class OnEveryBackend : public ::testing::TestWithParam<Backend> {
 protected:
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
};

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
