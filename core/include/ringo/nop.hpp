// nop(): one round trip through the kernel (io_uring's IORING_OP_NOP, AIO's emulation or
// the simulator's), with an optional deadline. Cheap; useful to give the kernel a turn, to
// measure, or to stand for an op in examples and tests.
//
//   Result<int32_t> r = co_await ringo::nop();   // 0, or errc::cancelled / timed_out
//
// Thread-safety: like every await, only inside a routine of the current shard; outside
// one it fails with errc::not_in_runtime.
#pragma once

#include "ringo/clock.hpp"
#include "ringo/internal/core/kernel_op.hpp"

namespace ringo {

inline auto nop(Instant deadline = kNoDeadline) noexcept {
  detail::Sqe sqe;
  sqe.opcode = detail::Opcode::nop;
  return detail::submit(sqe, deadline);
}

}  // namespace ringo
