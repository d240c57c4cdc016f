// Unix domain sockets (unix.hpp): addresses, streams and listeners over the shared stream
// machinery (net.cpp, listener_accept.hpp), datagrams over socket_calls.
#include "ringo/unix.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "datagram_access.hpp"
#include "listener_accept.hpp"
#include "socket_calls.hpp"

namespace ringo::net {

using namespace ringo::detail;

namespace {

constexpr size_t kPathRoom = sizeof(sockaddr_un::sun_path);  // 108, the NUL or the abstract lead included
constexpr socklen_t kHeader = offsetof(sockaddr_un, sun_path);
static_assert(kUnixDatagramHeadroom == sizeof(RecvMsgOut) + net::detail::DatagramAccess::kUnixNameRoom);
static_assert(sizeof(sockaddr_un) <= net::detail::DatagramAccess::kUnixNameRoom);

Result<io::Descriptor> unix_socket(int type) { return detail::new_socket(AF_UNIX, type); }

}  // namespace

// ---------------------------------------------------------------- UnixAddress

Result<UnixAddress> UnixAddress::path(std::string_view path) {
  if (path.empty() || path.size() >= kPathRoom || path.find('\0') != std::string_view::npos) {
    return fail(errc::invalid_argument);
  }
  UnixAddress a;
  a.addr_.sun_family = AF_UNIX;
  std::memcpy(a.addr_.sun_path, path.data(), path.size());
  a.length_ = static_cast<socklen_t>(kHeader + path.size() + 1);
  return a;
}

Result<UnixAddress> UnixAddress::abstract(std::string_view name) {
  if (name.size() + 1 > kPathRoom) return fail(errc::invalid_argument);
  UnixAddress a;
  a.addr_.sun_family = AF_UNIX;
  std::memcpy(a.addr_.sun_path + 1, name.data(), name.size());  // sun_path[0] stays NUL
  a.length_ = static_cast<socklen_t>(kHeader + 1 + name.size());
  return a;
}

UnixAddress UnixAddress::from(const sockaddr* sa, socklen_t len) {
  UnixAddress a;
  a.length_ = std::min<socklen_t>(len, sizeof a.addr_);
  std::memcpy(&a.addr_, sa, a.length_);
  return a;
}

bool UnixAddress::is_abstract() const noexcept { return length_ > kHeader && addr_.sun_path[0] == '\0'; }

std::string UnixAddress::name() const {
  if (length_ <= kHeader) return {};
  const size_t n = length_ - kHeader;
  if (is_abstract()) return std::string(addr_.sun_path + 1, n - 1);
  return std::string(addr_.sun_path, strnlen(addr_.sun_path, n));
}

std::string UnixAddress::to_string() const {
  if (length_ <= kHeader) return "(unnamed)";
  if (!is_abstract()) return name();
  return std::string("@").append(name());  // not "@" + name(): GCC 12 -Wrestrict false positive
}

// ---------------------------------------------------------------- streams

Task<Result<UnixStream>> UnixStream::connect(UnixAddress addr, Instant deadline) {
  Result<io::Descriptor> d = unix_socket(SOCK_STREAM);
  if (!d) co_return std::unexpected(d.error());
  Result<void> r =
      co_await detail::connect_to(*d, detail::copy_address(addr.get(), addr.length()), addr.length(), deadline);
  if (!r) co_return std::unexpected(r.error());
  co_return UnixStream(std::move(*d));
}

Result<UnixAddress> UnixStream::local_addr() const { return detail::address_of<UnixAddress>(d_, SysOp::local_addr); }
Result<UnixAddress> UnixStream::peer_addr() const { return detail::address_of<UnixAddress>(d_, SysOp::peer_addr); }

Result<UnixListener> UnixListener::bind(const UnixAddress& addr, int backlog) {
  if (backlog <= 0 || addr.is_unnamed()) return fail(errc::invalid_argument);
  Result<io::Descriptor> d = unix_socket(SOCK_STREAM);
  if (!d) return std::unexpected(d.error());
  if (auto r = detail::bind_to(*d, addr.get(), addr.length()); !r) return std::unexpected(r.error());
  if (auto r = detail::listen_on(*d, backlog); !r) return std::unexpected(r.error());
  return UnixListener(std::move(*d));
}

Task<Result<UnixStream>> UnixListener::accept(Instant deadline) const { return accept_as<UnixStream>(deadline); }

Result<UnixAddress> UnixListener::local_addr() const { return detail::address_of<UnixAddress>(d_, SysOp::local_addr); }

// ---------------------------------------------------------------- datagrams

Result<UnixDatagram> UnixDatagram::bind(const UnixAddress& addr) {
  if (addr.is_unnamed()) return fail(errc::invalid_argument);
  Result<io::Descriptor> d = unix_socket(SOCK_DGRAM);
  if (!d) return std::unexpected(d.error());
  if (auto r = detail::bind_to(*d, addr.get(), addr.length()); !r) return std::unexpected(r.error());
  return UnixDatagram(std::move(*d));
}

Result<UnixDatagram> UnixDatagram::unbound() {
  Result<io::Descriptor> d = unix_socket(SOCK_DGRAM);
  if (!d) return std::unexpected(d.error());
  return UnixDatagram(std::move(*d));
}

Task<Result<size_t>> UnixDatagram::send_to(std::span<const char> data, UnixAddress to, Instant deadline) const {
  return detail::send_datagram(d_, data, detail::copy_address(to.get(), to.length()), to.length(), deadline);
}

Task<Result<ReceivedFrom<UnixAddress>>> UnixDatagram::recv_from(std::span<char> buf, Instant deadline) const {
  return detail::recv_datagram<UnixAddress>(d_, buf, deadline, reader_ != nullptr);
}

Task<Result<UnixDatagramBuffer>> UnixDatagram::recv_from_buffered(Instant deadline) const {
  return detail::recv_buffered_datagram<UnixAddress>(d_, reader_, detail::DatagramAccess::kUnixNameRoom, deadline);
}

Task<Result<void>> UnixDatagram::connect(UnixAddress peer, Instant deadline) const {
  return detail::connect_to(d_, detail::copy_address(peer.get(), peer.length()), peer.length(), deadline);
}

io::SizeAwaiter UnixDatagram::send(std::span<const char> data, Instant deadline) const {
  return detail::send_connected(d_, data, deadline);
}

ReceiveAwaiter UnixDatagram::recv(std::span<char> buf, Instant deadline) const {
  ReceiveAwaiter a = detail::recv_connected(d_, buf, deadline);
  if (!a.early && reader_) a.early = make_error_code(errc::invalid_argument);
  return a;
}

Result<UnixAddress> UnixDatagram::local_addr() const { return detail::address_of<UnixAddress>(d_, SysOp::local_addr); }
Result<UnixAddress> UnixDatagram::peer_addr() const { return detail::address_of<UnixAddress>(d_, SysOp::peer_addr); }

}  // namespace ringo::net
