// TraceEvent: one step of a run as the simulator records it (RunOptions::keep_trace,
// RuntimeConfig::keep_trace): who did what, when, in virtual time. A kept trace is what
// ringo::sim's exports (JSON lines, Chrome trace) and first_divergence() read, and what
// the trace hash sums up. Real backends record nothing.
#pragma once

#include <cstdint>

namespace ringo {

enum class TraceKind : uint16_t {
  spawn,          // a = routine id
  resume,         // a = routine id
  finish,         // a = routine id, b = 1 if it panicked
  op_submit,      // a = user_data, b = opcode
  op_complete,    // a = user_data, b = res (as uint32)
  op_cancel,      // a = user_data, b = outcome
  stale_cqe,      // a = user_data
  msg_send,       // a = target shard, b = tag
  msg_deliver,    // a = from shard, b = tag
  timer_fire,     // a = timer tiebreak
  kernel_step,    // a = event kind, b = detail (simulator decisions)
  fault,          // a = fault kind, b = detail
  select_choice,  // a = routine id, b = the position of the case chosen (timeout, default)
  work_handover,  // a = the shard that asked, b = routines handed to it
  blocking,       // a = blocking call id, b = BlockingPhase (blocking_executor.hpp)
  count_,
};

const char* trace_kind_name(TraceKind k) noexcept;

// One scheduling event of a traced run: when, on which shard, what kind, and its two
// kind-specific values (see TraceKind).
struct TraceEvent {
  int64_t time_ns;
  uint32_t shard;
  TraceKind kind;
  uint64_t a;
  uint64_t b;
};

}  // namespace ringo
