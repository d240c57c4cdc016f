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

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "ringo/io.hpp"

namespace ringo::net {

namespace detail {
class Acceptor;
struct AcceptorRetire {
  void operator()(Acceptor* a) const noexcept;
};
class RecvPool;
class BufReader;
struct BufReaderRetire {
  void operator()(BufReader* r) const noexcept;
};
struct SendBlock;
void unref(SendBlock* block) noexcept;
}  // namespace detail

// ---- provided receive buffers (docs/io.md, "Buffer rings and multishot receive") ----

// The shape of a shard's receive-buffer ring: `count` buffers (a power of two, at most
// kMaxRecvBuffers) of `size` bytes (at most kMaxRecvBufferSize). One ring per shard,
// registered with the kernel on the shard's first recv_buffered(); default 256 x 4 KiB.
inline constexpr uint32_t kMaxRecvBuffers = 32768;        // io_uring's limit per ring
inline constexpr uint32_t kMaxRecvBufferSize = 1u << 20;  // 1 MiB
struct RecvBufferOptions {
  uint32_t count = 256;
  uint32_t size = 4096;
};
// Sets the current shard's ring shape; only before its first recv_buffered().
// Errors: errc::invalid_argument (bad shape), EBUSY (already registered),
// errc::not_in_runtime.
Result<void> configure_recv_buffers(RecvBufferOptions options);
// Buffers of the current shard's ring that are out of the kernel's hands: held by a
// RecvBuffer or queued in a stream for its next recv_buffered(). 0 outside a runtime.
size_t recv_buffers_outstanding() noexcept;

// Received bytes in a buffer borrowed from the shard's ring. Move-only; the buffer goes
// back to the ring (and so to the kernel) when the RecvBuffer is destroyed or release()d,
// exactly once. Empty (size() == 0) means end of stream. Like every I/O object it belongs
// to its shard and must not outlive its Runtime (debug builds assert that it does not).
class RecvBuffer {
 public:
  RecvBuffer() = default;
  RecvBuffer(RecvBuffer&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), id_(o.id_), data_(o.data_), size_(std::exchange(o.size_, 0)) {}
  RecvBuffer& operator=(RecvBuffer&& o) noexcept {
    if (this != &o) {
      release();
      pool_ = std::exchange(o.pool_, nullptr);
      id_ = o.id_;
      data_ = o.data_;
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~RecvBuffer() { release(); }

  std::span<const char> span() const noexcept { return {data_, size_}; }
  std::string_view view() const noexcept { return {data_, size_}; }
  const char* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Gives the buffer back now; the RecvBuffer is then empty.
  void release() noexcept;

 private:
  friend class detail::BufReader;
  RecvBuffer(detail::RecvPool* pool, uint16_t id, const char* data, uint32_t size) noexcept
      : pool_(pool), id_(id), data_(data), size_(size) {}
  detail::RecvPool* pool_ = nullptr;
  uint16_t id_ = 0;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// ---- owned send buffers (docs/io.md, "Zero-copy send") ----

// Bytes for StreamSocket::write_all_owned: one heap block the caller fills and then moves
// into the write, which keeps it until the kernel has let go of its pages (the zero-copy
// notification) and then frees it, on the socket's shard, whatever happened meanwhile (the
// write returned, failed or was cancelled, the socket closed, or the shard stopped). There
// is no way to reach the bytes after the move. Move-only; a default-constructed or
// moved-from SendBuffer is empty (no memory). Any thread may make one.
class SendBuffer {
 public:
  SendBuffer() = default;
  // `size` bytes, not initialised (std::bad_alloc as operator new).
  explicit SendBuffer(size_t size);
  // A SendBuffer holding a copy of bytes.
  static SendBuffer copy_of(std::span<const char> bytes);
  SendBuffer(SendBuffer&& o) noexcept
      : block_(std::exchange(o.block_, nullptr)),
        data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  SendBuffer& operator=(SendBuffer&& o) noexcept {
    if (this != &o) {
      detail::unref(block_);
      block_ = std::exchange(o.block_, nullptr);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }
  ~SendBuffer() { detail::unref(block_); }

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<char> span() noexcept { return {data_, size_}; }
  std::span<const char> span() const noexcept { return {data_, size_}; }
  // Sets how many of the block's bytes a write sends (fill a large buffer, then shrink it
  // to what was filled). errc::invalid_argument beyond capacity().
  Result<void> resize(size_t size) noexcept;

 private:
  friend class StreamSocket;
  detail::SendBlock* block_ = nullptr;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};
// SendBuffer blocks a write handed to the kernel that the kernel has not let go of yet, on
// the current shard (0 outside a runtime).
size_t send_buffers_in_kernel() noexcept;
// SendBuffer blocks alive in the process (made and not yet freed): for leak checks.
size_t send_buffers_alive() noexcept;

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
  StreamSocket(StreamSocket&&) noexcept = default;
  // Retires this socket's reader (its multishot cancelled) before its descriptor closes,
  // the order the destructor and close() keep (a defaulted one would close first).
  StreamSocket& operator=(StreamSocket&& o) noexcept {
    if (this != &o) {
      reader_.reset();
      d_ = std::move(o.d_);
      reader_ = std::move(o.reader_);
    }
    return *this;
  }
  ~StreamSocket() = default;

  // Reads what is there (up to buf.size()); 0 when the peer shut down its side.
  // errc::invalid_argument once recv_buffered() was used on this stream.
  io::SizeAwaiter read(std::span<char> buf, Instant deadline = kNoDeadline) const;
  // The next received bytes in a buffer borrowed from the shard's ring (RecvBuffer); an
  // empty RecvBuffer at end of stream. The first call arms one multishot receive that
  // stays armed: data arrives into ring buffers and waits in the stream until taken, in
  // order. A cancelled or timed-out call loses nothing (what arrived stays queued for the
  // next call). When the ring runs dry the kernel stops (ENOBUFS, the data stays in the
  // socket) and the stream re-arms as buffers come back. Errors end the stream: every
  // later call reports the same error. EOPNOTSUPP where the ring has no multishot receive
  // (io_uring before 6.0); a copy on AIO (emulated). After the first call, read() on this
  // stream is refused: the two would race for the bytes.
  Task<Result<RecvBuffer>> recv_buffered(Instant deadline = kNoDeadline) const;
  Task<Result<void>> read_exact(std::span<char> buf, Instant deadline = kNoDeadline) const;
  // Writes some of data (at least 1 byte unless data is empty).
  io::SizeAwaiter write(std::span<const char> data, Instant deadline = kNoDeadline) const;
  // Writes all of data (copied into the kernel: data may be reused as soon as this returns).
  Task<Result<void>> write_all(std::span<const char> data, Instant deadline = kNoDeadline) const;
  // Writes all of data with SEND_ZC where the ring has it (io_uring 6.0+, the simulator;
  // else as write_all): the kernel sends from data's pages without copying them, and each
  // part completes only at the kernel's notification that it let go of them, so data may
  // be reused as soon as this returns. That notification comes when the peer acknowledges
  // the bytes, so a call lasts at least a round trip and, against a peer that delays its
  // ACK (Linux: up to 40 ms) because it waits for more before answering, that long: worth
  // it for large bulk writes on a NIC, never for request/response (docs/io.md, measured).
  Task<Result<void>> write_all_zero_copy(std::span<const char> data, Instant deadline = kNoDeadline) const;
  // Writes all of buf zero-copy without waiting for the peer: each SEND_ZC part completes
  // at its result (the bytes are queued in the socket), while buf stays owned by the write
  // until the kernel's notification that it let go of the pages, and is then freed on this
  // stream's shard (SendBuffer). So the next write can start at once, unlike
  // write_all_zero_copy. Errors and cancellation as write_all: on an error, timeout or
  // cancel some prefix of buf may have been sent. An empty buf writes nothing. Where the
  // ring has no SEND_ZC (AIO, io_uring before 6.0) the parts are plain sends (copied) and
  // buf is freed when the write ends.
  Task<Result<void>> write_all_owned(SendBuffer buf, Instant deadline = kNoDeadline) const;
  // SHUT_WR (the default) sends end-of-stream after what was written.
  io::VoidAwaiter shutdown(int how = SHUT_WR, Instant deadline = kNoDeadline) const;
  io::VoidAwaiter close() noexcept {
    reader_.reset();  // its multishot is cancelled before the descriptor closes
    return d_.close();
  }
  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 protected:
  explicit StreamSocket(io::Descriptor d) noexcept : d_(std::move(d)) {}
  io::Descriptor d_;
  // recv_buffered's multishot and queue, made by its first call. Declared after d_ so that
  // it is retired (its multishot cancelled) before d_ closes.
  mutable std::unique_ptr<detail::BufReader, detail::BufReaderRetire> reader_;
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
  // TCP_NODELAY on the listener, which every accepted socket inherits (Linux): for
  // accept loops that never see a TcpStream, such as a raw::Lane's multishot accept.
  bool nodelay = false;
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
