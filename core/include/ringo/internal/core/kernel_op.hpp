// Kernel ops awaited by a routine: `co_await submit(sqe, deadline)` and `co_await nop()`.
// This is the routine's side of an op; the path to the ring and back reads in five roles:
//
//   kernel_op.hpp   this awaiter: refuse early, submit, park, resume with the result
//   scheduler.hpp   park() and unpark(): the routine waits, then runs again
//   op_driver.hpp   submit_raw, flush, reap, complete_op, finalize_op, cancel
//   op_slab.hpp     the op's record and its generation-checked user_data
//   ring.hpp        Sqe, Cqe and the Ring the driver pushes to and reaps from
//
// Contract: the await resumes exactly once, after the op's completion has arrived (or at
// once, without submitting, when it is refused). Cancelling the routine while it waits
// cancels the op, and the routine stays parked until the op's own CQE arrives, so its
// frame, and any buffer in it the kernel may write, outlives the op.
//
// Thread-safety: shard-local, like every await.
#pragma once

#include <cerrno>
#include <coroutine>
#include <system_error>

#include "ringo/error.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/routine.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/task.hpp"

namespace ringo::detail {

// A kernel op awaited by the current routine (see submit()). `early` fails the await
// before anything is submitted (used by callers that validate first).
struct OpAwaiter {
  Sqe sqe;
  Instant deadline = kNoDeadline;
  std::error_code early{};
  Routine* me = this_routine();
  OpToken token{};
  int32_t res = 0;
  bool deadline_expired = false;

  bool await_ready() noexcept {
    if (early || refuse_await(me, early)) return true;
    // One awaiter takes one result: a multishot op needs submit_raw and its own callback.
    if (is_multishot(sqe)) return early = make_error_code(std::errc::invalid_argument), true;
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    Shard& shard = *me->shard;
    token = shard.ops().submit_raw(sqe, &OpAwaiter::on_complete, this, deadline);
    shard.scheduler().park(me, h, kWait, this);
  }
  static void on_complete(void* ctx, int32_t r, uint32_t flags) {
    auto* a = static_cast<OpAwaiter*>(ctx);
    a->res = r;
    a->deadline_expired = (flags & kOpDeadlineExpired) != 0;
    a->me->shard->scheduler().unpark(a->me);
  }
  // The routine stays parked until the op's completion arrives: its frame, and any
  // buffer the kernel may write, outlive the op.
  static void on_cancel(Routine* me, void* ctx) {
    Shard& shard = *me->shard;
    shard.ops().cancel(shard, static_cast<OpAwaiter*>(ctx)->token);
  }
  static WaitInfo describe(const void* ctx) {
    const auto* a = static_cast<const OpAwaiter*>(ctx);
    return {opcode_name(a->sqe.opcode), a->token.user_data};
  }
  static constexpr WaitKind kWait{&OpAwaiter::on_cancel, &OpAwaiter::describe};
  Result<int32_t> await_resume() noexcept {
    if (early) return std::unexpected(early);
    if (res >= 0) return res;
    if (deadline_expired) return fail(errc::timed_out);
    if (res == -ECANCELED && me->cancel_requested) return fail(errc::cancelled);
    return fail_errno(res);
  }
};

// Lane B kernel op: submits sqe through lane A and resumes with the kernel's result.
// Result: res >= 0, or errno (generic category), errc::timed_out when `deadline` won,
// errc::cancelled when the routine was aborted and the kernel cancelled the op. If the op
// completed anyway its real result is returned.
// A MSG_RING whose delivered user_data (off) is not a ringo message is refused with
// errc::invalid_argument: it would forge a completion of some op on the target shard.
inline detail::OpAwaiter submit(const Sqe& sqe, Instant deadline = kNoDeadline) noexcept {
  detail::OpAwaiter a{sqe, deadline};
  if (sqe.opcode == Opcode::msg_ring && UserData::kind(sqe.off) != UdKind::message) {
    a.early = make_error_code(errc::invalid_argument);
  }
  return a;
}

}  // namespace ringo::detail
