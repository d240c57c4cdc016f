// The byte pattern the stream tests send: no shift or repeat of it matches itself, so a
// lost, doubled or reordered byte shows. Each test file picks its own seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringo::testing {

inline std::string byte_pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

}  // namespace ringo::testing
