// CallerRegistry: the remote callers a shard is serving, by call id, so that a caller that
// gives up (its routine aborted) can reach what serves it. Two kinds of entry:
//   - a routine serving a call (submit_to/spawn_on of a Task, cross_shard.hpp), aborted on
//     the caller's cancel;
//   - a ParkedRequest: a request from another shard that waits here without a routine (a
//     remote channel send parked until a receiver comes), cancelled on the caller's cancel
//     and stopped (answered shard_stopped) when this shard closes.
// It also mints the ids of the calls this shard makes: (shard index << 48) | sequence, so
// ids are unique across the runtime and the same under a seed.
//
// Contract:
//  - Ids are unique: adding an id already present, or removing one that is absent (or of
//    the other kind), is a bug and asserts. Whoever adds an entry removes it exactly once.
//  - The registry grows from outside (other shards' calls), so it is bounded: at
//    `limit` entries (ShardConfig::max_callers, default kDefaultLimit) add refuses with
//    errc::queue_full and registers nothing; the adder must then answer its caller with
//    that error (never drop it). Checking the limit is one size comparison.
//  - Determinism: one ordered map. Lookups by id; the only walk is stop_parked() at close,
//    in id order, so a seed replays the same shutdown (ringo iterates no hash container).
//    The map costs O(log n) per add and remove where the old hash map of serving routines
//    cost O(1) on average; the parked requests were already in an ordered map.
//
// Thread-safety: the owning shard's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "ringo/error.hpp"

namespace ringo::detail {

class Shard;
struct Routine;

// A request from another shard that waits here without a routine. Registered by id so the
// caller's shard can cancel it, and answered with shard_stopped when this shard stops.
// Both calls run on this shard and must remove the request from the registry
// (Shard::unpark_request) before they return.
struct ParkedRequest {
  virtual void cancel(Shard& here) = 0;
  virtual void stop(Shard& here) = 0;

 protected:
  ~ParkedRequest() = default;
};

class CallerRegistry {
 public:
  // A million waiting callers: far beyond any legitimate fan-in (each is a routine blocked
  // on another shard, ~100 bytes of entry and request here), and still only tens of MB
  // when a runaway fan-in reaches it, which it is then refused instead of growing on.
  static constexpr size_t kDefaultLimit = size_t{1} << 20;

  explicit CallerRegistry(size_t limit = kDefaultLimit) noexcept : limit_(limit) {}

  uint64_t next_call_id(uint32_t shard_index) noexcept { return (uint64_t{shard_index} << 48) | ++next_call_seq_; }

  Result<void> add_call(uint64_t id, Routine* serving) { return add(id, Entry{serving, nullptr}); }
  Result<void> add_parked(uint64_t id, ParkedRequest* parked) { return add(id, Entry{nullptr, parked}); }
  void remove_call(uint64_t id) { remove(id, /*parked=*/false); }
  void remove_parked(uint64_t id) { remove(id, /*parked=*/true); }

  // The caller of `id` gave up: aborts its serving routine or cancels its parked request
  // (nothing if it has been answered already).
  void abort_call(Shard& here, uint64_t id);
  // Close: stops every parked request, in id order. Bounded: each stop removes its entry.
  void stop_parked(Shard& here);

  // At the limit: the next add would be refused.
  bool full() const noexcept { return entries_.size() >= limit_; }
  size_t size() const noexcept { return entries_.size(); }
  size_t limit() const noexcept { return limit_; }

 private:
  struct Entry {
    Routine* serving;  // exactly one of the two is set
    ParkedRequest* parked;
  };
  Result<void> add(uint64_t id, Entry entry);
  void remove(uint64_t id, bool parked);

  std::map<uint64_t, Entry> entries_;  // ordered: walked only by stop_parked, in id order
  size_t parked_ = 0;                  // entries that are parked requests
  size_t limit_;
  uint64_t next_call_seq_ = 0;
};

}  // namespace ringo::detail
