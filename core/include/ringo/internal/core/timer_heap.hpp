// Timers: an indexed binary min-heap. Insert and cancel are O(log n); a node knows its
// heap slot, so cancel needs no search. Ties at the same instant are broken by a key the
// shard draws from its seeded PRNG, so the simulator's seed decides their order.
#pragma once

#include <cstdint>
#include <vector>

#include "ringo/internal/core/ring.hpp"

namespace ringo::detail {

struct TimerNode {
  using Fire = void (*)(TimerNode*);
  Instant when{};
  uint64_t tiebreak = 0;
  Fire fire = nullptr;
  uint32_t slot = kUnlinked;
  static constexpr uint32_t kUnlinked = UINT32_MAX;
  bool linked() const noexcept { return slot != kUnlinked; }
};

class TimerHeap {
 public:
  void insert(TimerNode* node);
  void cancel(TimerNode* node);  // no-op if not linked
  TimerNode* top() const noexcept { return heap_.empty() ? nullptr : heap_.front(); }
  TimerNode* pop();  // removes and returns the earliest, or nullptr
  Instant next_deadline() const noexcept { return heap_.empty() ? kNoDeadline : heap_.front()->when; }
  size_t size() const noexcept { return heap_.size(); }
  bool empty() const noexcept { return heap_.empty(); }

 private:
  static bool before(const TimerNode* a, const TimerNode* b) noexcept {
    return a->when != b->when ? a->when < b->when : a->tiebreak < b->tiebreak;
  }
  void place(uint32_t slot, TimerNode* node) noexcept {
    heap_[slot] = node;
    node->slot = slot;
  }
  void sift_up(uint32_t slot) noexcept;
  void sift_down(uint32_t slot) noexcept;
  void remove_at(uint32_t slot) noexcept;

  std::vector<TimerNode*> heap_;
};

}  // namespace ringo::detail
