// socket_calls.hpp: the socket syscalls and datagram ops every socket type shares.
#include "socket_calls.hpp"

namespace ringo::net::detail {

Result<io::Descriptor> new_socket(int family, int type) {
  Shard* shard = current_shard();
  if (shard == nullptr) return fail(errc::not_in_runtime);
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) return fail(errc::invalid_argument);
  SysCall call;
  call.op = SysOp::socket;
  call.arg = family;
  call.arg2 = type;
  const int64_t fd = shard->ring().sys(call);
  if (fd < 0) return fail_errno(static_cast<int>(fd));
  return io::Descriptor(static_cast<int>(fd), shard);
}

Result<void> set_option(const io::Descriptor& d, SockOption option, bool on) {
  SysCall call;
  call.op = SysOp::set_option;
  call.arg = static_cast<int32_t>(option);
  call.arg2 = on ? 1 : 0;
  if (Result<int64_t> r = d.sys(call); !r) return std::unexpected(r.error());
  return {};
}

Result<void> bind_to(const io::Descriptor& d, const sockaddr* addr, socklen_t len) {
  SysCall call;
  call.op = SysOp::bind;
  call.addr = const_cast<sockaddr*>(addr);
  call.addr_len = len;
  if (Result<int64_t> r = d.sys(call); !r) return std::unexpected(r.error());
  return {};
}

Result<void> listen_on(const io::Descriptor& d, int backlog) {
  SysCall call;
  call.op = SysOp::listen;
  call.arg = backlog;
  if (Result<int64_t> r = d.sys(call); !r) return std::unexpected(r.error());
  return {};
}

// An empty address (a default-constructed one) is errc::invalid_argument: the kernel
// would read a zero length as "no address" and say something less clear.
Task<Result<void>> connect_to(const io::Descriptor& d, sockaddr_storage to, socklen_t len, Instant deadline) {
  if (len == 0) co_return fail(errc::invalid_argument);
  Sqe sqe;
  sqe.opcode = Opcode::connect;
  sqe.addr = reinterpret_cast<uintptr_t>(&to);
  sqe.len = len;
  Result<void> r = co_await d.op<io::VoidAwaiter>(sqe, deadline);
  co_return r;
}

Task<Result<size_t>> send_datagram(const io::Descriptor& d, std::span<const char> data, sockaddr_storage to,
                                   socklen_t len, Instant deadline) {
  if (len == 0) co_return fail(errc::invalid_argument);
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  Sqe sqe;
  sqe.opcode = Opcode::sendmsg;
  sqe.addr = reinterpret_cast<uintptr_t>(&msg);
  sqe.off = MSG_NOSIGNAL;
  Result<size_t> r = co_await d.op<io::SizeAwaiter>(sqe, deadline);
  co_return r;
}

io::SizeAwaiter send_connected(const io::Descriptor& d, std::span<const char> data, Instant deadline) {
  return d.op<io::SizeAwaiter>(io::transfer_sqe(Opcode::send, data.data(), data.size(), MSG_NOSIGNAL), deadline);
}

ReceiveAwaiter recv_connected(const io::Descriptor& d, std::span<char> buf, Instant deadline) {
  ReceiveAwaiter a = d.op<ReceiveAwaiter>(io::transfer_sqe(Opcode::recv, buf.data(), buf.size(), MSG_TRUNC), deadline);
  a.capacity = buf.size();
  return a;
}

}  // namespace ringo::net::detail
