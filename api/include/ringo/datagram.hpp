// What every datagram socket (net::UdpSocket, net::UnixDatagram) shares: the result of one
// receive, and the awaitable of a connected receive.
//
// Datagram semantics: one send is one datagram, delivered whole or not at all (UDP may
// lose, duplicate or reorder them; a Unix datagram socket does none of that). One receive
// takes one datagram. A buffer shorter than the datagram gets its first bytes and the rest
// is discarded, as the kernel does; the receive says so (`truncated`, and the datagram's
// full length), so nothing is lost silently. A zero-length datagram is valid: a receive
// of size 0 is not an end of stream.
#pragma once

#include <cstddef>

#include "ringo/io.hpp"

namespace ringo::net {

// One datagram taken by a receive: `size` bytes of it are in the buffer; `truncated` when
// it was longer than the buffer (datagram_size > size: its tail is gone).
struct Received {
  size_t size = 0;
  bool truncated = false;
  size_t datagram_size = 0;
};

// A receive that also names the sender (recv_from).
template <class Address>
struct ReceivedFrom : Received {
  Address from;
};

// A connected receive: a RECV with MSG_TRUNC, for which the kernel returns the datagram's
// full length; that length against the buffer's says whether it was cut.
struct ReceiveAwaiter : ringo::detail::OpAwaiter {
  size_t capacity = 0;
  Result<Received> await_resume() noexcept {
    Result<int32_t> r = ringo::detail::OpAwaiter::await_resume();
    if (!r) return std::unexpected(r.error());
    const auto full = static_cast<size_t>(*r);
    return Received{full < capacity ? full : capacity, full > capacity, full};
  }
};

}  // namespace ringo::net
