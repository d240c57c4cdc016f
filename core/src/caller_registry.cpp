// CallerRegistry (caller_registry.hpp): adding, removing and the two walks over a
// caller's entry, abort_call and stop_parked.
#include "ringo/internal/core/caller_registry.hpp"

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {

Result<void> CallerRegistry::add(uint64_t id, Entry entry) {
  RINGO_ASSERT((entry.serving == nullptr) != (entry.parked == nullptr), "an entry is a routine or a request");
  if (full()) return fail(errc::queue_full);
  [[maybe_unused]] const bool added = entries_.emplace(id, entry).second;
  RINGO_ASSERT(added, "a call id is registered once");
  if (entry.parked != nullptr) ++parked_;
  return {};
}

void CallerRegistry::remove(uint64_t id, [[maybe_unused]] bool parked) {
  const auto it = entries_.find(id);
  RINGO_ASSERT(it != entries_.end(), "a call id is removed once, after it was added");
  RINGO_ASSERT((it->second.parked != nullptr) == parked, "removed as the kind it was added as");
  if (it == entries_.end()) return;  // release builds: nothing to remove
  if (it->second.parked != nullptr) --parked_;
  entries_.erase(it);
}

void CallerRegistry::abort_call(Shard& here, uint64_t id) {
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;  // answered already: the cancel came too late
  if (it->second.serving != nullptr) return here.abort(it->second.serving);
  it->second.parked->cancel(here);
}

void CallerRegistry::stop_parked(Shard& here) {
  // In id order. Each stop() removes its own entry (asserted), so the walk resumes after
  // the id it just stopped; serving routines are skipped (their calls end with the
  // routines, which shutdown aborts).
  auto it = entries_.begin();
  while (it != entries_.end()) {
    if (it->second.parked == nullptr) {
      ++it;
      continue;
    }
    const uint64_t id = it->first;
    it->second.parked->stop(here);
    RINGO_ASSERT(entries_.find(id) == entries_.end(), "ParkedRequest::stop removes its entry");
    it = entries_.upper_bound(id);
  }
  RINGO_ASSERT(parked_ == 0, "every parked request was stopped");
}

}  // namespace ringo::detail
