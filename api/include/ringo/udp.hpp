// ringo::net::UdpSocket: UDP over the ring, IPv4 and IPv6. A socket belongs to the shard
// that created it (see io.hpp for errors, deadlines, cancellation and thread-safety, and
// datagram.hpp for what a receive reports).
//
//   auto sock = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));   // port 0: any
//   co_await sock->send_to(std::string_view("ping"), peer, deadline);
//   std::array<char, 1500> buf;
//   auto got = co_await sock->recv_from(buf, deadline);   // size, truncated, from
//
// Many datagrams, few syscalls: recv_from_buffered() keeps one multishot receive armed and
// hands out each datagram in a buffer of the shard's receive-buffer ring (UdpDatagram):
//
//   auto d = co_await sock->recv_from_buffered(deadline);   // Result<UdpDatagram>
//   if (d && !d->truncated()) handle(d->view(), d->from());  // the buffer goes back with d
//
// Unconnected: send_to / recv_from. After connect(peer): send / recv, and only the peer's
// datagrams are received. A send is all or nothing: one datagram of data.size() bytes, or
// an error (EMSGSIZE above the protocol's limit, 65,507 bytes over IPv4). Sending to a
// port nobody has bound is not an error for an unconnected socket (the datagram is lost,
// as on a network). UDP itself may lose, duplicate and reorder datagrams; on loopback the
// kernel does not, and the simulator does so only when FaultConfig asks (udp_*_ppm).
#pragma once

#include <memory>
#include <span>
#include <utility>

#include "ringo/datagram.hpp"
#include "ringo/net.hpp"

namespace ringo::net {

// Socket options for UdpSocket::bind.
struct UdpOptions {
  bool reuse_addr = false;
  bool reuse_port = false;  // several sockets (one per shard) on one port
};

// A datagram received by recv_from_buffered (datagram.hpp).
using UdpDatagram = BufferedDatagram<SocketAddr>;
// What each ring buffer holds before a datagram's payload (the kernel's 16-byte header and
// 32 bytes of room for the sender's address): a datagram of up to the buffer's size minus
// kDatagramHeadroom bytes arrives whole. With the default ring (4 KiB buffers) that is
// 4,048 bytes; buffers of 65,507 + 48 bytes (configure_recv_buffers) take any IPv4 datagram.
inline constexpr size_t kDatagramHeadroom = 48;

class UdpSocket {
 public:
  UdpSocket() = default;
  UdpSocket(UdpSocket&&) noexcept = default;
  // Retires this socket's reader (its multishot cancelled) before its descriptor closes,
  // the order the destructor and close() keep (a defaulted one would close first).
  UdpSocket& operator=(UdpSocket&& o) noexcept {
    if (this != &o) {
      reader_.reset();
      d_ = std::move(o.d_);
      reader_ = std::move(o.reader_);
    }
    return *this;
  }
  ~UdpSocket() = default;

  // socket + bind on the current shard. Errors: EADDRINUSE, EACCES, EADDRNOTAVAIL,
  // errc::invalid_argument for an address that is neither IPv4 nor IPv6,
  // errc::not_in_runtime.
  static Result<UdpSocket> bind(const SocketAddr& addr, UdpOptions options = {});

  // One datagram to `to`; returns data.size(). Errors: EMSGSIZE, EAFNOSUPPORT (an address
  // of the other family), EBADF on a closed socket.
  Task<Result<size_t>> send_to(std::span<const char> data, SocketAddr to, Instant deadline = kNoDeadline) const;
  // The next datagram and its sender. errc::invalid_argument once recv_from_buffered()
  // was used on this socket.
  Task<Result<ReceivedFrom<SocketAddr>>> recv_from(std::span<char> buf, Instant deadline = kNoDeadline) const;
  // The next datagram in a buffer borrowed from the shard's receive-buffer ring, with its
  // sender (connected: only the peer's). The first call arms one multishot receive that
  // stays armed: datagrams wait in the socket, in arrival order, until taken (at most 32;
  // beyond that in the kernel's socket buffer, which drops when full, as UDP does). A
  // cancelled or timed-out call loses nothing. When the ring runs dry the kernel stops
  // (ENOBUFS: datagrams wait in the socket buffer) and the socket re-arms as buffers come
  // back. A datagram longer than a buffer's room arrives truncated() (never silently).
  // An error the kernel reports (ECONNREFUSED on a connected socket...) goes to one call;
  // the next re-arms. Errors: EOPNOTSUPP where the ring has no multishot receive (io_uring
  // before 6.0), errc::invalid_argument when the ring's buffers are not longer than
  // kDatagramHeadroom, EBADF once closed. Afterwards recv_from()/recv() are refused (the
  // two would race for datagrams).
  Task<Result<UdpDatagram>> recv_from_buffered(Instant deadline = kNoDeadline) const;

  // Fixes the peer: send/recv, and datagrams from anyone else are dropped. Never blocks.
  Task<Result<void>> connect(SocketAddr peer, Instant deadline = kNoDeadline) const;
  // Connected only (else EDESTADDRREQ for send; recv takes any sender's datagram).
  io::SizeAwaiter send(std::span<const char> data, Instant deadline = kNoDeadline) const;
  ReceiveAwaiter recv(std::span<char> buf, Instant deadline = kNoDeadline) const;  // refused as recv_from

  Result<SocketAddr> local_addr() const;
  Result<SocketAddr> peer_addr() const;  // ENOTCONN unless connected
  io::VoidAwaiter close() noexcept {
    reader_.reset();  // its multishot is cancelled before the descriptor closes
    return d_.close();
  }
  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 private:
  explicit UdpSocket(io::Descriptor d) noexcept : d_(std::move(d)) {}
  io::Descriptor d_;
  // recv_from_buffered's multishot and queue, made by its first call; declared after d_ so
  // that it is retired (its multishot cancelled) before d_ closes.
  mutable std::unique_ptr<detail::BufReader, detail::BufReaderRetire> reader_;
};

}  // namespace ringo::net
