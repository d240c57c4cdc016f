// DatagramAccess: a ring buffer filled by a datagram multishot receive (RecvMsgOut header,
// the sender's address in kNameRoom bytes, the payload; ring.hpp) read into a
// BufferedDatagram (datagram.hpp), which then owns the buffer. Private to api/.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringo/datagram.hpp"
#include "ringo/internal/core/ring.hpp"

namespace ringo::net::detail {

struct DatagramAccess {
  // Room for the sender's address in each buffer: a sockaddr_in6 (28 bytes) rounded up so
  // that the payload starts 16-byte aligned (with kDatagramHeadroom = 16 + 32 before it).
  static constexpr uint32_t kNameRoom = 32;
  static_assert(sizeof(sockaddr_in6) <= kNameRoom);

  // The datagram in b; EPROTO for a buffer shorter than its header (a backend's bug,
  // reported rather than read past).
  template <class Address>
  static Result<BufferedDatagram<Address>> parse(RecvBuffer b) {
    constexpr size_t kHead = sizeof(ringo::detail::RecvMsgOut) + kNameRoom;
    if (b.size() < kHead) return std::unexpected(std::error_code(EPROTO, std::generic_category()));
    ringo::detail::RecvMsgOut out;
    std::memcpy(&out, b.data(), sizeof out);
    BufferedDatagram<Address> d;
    const auto* name = reinterpret_cast<const sockaddr*>(b.data() + sizeof out);
    d.from_ = Address::from(name, static_cast<socklen_t>(std::min<uint32_t>(out.namelen, kNameRoom)));
    d.payload_ = b.data() + kHead;
    d.size_ = b.size() - kHead;
    d.datagram_size_ = std::max<size_t>(out.payloadlen, d.size_);
    d.truncated_ = (out.flags & MSG_TRUNC) != 0 || d.datagram_size_ > d.size_;
    d.buffer_ = std::move(b);
    return d;
  }
};

}  // namespace ringo::net::detail
