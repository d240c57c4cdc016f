#include "ringo/internal/core/timer_heap.hpp"

#include "ringo/internal/core/assert.hpp"

namespace ringo::detail {

void TimerHeap::insert(TimerNode* node) {
  RINGO_ASSERT(!node->linked(), "a timer is in the heap once");
  heap_.push_back(node);
  node->slot = static_cast<uint32_t>(heap_.size() - 1);
  sift_up(node->slot);
}

void TimerHeap::cancel(TimerNode* node) {
  if (!node->linked()) return;
  RINGO_ASSERT(node->slot < heap_.size() && heap_[node->slot] == node, "a node knows its heap slot");
  remove_at(node->slot);
}

TimerNode* TimerHeap::pop() {
  if (heap_.empty()) return nullptr;
  TimerNode* node = heap_.front();
  remove_at(0);
  return node;
}

void TimerHeap::remove_at(uint32_t slot) noexcept {
  TimerNode* removed = heap_[slot];
  TimerNode* last = heap_.back();
  heap_.pop_back();
  removed->slot = TimerNode::kUnlinked;
  if (removed == last) return;
  place(slot, last);
  sift_up(slot);
  sift_down(last->slot);
}

void TimerHeap::sift_up(uint32_t slot) noexcept {
  TimerNode* node = heap_[slot];
  while (slot > 0) {
    const uint32_t parent = (slot - 1) / 2;
    if (!before(node, heap_[parent])) break;
    place(slot, heap_[parent]);
    slot = parent;
  }
  place(slot, node);
}

void TimerHeap::sift_down(uint32_t slot) noexcept {
  TimerNode* node = heap_[slot];
  const auto size = static_cast<uint32_t>(heap_.size());
  for (;;) {
    uint32_t child = 2 * slot + 1;
    if (child >= size) break;
    if (child + 1 < size && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], node)) break;
    place(slot, heap_[child]);
    slot = child;
  }
  place(slot, node);
}

}  // namespace ringo::detail
