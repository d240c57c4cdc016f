// A growable FIFO ring over a power-of-two vector: no allocation per element once it has
// grown to its working size (std::deque allocates and frees a block every few hundred
// elements as a channel buffer cycles).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "ringo/internal/core/assert.hpp"

namespace ringo::detail {

template <class T>
class RingBuffer {
 public:
  bool empty() const noexcept { return count_ == 0; }
  size_t size() const noexcept { return count_; }
  size_t capacity() const noexcept { return slots_.size(); }
  // Room for n elements before the next growth (a power of two at least n).
  void reserve(size_t n) {
    while (slots_.size() < n) grow();
  }

  void push_back(T&& v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(v);
    ++count_;
  }
  T& front() noexcept {
    RINGO_ASSERT(count_ > 0, "front of a non-empty ring");
    return slots_[head_];
  }
  void pop_front() noexcept {
    RINGO_ASSERT(count_ > 0, "pop from a non-empty ring");
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
  }

 private:
  // Out of line and cold: inlined, it made push_back too big for GCC to inline into the
  // channel's send path, which cost a local select with one ready case 47 -> 67 ns
  // (chan_bench select_three_one_ready, interleaved A/B, 2026-12-02).
  [[gnu::noinline, gnu::cold]] void grow() {
    std::vector<T> bigger(slots_.empty() ? 8 : 2 * slots_.size());
    for (size_t i = 0; i < count_; ++i) bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace ringo::detail
