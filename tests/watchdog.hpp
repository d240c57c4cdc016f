// A time limit for a test that could hang. A lost wake-up on io_uring leaves a test
// blocked in io_uring_enter forever, and ctest would only kill it at its TIMEOUT: a
// Watchdog ends the process after `limit` instead, saying what it waited for.
//
//   Watchdog guard{std::chrono::seconds(10), "ping-pong across 3 shards"};
//
// On expiry it prints "timed out after 10 s waiting for: ping-pong across 3 shards" to
// stderr and calls _Exit(1): no destructors or atexit handlers run, so nothing races with
// the threads that are still stuck (clean under ThreadSanitizer, no leak report from
// AddressSanitizer's exit-time check), and ctest reports the test as failed with that
// line. OnEveryBackend arms one for every io_uring case (backends.hpp).
//
// Limits are scaled by kSlowdown in sanitizer builds, which run several times slower.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace ringo::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int kSlowdown = 5;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr int kSlowdown = 5;
#else
inline constexpr int kSlowdown = 1;
#endif
#else
inline constexpr int kSlowdown = 1;
#endif

// "Suite.Name/param" of the running test, or "(no test)".
inline std::string current_test_name() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "(no test)";
  return std::string(info->test_suite_name()) + "." + info->name();
}

class Watchdog {
 public:
  // what: what the guarded code waits for; the running test's name if empty.
  explicit Watchdog(std::chrono::seconds limit, std::string what = {})
      : limit_(limit * kSlowdown), what_(what.empty() ? current_test_name() : std::move(what)) {
    thread_ = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  std::chrono::seconds limit() const noexcept { return limit_; }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (wake_.wait_for(lock, limit_, [this] { return done_; })) return;
    std::fprintf(stderr, "\ntimed out after %lld s waiting for: %s\n", static_cast<long long>(limit_.count()),
                 what_.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }

  const std::chrono::seconds limit_;
  const std::string what_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace ringo::testing
