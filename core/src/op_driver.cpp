// OpDriver (op_driver.hpp): flush, reap, dispatch, completion, cancellation, raw
// messages and doorbells.
#include "ringo/internal/core/op_driver.hpp"

#include <algorithm>
#include <cerrno>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {
namespace {

constexpr size_t kCqeBatch = 128;
constexpr unsigned kMaxReapRounds = 8;  // bounded: at most 1024 CQEs per tick

}  // namespace

OpDriver::OpDriver(Ring& ring) : ring_(ring), cqe_buffer_(kCqeBatch) {}

void OpDriver::report(ShardStats& out) const noexcept {
  out.ops_submitted = ops_submitted_;
  out.ops_completed = ops_completed_;
  out.ops_cancelled_before_submit = ops_cancelled_before_submit_;
  out.ops_cancelled_by_kernel = ops_cancelled_by_kernel_;
  out.ops_completed_despite_cancel = ops_completed_despite_cancel_;
  out.multishot_results = multishot_results_;
  out.stale_completions = stale_completions_;
  out.messages_sent = messages_sent_;
  out.messages_delivered = messages_delivered_;
  out.messages_send_failed = messages_send_failed_;
  out.messages_dropped = messages_dropped_;
  out.doorbells_sent = doorbells_sent_;
  out.doorbell_retries = doorbell_retries_;
  out.batches_pushed = batches_pushed_;
}

// ---------------------------------------------------------------- submission

bool OpDriver::cancel(Shard& here, OpToken token) {
  OpRecord* rec = slab_.lookup(token.user_data);
  // A SEND_ZC whose result was reported (submit_send_zc_early) only waits for its
  // notification, which no cancel ends.
  if (rec == nullptr || rec->cancel_requested || rec->zc_result_reported || rec->is_close) return false;
  rec->cancel_requested = true;
  here.trace(TraceKind::op_cancel, token.user_data, rec->state == OpRecord::State::queued ? 0 : 1);
  if (rec->state == OpRecord::State::queued) {
    // Outcome 1: it never reaches the kernel. flush() skips its queued Sqe, whose
    // generation no longer matches once the slot is released.
    settle_cancel(*rec, CancelOutcome::before_submit);
    const OpCallback cb = rec->callback;
    void* ctx = rec->ctx;
    slab_.release(UserData::slot(token.user_data));
    if (cb != nullptr) cb(ctx, -ECANCELED, 0);
    return true;
  }
  // Outcomes 2 and 3: the op's own CQE tells which (complete_op, finalize_op).
  Sqe c;
  c.opcode = Opcode::async_cancel;
  c.addr = token.user_data;
  c.user_data = UserData::with_kind(token.user_data, UdKind::cancel);
  pending_.push_back(c);
  return true;
}

void OpDriver::close_queued_descriptors() noexcept {
  for (const Sqe& s : pending_) {
    if (s.opcode != Opcode::close || UserData::kind(s.user_data) != UdKind::op) continue;
    const OpRecord* rec = slab_.lookup(s.user_data);
    if (rec == nullptr || rec->state != OpRecord::State::queued) continue;
    SysCall call;
    call.op = SysOp::close;
    call.fd = s.fd;
    ring_.sys(call);
  }
  pending_.clear();
  doorbells_unsubmitted_ = 0;
}

// Drops the Sqes of ops cancelled before submission (their records are gone or reused).
void OpDriver::drop_cancelled_sqes() {
  size_t kept = 0;
  for (const Sqe& s : pending_) {
    const UdKind kind = UserData::kind(s.user_data);
    if (kind == UdKind::op) {
      OpRecord* rec = slab_.lookup(s.user_data);
      if (rec == nullptr || rec->state != OpRecord::State::queued) continue;
    }
    pending_[kept++] = s;
  }
  pending_.resize(kept);
}

void OpDriver::mark_pushed(Shard& here, const Sqe& s) {
  here.trace(TraceKind::op_submit, s.user_data, static_cast<uint64_t>(s.opcode));
  if (UserData::kind(s.user_data) == UdKind::doorbell) {
    RINGO_ASSERT(doorbells_unsubmitted_ > 0, "a pushed doorbell was counted when queued");
    --doorbells_unsubmitted_;
  }
  if (UserData::kind(s.user_data) != UdKind::op) return;
  slab_.pushed(UserData::slot(s.user_data), s.deadline != kNoDeadline, is_multishot(s));
  slab_.at(UserData::slot(s.user_data)).zero_copy = s.opcode == Opcode::send_zc;
  ++ops_submitted_;
}

void OpDriver::flush(Shard& here, unsigned min_complete, Duration timeout) {
  drop_cancelled_sqes();
  if (!pending_.empty()) {
    const size_t accepted = ring_.push(pending_);
    RINGO_ASSERT(accepted <= pending_.size(), "the ring accepts at most what it was given");
    ++batches_pushed_;
    for (size_t i = 0; i < accepted; ++i) mark_pushed(here, pending_[i]);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(accepted));
    if (!pending_.empty()) min_complete = 0;  // SQ full: come back soon, do not sleep
  }
  const auto submitted = ring_.submit_and_wait(min_complete, timeout);
  (void)submitted;  // an interrupted wait (EINTR) or busy ring is retried next tick
}

// ---------------------------------------------------------------- completion

size_t OpDriver::reap(Shard& here) {
  size_t total = 0;
  for (unsigned round = 0; round < kMaxReapRounds; ++round) {
    const size_t n = ring_.reap(cqe_buffer_);
    for (size_t i = 0; i < n; ++i) dispatch(here, cqe_buffer_[i]);
    total += n;
    if (n < cqe_buffer_.size()) break;
  }
  return total;
}

void OpDriver::dispatch(Shard& here, const Cqe& cqe) {
  switch (UserData::kind(cqe.user_data)) {
    case UdKind::op:
    case UdKind::link_timeout: complete_op(here, cqe); return;
    case UdKind::cancel: return;  // the cancel request's own result; the op's CQE tells the outcome
    case UdKind::doorbell: on_doorbell_failed(here, cqe); return;
    case UdKind::message: deliver_message(here, cqe); return;
  }
  ++stale_completions_;
  here.trace(TraceKind::stale_cqe, cqe.user_data, 0);
}

void OpDriver::complete_op(Shard& here, const Cqe& cqe) {
  OpRecord* rec = slab_.lookup(cqe.user_data);
  const bool is_timeout = UserData::kind(cqe.user_data) == UdKind::link_timeout;
  const bool duplicate =
      rec != nullptr && (is_timeout ? !rec->has_deadline || rec->timeout_cqe_seen : rec->op_cqe_seen);
  if (rec == nullptr || rec->state != OpRecord::State::in_flight || duplicate) {
    ++stale_completions_;
    here.trace(TraceKind::stale_cqe, cqe.user_data, 0);
    return;
  }
  here.trace(TraceKind::op_complete, cqe.user_data, static_cast<uint32_t>(cqe.res));
  if (!is_timeout && rec->zero_copy && (cqe.flags & kCqeMore) != 0) {
    zc_result(here, *rec, cqe);
    return;
  }
  if (!is_timeout && rec->multishot && (cqe.flags & kCqeMore) != 0) {
    // One result of a multishot op that stays armed. The callback may cancel the op: the
    // record stays live until the CQE without kCqeMore.
    ++multishot_results_;
    if (rec->callback != nullptr) rec->callback(rec->ctx, cqe.res, cqe.flags);
    return;
  }
  if (is_timeout) {
    rec->timeout_cqe_seen = true;
    rec->deadline_fired = cqe.res == -ETIME;
  } else {
    rec->op_cqe_seen = true;
    RINGO_ASSERT((cqe.flags & kCqeNotif) == 0 || rec->zc_result_seen,
                 "a SEND_ZC's notification comes after its result, never before");
    if (!rec->zc_result_seen) {  // a SEND_ZC's notification keeps the result before it
      rec->res = cqe.res;
      rec->cqe_flags = cqe.flags;
    }
  }
  RINGO_ASSERT(rec->cqes_outstanding > 0, "a CQE that passed the checks was outstanding");
  if (--rec->cqes_outstanding == 0) {
    finalize_op(here, UserData::slot(cqe.user_data));
  } else if (is_timeout) {
    report_early(here, *rec);  // its result waited for this CQE to tell whether the deadline won
  }
}

// SEND_ZC's result (kCqeMore): kept until the op's end, the notification (the CQE without
// kCqeMore), after which the caller may reuse its buffer. An op submitted with
// submit_send_zc_early reports it now instead (report_early).
void OpDriver::zc_result(Shard& here, OpRecord& rec, const Cqe& cqe) {
  if (rec.zc_result_seen) {
    ++stale_completions_;
    here.trace(TraceKind::stale_cqe, cqe.user_data, 0);
    return;
  }
  rec.zc_result_seen = true;
  rec.res = cqe.res;
  rec.cqe_flags = cqe.flags & ~kCqeMore;
  report_early(here, rec);
}

// The early report of a submit_send_zc_early op: its result, with kCqeMore, once it is
// known (the result CQE and, with a deadline, the link timeout's), unless the op already
// ended (then finalize_op reports result and end in one call). Settles the op's outcome.
void OpDriver::report_early(Shard& here, OpRecord& rec) {
  if (!rec.zc_early || !rec.zc_result_seen || rec.zc_result_reported || rec.op_cqe_seen) return;
  if (rec.has_deadline && !rec.timeout_cqe_seen) return;
  rec.zc_result_reported = true;
  const Settled s = settle(here, rec);
  // The callback may submit ops (the slab may grow): rec is not touched after it.
  if (rec.callback != nullptr) rec.callback(rec.ctx, s.res, s.flags | kCqeMore);
}

// The op's result as reported: a cancel that lost to the deadline is the deadline's
// -ETIME. Counts the outcome of a cancelled op (once: settle runs once per op).
OpDriver::Settled OpDriver::settle(Shard& here, OpRecord& rec) {
  Settled s{rec.res, rec.cqe_flags};
  if (rec.deadline_fired && s.res == -ECANCELED) {
    s.res = -ETIME;
    s.flags |= kOpDeadlineExpired;
    here.count_deadline_expiry();
    if (rec.cancel_requested) settle_cancel(rec, CancelOutcome::deadline_expired);
  } else if (rec.cancel_requested) {
    settle_cancel(rec, s.res == -ECANCELED ? CancelOutcome::kernel_cancelled : CancelOutcome::completed_anyway);
  }
  return s;
}

void OpDriver::finalize_op(Shard& here, uint32_t slot) {
  OpRecord& rec = slab_.at(slot);
  RINGO_ASSERT(rec.state == OpRecord::State::in_flight && rec.cqes_outstanding == 0, "finalized after its last CQE");
  Settled s{rec.res, kOpResultReported};
  if (!rec.zc_result_reported) s = settle(here, rec);
  ++ops_completed_;
  const OpCallback cb = rec.callback;
  void* ctx = rec.ctx;
  slab_.release(slot);
  if (cb != nullptr) cb(ctx, s.res, s.flags);
}

// Counts how a cancelled op ended; the deadline's outcome is counted as an expiry.
void OpDriver::settle_cancel(OpRecord& rec, CancelOutcome outcome) noexcept {
  RINGO_ASSERT(rec.cancel_requested && !rec.cancel_settled, "exactly one outcome per cancelled op");
  rec.cancel_settled = true;
  switch (outcome) {
    case CancelOutcome::before_submit: ++ops_cancelled_before_submit_; break;
    case CancelOutcome::kernel_cancelled: ++ops_cancelled_by_kernel_; break;
    case CancelOutcome::completed_anyway: ++ops_completed_despite_cancel_; break;
    case CancelOutcome::deadline_expired: break;
  }
}

// ---------------------------------------------------------------- raw messages

Result<void> OpDriver::send_raw(Shard& here, uint32_t target, uint16_t tag, uint64_t value, OpCallback on_sent,
                                void* ctx) {
  if (target >= here.group().size()) return fail(errc::invalid_shard);
  if (tag == kDoorbellTag || value > kMaxMessageValue) return fail(errc::invalid_argument);
  if (here.group().port(target).stopping.load(std::memory_order_acquire)) return fail(errc::shard_stopped);
  Sqe s;
  s.opcode = Opcode::msg_ring;
  s.fd = here.group().port(target).ring_id;
  s.len = pack_msg_res(here.index(), tag);
  s.off = UserData::message(value);
  if (on_sent != nullptr) {
    submit_raw(s, on_sent, ctx);
  } else {
    submit_raw(s, &OpDriver::on_raw_sent, this);
  }
  ++messages_sent_;
  here.trace(TraceKind::msg_send, target, tag);
  return {};
}

void OpDriver::on_raw_sent(void* ctx, int32_t res, uint32_t) {
  if (res < 0) ++static_cast<OpDriver*>(ctx)->messages_send_failed_;
}

void OpDriver::deliver_message(Shard& here, const Cqe& cqe) {
  const MsgRes msg = unpack_msg_res(cqe.res);
  if (cqe.res < 0 || msg.from >= here.group().size()) {
    ++messages_dropped_;  // forged: no shard sends from there
    here.trace(TraceKind::stale_cqe, cqe.user_data, static_cast<uint32_t>(cqe.res));
    return;
  }
  ++messages_delivered_;
  here.trace(TraceKind::msg_deliver, msg.from, msg.tag);
  if (msg.tag == kDoorbellTag) {
    here.mailbox().drain_inbox(here);
    return;
  }
  if (message_handler_ == nullptr) {
    ++messages_dropped_;
    return;
  }
  message_handler_(message_ctx_, RingMsg{msg.from, msg.tag, UserData::payload(cqe.user_data)});
}

// ---------------------------------------------------------------- doorbells

// A doorbell skips its CQE on success (one CQE less per hop to post and reap), so it has
// no slab record: its user_data names the target, and only a failure comes back.
void OpDriver::ring_doorbell(Shard& here, uint32_t target) {
  Sqe s;
  s.opcode = Opcode::msg_ring;
  s.flags = kSqeSkipSuccess;
  s.fd = here.group().port(target).ring_id;
  s.len = pack_msg_res(here.index(), kDoorbellTag);
  s.off = UserData::message(0);
  s.user_data = UserData::make(UdKind::doorbell, 0, target);
  pending_.push_back(s);
  ++doorbells_unsubmitted_;
  ++doorbells_sent_;
  here.trace(TraceKind::msg_send, target, kDoorbellTag);
}

void OpDriver::retry_doorbells(Shard& here) {
  for (uint32_t target : doorbell_retry_) {
    ++doorbell_retries_;
    ring_doorbell(here, target);
  }
  doorbell_retry_.clear();
}

void OpDriver::on_doorbell_failed(Shard& here, const Cqe& cqe) {
  const uint32_t target = UserData::slot(cqe.user_data);
  if (cqe.res >= 0 || target >= here.group().size()) {
    ++stale_completions_;  // a doorbell succeeds silently: this CQE is forged
    here.trace(TraceKind::stale_cqe, cqe.user_data, 0);
    return;
  }
  // The payload waits in the inbox with the doorbell armed: nobody else will ring, so we
  // must, unless the target is gone (its inbox was closed and rejected everything).
  ++messages_send_failed_;
  if (here.group().port(target).stopping.load(std::memory_order_acquire)) return;
  const bool full = doorbell_retry_.size() >= kDoorbellRetryLimit;
  if (full && std::find(doorbell_retry_.begin(), doorbell_retry_.end(), target) != doorbell_retry_.end()) return;
  doorbell_retry_.push_back(target);
}

}  // namespace ringo::detail
