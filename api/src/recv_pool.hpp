// RecvPool and BufReader: a shard's provided-buffer ring and a stream's multishot receive
// over it (net.hpp: RecvBuffer, StreamSocket::recv_buffered). Private to api/.
//
// RecvPool, one per shard (Shard::recv_pool()): the ring's shape, registered with the Ring
// on first use (Ring::setup_buffer_ring; the Ring owns the memory), a count of buffers out
// of the kernel's hands, and the readers that ran dry and wait for buffers to come back.
// The shard owns it through a PoolOwner; a RecvBuffer still held when the shard goes
// keeps the bookkeeping alive (its memory went with the ring: debug builds assert).
//
// BufReader, one per stream that used recv_buffered(): one RECV with kRecvMultishot and
// kSqeBufferSelect stays armed; each buffer it fills is queued in order, or handed to the
// first waiting routine. Rules that keep it safe:
// - Nothing is lost to cancellation: a waiter that is aborted or times out just leaves the
//   queue; buffers keep arriving in the reader for the next call.
// - -ENOBUFS ends the multishot with the data still in the socket: the reader waits for a
//   buffer to come back to the pool (any reader's), then re-arms.
// - Bounded: at kMaxQueued queued buffers the multishot is cancelled (the socket's own
//   buffer holds the rest); it re-arms once half of the queue is taken.
// - End of stream and errors are terminal and reported to every later call, after the
//   data queued before them.
// - The BufReader outlives its stream while its op is in flight: retire() cancels the op,
//   fails the waiters and gives queued buffers back; the op's last CQE frees it.
//
// Thread-safety: the home shard only.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "ringo/internal/core/intrusive_list.hpp"
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

class BufReader {
 public:
  static constexpr size_t kMaxQueued = 32;

  BufReader(Shard* home, int fd, RecvPool* pool) noexcept : home_(home), fd_(fd), pool_(pool) {}
  BufReader(const BufReader&) = delete;
  BufReader& operator=(const BufReader&) = delete;

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

  ~BufReader();
  bool take(std::optional<Result<RecvBuffer>>& slot);
  void arm_if_wanted();
  void on_data(uint16_t id, int32_t size);
  void on_end(int32_t res);
  void serve_waiters();
  static void on_cqe(void* ctx, int32_t res, uint32_t flags);

  Shard* home_;
  int fd_;
  RecvPool* pool_;
  State state_ = State::idle;
  OpToken op_{};
  bool retired_ = false;
  bool starved_ = false;  // -ENOBUFS: waiting in the pool for buffers
  bool eof_ = false;
  std::optional<std::error_code> error_;
  std::deque<Chunk> queued_;
  Waiters waiters_;
};

}  // namespace ringo::net::detail
