// ringo::net::UdpSocket (udp.hpp): bind, datagrams with and without a peer, buffered
// (multishot) receive, addresses.
#include "ringo/udp.hpp"

#include "datagram_access.hpp"
#include "socket_calls.hpp"

namespace ringo::net {

using namespace ringo::detail;

static_assert(kDatagramHeadroom == sizeof(RecvMsgOut) + detail::DatagramAccess::kNameRoom);

Result<UdpSocket> UdpSocket::bind(const SocketAddr& addr, UdpOptions options) {
  if (addr.family() != AF_INET && addr.family() != AF_INET6) return fail(errc::invalid_argument);
  Result<io::Descriptor> d = detail::new_socket(addr.family(), SOCK_DGRAM);
  if (!d) return std::unexpected(d.error());
  if (options.reuse_addr) {
    if (auto r = detail::set_option(*d, SockOption::reuse_addr, true); !r) return std::unexpected(r.error());
  }
  if (options.reuse_port) {
    if (auto r = detail::set_option(*d, SockOption::reuse_port, true); !r) return std::unexpected(r.error());
  }
  if (auto r = detail::bind_to(*d, addr.get(), addr.length()); !r) return std::unexpected(r.error());
  return UdpSocket(std::move(*d));
}

Task<Result<size_t>> UdpSocket::send_to(std::span<const char> data, SocketAddr to, Instant deadline) const {
  return detail::send_datagram(d_, data, detail::copy_address(to.get(), to.length()), to.length(), deadline);
}

Task<Result<ReceivedFrom<SocketAddr>>> UdpSocket::recv_from(std::span<char> buf, Instant deadline) const {
  return detail::recv_datagram<SocketAddr>(d_, buf, deadline, reader_ != nullptr);
}

Task<Result<UdpDatagram>> UdpSocket::recv_from_buffered(Instant deadline) const {
  return detail::recv_buffered_datagram<SocketAddr>(d_, reader_, detail::DatagramAccess::kNameRoom, deadline);
}

Task<Result<void>> UdpSocket::connect(SocketAddr peer, Instant deadline) const {
  return detail::connect_to(d_, detail::copy_address(peer.get(), peer.length()), peer.length(), deadline);
}

io::SizeAwaiter UdpSocket::send(std::span<const char> data, Instant deadline) const {
  return detail::send_connected(d_, data, deadline);
}

ReceiveAwaiter UdpSocket::recv(std::span<char> buf, Instant deadline) const {
  ReceiveAwaiter a = detail::recv_connected(d_, buf, deadline);
  if (!a.early && reader_) a.early = make_error_code(errc::invalid_argument);
  return a;
}

Result<SocketAddr> UdpSocket::local_addr() const { return detail::address_of<SocketAddr>(d_, SysOp::local_addr); }
Result<SocketAddr> UdpSocket::peer_addr() const { return detail::address_of<SocketAddr>(d_, SysOp::peer_addr); }

}  // namespace ringo::net
