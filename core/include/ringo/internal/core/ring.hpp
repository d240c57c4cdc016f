// The Ring: the one seam between the engine and a kernel (real io_uring, the simulator,
// or a mock). One Ring per shard, used by that shard's thread only. The interface is
// batch-oriented and shaped like io_uring, so a backend maps it one to one.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ringo/clock.hpp"
#include "ringo/error.hpp"

namespace ringo::detail {

enum class Opcode : uint8_t {
  nop,
  read,
  write,
  readv,
  writev,
  fsync,   // len = fsync flags (1 = datasync)
  openat,  // fd = dirfd, addr = NUL-terminated path, len = open flags, off = mode
  close,
  accept,        // addr = sockaddr out, off = socklen_t* in/out, len = accept4 flags,
                 // ioprio = kAcceptMultishot: one CQE per connection (see kCqeMore)
  connect,       // addr = sockaddr, len = its length
  recv,          // addr = buffer, len = size, off = msg flags
  send,          // addr = buffer, len = size, off = msg flags
  shutdown,      // len = how (SHUT_RD/SHUT_WR/SHUT_RDWR)
  timeout,       // off = relative duration in ns; completes with -ETIME when it expires
  async_cancel,  // addr = user_data of the op to cancel
  msg_ring,      // fd = target ring id, len = res delivered, off = user_data delivered
  poll_add,      // len = poll mask
  sendmsg,       // addr = msghdr* (name = destination or null), off = msg flags
  recvmsg,       // addr = msghdr* (name filled with the sender; msg_flags gets MSG_TRUNC), off = msg flags
  send_zc,       // as send, zero-copy (io_uring's SEND_ZC, 6.0+): two CQEs, see kCqeNotif
  count_,
};

const char* opcode_name(Opcode op) noexcept;

// Backend-neutral submission. Fields mean what they mean in io_uring's SQE.
struct Sqe {
  Opcode opcode = Opcode::nop;
  uint8_t flags = 0;    // kSqeSkipSuccess, kSqeBufferSelect
  uint16_t ioprio = 0;  // opcode-specific flags, as in io_uring (kAcceptMultishot, kRecvMultishot)
  int32_t fd = -1;
  uint64_t addr = 0;
  uint32_t len = 0;
  uint64_t off = 0;
  uint64_t user_data = 0;
  uint16_t buf_group = 0;  // with kSqeBufferSelect: the provided-buffer group to pick from
  // A deadline means io_uring's IOSQE_IO_LINK + LINK_TIMEOUT: the ring posts the op's
  // own CQE (-ECANCELED if the deadline won) and one more CQE with timeout_user_data
  // (-ETIME if the deadline fired, anything else if the op won).
  Instant deadline = kNoDeadline;
  uint64_t timeout_user_data = 0;
};

struct Cqe {
  uint64_t user_data = 0;
  int32_t res = 0;
  uint32_t flags = 0;
};

// A multishot accept stays armed and posts one CQE per connection. Each CQE but the last
// carries kCqeMore; a CQE without it (an error, -ECANCELED, or the kernel ending the
// multishot for its own reasons) is the op's last. Same values as io_uring's
// IORING_ACCEPT_MULTISHOT and IORING_CQE_F_MORE.
inline constexpr uint16_t kAcceptMultishot = 1u << 0;
inline constexpr uint32_t kCqeMore = 1u << 1;

// What a ringo MSG_RING delivers as the target CQE's res (the Sqe's len): the sending
// shard's index in the high 16 bits, a 16-bit tag in the low 16 (0xFFFF: a doorbell). The
// one packing of that word: every sender (Shard, the real engines' ring-less doorbells)
// and the receiver use these two.
struct MsgRes {
  uint32_t from;
  uint16_t tag;
};
inline constexpr uint32_t pack_msg_res(uint32_t from, uint16_t tag) noexcept { return (from << 16) | tag; }
inline constexpr MsgRes unpack_msg_res(int32_t res) noexcept {
  const auto word = static_cast<uint32_t>(res);
  return {word >> 16, static_cast<uint16_t>(word & 0xFFFF)};
}

// Sqe::flags: a successful op posts no CQE, only a failed one does (io_uring's
// IOSQE_CQE_SKIP_SUCCESS, 5.17+, so wherever MSG_RING is). The simulator honours it on
// every op (ringo's doorbells, MSG_RINGs, are its one user): a NOP and an ASYNC_CANCEL
// that found its target are silent; a TIMEOUT's expiry (-ETIME) is a failure and posts. A success that
// carries a provided buffer is skipped too, its buffer consumed: it never comes back
// unless the owner recycles it (io_uring does that; so do AIO and the simulator).
inline constexpr uint8_t kSqeSkipSuccess = 1u << 0;

// Provided buffers (io_uring's IOSQE_BUFFER_SELECT with a registered buffer ring, 5.19+):
// a RECV with kSqeBufferSelect, addr 0 and len 0 takes one buffer of group Sqe::buf_group
// when data arrives; its CQE carries kCqeBuffer and the buffer's id in the flags' top 16
// bits (cqe_buffer_id). A buffer so handed out belongs to the receiver until it gives it
// back (Ring::recycle_buffer). With none left the RECV fails with -ENOBUFS and the data
// stays in the socket. kRecvMultishot (ioprio, IORING_RECV_MULTISHOT, 6.0+, needs buffer
// select) keeps it armed: one CQE per receipt with kCqeMore; the last one (0 at EOF, an
// error, -ENOBUFS, -ECANCELED, or the kernel ending it) comes without.
//
// kRecvMultishot on a RECVMSG (io_uring 6.0+) does the same for datagrams. Its msghdr (addr,
// read at every receipt on some backends: it must live as long as the op) only says how
// much room to keep for the sender's address (msg_namelen) and ancillary data
// (msg_controllen; ringo keeps none); its iov is unused. Each datagram fills one buffer:
// a RecvMsgOut, then msg_namelen bytes holding the sender's address, then msg_controllen
// bytes, then the payload, cut to what fits (the tail is discarded, MSG_TRUNC in
// RecvMsgOut::flags). The CQE's res counts all of it. A buffer smaller than the header and
// the rooms fails the op with -EFAULT.
inline constexpr uint8_t kSqeBufferSelect = 1u << 1;
inline constexpr uint16_t kRecvMultishot = 1u << 1;
// io_uring's struct io_uring_recvmsg_out (the uring backend asserts the layout).
struct RecvMsgOut {
  uint32_t namelen;     // the sender's address's full length (its first msg_namelen bytes are kept)
  uint32_t controllen;  // ancillary bytes kept
  uint32_t payloadlen;  // the datagram's length with MSG_TRUNC in the op's flags, else the bytes kept
  uint32_t flags;       // the receive's msg_flags (MSG_TRUNC when the payload was cut)
};
// Whether an Sqe asks for a multishot op (several CQEs; see kCqeMore): one awaiter cannot
// take its results, the op slab keeps its record until the last CQE.
inline constexpr bool is_multishot(const Sqe& s) noexcept {
  return (s.opcode == Opcode::accept && (s.ioprio & kAcceptMultishot) != 0) ||
         ((s.opcode == Opcode::recv || s.opcode == Opcode::recvmsg) && (s.ioprio & kRecvMultishot) != 0);
}
inline constexpr uint32_t kCqeBuffer = 1u << 0;
inline constexpr unsigned kCqeBufferShift = 16;
inline constexpr uint16_t cqe_buffer_id(uint32_t flags) noexcept {
  return static_cast<uint16_t>(flags >> kCqeBufferShift);
}
// SEND_ZC posts two CQEs with the op's user_data: the result with kCqeMore, then, once the
// kernel no longer reads the caller's buffer, a notification with kCqeNotif (and without
// kCqeMore). A SEND_ZC that fails before sending may post just one CQE, without kCqeMore.
inline constexpr uint32_t kCqeNotif = 1u << 3;

// A provided-buffer ring's shape. count: a power of two, at most kMaxBufRingEntries (the
// kernel's limit); size: bytes per buffer, at most kMaxProvidedBuffer.
inline constexpr uint32_t kMaxBufRingEntries = 32768;
inline constexpr uint32_t kMaxProvidedBuffer = 1u << 20;
struct BufRingSpec {
  uint16_t group = 0;
  uint32_t count = 0;
  uint32_t size = 0;
};
inline constexpr bool valid_buf_ring(const BufRingSpec& s) noexcept {
  return s.count != 0 && s.count <= kMaxBufRingEntries && (s.count & (s.count - 1)) == 0 && s.size != 0 &&
         s.size <= kMaxProvidedBuffer;
}

// Calls that never block and so need no ring slot: creating and configuring sockets,
// reading addresses, a file's size. Real rings make the syscall; the simulator answers
// from its model. Results are >= 0 or a negative errno, like a CQE.
enum class SysOp : uint8_t {
  socket,      // arg = domain (AF_INET/AF_INET6/AF_UNIX), arg2 = type (0 or SOCK_STREAM: a stream
               // socket; SOCK_DGRAM: datagrams); returns the new fd
  bind,        // addr/addr_len = the address
  listen,      // arg = backlog
  local_addr,  // writes the socket's address into addr (capacity addr_len); sets addr_len
  peer_addr,   // as local_addr, for the connected peer
  set_option,  // arg = SockOption, arg2 = value (0/1)
  file_size,   // returns the size of the open file fd
  close,       // synchronous close, for descriptors dropped off their shard's routines
};

// SysOp::socket's arg2 as socket(2)'s type: 0 (callers from before datagrams) and
// SOCK_STREAM are a stream socket, SOCK_DGRAM a datagram one; anything else is -EINVAL.
inline constexpr int socket_type(int32_t arg2) noexcept {
  if (arg2 == 0 || arg2 == SOCK_STREAM) return SOCK_STREAM;
  return arg2 == SOCK_DGRAM ? SOCK_DGRAM : -EINVAL;
}

enum class SockOption : int32_t { reuse_addr, reuse_port, nodelay };

struct SysCall {
  SysOp op = SysOp::close;
  int32_t fd = -1;
  int32_t arg = 0;
  int32_t arg2 = 0;
  void* addr = nullptr;
  uint32_t addr_len = 0;
};

struct Caps {
  bool msg_ring = false;
  bool link_timeout = false;
  bool async_cancel = false;
  bool multishot_accept = false;
  bool single_issuer = false;
  bool defer_taskrun = false;
  bool coop_taskrun = false;
  bool ext_arg = false;         // submit_and_wait honours its timeout without an extra SQE
  bool recv_multishot = false;  // provided buffer rings + kRecvMultishot (setup_buffer_ring)
  bool send_zc = false;         // Opcode::send_zc
};

class Ring {
 public:
  virtual ~Ring() = default;

  // Queues submissions; returns how many were accepted (fewer when the SQ is full).
  virtual size_t push(std::span<const Sqe> sqes) = 0;
  // Submits what push() queued and waits for at least min_complete completions or until
  // timeout passes (timeout <= 0: do not wait). Returns the number submitted.
  virtual Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) = 0;
  // Moves ready completions into out; returns how many.
  virtual size_t reap(std::span<Cqe> out) = 0;
  virtual Instant now() const = 0;
  virtual Caps caps() const = 0;
  // The value a MSG_RING Sqe's fd must hold to reach this ring.
  virtual int32_t msg_ring_id() const = 0;
  // A non-blocking call (see SysOp). May update call.addr_len. -ENOSYS unless overridden.
  virtual int64_t sys(SysCall& call);
  // Registers a provided-buffer ring (see kSqeBufferSelect): spec.count buffers of
  // spec.size bytes, ids 0..count-1 at base + id * size, all handed to the kernel. The ring
  // owns the memory until it is destroyed (the kernel may write there until then); base is
  // set on success. 0 or a negative errno (-EEXIST for a group already set up, -EINVAL for
  // a bad spec); -ENOSYS unless overridden.
  virtual int32_t setup_buffer_ring(const BufRingSpec& spec, char*& base);
  // Gives buffer `id` of `group` back to the kernel (it was handed out by a CQE).
  virtual void recycle_buffer(uint16_t group, uint16_t id);
};

}  // namespace ringo::detail
