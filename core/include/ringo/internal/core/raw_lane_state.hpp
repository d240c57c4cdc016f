// RawLaneState: the shard's side of a raw lane (ringo/raw/lane.hpp). It owns a fixed table
// of op slots (one per op the lane may have in flight), the queue of events waiting for
// the owner, and the shard's lane-A message handler while it is open.
//
// Life: made by Lane::open on its home shard, it registers as the shard's message handler.
// The owner's Lane handle calls close() (on the home shard, or through an envelope posted
// there): the handler is removed, every op still in flight is cancelled, and the state
// deletes itself once no op and no awaiting routine refers to it any more, because the
// kernel may still complete an op after the handle is gone.
//
// Limits: at most max_ops ops in flight (submit fails with errc::queue_full beyond,
// without submitting). The event queue starts with room for 2 * max_ops events, so a
// steady stream allocates nothing; it grows (and counts the growth) only when multishot
// ops or messages outrun the owner: an event is never dropped while the lane is open.
//
// Thread-safety: the home shard's thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ringo/clock.hpp"
#include "ringo/error.hpp"
#include "ringo/internal/core/op_driver.hpp"
#include "ringo/internal/core/ring_buffer.hpp"
#include "ringo/raw/event.hpp"
#include "ringo/raw/op.hpp"

namespace ringo::detail {

class Shard;
struct Routine;

class RawLaneState {
 public:
  // The most ops one lane may have in flight (the slot table is allocated at open).
  static constexpr uint32_t kMaxOpsLimit = 1u << 16;

  RawLaneState(Shard& home, uint32_t max_ops);
  RawLaneState(const RawLaneState&) = delete;
  RawLaneState& operator=(const RawLaneState&) = delete;

  Shard& home() const noexcept { return home_; }
  Result<raw::OpId> submit(const Sqe& sqe, uint64_t token, Instant deadline);
  Result<void> cancel(raw::OpId id);
  void cancel_all();
  // Moves up to out.size() waiting events into out, oldest first; returns how many.
  size_t take(std::span<raw::Event> out) noexcept;
  bool has_events() const noexcept { return !events_.empty(); }
  uint32_t in_flight() const noexcept { return live_; }
  uint64_t queue_growths() const noexcept { return queue_growths_; }
  bool closed() const noexcept { return closed_; }

  // The routine parked in Lane::next(), woken by the next event (or by close()).
  bool has_waiter() const noexcept { return waiter_ != nullptr; }
  void park_waiter(Routine* r) noexcept;
  // Its wait was cancelled: no event wakes it any more.
  void forget_waiter(const Routine* r) noexcept;
  // A routine that parked has resumed and no longer refers to the state. May delete this.
  void waiter_left() noexcept;

  // The owner is gone: see the life above. May delete this. On the home shard only;
  // close_anywhere() posts it there from another thread.
  void close() noexcept;
  void close_anywhere() noexcept;

 private:
  struct Slot {
    RawLaneState* lane = nullptr;
    uint64_t token = 0;
    OpToken op{};
    uint32_t generation = 0;
    uint32_t next_free = 0;
    bool live = false;
  };
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  static void on_io(void* ctx, int32_t res, uint32_t flags);
  static void on_message(void* ctx, const RingMsg& msg);
  void push(raw::Event event);
  void release(Slot& slot) noexcept;
  void delete_if_unused() noexcept;

  Shard& home_;
  std::vector<Slot> slots_;
  uint32_t free_head_ = kNoSlot;
  uint32_t live_ = 0;
  RingBuffer<raw::Event> events_;
  size_t event_room_ = 0;  // the queue's capacity before its next growth
  uint64_t queue_growths_ = 0;
  Routine* waiter_ = nullptr;
  uint32_t awaiting_ = 0;  // routines inside next() (parked or about to resume)
  bool closed_ = false;
  bool closing_ = false;  // inside close(): cancels complete synchronously, defer the delete
};

}  // namespace ringo::detail
