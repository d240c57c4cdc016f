// RINGO_ASSERT(cond, why): an engine invariant, checked in debug and sanitizer builds
// (every build without NDEBUG), compiled out of release builds.
//
// TigerBeetle's rule, scaled to a runtime: an invariant a comment states is an assertion,
// so a planted bug or a stray completion stops the simulator at the line that knows what
// went wrong, not three ticks later in a corrupted list. A failure prints the file, line,
// condition and `why`, then aborts (the simulator's seed replay brings you back here).
//
// The condition must have no side effects: release builds do not evaluate it.
#pragma once

namespace ringo::detail {

[[noreturn]] void assertion_failed(const char* condition, const char* why, const char* file, int line) noexcept;

}  // namespace ringo::detail

#ifdef NDEBUG
#define RINGO_ASSERT(cond, why) static_cast<void>(0)
#else
#define RINGO_ASSERT(cond, why) \
  ((cond) ? static_cast<void>(0) : ::ringo::detail::assertion_failed(#cond, why, __FILE__, __LINE__))
#endif
