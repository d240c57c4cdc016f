// RecvPool and BufReader: a shard's provided-buffer ring and a stream's multishot receive
// over it (net.hpp: RecvBuffer, StreamSocket::recv_buffered). Private to api/.
//
// RecvPool, one per shard (Shard::recv_pool()): the ring's shape, registered with the Ring
// on first use (Ring::setup_buffer_ring; the Ring owns the memory), a count of buffers out
// of the kernel's hands, and the readers that ran dry and wait for buffers to come back.
// The shard owns it through a PoolOwner; a RecvBuffer still held when the shard goes
// keeps the bookkeeping alive (its memory went with the ring: debug builds assert).
//
// BufReader, one per stream that used recv_buffered() or datagram socket that used
// recv_from_buffered(): one RECV (streams) or RECVMSG (datagrams, each buffer in the layout
// of ring.hpp's RecvMsgOut) with kRecvMultishot and kSqeBufferSelect stays armed; each
// buffer it fills is queued in order, or handed to the first waiting routine. Rules that
// keep it safe:
// - Nothing is lost to cancellation: a waiter that is aborted or times out just leaves the
//   queue; buffers keep arriving in the reader for the next call.
// - -ENOBUFS ends the multishot with the data still in the socket: the reader waits for a
//   buffer to come back to the pool (any reader's), then re-arms. Buffers may have come
//   back between the kernel's ENOBUFS and its reaping: then it re-arms at once (waiting
//   would wait for a give-back that already happened).
// - Bounded: at kMaxQueued queued buffers the multishot is cancelled (the socket's own
//   buffer holds the rest); it re-arms once half of the queue is taken.
// - A stream's end and errors are terminal and reported to every later call, after the
//   data queued before them. A datagram socket has no end: an error goes to one call (after
//   the datagrams queued before it) and the next call re-arms, as Acceptor does.
// - The BufReader outlives its stream while its op is in flight: retire() cancels the op,
//   fails the waiters and gives queued buffers back; the op's last CQE frees it. Until
//   that CQE it is its shard's orphan (orphan.hpp), so a shard destroyed before the CQE
//   came (a shutdown cut short) frees it instead.
//
// Thread-safety: the home shard only.
#pragma once

#include <optional>
#include <vector>

#include "ringo/internal/core/intrusive_list.hpp"
#include "ringo/internal/core/orphan.hpp"
#include "ringo/internal/core/ring_buffer.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/net.hpp"

namespace ringo::net::detail {

using namespace ringo::detail;

class RecvPool {
 public:
  static constexpr uint16_t kGroup = 0x7269;  // the one group ringo registers per ring

  // The current shard's pool, made on first use (not yet registered).
  static RecvPool* of(Shard* shard);
  explicit RecvPool(Ring& ring) noexcept : ring_(&ring) {}

  Result<void> configure(RecvBufferOptions options);
  // Registers the ring with the kernel if not yet done.
  Result<void> ensure_registered();
  const char* address(uint16_t id) const noexcept { return base_ + size_t{id} * spec_.size; }
  uint16_t group() const noexcept { return spec_.group; }
  size_t outstanding() const noexcept { return outstanding_; }
  uint32_t buffer_size() const noexcept { return spec_.size; }
  // Some buffer is in the kernel's hands, as far as the CQEs reaped so far tell.
  bool has_free() const noexcept { return outstanding_ < spec_.count; }

  // A CQE handed buffer id out of the kernel's hands.
  void lent() noexcept { ++outstanding_; }
  // Back to the kernel; readers that ran dry re-arm.
  void give_back(uint16_t id) noexcept;
  void wait_for_buffers(BufReader* r) { starved_.push_back(r); }
  void forget(BufReader* r) noexcept;
  // The shard is going: buffers still out only count down (and the last frees this).
  void detach() noexcept;

 private:
  Ring* ring_;
  BufRingSpec spec_{kGroup, 256, 4096};
  char* base_ = nullptr;
  size_t outstanding_ = 0;
  bool detached_ = false;
  std::vector<BufReader*> starved_;
};

// What the shard holds: its destruction detaches the pool.
struct PoolOwner final : Shard::Attachment {
  RecvPool* pool;
  explicit PoolOwner(RecvPool* p) noexcept : pool(p) {}
  ~PoolOwner() override { pool->detach(); }
};

struct ReadWaiter {
  ReadWaiter* prev = nullptr;
  ReadWaiter* next = nullptr;
  Routine* routine = nullptr;
  std::optional<Result<RecvBuffer>> slot;
};

class BufReader final : public Orphan {
 public:
  static constexpr size_t kMaxQueued = 32;

  // name_room 0: a stream. Otherwise datagrams, each buffer keeping name_room bytes for
  // the sender's address after the RecvMsgOut header.
  BufReader(Shard* home, int fd, RecvPool* pool, uint32_t name_room = 0) noexcept
      : home_(home), fd_(fd), pool_(pool), name_room_(name_room) {}
  BufReader(const BufReader&) = delete;
  BufReader& operator=(const BufReader&) = delete;

  // The reader of socket d (made on the first call, with the shard's pool registered), or
  // why there is none: d's own error, EOPNOTSUPP, errc::invalid_argument for datagrams
  // when the pool's buffers have no room for a payload.
  using Owner = std::unique_ptr<BufReader, BufReaderRetire>;
  static Result<BufReader*> of(const io::Descriptor& d, Owner& owner, uint32_t name_room);

  // Awaitable: the next buffer, an empty one at end of stream, the stream's error, or
  // errc::cancelled.
  struct Next {
    BufReader* reader;
    Routine* me = nullptr;
    ReadWaiter waiter{};

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<RecvBuffer> await_resume() { return std::move(*waiter.slot); }
    static void on_cancel(Routine* r, void* ctx);
    static WaitInfo describe(const void* ctx);
  };
  Next next() noexcept { return Next{this}; }

  void retire() noexcept;
  // Buffers came back to a pool that had run dry.
  void on_buffers_back();

 private:
  enum class State : uint8_t { idle, armed, cancelling };
  struct Chunk {
    uint16_t id;
    uint32_t size;
  };
  using Waiters = ringo::detail::IntrusiveList<ReadWaiter, &ReadWaiter::prev, &ReadWaiter::next>;

  ~BufReader() override;
  bool take(std::optional<Result<RecvBuffer>>& slot);
  void arm_if_wanted();
  bool datagrams() const noexcept { return name_room_ != 0; }
  Sqe multishot_sqe();
  void on_data(uint16_t id, int32_t size);
  void on_end(int32_t res);
  void serve_waiters();
  static void on_cqe(void* ctx, int32_t res, uint32_t flags);

  Shard* home_;
  int fd_;
  RecvPool* pool_;
  uint32_t name_room_;
  msghdr msg_{};             // datagrams: RECVMSG's rooms, read by the kernel while armed
  sockaddr_storage name_{};  // msg_'s name (the kernel writes the sender into the buffer)
  State state_ = State::idle;
  OpToken op_{};
  bool retired_ = false;
  bool starved_ = false;  // -ENOBUFS: waiting in the pool for buffers
  bool eof_ = false;
  std::optional<std::error_code> error_;
  RingBuffer<Chunk> queued_;  // no allocation until the first buffer (a reader per socket)
  Waiters waiters_;
};

}  // namespace ringo::net::detail
