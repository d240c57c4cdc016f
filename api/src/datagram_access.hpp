// DatagramAccess: a ring buffer filled by a datagram multishot receive (RecvMsgOut header,
// the sender's address in the socket type's name room, the payload; ring.hpp) read into a
// BufferedDatagram (datagram.hpp), which then owns the buffer; and the receive itself,
// shared by UdpSocket and UnixDatagram. Private to api/.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "recv_pool.hpp"
#include "ringo/datagram.hpp"
#include "ringo/deadline.hpp"
#include "ringo/internal/core/ring.hpp"

namespace ringo::net::detail {

struct DatagramAccess {
  // Room for the sender's address in each buffer, rounded up so that the payload starts
  // 16-byte aligned: a sockaddr_in6 (28 bytes) for UDP (kDatagramHeadroom = 16 + 32), a
  // sockaddr_un (110) for Unix (kUnixDatagramHeadroom = 16 + 112).
  static constexpr uint32_t kNameRoom = 32;
  static constexpr uint32_t kUnixNameRoom = 112;
  static_assert(sizeof(sockaddr_in6) <= kNameRoom);

  // The datagram in b; EPROTO for a buffer shorter than its header (a backend's bug,
  // reported rather than read past).
  template <class Address>
  static Result<BufferedDatagram<Address>> parse(RecvBuffer b, uint32_t name_room) {
    const size_t kHead = sizeof(ringo::detail::RecvMsgOut) + name_room;
    if (b.size() < kHead) return std::unexpected(std::error_code(EPROTO, std::generic_category()));
    ringo::detail::RecvMsgOut out;
    std::memcpy(&out, b.data(), sizeof out);
    BufferedDatagram<Address> d;
    const auto* name = reinterpret_cast<const sockaddr*>(b.data() + sizeof out);
    d.from_ = Address::from(name, static_cast<socklen_t>(std::min<uint32_t>(out.namelen, name_room)));
    d.payload_ = b.data() + kHead;
    d.size_ = b.size() - kHead;
    d.datagram_size_ = std::max<size_t>(out.payloadlen, d.size_);
    d.truncated_ = (out.flags & MSG_TRUNC) != 0 || d.datagram_size_ > d.size_;
    d.buffer_ = std::move(b);
    return d;
  }
};

// recv_from_buffered of a datagram socket d whose BufReader lives in `owner` (the socket's
// reader_); both outlive the call, as for every operation on a socket.
template <class Address>
Task<Result<BufferedDatagram<Address>>> recv_buffered_datagram(const io::Descriptor& d, BufReader::Owner& owner,
                                                               uint32_t name_room, Instant deadline) {
  Result<BufReader*> reader = BufReader::of(d, owner, name_room);
  if (!reader) co_return std::unexpected(reader.error());
  Result<RecvBuffer> buffer = std::unexpected(make_error_code(errc::cancelled));
  if (deadline == kNoDeadline) {
    buffer = co_await (*reader)->next();
  } else {
    buffer = co_await with_deadline(deadline, (*reader)->next());
  }
  if (!buffer) co_return std::unexpected(buffer.error());
  co_return DatagramAccess::parse<Address>(std::move(*buffer), name_room);
}

}  // namespace ringo::net::detail
