#include "ringo/internal/core/trace.hpp"

namespace ringo {

const char* trace_kind_name(TraceKind k) noexcept {
  switch (k) {
    case TraceKind::spawn: return "spawn";
    case TraceKind::resume: return "resume";
    case TraceKind::finish: return "finish";
    case TraceKind::op_submit: return "op_submit";
    case TraceKind::op_complete: return "op_complete";
    case TraceKind::op_cancel: return "op_cancel";
    case TraceKind::stale_cqe: return "stale_cqe";
    case TraceKind::msg_send: return "msg_send";
    case TraceKind::msg_deliver: return "msg_deliver";
    case TraceKind::timer_fire: return "timer_fire";
    case TraceKind::kernel_step: return "kernel_step";
    case TraceKind::fault: return "fault";
    case TraceKind::select_choice: return "select_choice";
    case TraceKind::work_handover: return "work_handover";
    case TraceKind::blocking: return "blocking";
    case TraceKind::count_: break;
  }
  return "unknown";
}

}  // namespace ringo
