#include "ringo/internal/core/ring.hpp"

#include <cerrno>

namespace ringo::detail {

const char* opcode_name(Opcode op) noexcept {
  switch (op) {
    case Opcode::nop: return "NOP";
    case Opcode::read: return "READ";
    case Opcode::write: return "WRITE";
    case Opcode::readv: return "READV";
    case Opcode::writev: return "WRITEV";
    case Opcode::fsync: return "FSYNC";
    case Opcode::openat: return "OPENAT";
    case Opcode::close: return "CLOSE";
    case Opcode::accept: return "ACCEPT";
    case Opcode::connect: return "CONNECT";
    case Opcode::recv: return "RECV";
    case Opcode::send: return "SEND";
    case Opcode::shutdown: return "SHUTDOWN";
    case Opcode::timeout: return "TIMEOUT";
    case Opcode::async_cancel: return "ASYNC_CANCEL";
    case Opcode::msg_ring: return "MSG_RING";
    case Opcode::poll_add: return "POLL_ADD";
    case Opcode::sendmsg: return "SENDMSG";
    case Opcode::recvmsg: return "RECVMSG";
    case Opcode::send_zc: return "SEND_ZC";
    case Opcode::count_: break;
  }
  return "INVALID";
}

int64_t Ring::sys(SysCall&) { return -ENOSYS; }
int32_t Ring::setup_buffer_ring(const BufRingSpec&, char*&) { return -ENOSYS; }
void Ring::recycle_buffer(uint16_t, uint16_t) {}

}  // namespace ringo::detail
