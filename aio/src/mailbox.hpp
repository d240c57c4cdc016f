// AioRing::Mailbox: the CQEs other threads post to one AioRing (MSG_RING messages and
// doorbells, results of disk reader reads), and the process-wide registry that finds a ring's
// mailbox by its msg_ring id (the ring's eventfd). Private to aio/.
//
// Contract:
// - deliver() queues a CQE for the owner, from any thread, and writes the owner's eventfd
//   only when the owner announced that it sleeps: `sleeping` is set under the lock, and
//   only while the queue is empty (begin_sleep); the one sender that finds it set clears
//   it and writes. So an awake ring is never signalled and a sleeping one always.
// - Bounded: a message finding `limit` CQEs queued fails with -EOVERFLOW, as io_uring's
//   MSG_RING does on a target whose completion queue overflowed; the sender sees it in
//   its own CQE (a shard retries a doorbell, counts a failed lane-A send). Helper results
//   are never refused: there is at most one per op on a disk reader, so the ring's own ops
//   bound them.
// - A sender holds the registry's lock shared while it delivers, so a ring that withdraws
//   its mailbox (exclusive) never frees one in use.
//
// Thread-safety: deliver() from any thread; the rest from the owner's thread.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "ringo/internal/aio/aio_ring.hpp"

namespace ringo::aio {

// A mailbox CQE's flag that marks no MSG_RING but a disk reader's result for op `user_data`
// (a handle: gen << 32 | index).
inline constexpr uint32_t kDiskReadResult = 1u << 31;

struct AioRing::Mailbox {
 public:
  Mailbox(int efd, size_t limit) noexcept : efd_(efd), limit_(limit) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Posts c to the mailbox registered as target. 0, -EBADF when none is, -EOVERFLOW
  // when it is full.
  static int deliver(int32_t target, const Cqe& c) noexcept;

  // Makes this mailbox reachable as id; withdraw() before it is destroyed.
  void publish(int32_t id);
  void withdraw(int32_t id);

  bool has_mail() const noexcept { return pending_.load(std::memory_order_acquire); }
  // Takes every queued CQE: out (empty) and the queue trade buffers, so a steady stream
  // of messages allocates nothing.
  void take_all(std::vector<Cqe>& out);
  // Before the owner blocks: false when mail is already queued (then it must not block);
  // else the next deliver() writes the eventfd. end_sleep() once awake.
  bool begin_sleep();
  void end_sleep();

 private:
  std::mutex mu_;
  std::vector<Cqe> queue_;
  bool sleeping_ = false;
  std::atomic<bool> pending_{false};  // queue_ is not empty, readable without the lock
  const int efd_;
  const size_t limit_;
};

}  // namespace ringo::aio
