// Duration and Instant: ringo's time. Every time in ringo is the backend's: virtual in
// the simulator, CLOCK_MONOTONIC on the real backends; an Instant is nanoseconds since
// the backend's epoch, so it means nothing outside its runtime. kNoDeadline is "never".
#pragma once

#include <chrono>

namespace ringo {

using Duration = std::chrono::nanoseconds;
using Instant = std::chrono::nanoseconds;
inline constexpr Instant kNoDeadline = Instant::max();

}  // namespace ringo
