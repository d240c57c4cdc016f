// RawLaneState (raw_lane_state.hpp): slots, events, the waiter and the state's own end.
#include "ringo/internal/core/raw_lane_state.hpp"

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/mailbox.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {

RawLaneState::RawLaneState(Shard& home, uint32_t max_ops) : home_(home), slots_(max_ops) {
  RINGO_ASSERT(max_ops > 0 && max_ops <= kMaxOpsLimit, "a lane's op limit is checked by open()");
  for (uint32_t i = max_ops; i-- > 0;) {
    slots_[i].lane = this;
    slots_[i].next_free = free_head_;
    free_head_ = i;
  }
  events_.reserve(2 * size_t{max_ops});
  event_room_ = events_.capacity();
  home_.set_message_handler(&RawLaneState::on_message, this);
}

Result<raw::OpId> RawLaneState::submit(const Sqe& sqe, uint64_t token, Instant deadline) {
  if (closed_) return fail_errno(EBADF);
  if (free_head_ == kNoSlot) return fail(errc::queue_full);
  const uint32_t index = free_head_;
  Slot& slot = slots_[index];
  free_head_ = slot.next_free;
  slot.live = true;
  slot.token = token;
  ++live_;
  // submit_raw queues the op for this tick's flush; its callback never runs from here.
  slot.op = home_.submit_raw(sqe, &RawLaneState::on_io, &slot, deadline);
  return raw::OpId{index, slot.generation};
}

Result<void> RawLaneState::cancel(raw::OpId id) {
  if (id.slot >= slots_.size()) return fail(errc::invalid_argument);
  Slot& slot = slots_[id.slot];
  // An op that has delivered its last event (or another op in its old slot) is not
  // cancelled: the id names nothing any more.
  if (!slot.live || slot.generation != id.generation) return fail(errc::invalid_argument);
  home_.cancel(slot.op);  // false: a cancel is already on its way; its one event comes
  return {};
}

void RawLaneState::cancel_all() {
  for (Slot& slot : slots_) {
    if (slot.live) home_.cancel(slot.op);
  }
}

size_t RawLaneState::take(std::span<raw::Event> out) noexcept {
  size_t n = 0;
  while (n < out.size() && !events_.empty()) {
    out[n++] = events_.front();
    events_.pop_front();
  }
  return n;
}

void RawLaneState::park_waiter(Routine* r) noexcept {
  RINGO_ASSERT(waiter_ == nullptr, "one routine waits on a lane at a time (Lane::next refuses a second)");
  waiter_ = r;
  ++awaiting_;
}

void RawLaneState::forget_waiter(const Routine* r) noexcept {
  if (waiter_ == r) waiter_ = nullptr;
}

void RawLaneState::waiter_left() noexcept {
  RINGO_ASSERT(awaiting_ > 0, "a routine left next() that entered it");
  --awaiting_;
  delete_if_unused();
}

void RawLaneState::close() noexcept {
  RINGO_ASSERT(!closed_, "a lane is closed once");
  closed_ = true;
  closing_ = true;
  home_.set_message_handler(nullptr, nullptr);
  cancel_all();  // ops cancelled before submission complete here, synchronously
  if (waiter_ != nullptr) {
    Routine* r = waiter_;
    waiter_ = nullptr;
    home_.scheduler().unpark(r);  // its next() reports the lane closed
  }
  closing_ = false;
  delete_if_unused();
}

namespace {
// A lane whose handle was dropped on another thread is closed on its home shard.
struct CloseLaneEnvelope final : Envelope {
  explicit CloseLaneEnvelope(RawLaneState* lane) noexcept : lane(lane) {}
  void deliver(Shard& here) override {
    (void)here;
    lane->close();
    delete this;
  }
  void reject(Shard& here) override { deliver(here); }  // stopping: still its own thread
  RawLaneState* lane;
};
}  // namespace

void RawLaneState::close_anywhere() noexcept {
  if (current_shard() == &home_) return close();
  auto* env = new CloseLaneEnvelope(this);
  // Refused only once the home shard has stopped taking mail at its very end: its ops were
  // settled by then, and nothing else on that thread can reach the state. It stays
  // allocated (a leak at shutdown, not a race with a thread that may still run).
  if (!home_.group().post_from_anywhere(home_.index(), env)) delete env;
}

void RawLaneState::on_io(void* ctx, int32_t res, uint32_t flags) {
  auto& slot = *static_cast<Slot*>(ctx);
  RawLaneState& lane = *slot.lane;
  RINGO_ASSERT(slot.live, "a completion for a live lane op");
  const uint64_t token = slot.token;
  if ((flags & kCqeMore) == 0) lane.release(slot);
  if (!lane.closed_) {
    lane.push(raw::Io{token, res, flags & (raw::kMore | raw::kDeadlineExpired)});
  } else {
    lane.delete_if_unused();  // nobody reads events any more
  }
}

void RawLaneState::on_message(void* ctx, const RingMsg& msg) {
  static_cast<RawLaneState*>(ctx)->push(raw::RingMsg{msg.from, msg.tag, msg.value});
}

void RawLaneState::push(raw::Event event) {
  events_.push_back(std::move(event));
  if (events_.capacity() != event_room_) {
    event_room_ = events_.capacity();
    ++queue_growths_;
  }
  if (waiter_ != nullptr) {
    Routine* r = waiter_;
    waiter_ = nullptr;
    home_.scheduler().unpark(r);
  }
}

void RawLaneState::release(Slot& slot) noexcept {
  slot.live = false;
  ++slot.generation;
  slot.next_free = free_head_;
  free_head_ = static_cast<uint32_t>(&slot - slots_.data());
  --live_;
}

void RawLaneState::delete_if_unused() noexcept {
  if (closed_ && !closing_ && live_ == 0 && awaiting_ == 0) delete this;
}

}  // namespace ringo::detail
