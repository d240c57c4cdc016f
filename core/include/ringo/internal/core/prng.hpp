// The shard's seeded PRNG: xoshiro256** seeded through splitmix64. Our own generator and
// our own bounded draw, because the standard distributions differ across standard
// libraries and a seed must replay bit for bit everywhere.
#pragma once

#include <cstdint>

namespace ringo::detail {

class Prng {
 public:
  explicit Prng(uint64_t seed = 0) noexcept { reseed(seed); }

  void reseed(uint64_t seed) noexcept {
    uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
  }

  uint64_t next() noexcept {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound). bound == 0 returns 0. Lemire's multiply-shift with rejection.
  uint64_t below(uint64_t bound) noexcept {
    if (bound == 0) return 0;
    for (;;) {
      const unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
      const auto low = static_cast<uint64_t>(product);
      if (low >= bound || low >= (0 - bound) % bound) {
        return static_cast<uint64_t>(product >> 64);
      }
    }
  }

  // True with probability numerator / denominator.
  bool chance(uint64_t numerator, uint64_t denominator) noexcept {
    return numerator != 0 && below(denominator) < numerator;
  }

  static uint64_t splitmix64(uint64_t& x) noexcept {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4]{};
};

}  // namespace ringo::detail
