// OpDriver: a shard's kernel ops (lane A), from submit_raw to the completion callback. A
// role of Shard, which passes itself as `here` where the driver needs the rest of it.
//
// The path of one op (kernel_op.hpp is the routine's side):
//   submit_raw   takes an OpSlab record (op_slab.hpp; its generation-checked handle is the
//                user_data) and queues the Sqe for this tick;
//   flush        at the tick's end, pushes every queued Sqe to the Ring in one batch
//                (ring.hpp) and calls submit_and_wait once;
//   reap         takes the CQEs; dispatch() sends each by its user_data kind;
//   complete_op  checks the CQE against its record (an unknown, stale or duplicate CQE is
//                counted and dropped, never followed); an op with a deadline waits for both
//                of its CQEs; then finalize_op releases the record and runs the callback.
//
// Contract:
//  - Record states: free -> queued (submit_raw) -> in_flight (flush) -> free (finalize_op),
//    or queued -> free (cancelled before submit). Asserted at each step (OpSlab).
//  - The callback's last call for an op is the one without kCqeMore, exactly once, after
//    which the record's handle names nothing. Calls with kCqeMore come before it: one per
//    result of a multishot op, and the result of a submit_send_zc_early op.
//  - Cancel (cancel()) ends an op with exactly one outcome, counted once: before submit
//    (-ECANCELED at once, never pushed), cancelled by the kernel (-ECANCELED), completed
//    anyway (its real result), or, if its deadline fired too, the deadline (-ETIME).
//  - Doorbells (ring_doorbell) are MSG_RINGs that skip their CQE on success, so they have
//    no record; only a failure comes back, and it is retried next tick.
//  - Raw messages (send_raw) arrive as CQEs of kind message; MSG_RING's res carries
//    pack_msg_res(from, tag) (ring.hpp). A message from no shard is dropped and counted.
//
// Thread-safety: the owning shard's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ringo/error.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/op_slab.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/shard_stats.hpp"

namespace ringo::detail {

class Shard;

// A generation-checked handle of a lane-A op.
struct OpToken {
  uint64_t user_data = 0;
};

// Lane A message delivery: a RingMsg{from, tag, value}.
struct RingMsg {
  uint32_t from;
  uint16_t tag;
  uint64_t value;  // 56 bits
};
using MessageHandler = void (*)(void* ctx, const RingMsg& msg);

class OpDriver {
 public:
  static constexpr uint16_t kDoorbellTag = 0xFFFF;
  static constexpr uint64_t kMaxMessageValue = UserData::kPayloadMask;
  // Failed doorbells waiting for the next tick's retry. Legitimately the list holds one
  // entry per doorbell of this shard that failed since the last tick (a target is rung
  // once per sleep, so a handful); failure CQEs forged by whoever else can MSG_RING this
  // ring could grow it without end. Beyond this many entries a target already in the list
  // is not added again: that entry's doorbell wakes the target, which then drains its whole
  // inbox, so nothing is lost. The list stays under the limit plus one entry per shard.
  // Cost: one size comparison per failed doorbell; the search runs only past the limit.
  static constexpr size_t kDoorbellRetryLimit = 256;

  explicit OpDriver(Ring& ring);

  // Queues sqe for this tick's flush; `callback(ctx, res, flags)` runs once it completes.
  OpToken submit_raw(const Sqe& sqe, OpCallback callback, void* ctx, Instant deadline = kNoDeadline) {
    const uint32_t slot = slab_.acquire(callback, ctx);
    slab_.at(slot).is_close = sqe.opcode == Opcode::close;
    Sqe s = sqe;
    s.user_data = slab_.handle(slot);
    s.deadline = deadline;
    s.timeout_user_data = deadline != kNoDeadline ? slab_.handle(slot, UdKind::link_timeout) : 0;
    pending_.push_back(s);
    return OpToken{s.user_data};
  }
  // A SEND_ZC (Opcode::send_zc) whose callback runs at its result rather than at its end:
  // once with the result and kCqeMore (the kernel still reads the buffer), then once more
  // at the notification, without kCqeMore and with kOpResultReported (res repeats the
  // result). An op that ends at once (it failed before sending, was cancelled before submit,
  // or its notification came before its link timeout's CQE) gets one call, without
  // kCqeMore: result and end together. Once the result is reported, cancel() is a no-op.
  // Any other opcode behaves as with submit_raw (one call).
  // The op selects no buffer: kOpResultReported's bit would be a buffer id's (op_slab.hpp).
  OpToken submit_send_zc_early(const Sqe& sqe, OpCallback callback, void* ctx, Instant deadline = kNoDeadline) {
    RINGO_ASSERT((sqe.flags & kSqeBufferSelect) == 0, "an early-reported SEND_ZC selects no buffer");
    const OpToken token = submit_raw(sqe, callback, ctx, deadline);
    slab_.at(UserData::slot(token.user_data)).zc_early = true;
    return token;
  }
  // Requests cancellation (see the contract). False if the token names no live op, or one
  // that cannot be cancelled: a CLOSE runs to its end (its caller gave the descriptor up
  // when it asked; cancelled before submission, the descriptor stayed open for good).
  bool cancel(Shard& here, OpToken token);
  // At shard teardown, after the last flush: closes (synchronously, through Ring::sys) the
  // descriptors of CLOSE Sqes still queued, and drops every queued Sqe. Their records are
  // not completed: whoever awaited them is gone. Without it, a descriptor dropped in the
  // last tick of a drain cut short stayed open.
  void close_queued_descriptors() noexcept;
  // Pushes this tick's Sqes in one batch and waits for min_complete CQEs at most timeout.
  void flush(Shard& here, unsigned min_complete, Duration timeout);
  // Takes and dispatches what completed; bounded per tick.
  size_t reap(Shard& here);

  Result<void> send_raw(Shard& here, uint32_t target, uint16_t tag, uint64_t value, OpCallback on_sent, void* ctx);
  void set_message_handler(MessageHandler handler, void* ctx) noexcept {
    message_handler_ = handler;
    message_ctx_ = ctx;
  }
  bool has_message_handler() const noexcept { return message_handler_ != nullptr; }
  // Wakes `target` (asleep in the kernel) with this tick's flush.
  void ring_doorbell(Shard& here, uint32_t target);
  // Rings again the doorbells that failed since the last tick.
  void retry_doorbells(Shard& here);

  // Ops in the slab, plus doorbells not yet handed to the kernel (shutdown flushes them).
  size_t live_ops() const noexcept { return slab_.live() + doorbells_unsubmitted_; }
  bool has_work() const noexcept { return !pending_.empty() || !doorbell_retry_.empty(); }
  uint64_t progress() const noexcept { return ops_completed_ + messages_delivered_; }
  void report(ShardStats& out) const noexcept;

 private:
  void drop_cancelled_sqes();
  void mark_pushed(Shard& here, const Sqe& s);
  void dispatch(Shard& here, const Cqe& cqe);
  void complete_op(Shard& here, const Cqe& cqe);
  void finalize_op(Shard& here, uint32_t slot);
  struct Settled {
    int32_t res;
    uint32_t flags;
  };
  void zc_result(Shard& here, OpRecord& rec, const Cqe& cqe);
  void report_early(Shard& here, OpRecord& rec);
  Settled settle(Shard& here, OpRecord& rec);
  void settle_cancel(OpRecord& rec, CancelOutcome outcome) noexcept;
  void deliver_message(Shard& here, const Cqe& cqe);
  void on_doorbell_failed(Shard& here, const Cqe& cqe);
  static void on_raw_sent(void* ctx, int32_t res, uint32_t flags);

  Ring& ring_;
  OpSlab slab_;
  std::vector<Sqe> pending_;
  std::vector<Cqe> cqe_buffer_;
  size_t doorbells_unsubmitted_ = 0;  // doorbell Sqes in pending_ (they have no slab record)
  std::vector<uint32_t> doorbell_retry_;
  MessageHandler message_handler_ = nullptr;
  void* message_ctx_ = nullptr;
  // What ShardStats reports (report()).
  uint64_t ops_submitted_ = 0;
  uint64_t ops_completed_ = 0;
  uint64_t ops_cancelled_before_submit_ = 0;
  uint64_t ops_cancelled_by_kernel_ = 0;
  uint64_t ops_completed_despite_cancel_ = 0;
  uint64_t multishot_results_ = 0;
  uint64_t stale_completions_ = 0;
  uint64_t messages_sent_ = 0;
  uint64_t messages_delivered_ = 0;
  uint64_t messages_send_failed_ = 0;
  uint64_t messages_dropped_ = 0;
  uint64_t doorbells_sent_ = 0;
  uint64_t doorbell_retries_ = 0;
  uint64_t batches_pushed_ = 0;
};

}  // namespace ringo::detail
