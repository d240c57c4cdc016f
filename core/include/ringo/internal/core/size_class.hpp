// The size-class rule of ringo's two block pools, coroutine frames (frame_pool.cpp) and
// envelopes (envelope_pool.cpp), in one place.
//
// Class c holds blocks of 16c + 8 bytes, and a size goes to the smallest class it fits:
// glibc's malloc puts an 8-byte header before a block and rounds the two up to 16, so a
// block of 16c + 8 fills a chunk of 16(c + 1) exactly. (Classes of 16c wasted those 8
// bytes and 8 more of rounding: a 232-byte frame took a 256-byte chunk; now it takes
// 240.) An envelope block adds a 64-byte line before its bytes (envelope_pool.cpp), which
// keeps the chunk exact: 64 + 16c + 8 + 8 is a multiple of 16.
//
// Contract: of(size) is the class of a block of at least `size` bytes; bytes(of(size)) >=
// size; classes at or beyond a pool's count are not pooled (block_bytes is then size).
#pragma once

#include <cstddef>

namespace ringo::detail {

template <std::size_t Classes>
struct SizeClasses {
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kHeader = 8;  // glibc's chunk header
  static constexpr std::size_t kClasses = Classes;
  static constexpr std::size_t kMaxPooled = (Classes - 1) * kGranule + kHeader;

  // Class c holds sizes in (16c - 8, 16c + 8].
  static constexpr std::size_t of(std::size_t size) noexcept { return (size + kHeader - 1) / kGranule; }
  static constexpr std::size_t bytes(std::size_t c) noexcept { return c * kGranule + kHeader; }
  static constexpr bool pooled(std::size_t c) noexcept { return c < kClasses; }
  // What a block of `size` takes: its class's bytes, or size itself beyond the classes.
  static constexpr std::size_t block_bytes(std::size_t size) noexcept {
    return pooled(of(size)) ? bytes(of(size)) : size;
  }
};

static_assert(SizeClasses<64>::block_bytes(232) == 232 && SizeClasses<64>::block_bytes(233) == 248);
static_assert(SizeClasses<64>::of(0) == 0 && SizeClasses<64>::bytes(0) == 8);

}  // namespace ringo::detail
