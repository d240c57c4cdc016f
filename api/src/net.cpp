// ringo::net (net.hpp): SocketAddr parsing and printing, TcpStream and TcpListener over the
// current shard's ring (a listener's multishot accept is acceptor.cpp).
#include "ringo/net.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "listener_accept.hpp"
#include "ringo/deadline.hpp"
#include "socket_calls.hpp"
#include "transfer_all.hpp"

namespace ringo::net {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

// ---------------------------------------------------------------- SocketAddr

Result<SocketAddr> SocketAddr::parse(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return fail(errc::invalid_argument);
  unsigned port = 0;
  const std::string_view port_text = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) {
    return fail(errc::invalid_argument);
  }
  std::string host(text.substr(0, colon));
  SocketAddr a;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.storage_);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6.sin6_addr) != 1) {
      return fail(errc::invalid_argument);
    }
    a.length_ = sizeof in6;
    return a;
  }
  auto& in = reinterpret_cast<sockaddr_in&>(a.storage_);
  in.sin_family = AF_INET;
  in.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &in.sin_addr) != 1) return fail(errc::invalid_argument);
  a.length_ = sizeof in;
  return a;
}

SocketAddr SocketAddr::loopback_v4(uint16_t port) { return *parse("127.0.0.1:" + std::to_string(port)); }
SocketAddr SocketAddr::loopback_v6(uint16_t port) { return *parse("[::1]:" + std::to_string(port)); }
SocketAddr SocketAddr::any_v4(uint16_t port) { return *parse("0.0.0.0:" + std::to_string(port)); }

SocketAddr SocketAddr::from(const sockaddr* sa, socklen_t len) {
  SocketAddr a;
  a.length_ = std::min<socklen_t>(len, sizeof a.storage_);
  std::memcpy(&a.storage_, sa, a.length_);
  return a;
}

uint16_t SocketAddr::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(storage_).sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage_).sin6_port);
  return 0;
}

SocketAddr SocketAddr::with_port(uint16_t port) const noexcept {
  SocketAddr a = *this;
  if (family() == AF_INET) reinterpret_cast<sockaddr_in&>(a.storage_).sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6&>(a.storage_).sin6_port = htons(port);
  return a;
}

std::string SocketAddr::to_string() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage_).sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage_).sin6_addr, host, sizeof host);
    std::string out = "[";  // appended piecewise: GCC 12 -O2 warns falsely on "[" + string
    out.append(host).append("]:").append(std::to_string(port()));
    return out;
  }
  return "(unspecified)";
}

// ---------------------------------------------------------------- helpers

namespace {

using detail::listen_on;
using detail::set_option;

// A TCP socket: an IPv4 or IPv6 stream socket (any other family is invalid here).
Result<io::Descriptor> new_socket(int family) {
  if (family != AF_INET && family != AF_INET6) return fail(errc::invalid_argument);
  return detail::new_socket(family, SOCK_STREAM);
}

Result<SocketAddr> address_of(const io::Descriptor& d, SysOp op) { return detail::address_of<SocketAddr>(d, op); }

}  // namespace

// ---------------------------------------------------------------- TcpStream

Task<Result<TcpStream>> TcpStream::connect(SocketAddr addr, Instant deadline) {
  Result<io::Descriptor> d = new_socket(addr.family());
  if (!d) co_return std::unexpected(d.error());
  Sqe sqe;
  sqe.opcode = Opcode::connect;
  sqe.addr = reinterpret_cast<uintptr_t>(addr.get());
  sqe.len = addr.length();
  Result<void> r = co_await d->op<io::VoidAwaiter>(sqe, deadline);
  if (!r) co_return std::unexpected(r.error());  // the socket closes with d
  co_return TcpStream(std::move(*d));
}

io::SizeAwaiter StreamSocket::read(std::span<char> buf, Instant deadline) const {
  io::SizeAwaiter a = d_.op<io::SizeAwaiter>(io::transfer_sqe(Opcode::recv, buf.data(), buf.size(), 0), deadline);
  if (!a.early && (buf.empty() || reader_)) a.early = make_error_code(errc::invalid_argument);
  return a;
}

io::SizeAwaiter StreamSocket::write(std::span<const char> data, Instant deadline) const {
  return d_.op<io::SizeAwaiter>(io::transfer_sqe(Opcode::send, data.data(), data.size(), MSG_NOSIGNAL), deadline);
}

Task<Result<void>> StreamSocket::read_exact(std::span<char> buf, Instant deadline) const {
  const auto step = [this, buf, deadline](size_t done) { return read(buf.subspan(done), deadline); };
  return io::detail::transfer_all(buf.size(), step, make_error_code(errc::unexpected_eof));
}

Task<Result<void>> StreamSocket::write_all(std::span<const char> data, Instant deadline) const {
  const auto step = [this, data, deadline](size_t done) { return write(data.subspan(done), deadline); };
  return io::detail::transfer_all(data.size(), step, {});  // a send of a non-empty buffer never returns 0
}

Task<Result<void>> StreamSocket::write_all_zero_copy(std::span<const char> data, Instant deadline) const {
  Shard* home = d_.home();
  const Opcode op = zero_copy_ && home != nullptr && home->ring().caps().send_zc ? Opcode::send_zc : Opcode::send;
  const auto step = [this, data, deadline, op](size_t done) {
    const std::span<const char> rest = data.subspan(done);
    return d_.op<io::SizeAwaiter>(io::transfer_sqe(op, rest.data(), rest.size(), MSG_NOSIGNAL), deadline);
  };
  return io::detail::transfer_all(data.size(), step, {});
}

io::VoidAwaiter StreamSocket::shutdown(int how, Instant deadline) const {
  Sqe sqe;
  sqe.opcode = Opcode::shutdown;
  sqe.len = static_cast<uint32_t>(how);
  return d_.op<io::VoidAwaiter>(sqe, deadline);
}

Result<SocketAddr> TcpStream::local_addr() const { return address_of(d_, SysOp::local_addr); }
Result<SocketAddr> TcpStream::peer_addr() const { return address_of(d_, SysOp::peer_addr); }
Result<void> TcpStream::set_nodelay(bool on) const { return set_option(d_, SockOption::nodelay, on); }

// ---------------------------------------------------------------- TcpListener

Result<TcpListener> TcpListener::bind(const SocketAddr& addr, ListenOptions options) {
  if (options.backlog <= 0) return fail(errc::invalid_argument);
  Result<io::Descriptor> d = new_socket(addr.family());
  if (!d) return std::unexpected(d.error());
  if (options.reuse_addr) {
    if (auto r = set_option(*d, SockOption::reuse_addr, true); !r) return std::unexpected(r.error());
  }
  if (options.reuse_port) {
    if (auto r = set_option(*d, SockOption::reuse_port, true); !r) return std::unexpected(r.error());
  }
  if (options.nodelay) {
    if (auto r = set_option(*d, SockOption::nodelay, true); !r) return std::unexpected(r.error());
  }
  if (auto r = detail::bind_to(*d, addr.get(), addr.length()); !r) return std::unexpected(r.error());
  if (auto r = listen_on(*d, options.backlog); !r) return std::unexpected(r.error());
  return TcpListener(std::move(*d));
}

// ---------------------------------------------------------------- listeners

ListenerBase::ListenerBase(io::Descriptor d) noexcept : d_(std::move(d)) {
  Shard* home = d_.home();
  if (home->ring().caps().multishot_accept) acceptor_.reset(new detail::Acceptor(home, d_.fd()));
}

Task<Result<TcpStream>> TcpListener::accept(Instant deadline) const { return accept_as<TcpStream>(deadline); }

Result<SocketAddr> TcpListener::local_addr() const { return address_of(d_, SysOp::local_addr); }

}  // namespace ringo::net
