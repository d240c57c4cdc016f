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
#include <span>
#include <string_view>
#include <utility>

#include "ringo/io.hpp"
#include "ringo/net.hpp"

namespace ringo::net {

namespace detail {
struct DatagramAccess;
}  // namespace detail

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

// One datagram taken by a buffered receive (UdpSocket::recv_from_buffered): its payload
// in a buffer borrowed from the shard's receive-buffer ring (RecvBuffer), its sender, and
// whether it was cut. Move-only; the buffer goes back to the ring when this is destroyed
// or release()d, exactly once. A zero-length datagram is valid (size() == 0). Like every
// I/O object it belongs to its shard and must not outlive its Runtime.
//
// truncated(): the datagram did not fit in one ring buffer (after the header, see
// docs/io.md): data() holds its first size() bytes, the tail is gone, and
// datagram_size() is its full length.
template <class Address>
class BufferedDatagram {
 public:
  BufferedDatagram() = default;
  BufferedDatagram(BufferedDatagram&& o) noexcept { take(o); }
  BufferedDatagram& operator=(BufferedDatagram&& o) noexcept {
    if (this != &o) take(o);
    return *this;
  }
  ~BufferedDatagram() = default;

  const char* data() const noexcept { return payload_; }
  size_t size() const noexcept { return size_; }
  std::span<const char> span() const noexcept { return {payload_, size_}; }
  std::string_view view() const noexcept { return {payload_, size_}; }
  const Address& from() const noexcept { return from_; }
  bool truncated() const noexcept { return truncated_; }
  size_t datagram_size() const noexcept { return datagram_size_; }
  // Gives the buffer back now; data() is then empty (from(), truncated() and
  // datagram_size() stay).
  void release() noexcept {
    buffer_.release();
    payload_ = nullptr;
    size_ = 0;
  }

 private:
  friend struct detail::DatagramAccess;
  void take(BufferedDatagram& o) noexcept {
    buffer_ = std::move(o.buffer_);
    payload_ = std::exchange(o.payload_, nullptr);
    size_ = std::exchange(o.size_, 0);
    from_ = o.from_;
    truncated_ = o.truncated_;
    datagram_size_ = o.datagram_size_;
  }
  RecvBuffer buffer_;  // the whole ring buffer: header, sender, payload
  const char* payload_ = nullptr;
  size_t size_ = 0;
  Address from_{};
  bool truncated_ = false;
  size_t datagram_size_ = 0;
};

}  // namespace ringo::net
