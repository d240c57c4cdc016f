// The kernel operations a raw lane (raw/lane.hpp) submits, and the id of one in flight.
//
//   raw::Op     one operation, made by the functions below (nop, read, write, recv, send,
//               accept, close, timeout, poll). It holds the descriptor and the buffer's
//               address, not the buffer: the buffer must stay valid until the op's last
//               raw::Io event (lane A is the layer without lifetime checks; lane B,
//               io.hpp, keeps buffers in the awaiting routine's frame).
//   raw::OpId   what submit() returns: a generation-checked name of that op for cancel().
//
// Thread-safety: values; they mean nothing until submitted.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "ringo/clock.hpp"
#include "ringo/internal/core/ring.hpp"

namespace ringo::raw {

struct Op {
  detail::Sqe sqe;
};

struct OpId {
  uint32_t slot = 0;
  uint32_t generation = 0;
  bool operator==(const OpId&) const = default;
};

namespace detail_op {
inline Op transfer(ringo::detail::Opcode opcode, int fd, const void* addr, size_t len, uint64_t off) noexcept {
  // A transfer moves at most this much in one op (Linux's MAX_RW_COUNT).
  constexpr size_t kMaxTransfer = 0x7ffff000;
  Op op;
  op.sqe.opcode = opcode;
  op.sqe.fd = fd;
  op.sqe.addr = reinterpret_cast<uintptr_t>(addr);
  op.sqe.len = static_cast<uint32_t>(len < kMaxTransfer ? len : kMaxTransfer);
  op.sqe.off = off;
  return op;
}
}  // namespace detail_op

// Completes at once with result 0 (a way to hand yourself an event).
inline Op nop() noexcept { return Op{}; }
// result: bytes read at `offset` (0: end of file).
inline Op read(int fd, std::span<std::byte> buf, uint64_t offset) noexcept {
  return detail_op::transfer(ringo::detail::Opcode::read, fd, buf.data(), buf.size(), offset);
}
// result: bytes written at `offset`.
inline Op write(int fd, std::span<const std::byte> buf, uint64_t offset) noexcept {
  return detail_op::transfer(ringo::detail::Opcode::write, fd, buf.data(), buf.size(), offset);
}
// result: bytes received (0: the peer closed its side).
inline Op recv(int fd, std::span<std::byte> buf) noexcept {
  return detail_op::transfer(ringo::detail::Opcode::recv, fd, buf.data(), buf.size(), MSG_NOSIGNAL);
}
// result: bytes sent (possibly fewer than buf.size()).
inline Op send(int fd, std::span<const std::byte> buf) noexcept {
  return detail_op::transfer(ringo::detail::Opcode::send, fd, buf.data(), buf.size(), MSG_NOSIGNAL);
}
// result: the accepted connection's descriptor (SOCK_CLOEXEC; the owner closes it).
// multishot: the op stays armed and posts one event per connection, each with kMore but
// the last (an error, a cancel, or the kernel ending it: submit again to re-arm).
inline Op accept(int listen_fd, bool multishot = false) noexcept {
  Op op;
  op.sqe.opcode = ringo::detail::Opcode::accept;
  op.sqe.fd = listen_fd;
  op.sqe.len = SOCK_CLOEXEC;
  op.sqe.ioprio = multishot ? ringo::detail::kAcceptMultishot : uint16_t{0};
  return op;
}
// result: 0, or the close's error.
inline Op close(int fd) noexcept {
  Op op;
  op.sqe.opcode = ringo::detail::Opcode::close;
  op.sqe.fd = fd;
  return op;
}
// Completes after `after` with result -ETIME (a timer in the event stream). A negative
// duration counts as zero.
inline Op timeout(Duration after) noexcept {
  Op op;
  op.sqe.opcode = ringo::detail::Opcode::timeout;
  op.sqe.off = static_cast<uint64_t>(after.count() > 0 ? after.count() : 0);
  return op;
}
// result: the poll(2) events that are ready on fd, out of `mask` (POLLIN, POLLOUT...).
inline Op poll(int fd, uint32_t mask) noexcept {
  Op op;
  op.sqe.opcode = ringo::detail::Opcode::poll_add;
  op.sqe.fd = fd;
  op.sqe.len = mask;
  return op;
}

}  // namespace ringo::raw
