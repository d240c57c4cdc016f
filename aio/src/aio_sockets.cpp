// AioRing's sockets and descriptors (aio_ring.hpp): socket ops driven by readiness (the
// non-blocking syscall, and on EAGAIN a wait for the descriptor's next edge in the ring's
// epoll set, readiness.hpp), poll_add, multishot accept, forgetting a closed descriptor's
// waiters, and the plain syscalls behind SysOp.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "aio_sys.hpp"
#include "ringo/internal/aio/aio_ring.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/msghdr_checks.hpp"

namespace ringo::aio {
namespace {

// Sockets are driven by readiness: a blocking one would stall the shard in accept/connect.
void ensure_nonblocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK) == 0) (void)::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

bool wants_output(Opcode op) {
  return op == Opcode::send || op == Opcode::sendmsg || op == Opcode::write || op == Opcode::writev ||
         op == Opcode::connect;
}

// The op's syscall, never blocking on a socket (a blocking pipe the caller handed in
// still blocks, as a plain read would).
long nonblocking_call(const Sqe& s) {
  void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
  switch (s.opcode) {
    case Opcode::recv: return ::recv(s.fd, addr, s.len, static_cast<int>(s.off) | MSG_DONTWAIT);
    case Opcode::send: return ::send(s.fd, addr, s.len, static_cast<int>(s.off) | MSG_DONTWAIT);
    case Opcode::recvmsg: return ::recvmsg(s.fd, static_cast<msghdr*>(addr), static_cast<int>(s.off) | MSG_DONTWAIT);
    case Opcode::sendmsg:
      return ::sendmsg(s.fd, static_cast<const msghdr*>(addr), static_cast<int>(s.off) | MSG_DONTWAIT);
    case Opcode::read: return ::read(s.fd, addr, s.len);
    case Opcode::write: return ::write(s.fd, addr, s.len);
    case Opcode::readv: return ::readv(s.fd, static_cast<const iovec*>(addr), static_cast<int>(s.len));
    case Opcode::writev: return ::writev(s.fd, static_cast<const iovec*>(addr), static_cast<int>(s.len));
    case Opcode::accept:
      ensure_nonblocking(s.fd);
      return ::accept4(s.fd, static_cast<sockaddr*>(addr), reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(s.off)),
                       static_cast<int>(s.len));
    case Opcode::connect:
      ensure_nonblocking(s.fd);
      return ::connect(s.fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(s.len));
    default: errno = EINVAL; return -1;
  }
}

bool receives(Opcode op) {
  return op == Opcode::recv || op == Opcode::recvmsg || op == Opcode::read || op == Opcode::readv;
}

// One receipt of a multishot recv into a provided buffer: the bytes for RECV; for RECVMSG
// a datagram in the layout io_uring writes (ring.hpp, RecvMsgOut): header, the sender's
// address in the msghdr's msg_namelen bytes of room, msg_controllen bytes (none kept here),
// the payload cut to what fits (head: those three, checked by recv_loop against the
// buffer). The CQE's res, or -1 with errno. `last`: a zero-length datagram, after which
// io_uring ends the multishot (its CQE has the buffer, not F_MORE).
long receive_into(const Sqe& s, const ProvidedBuffers::Buffer& buf, size_t head, bool& last) {
  last = false;
  const int flags = static_cast<int>(s.off) | MSG_DONTWAIT;
  if (s.opcode == Opcode::recv) return ::recv(s.fd, buf.data, buf.size, flags);
  const auto* want = reinterpret_cast<const msghdr*>(static_cast<uintptr_t>(s.addr));
  RINGO_ASSERT(want != nullptr && buf.size >= head, "recv_loop checked the msghdr and the buffer's room");
  sockaddr_storage name{};
  iovec payload{buf.data + head, buf.size - head};
  msghdr m{};
  m.msg_name = &name;
  m.msg_namelen = sizeof name;
  m.msg_iov = &payload;
  m.msg_iovlen = 1;
  const long r = ::recvmsg(s.fd, &m, flags);
  if (r < 0) return -1;
  last = r == 0;
  const RecvMsgOut out{m.msg_namelen, 0, static_cast<uint32_t>(r), static_cast<uint32_t>(m.msg_flags)};
  std::memcpy(buf.data, &out, sizeof out);
  std::memcpy(buf.data + sizeof out, &name, std::min<size_t>(m.msg_namelen, want->msg_namelen));
  return static_cast<long>(head + std::min<size_t>(static_cast<size_t>(r), payload.iov_len));
}

// What a multishot RECVMSG keeps before each payload, or the error io_uring gives it at
// once (-EFAULT: no msghdr to read; msghdr_checks.hpp for the rest). RECV keeps nothing.
int32_t multishot_head(const Sqe& s, size_t& head) {
  head = 0;
  if (s.opcode != Opcode::recvmsg) return 0;
  const auto* want = reinterpret_cast<const msghdr*>(static_cast<uintptr_t>(s.addr));
  return want == nullptr ? -EFAULT : ringo::detail::multishot_recvmsg_head(*want, head);
}

}  // namespace

// Files op under its descriptor until an edge in mask's directions (errors and hang-ups
// always count). A descriptor epoll cannot watch is always ready: the op tries again.
void AioRing::wait_ready(Op* op, uint32_t mask) {
  Readiness::Filed filed;
  const int r = readiness_.wait(op->sqe.fd, mask, OpRef{op->index, op->gen}, filed);
  if (r < 0) {
    complete(op, r);
    return;
  }
  if (filed == Readiness::Filed::always_ready) {
    // Only poll_add gets here (a syscall on such a file never says EAGAIN).
    complete(op, static_cast<int32_t>(mask & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)));
    return;
  }
  RINGO_ASSERT(op->wait == Wait::none && !op->queued, "an op waits for one thing at a time");
  op->wait = Wait::ready;
}

// One-shot readiness, as IORING_OP_POLL_ADD: what is ready now, else the next edge.
void AioRing::poll_add(Op* op) {
  const uint32_t mask = op->sqe.len;
  pollfd p{op->sqe.fd, static_cast<short>(mask), 0};
  const int r = op->sqe.fd < 0 ? 0 : ::poll(&p, 1, 0);
  if (op->sqe.fd < 0 || (r > 0 && (p.revents & POLLNVAL) != 0)) {
    complete(op, -EBADF);
  } else if (r != 0) {
    complete(op, r < 0 ? -errno : static_cast<uint16_t>(p.revents));
  } else {
    wait_ready(op, mask);
  }
}

// One try of a readiness-driven op's syscall; on EAGAIN it waits for the next edge. A
// descriptor known not to be ready (EAGAIN, no edge since) skips the try.
void AioRing::attempt(Op* op) {
  const Sqe& s = op->sqe;
  if (s.opcode == Opcode::accept && (s.ioprio & kAcceptMultishot) != 0) {
    accept_loop(op);
    return;
  }
  if ((s.opcode == Opcode::recv || s.opcode == Opcode::recvmsg) && (s.ioprio & kRecvMultishot) != 0) {
    recv_loop(op);
    return;
  }
  if (op->connecting) {
    finish_connect(op);
    return;
  }
  if ((s.opcode == Opcode::recvmsg || s.opcode == Opcode::sendmsg) && s.addr != 0) {
    // io_uring refuses a bad name length at once; the syscall would say so only when ready.
    const int32_t e = ringo::detail::check_msg_name(*reinterpret_cast<const msghdr*>(static_cast<uintptr_t>(s.addr)));
    if (e < 0) return complete(op, e);
  }
  const uint32_t mask = wants_output(s.opcode) ? POLLOUT : POLLIN;
  if (s.opcode != Opcode::connect && !readiness_.may_be_ready(s.fd, mask)) {
    wait_ready(op, mask);
    return;
  }
  const long r = nonblocking_call(s);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    if (receives(s.opcode) && readiness_.read_shut(s.fd)) {
      // A datagram socket after SHUT_RD: io_uring's receive (blocking socket) returns 0
      // once nothing is queued; this non-blocking one says EAGAIN, and no edge would come.
      complete(op, 0);
      return;
    }
    readiness_.saw_eagain(s.fd, mask);
    wait_ready(op, mask);
    return;
  }
  if (r < 0 && errno == EINPROGRESS && s.opcode == Opcode::connect) {
    op->connecting = true;
    wait_ready(op, POLLOUT);
    return;
  }
  if (r >= 0 && s.opcode == Opcode::accept) forget_fd(static_cast<int32_t>(r));
  complete(op, sys::neg_errno(r));
}

// A connect in progress answered (writable, or an error): SO_ERROR says how it went.
void AioRing::finish_connect(Op* op) {
  int err = 0;
  socklen_t len = sizeof err;
  const int r = ::getsockopt(op->sqe.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  complete(op, r < 0 ? -errno : -err);
}

// Multishot accept: takes every connection that is ready, one CQE each, up to kAcceptBatch
// per turn and while fewer than completion_limit_ CQEs wait for reap(). Past either it
// comes back next turn (retry_), so other work runs in between, and connections not taken
// wait in the kernel's backlog (whose bound the user chose) instead of in ready_.
void AioRing::accept_loop(Op* op) {
  const Sqe& s = op->sqe;
  void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
  ensure_nonblocking(s.fd);
  if (!readiness_.may_be_ready(s.fd, POLLIN)) {
    wait_ready(op, POLLIN);
    return;
  }
  for (unsigned i = 0; i < kAcceptBatch && ready_.size() < completion_limit_; ++i) {
    const int fd = ::accept4(s.fd, static_cast<sockaddr*>(addr),
                             reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(s.off)), static_cast<int>(s.len));
    if (fd >= 0) {
      forget_fd(fd);
      post(s.user_data, fd, kCqeMore);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readiness_.saw_eagain(s.fd, POLLIN);
      wait_ready(op, POLLIN);
      return;
    }
    if (errno == ECONNABORTED || errno == EINTR) continue;
    complete(op, -errno);  // the multishot ends: a CQE without kCqeMore
    return;
  }
  op->wait = Wait::retry;
  retry_.push_back(OpRef{op->index, op->gen});
}

// Multishot recv (RECV on a stream, RECVMSG on datagrams) into provided buffers, emulated:
// each readiness-driven receive copies into a buffer taken from the group (io_uring's
// kernel picks it the same way; receive_into writes RECVMSG's layout), one CQE with
// kCqeMore | kCqeBuffer each, in batches like accept_loop. As io_uring, every try picks a
// buffer before it looks for data: an empty group ends the multishot with -ENOBUFS, data
// waiting or not (what waits stays in the socket), a buffer too small for RECVMSG's header
// and rooms with -EFAULT. A datagram socket shut for reading only says EAGAIN here: the
// multishot stays armed and silent, as on io_uring.
void AioRing::recv_loop(Op* op) {
  const Sqe& s = op->sqe;
  if (s.deadline != kNoDeadline || (s.flags & kSqeBufferSelect) == 0 || !buffers_.has_group(s.buf_group)) {
    complete(op, -EINVAL);
    return;
  }
  size_t head = 0;
  if (const int32_t e = multishot_head(s, head); e < 0) return complete(op, e);
  for (unsigned i = 0; i < kAcceptBatch && ready_.size() < completion_limit_; ++i) {
    const std::optional<uint32_t> room = buffers_.next_size(s.buf_group);
    if (!room) return complete(op, -ENOBUFS);
    if (*room < head) return complete(op, -EFAULT);  // not consumed, as in io_uring
    if (i == 0 && !readiness_.may_be_ready(s.fd, POLLIN)) {
      wait_ready(op, POLLIN);
      return;
    }
    const auto buf = buffers_.take(s.buf_group);
    bool last = false;
    const long r = receive_into(s, *buf, head, last);
    const uint32_t with_buffer = kCqeBuffer | (uint32_t{buf->id} << kCqeBufferShift);
    if (r > 0 && last) return complete(op, static_cast<int32_t>(r), with_buffer);
    if (r > 0) {
      post(s.user_data, static_cast<int32_t>(r), kCqeMore | with_buffer);
      continue;
    }
    const int err = r < 0 ? errno : 0;
    buffers_.recycle(s.buf_group, buf->id);
    if (err == EAGAIN || err == EWOULDBLOCK) {
      readiness_.saw_eagain(s.fd, POLLIN);
      wait_ready(op, POLLIN);
      return;
    }
    if (err == EINTR) continue;
    return complete(op, -err);  // 0: end of stream; the multishot ends either way
  }
  op->wait = Wait::retry;
  retry_.push_back(OpRef{op->index, op->gen});
}

// fd is closed, or its number was just handed out anew: ops still waiting on the old
// descriptor must never run a syscall on the new one.
void AioRing::forget_fd(int32_t fd) {
  orphans_.clear();
  readiness_.forget(fd, orphans_);
  for (const OpRef ref : orphans_) {
    if (Op* op = live(ref)) op->wait = Wait::orphan;
  }
}

// Ops an edge (or their batch turn) woke: poll_add reports, the others try again.
void AioRing::dispatch_woken() {
  for (const Readiness::Woken& w : woken_) {
    Op* op = live(w.op);
    if (op == nullptr || op->wait != Wait::ready) continue;
    op->wait = Wait::none;
    if (op->sqe.opcode == Opcode::poll_add) {
      complete(op, static_cast<int32_t>(w.events & (op->sqe.len | POLLERR | POLLHUP)));
    } else {
      attempt(op);
    }
  }
  woken_.clear();
  if (retry_.empty()) return;
  retry_turn_.swap(retry_);  // accept_loop files the next turn's in retry_
  for (const OpRef ref : retry_turn_) {
    Op* op = live(ref);
    if (op == nullptr || op->wait != Wait::retry) continue;
    op->wait = Wait::none;
    if (op->sqe.opcode == Opcode::recv || op->sqe.opcode == Opcode::recvmsg) {
      recv_loop(op);
    } else {
      accept_loop(op);
    }
  }
  retry_turn_.clear();  // keeps the capacity
}

// The plain syscalls behind SysOp, as on io_uring, except that sockets are made
// non-blocking: their I/O is readiness-driven here.
int64_t AioRing::sys(SysCall& c) {
  auto ret = [](int64_t r) -> int64_t { return r < 0 ? -errno : r; };
  switch (c.op) {
    case SysOp::socket: {
      const int type = socket_type(c.arg2);
      if (type < 0) return type;
      const int fd = ::socket(c.arg, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd >= 0) forget_fd(fd);
      return ret(fd);
    }
    case SysOp::bind: return ret(::bind(c.fd, static_cast<const sockaddr*>(c.addr), c.addr_len));
    case SysOp::listen: return ret(::listen(c.fd, c.arg));
    case SysOp::local_addr:
    case SysOp::peer_addr: {
      socklen_t len = c.addr_len;
      auto* sa = static_cast<sockaddr*>(c.addr);
      const int r = c.op == SysOp::local_addr ? ::getsockname(c.fd, sa, &len) : ::getpeername(c.fd, sa, &len);
      c.addr_len = len;
      return ret(r);
    }
    case SysOp::set_option: {
      const int value = c.arg2;
      switch (static_cast<SockOption>(c.arg)) {
        case SockOption::reuse_addr: return ret(::setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &value, sizeof value));
        case SockOption::reuse_port: return ret(::setsockopt(c.fd, SOL_SOCKET, SO_REUSEPORT, &value, sizeof value));
        case SockOption::nodelay: return ret(::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value));
      }
      return -EINVAL;
    }
    case SysOp::file_size: {
      struct stat st {};
      if (::fstat(c.fd, &st) < 0) return -errno;
      return st.st_size;
    }
    case SysOp::close: forget_fd(c.fd); return ret(::close(c.fd));
  }
  return -ENOSYS;
}

}  // namespace ringo::aio
