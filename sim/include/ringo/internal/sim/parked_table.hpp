// ParkedTable: the simulated kernel's parked ops by park id, oldest first. Ids only grow,
// so the table is a vector in id order: adding appends, finding is a binary search, and
// erasing marks the entry dead until dead entries are the majority, when they are
// dropped in one pass. No allocation per park once the vector has its working size
// (std::map allocated a node per park: 6% of fuzz_net's allocations, docs/fuzzing.md).
//
// Contract: add() takes an id greater than every id added before; a pointer from find()
// is valid until the next add() or erase(). Thread-safety: none (the simulator's thread).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

template <class V>
class ParkedTable {
 public:
  size_t size() const noexcept { return live_; }

  void add(uint64_t id, const V& value) {
    RINGO_ASSERT(entries_.empty() || entries_.back().id < id, "park ids only grow");
    entries_.push_back(Entry{id, true, value});
    ++live_;
  }
  V* find(uint64_t id) noexcept {
    Entry* e = entry(id);
    return e != nullptr ? &e->value : nullptr;
  }
  bool erase(uint64_t id) noexcept {
    Entry* e = entry(id);
    if (e == nullptr) return false;
    e->live = false;
    --live_;
    if (live_ == 0) {
      entries_.clear();
    } else if (entries_.size() >= kCompactAt && live_ < entries_.size() / 2) {
      std::erase_if(entries_, [](const Entry& x) { return !x.live; });
    }
    return true;
  }
  // The id of the oldest live entry whose value satisfies pred, or 0 (ids start at 1).
  template <class Pred>
  uint64_t find_first(Pred pred) const {
    for (const Entry& e : entries_) {
      if (e.live && pred(e.value)) return e.id;
    }
    return 0;
  }

 private:
  static constexpr size_t kCompactAt = 32;
  struct Entry {
    uint64_t id;
    bool live;
    V value;
  };
  Entry* entry(uint64_t id) noexcept {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                               [](const Entry& e, uint64_t want) { return e.id < want; });
    return it != entries_.end() && it->id == id && it->live ? &*it : nullptr;
  }

  std::vector<Entry> entries_;  // by id
  size_t live_ = 0;
};

}  // namespace ringo::sim::detail
