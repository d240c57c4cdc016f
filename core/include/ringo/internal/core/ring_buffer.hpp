// A growable FIFO ring over a power-of-two vector: no allocation per element once it has
// grown to its working size (std::deque allocates and frees a block every few hundred
// elements as a channel buffer cycles), and none at all while it stays empty (an empty
// std::deque already holds two blocks: the simulator's sockets and pipes, made per
// connection, spent a tenth of fuzz_net's allocations on them, docs/fuzzing.md).
//
// pop_front() leaves the popped slot as it is (the channel moved its value out first);
// take_front() and clear() leave moved-from or empty slots, so that nothing popped stays
// owned (a shared_ptr in the ring would otherwise keep its object alive).
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
    size_t room = slots_.empty() ? 8 : slots_.size();
    while (room < n) room *= 2;
    if (room > slots_.size()) resize_to(room);
  }

  void push_back(const T& v) { push_back(T(v)); }
  void push_back(T&& v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(v);
    ++count_;
  }
  T& front() noexcept {
    RINGO_ASSERT(count_ > 0, "front of a non-empty ring");
    return slots_[head_];
  }
  T& back() noexcept {
    RINGO_ASSERT(count_ > 0, "back of a non-empty ring");
    return slots_[(head_ + count_ - 1) & (slots_.size() - 1)];
  }
  // The i-th element from the front (i < size()).
  T& operator[](size_t i) noexcept {
    RINGO_ASSERT(i < count_, "an element of the ring");
    return slots_[(head_ + i) & (slots_.size() - 1)];
  }
  // Moves the front element out and pops it.
  T take_front() {
    T v = std::move(front());
    pop_front();
    return v;
  }
  // Empties the ring, keeping its room; every slot is left empty (T{}).
  void clear() {
    for (size_t i = 0; i < count_; ++i) (*this)[i] = T{};
    head_ = 0;
    count_ = 0;
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
  [[gnu::noinline, gnu::cold]] void grow() { resize_to(slots_.empty() ? 8 : 2 * slots_.size()); }
  void resize_to(size_t room) {
    std::vector<T> bigger(room);
    for (size_t i = 0; i < count_; ++i) bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace ringo::detail
