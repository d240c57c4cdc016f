// ListenerBase (net.hpp): a listener's descriptor and its multishot acceptor, and the
// accept that hands a connection out as the listener's stream type (TcpStream from
// TcpListener, UnixStream from UnixListener). Private to api/ (net.cpp, unix.cpp).
//
// Contract: accept_as<Stream> needs Stream(io::Descriptor) reachable (ListenerBase is a
// friend of every stream type); one frame per accept, as before the split.
#pragma once

#include "acceptor.hpp"
#include "ringo/deadline.hpp"
#include "ringo/net.hpp"

namespace ringo::net {

template <class Stream>
Task<Result<Stream>> ListenerBase::accept_as(Instant deadline) const {
  return acceptor_ ? accept_queued<Stream>(deadline) : accept_one<Stream>(deadline);
}

template <class Stream>
Task<Result<Stream>> ListenerBase::accept_queued(Instant deadline) const {
  if (std::error_code e = d_.check()) co_return std::unexpected(e);
  Result<int> fd =
      deadline == kNoDeadline ? co_await acceptor_->next() : co_await with_deadline(deadline, acceptor_->next());
  if (!fd) co_return std::unexpected(fd.error());
  co_return Stream(io::Descriptor(*fd, d_.home()));
}

// One ACCEPT op per call: rings without multishot accept.
template <class Stream>
Task<Result<Stream>> ListenerBase::accept_one(Instant deadline) const {
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  ringo::detail::Sqe sqe;
  sqe.opcode = ringo::detail::Opcode::accept;
  sqe.addr = reinterpret_cast<uintptr_t>(&peer);
  sqe.off = reinterpret_cast<uintptr_t>(&peer_len);
  sqe.len = SOCK_CLOEXEC;
  Result<int32_t> fd = co_await d_.op<ringo::detail::OpAwaiter>(sqe, deadline);
  if (!fd) co_return std::unexpected(fd.error());
  co_return Stream(io::Descriptor(*fd, d_.home()));
}

}  // namespace ringo::net
