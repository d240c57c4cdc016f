// io::Descriptor (io.hpp): the shard check, plain syscalls, and closing through the ring
// (or synchronously off the shard).
#include <cerrno>

#include "ringo/io.hpp"

namespace ringo::io {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

Descriptor& Descriptor::operator=(Descriptor&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = std::exchange(o.fd_, -1);
    home_ = o.home_;
  }
  return *this;
}

std::error_code Descriptor::check() const noexcept {
  if (fd_ < 0) return errno_code(EBADF);
  Shard* here = current_shard();
  if (here == nullptr) return make_error_code(errc::not_in_runtime);
  if (here != home_) return make_error_code(errc::wrong_shard);
  return {};
}

Result<int64_t> Descriptor::sys(SysCall& call) const {
  if (std::error_code e = check()) return std::unexpected(e);
  call.fd = fd_;
  const int64_t r = home_->ring().sys(call);
  if (r < 0) return fail_errno(static_cast<int>(r));
  return r;
}

VoidAwaiter Descriptor::close() noexcept {
  Sqe sqe;
  sqe.opcode = Opcode::close;
  VoidAwaiter a = op<VoidAwaiter>(sqe, kNoDeadline);
  if (a.early) return a;  // not closable from here (closed already, wrong shard): kept as it is
  if (refuse_await(a.me, a.early)) {
    // The await fails fast (an aborted routine, one past its deadline, no routine), but
    // the descriptor goes all the same, as when dropped: as Go's Close ignores contexts.
    // Giving it up here and closing nothing leaked it in every cleanup after an abort.
    release();
    return a;
  }
  fd_ = -1;  // the ring owns it now; its CLOSE is never cancelled (OpDriver::cancel)
  return a;
}

// Dropped on its shard: an asynchronous close nobody waits for. Elsewhere, or while the
// shard tears down (no more submissions), a synchronous close through the backend.
void Descriptor::release() noexcept {
  if (fd_ < 0 || home_ == nullptr) return;
  const int fd = std::exchange(fd_, -1);
  if (current_shard() == home_ && !shard_tearing_down()) {
    Sqe sqe;
    sqe.opcode = Opcode::close;
    sqe.fd = fd;
    home_->submit_raw(sqe, nullptr, nullptr);
    return;
  }
  SysCall call;
  call.op = SysOp::close;
  call.fd = fd;
  home_->ring().sys(call);
}

}  // namespace ringo::io
