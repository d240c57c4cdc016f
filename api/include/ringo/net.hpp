// ringo::net: TCP over the ring. A listener or stream belongs to the shard that created
// it (see io.hpp for errors, deadlines, cancellation and thread-safety).
//
//   auto addr = net::SocketAddr::parse("127.0.0.1:0");
//   auto listener = net::TcpListener::bind(*addr);          // Result<TcpListener>
//   auto port = listener->local_addr()->port();
//   auto conn = co_await listener->accept(deadline);         // Result<TcpStream>
//   co_await conn->write_all(std::string_view("hi"));
//
// Socket creation, bind, listen and options are plain syscalls (they never block); connect,
// accept, read, write, shutdown and close go through the ring. Reading into an empty
// buffer is errc::invalid_argument (0 means the peer shut down); read_exact reports
// errc::unexpected_eof when the stream ends first. Writes never raise SIGPIPE: writing to
// a stream the peer closed fails with EPIPE or ECONNRESET. Addresses are numeric (no DNS).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>

#include "ringo/io.hpp"

namespace ringo::net {

namespace detail {
class Acceptor;
struct AcceptorRetire {
  void operator()(Acceptor* a) const noexcept;
};
}  // namespace detail

// An IPv4 or IPv6 address and port.
class SocketAddr {
 public:
  SocketAddr() = default;
  // "1.2.3.4:80" or "[::1]:80". errc::invalid_argument when malformed.
  static Result<SocketAddr> parse(std::string_view text);
  static SocketAddr loopback_v4(uint16_t port);
  static SocketAddr loopback_v6(uint16_t port);
  static SocketAddr any_v4(uint16_t port);
  static SocketAddr from(const sockaddr* sa, socklen_t len);

  int family() const noexcept { return storage_.ss_family; }
  uint16_t port() const noexcept;
  SocketAddr with_port(uint16_t port) const noexcept;
  std::string to_string() const;
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const noexcept { return length_; }

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// What every connected stream socket (TcpStream, UnixStream) does: read, write, shut down.
class StreamSocket {
 public:
  StreamSocket() = default;

  // Reads what is there (up to buf.size()); 0 when the peer shut down its side.
  io::SizeAwaiter read(std::span<char> buf, Instant deadline = kNoDeadline) const;
  Task<Result<void>> read_exact(std::span<char> buf, Instant deadline = kNoDeadline) const;
  // Writes some of data (at least 1 byte unless data is empty).
  io::SizeAwaiter write(std::span<const char> data, Instant deadline = kNoDeadline) const;
  Task<Result<void>> write_all(std::span<const char> data, Instant deadline = kNoDeadline) const;
  // SHUT_WR (the default) sends end-of-stream after what was written.
  io::VoidAwaiter shutdown(int how = SHUT_WR, Instant deadline = kNoDeadline) const;
  io::VoidAwaiter close() noexcept { return d_.close(); }
  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 protected:
  explicit StreamSocket(io::Descriptor d) noexcept : d_(std::move(d)) {}
  io::Descriptor d_;
};

// A connected TCP socket on the shard that made it: read, write, shutdown.
class TcpStream : public StreamSocket {
 public:
  TcpStream() = default;

  // Errors: ECONNREFUSED, ENETUNREACH, errc::timed_out at the deadline, EMFILE...
  static Task<Result<TcpStream>> connect(SocketAddr addr, Instant deadline = kNoDeadline);

  Result<SocketAddr> local_addr() const;
  Result<SocketAddr> peer_addr() const;
  Result<void> set_nodelay(bool on) const;

 private:
  friend class ListenerBase;
  explicit TcpStream(io::Descriptor d) noexcept : StreamSocket(std::move(d)) {}
};

// What every listening socket (TcpListener, UnixListener) holds: its descriptor and, where
// the ring offers multishot accept, the acceptor that keeps one armed (accept() below).
class ListenerBase {
 public:
  io::VoidAwaiter close() noexcept {
    acceptor_.reset();
    return d_.close();
  }
  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 protected:
  ListenerBase() = default;
  explicit ListenerBase(io::Descriptor d) noexcept;  // arms nothing yet; see TcpListener::accept
  template <class Stream>
  Task<Result<Stream>> accept_as(Instant deadline) const;
  io::Descriptor d_;
  // Declared after d_ so that it is retired (its multishot cancelled) before d_ closes.
  std::unique_ptr<detail::Acceptor, detail::AcceptorRetire> acceptor_;

 private:
  template <class Stream>
  Task<Result<Stream>> accept_one(Instant deadline) const;
  template <class Stream>
  Task<Result<Stream>> accept_queued(Instant deadline) const;
};

// Socket options for TcpListener::bind.
struct ListenOptions {
  int backlog = 1024;
  bool reuse_addr = true;
  bool reuse_port = false;  // several listeners (one per shard) on one port
};

// A listening TCP socket: accept() gives a TcpStream per connection.
class TcpListener : public ListenerBase {
 public:
  TcpListener() = default;

  // socket + bind + listen on the current shard. Errors: EADDRINUSE, EACCES,
  // EADDRNOTAVAIL, errc::not_in_runtime.
  static Result<TcpListener> bind(const SocketAddr& addr, ListenOptions options = {});
  // The next connection. Where the ring offers multishot accept (io_uring 5.19+, the
  // simulator), the first accept() arms one multishot request that keeps accepting:
  // connections wait in the listener (at most 128; beyond that in the kernel's backlog)
  // and each accept() takes the oldest. Several routines may wait in accept() at once;
  // they are served in order. A cancelled or timed-out accept() loses no connection: it
  // stays queued for the next call. Errors the kernel reports for the multishot (EMFILE,
  // ENFILE...) go to one accept() each; closing or destroying the listener fails the
  // waiting accept()s with EBADF and closes the connections still queued (on its shard:
  // destroyed on another thread, its multishot stays armed until the runtime stops). Without
  // multishot, each accept() is one ACCEPT op; a connection accepted while the routine
  // was being cancelled is then returned (the caller owns it).
  Task<Result<TcpStream>> accept(Instant deadline = kNoDeadline) const;
  Result<SocketAddr> local_addr() const;

 private:
  explicit TcpListener(io::Descriptor d) noexcept : ListenerBase(std::move(d)) {}
};

}  // namespace ringo::net
