// The plain socket syscalls every socket type makes (net.cpp, udp.cpp, unix.cpp): a new
// socket on the current shard, bind, listen, an option, an address read into any address
// type, and the datagram send and receive that carry an address. Private to api/.
//
// Contract: every call checks the descriptor first (io::Descriptor::check: shard, open);
// address types passed as Address provide Address::from(const sockaddr*, socklen_t).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#include <span>

#include "ringo/datagram.hpp"
#include "ringo/io.hpp"

namespace ringo::net::detail {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

// A new socket of this family and type (SOCK_STREAM, SOCK_DGRAM) on the current shard.
Result<io::Descriptor> new_socket(int family, int type);
Result<void> set_option(const io::Descriptor& d, SockOption option, bool on);
Result<void> bind_to(const io::Descriptor& d, const sockaddr* addr, socklen_t len);
Result<void> listen_on(const io::Descriptor& d, int backlog);

// The socket's own (SysOp::local_addr) or its peer's (SysOp::peer_addr) address.
template <class Address>
Result<Address> address_of(const io::Descriptor& d, SysOp op) {
  sockaddr_storage storage{};
  SysCall call;
  call.op = op;
  call.addr = &storage;
  call.addr_len = sizeof storage;
  if (Result<int64_t> r = d.sys(call); !r) return std::unexpected(r.error());
  return Address::from(reinterpret_cast<const sockaddr*>(&storage), call.addr_len);
}

// CONNECT through the ring to a copy of the address (it lives in this frame).
Task<Result<void>> connect_to(const io::Descriptor& d, sockaddr_storage to, socklen_t len, Instant deadline);

// One datagram to `to` (SENDMSG); the address and the msghdr live in this frame.
Task<Result<size_t>> send_datagram(const io::Descriptor& d, std::span<const char> data, sockaddr_storage to,
                                   socklen_t len, Instant deadline);

// A SENDMSG-free receive of one datagram and its sender: RECVMSG with MSG_TRUNC, so the
// result is the datagram's full length (Received says whether it was cut). `buffered`: the
// socket's datagrams go to its multishot (recv_from_buffered), so this is refused.
template <class Address>
Task<Result<ReceivedFrom<Address>>> recv_datagram(const io::Descriptor& d, std::span<char> buf, Instant deadline,
                                                  bool buffered = false) {
  if (buffered) co_return std::unexpected(make_error_code(errc::invalid_argument));
  sockaddr_storage from{};
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  Sqe sqe;
  sqe.opcode = Opcode::recvmsg;
  sqe.addr = reinterpret_cast<uintptr_t>(&msg);
  sqe.off = MSG_TRUNC;
  Result<int32_t> r = co_await d.op<ringo::detail::OpAwaiter>(sqe, deadline);
  if (!r) co_return std::unexpected(r.error());
  ReceivedFrom<Address> got;
  got.datagram_size = static_cast<size_t>(*r);
  got.size = got.datagram_size < buf.size() ? got.datagram_size : buf.size();
  got.truncated = got.datagram_size > buf.size() || (msg.msg_flags & MSG_TRUNC) != 0;
  got.from = Address::from(reinterpret_cast<const sockaddr*>(&from), msg.msg_namelen);
  co_return got;
}

// A connected SEND (MSG_NOSIGNAL) and a connected RECV with MSG_TRUNC.
io::SizeAwaiter send_connected(const io::Descriptor& d, std::span<const char> data, Instant deadline);
ReceiveAwaiter recv_connected(const io::Descriptor& d, std::span<char> buf, Instant deadline);

// An address's bytes as the frame-owned copy the ring ops above take.
inline sockaddr_storage copy_address(const sockaddr* addr, socklen_t len) {
  sockaddr_storage out{};
  std::memcpy(&out, addr, len < sizeof out ? len : sizeof out);
  return out;
}

}  // namespace ringo::net::detail
