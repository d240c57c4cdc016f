#include "ringo/internal/core/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace ringo::detail {

void assertion_failed(const char* condition, const char* why, const char* file, int line) noexcept {
  std::fprintf(stderr, "ringo: invariant broken at %s:%d: %s (%s)\n", file, line, condition, why);
  std::fflush(stderr);
  std::abort();
}

}  // namespace ringo::detail
