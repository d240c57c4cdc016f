// raw::Lane's zero-allocation promise (raw/lane.hpp), apart from raw_lane_test: it
// replaces the global operator new to count, which ThreadSanitizer's runtime forbids (it
// defines its own), so this binary is not built under TSan.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <new>

#include "backends.hpp"
#include "ringo/raw/lane.hpp"

// Counts allocations made by this thread while `counting` is on (the zero-allocation test).
// The replacement pairs malloc with free; GCC 12's release build inlines it into callers
// and then takes `new T` ... `free` for a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
thread_local bool counting = false;
thread_local uint64_t allocations = 0;
}  // namespace
void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace ringo;
using namespace std::chrono_literals;
using ringo::testing::OnEveryBackend;

namespace {

// The lane's promise: once warm, a submit and its event allocate nothing (the slot table
// and the event queue are sized at open). On io_uring only: there nothing else allocates
// per op, while the simulator's and AIO's own bookkeeping do now and then (50 and 67
// allocations in these 1,600 ops when measured, none of them the lane's).
class RawLaneAllocations : public OnEveryBackend {};
INSTANTIATE_TEST_SUITE_P(Uring, RawLaneAllocations, ::testing::Values(Backend::uring),
                         ::ringo::testing::backend_test_name);

TEST_P(RawLaneAllocations, ASteadyStreamAllocatesNothing) {
  auto r = run([]() -> Task<void> {
    auto lane = raw::Lane::open({.max_ops = 8});
    if (!lane) co_return ADD_FAILURE() << lane.error().message();
    std::array<raw::Event, 8> batch;
    // Rounds of 8 submits and their 8 events, in this frame (a coroutine per round would
    // allocate its own frame under AddressSanitizer, where frames are not pooled).
    constexpr int kWarmRounds = 50;
    constexpr int kRounds = 250;
    size_t events = 0;
    for (int round = 0; round < kRounds; ++round) {
      if (round == kWarmRounds) {  // warm: every vector at its working size
        allocations = 0;
        counting = true;
      }
      for (uint64_t t = 0; t < 8; ++t) (void)lane->submit(raw::nop(), t);
      for (size_t got = 0; got < 8;) {
        auto n = co_await lane->next(batch);
        if (!n) break;
        got += *n;
        events += *n;
      }
    }
    counting = false;
    EXPECT_EQ(events, size_t{8} * kRounds);
    EXPECT_EQ(allocations, 0u) << "in 1,600 ops and their events";
  }());
  EXPECT_TRUE(r.has_value());
}

}  // namespace
