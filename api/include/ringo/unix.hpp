// ringo::net Unix domain sockets: UnixListener/UnixStream (streams: the same reads,
// writes and accepts as TCP, StreamSocket and ListenerBase in net.hpp) and UnixDatagram
// (datagrams, datagram.hpp: reliable and in order, unlike UDP). A socket belongs to the
// shard that created it (io.hpp).
//
//   auto where = net::UnixAddress::abstract("my-service");   // or ::path("/run/x.sock")
//   auto listener = net::UnixListener::bind(*where);
//   auto conn = co_await net::UnixStream::connect(*where, deadline);
//
// Names: a filesystem path (bind creates the socket file and fails with EADDRINUSE while
// it exists: remove it first; ringo never unlinks it) or a Linux abstract name (no file;
// gone with the last socket bound to it). In the simulator neither touches the disk: the
// simulated kernel keeps its own namespace of names.
#pragma once

#include <sys/un.h>

#include <memory>
#include <string>
#include <string_view>

#include "ringo/datagram.hpp"
#include "ringo/net.hpp"

namespace ringo::net {

// A Unix socket address: a path, an abstract name, or unnamed (an unbound peer).
class UnixAddress {
 public:
  UnixAddress() = default;
  // errc::invalid_argument when empty, longer than 107 bytes, or holding a NUL byte.
  static Result<UnixAddress> path(std::string_view path);
  // errc::invalid_argument when longer than 107 bytes.
  static Result<UnixAddress> abstract(std::string_view name);
  static UnixAddress from(const sockaddr* sa, socklen_t len);

  bool is_abstract() const noexcept;
  bool is_unnamed() const noexcept { return length_ <= sizeof(sa_family_t); }
  // The path, or the abstract name without its leading NUL.
  std::string name() const;
  // The path, "@name" for an abstract name, "(unnamed)".
  std::string to_string() const;
  int family() const noexcept { return addr_.sun_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&addr_); }
  socklen_t length() const noexcept { return length_; }

 private:
  sockaddr_un addr_{};
  socklen_t length_ = 0;
};

class UnixStream : public StreamSocket {
 public:
  UnixStream() = default;
  // Errors: ECONNREFUSED (nobody listens there), ENOENT (no such path), errc::timed_out.
  static Task<Result<UnixStream>> connect(UnixAddress addr, Instant deadline = kNoDeadline);
  Result<UnixAddress> local_addr() const;
  Result<UnixAddress> peer_addr() const;

 private:
  friend class ListenerBase;
  explicit UnixStream(io::Descriptor d) noexcept : StreamSocket(std::move(d)) {}
};

// A listening Unix stream socket; accept() behaves as TcpListener::accept (multishot,
// nothing lost to cancellation).
class UnixListener : public ListenerBase {
 public:
  UnixListener() = default;
  // Errors: EADDRINUSE (the name is taken, or the path exists), ENOENT, EACCES.
  static Result<UnixListener> bind(const UnixAddress& addr, int backlog = 1024);
  Task<Result<UnixStream>> accept(Instant deadline = kNoDeadline) const;
  Result<UnixAddress> local_addr() const;

 private:
  explicit UnixListener(io::Descriptor d) noexcept : ListenerBase(std::move(d)) {}
};

// A Unix datagram socket: as UdpSocket, with Unix addresses. A send to a receiver whose
// queue is full waits (Unix datagrams are never dropped), so sends take deadlines too.
// A datagram received by UnixDatagram::recv_from_buffered (datagram.hpp). Each ring buffer
// keeps kUnixDatagramHeadroom bytes (the kernel's header and room for a sockaddr_un) before
// the payload: 3,968 bytes of payload with the default 4 KiB buffers.
using UnixDatagramBuffer = BufferedDatagram<UnixAddress>;
inline constexpr size_t kUnixDatagramHeadroom = 128;

class UnixDatagram {
 public:
  UnixDatagram() = default;
  UnixDatagram(UnixDatagram&&) noexcept = default;
  // Retires this socket's reader (its multishot cancelled) before its descriptor closes,
  // the order the destructor and close() keep (a defaulted one would close first).
  UnixDatagram& operator=(UnixDatagram&& o) noexcept {
    if (this != &o) {
      reader_.reset();
      d_ = std::move(o.d_);
      reader_ = std::move(o.reader_);
    }
    return *this;
  }
  ~UnixDatagram() = default;
  // A socket bound to addr; unbound() makes one without a name: it can send, but nobody
  // can address a reply to it.
  static Result<UnixDatagram> bind(const UnixAddress& addr);
  static Result<UnixDatagram> unbound();

  Task<Result<size_t>> send_to(std::span<const char> data, UnixAddress to, Instant deadline = kNoDeadline) const;
  // errc::invalid_argument (as recv) once recv_from_buffered() was used on this socket.
  Task<Result<ReceivedFrom<UnixAddress>>> recv_from(std::span<char> buf, Instant deadline = kNoDeadline) const;
  // As UdpSocket::recv_from_buffered (udp.hpp): one multishot receive over the shard's
  // buffer ring, datagrams handed out in ring buffers with their sender.
  Task<Result<UnixDatagramBuffer>> recv_from_buffered(Instant deadline = kNoDeadline) const;
  Task<Result<void>> connect(UnixAddress peer, Instant deadline = kNoDeadline) const;
  io::SizeAwaiter send(std::span<const char> data, Instant deadline = kNoDeadline) const;
  ReceiveAwaiter recv(std::span<char> buf, Instant deadline = kNoDeadline) const;

  Result<UnixAddress> local_addr() const;
  Result<UnixAddress> peer_addr() const;
  io::VoidAwaiter close() noexcept {
    reader_.reset();  // its multishot is cancelled before the descriptor closes
    return d_.close();
  }
  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 private:
  explicit UnixDatagram(io::Descriptor d) noexcept : d_(std::move(d)) {}
  io::Descriptor d_;
  // recv_from_buffered's multishot, as UdpSocket's; declared after d_ (retired first).
  mutable std::unique_ptr<detail::BufReader, detail::BufReaderRetire> reader_;
};

}  // namespace ringo::net
