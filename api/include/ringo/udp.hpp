// ringo::net::UdpSocket: UDP over the ring, IPv4 and IPv6. A socket belongs to the shard
// that created it (see io.hpp for errors, deadlines, cancellation and thread-safety, and
// datagram.hpp for what a receive reports).
//
//   auto sock = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));   // port 0: any
//   co_await sock->send_to(std::string_view("ping"), peer, deadline);
//   std::array<char, 1500> buf;
//   auto got = co_await sock->recv_from(buf, deadline);   // size, truncated, from
//
// Unconnected: send_to / recv_from. After connect(peer): send / recv, and only the peer's
// datagrams are received. A send is all or nothing: one datagram of data.size() bytes, or
// an error (EMSGSIZE above the protocol's limit, 65,507 bytes over IPv4). Sending to a
// port nobody has bound is not an error for an unconnected socket (the datagram is lost,
// as on a network). UDP itself may lose, duplicate and reorder datagrams; on loopback the
// kernel does not, and the simulator does so only when FaultConfig asks (udp_*_ppm).
#pragma once

#include <span>

#include "ringo/datagram.hpp"
#include "ringo/net.hpp"

namespace ringo::net {

// Socket options for UdpSocket::bind.
struct UdpOptions {
  bool reuse_addr = false;
  bool reuse_port = false;  // several sockets (one per shard) on one port
};

class UdpSocket {
 public:
  UdpSocket() = default;

  // socket + bind on the current shard. Errors: EADDRINUSE, EACCES, EADDRNOTAVAIL,
  // errc::invalid_argument for an address that is neither IPv4 nor IPv6,
  // errc::not_in_runtime.
  static Result<UdpSocket> bind(const SocketAddr& addr, UdpOptions options = {});

  // One datagram to `to`; returns data.size(). Errors: EMSGSIZE, EAFNOSUPPORT (an address
  // of the other family), EBADF on a closed socket.
  Task<Result<size_t>> send_to(std::span<const char> data, SocketAddr to, Instant deadline = kNoDeadline) const;
  // The next datagram and its sender.
  Task<Result<ReceivedFrom<SocketAddr>>> recv_from(std::span<char> buf, Instant deadline = kNoDeadline) const;

  // Fixes the peer: send/recv, and datagrams from anyone else are dropped. Never blocks.
  Task<Result<void>> connect(SocketAddr peer, Instant deadline = kNoDeadline) const;
  // Connected only (else EDESTADDRREQ for send; recv takes any sender's datagram).
  io::SizeAwaiter send(std::span<const char> data, Instant deadline = kNoDeadline) const;
  ReceiveAwaiter recv(std::span<char> buf, Instant deadline = kNoDeadline) const;

  Result<SocketAddr> local_addr() const;
  Result<SocketAddr> peer_addr() const;  // ENOTCONN unless connected
  io::VoidAwaiter close() noexcept { return d_.close(); }
  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 private:
  explicit UdpSocket(io::Descriptor d) noexcept : d_(std::move(d)) {}
  io::Descriptor d_;
};

}  // namespace ringo::net
