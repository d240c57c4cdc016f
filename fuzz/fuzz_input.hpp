// Reads fuzzer bytes as numbers; past the end every read is 0, so any input decodes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringo::fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const noexcept { return pos_ >= size_; }
  template <class T>
  T take() noexcept {
    T v{};
    const size_t n = pos_ < size_ ? std::min(sizeof v, size_ - pos_) : 0;
    if (n > 0) std::memcpy(&v, data_ + pos_, n);
    pos_ += sizeof v;
    return v;
  }
  uint32_t below(uint32_t bound) noexcept { return bound == 0 ? 0 : take<uint32_t>() % bound; }
  // The next n bytes as they are (fewer at the end), valid as long as the input.
  std::string_view bytes(size_t n) noexcept {
    const size_t k = pos_ < size_ ? std::min(n, size_ - pos_) : 0;
    if (k == 0) return {};
    const std::string_view v(reinterpret_cast<const char*>(data_ + pos_), k);
    pos_ += k;
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace ringo::fuzz
