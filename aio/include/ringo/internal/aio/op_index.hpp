// OpIndex: an AioRing's live ops by user_data, for ASYNC_CANCEL. Every op is added and
// removed once, so the map is on the per-op path: open addressing with linear probing in
// two flat arrays, no allocation per op (std::unordered_map allocated a node for each).
//
// add() keeps the first op of a duplicate user_data (as the kernel's cancel finds one);
// remove(ud, index) removes the entry only if it names that op. The table is a power of
// two, at most 3/4 used (full + tombstones), so probing always ends at an empty slot.
//
// Thread-safety: one thread, the ring's.
#pragma once

#include <cstdint>
#include <vector>

#include "ringo/internal/core/assert.hpp"

namespace ringo::aio {

class OpIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  void add(uint64_t ud, uint32_t index) {
    if ((used_ + 1) * 4 > slots_.size() * 3) grow();
    size_t i = home(ud);
    size_t reuse = SIZE_MAX;
    for (; slots_[i].state != State::empty; i = (i + 1) & mask_) {
      if (slots_[i].state == State::full && slots_[i].ud == ud) return;  // the first op keeps it
      if (slots_[i].state == State::removed && reuse == SIZE_MAX) reuse = i;
    }
    if (reuse != SIZE_MAX) {
      i = reuse;
    } else {
      ++used_;  // a fresh slot; a reused tombstone was counted already
    }
    slots_[i] = Slot{ud, index, State::full};
    ++live_;
    RINGO_ASSERT(live_ <= used_ && used_ * 4 <= slots_.size() * 3, "probing always ends at an empty slot");
  }

  uint32_t find(uint64_t ud) const {
    if (slots_.empty()) return kNone;
    for (size_t i = home(ud); slots_[i].state != State::empty; i = (i + 1) & mask_) {
      if (slots_[i].state == State::full && slots_[i].ud == ud) return slots_[i].index;
    }
    return kNone;
  }

  void remove(uint64_t ud, uint32_t index) {
    if (slots_.empty()) return;
    for (size_t i = home(ud); slots_[i].state != State::empty; i = (i + 1) & mask_) {
      if (slots_[i].state != State::full || slots_[i].ud != ud) continue;
      if (slots_[i].index != index) return;  // a duplicate: the entry names another op
      slots_[i].state = State::removed;
      RINGO_ASSERT(live_ > 0, "an entry is removed once");
      --live_;
      return;
    }
  }

  size_t size() const noexcept { return live_; }

 private:
  enum class State : uint8_t { empty, full, removed };
  struct Slot {
    uint64_t ud = 0;
    uint32_t index = 0;
    State state = State::empty;
  };

  size_t home(uint64_t ud) const noexcept {
    ud ^= ud >> 33;  // user_data often differs only in a few bits: mix them all in
    ud *= 0xff51afd7ed558ccdULL;
    ud ^= ud >> 33;
    return static_cast<size_t>(ud) & mask_;
  }

  // Doubles when live entries fill half the table, else rebuilds at the same size to drop
  // tombstones (a steady add/remove stream leaves many).
  void grow() {
    const size_t size = slots_.empty() ? 64 : (live_ * 2 >= slots_.size() ? slots_.size() * 2 : slots_.size());
    std::vector<Slot> old;
    old.swap(slots_);
    RINGO_ASSERT((size & (size - 1)) == 0 && live_ * 4 < size * 3, "a power of two, with room after the rebuild");
    slots_.assign(size, Slot{});
    mask_ = size - 1;
    used_ = 0;
    live_ = 0;
    for (const Slot& s : old) {
      if (s.state == State::full) add(s.ud, s.index);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t used_ = 0;  // full + removed slots: what probing walks over
  size_t live_ = 0;
};

}  // namespace ringo::aio
