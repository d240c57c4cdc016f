// What files and sockets share: a descriptor owned by the shard that opened it, and the
// awaitables their operations return.
//
// Every operation obeys the cancellation contract (task.hpp, docs/cancellation.md): it
// takes an absolute deadline (errc::timed_out), fails with errc::cancelled when its
// routine is aborted, and its buffer is not written after the operation reported.
//
// Errors: kernel failures keep their errno (std::generic_category: compare with
// std::errc::connection_refused etc.); errc::wrong_shard when called from a shard other
// than the one that opened the descriptor; EBADF (std::errc::bad_file_descriptor) on a
// closed or moved-from object; errc::not_in_runtime outside a routine.
//
// Thread-safety: a descriptor belongs to its home shard. Destroying it there closes it
// asynchronously (no blocking); destroyed elsewhere it is closed with a plain close(2).
// Descriptors must not outlive their Runtime.
#pragma once

#include <cstddef>
#include <span>

#include "ringo/internal/core/kernel_op.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/task.hpp"

namespace ringo::io {

// Largest transfer in one op (Linux's MAX_RW_COUNT); longer buffers move in parts.
inline constexpr size_t kMaxTransfer = 0x7ffff000;

// An Sqe that moves up to len bytes at addr (capped at kMaxTransfer); off is what the
// opcode reads there: the file offset for read/write, the msg flags for send/recv.
inline detail::Sqe transfer_sqe(detail::Opcode opcode, const void* addr, size_t len, uint64_t off) noexcept {
  detail::Sqe sqe;
  sqe.opcode = opcode;
  sqe.addr = reinterpret_cast<uintptr_t>(addr);
  sqe.len = static_cast<uint32_t>(len < kMaxTransfer ? len : kMaxTransfer);
  sqe.off = off;
  return sqe;
}

// An op resuming with the number of bytes moved.
struct SizeAwaiter : ringo::detail::OpAwaiter {
  Result<size_t> await_resume() noexcept {
    Result<int32_t> r = detail::OpAwaiter::await_resume();
    if (!r) return std::unexpected(r.error());
    return static_cast<size_t>(*r);
  }
};

// An op resuming with success or an error.
struct VoidAwaiter : ringo::detail::OpAwaiter {
  Result<void> await_resume() noexcept {
    Result<int32_t> r = detail::OpAwaiter::await_resume();
    if (!r) return std::unexpected(r.error());
    return {};
  }
};

// A file descriptor owned by one shard (move-only; destroying it closes it): what fs::File
// and the TCP types hold.
class Descriptor {
 public:
  Descriptor() = default;
  Descriptor(int fd, detail::Shard* home) noexcept : fd_(fd), home_(home) {}
  Descriptor(Descriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)), home_(o.home_) {}
  Descriptor& operator=(Descriptor&& o) noexcept;
  ~Descriptor() { release(); }

  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  detail::Shard* home() const noexcept { return home_; }

  // Empty when the descriptor may be used from the calling routine; otherwise why not.
  std::error_code check() const noexcept;
  // An Sqe for this descriptor with the check's error attached.
  template <class Awaiter>
  Awaiter op(detail::Sqe sqe, Instant deadline) const noexcept {
    Awaiter a{};
    a.sqe = sqe;
    a.sqe.fd = fd_;
    a.deadline = deadline;
    a.early = check();
    return a;
  }
  // A plain syscall on this descriptor (SysOp), or the check's error.
  Result<int64_t> sys(detail::SysCall& call) const;
  // Closes through the ring. The descriptor is given up at once, and closed even when the
  // await fails fast (errc::cancelled: an aborted routine, a passed deadline); an abort
  // does not cancel a close that was submitted. Kept when the close is refused before
  // that (EBADF, errc::wrong_shard, errc::not_in_runtime off the runtime's threads).
  VoidAwaiter close() noexcept;

 private:
  void release() noexcept;
  int fd_ = -1;
  detail::Shard* home_ = nullptr;
};

}  // namespace ringo::io
