// AioRing: the Ring on Linux AIO (io_setup/io_submit/io_getevents/io_cancel), for hosts
// where io_uring is refused (Docker's and containerd's default seccomp profiles,
// kernel.io_uring_disabled). Raw system calls through <linux/aio_abi.h>, no libaio.
//
// What runs where (docs/backends.md, "AIO"):
//  - read/write/readv/writev/fsync: IOCB_CMD_PREAD/PWRITE/PREADV/PWRITEV/FSYNC/FDSYNC;
//    an offset of -1 (the file position) runs the plain syscall inline. Buffered AIO
//    completes inside io_submit, so reads go with RWF_NOWAIT: one the page cache cannot
//    answer (-EAGAIN) runs on a small process-wide pool of disk reader threads instead of stalling the
//    shard for the disk.
//  - sockets (accept, connect, recv, send, and read/write at the file position): the
//    non-blocking syscall, and on EAGAIN a wait for the descriptor's next edge in the
//    ring's epoll set (readiness.hpp), then the syscall again. A descriptor known not to
//    be ready skips the syscall that would say EAGAIN. Multishot accept takes up to 64
//    connections per turn and posts one CQE each with kCqeMore until cancelled; it pauses
//    (connections wait in the kernel's backlog) while 2 x entries CQEs wait for reap().
//  - poll_add: a poll(2) look, then the epoll set.
//  - openat, close, shutdown, NOP: inline (AIO has no opcode for them).
//  - TIMEOUT and per-op deadlines (LINK_TIMEOUT): a user-space timer list, waited on by
//    the blocking wait's timeout.
//  - MSG_RING: a mutex-guarded mailbox per ring plus the ring's eventfd, written only when
//    the target sleeps (aio/src/mailbox.hpp). send_message() needs no ring, so a foreign
//    thread can wake a shard. A mailbox holding max_messages fails the next with
//    -EOVERFLOW, as io_uring does for a target whose completion queue overflowed.
// Every AIO completion signals the same eventfd (IOCB_FLAG_RESFD), which sits in the
// epoll set, so one epoll_pwait2 covers sockets, AIO completions, messages and timers.
//
// Errors from create(): ENOSYS (no AIO in this kernel) and EPERM (seccomp) become
// errc::backend_unavailable; EAGAIN from io_setup (fs.aio-max-nr exhausted) is reported
// naming the sysctl. AioSetup::report says which, in words.
//
// Where: aio_ring.cpp (set-up, ops, files, timers, the wait), aio_sockets.cpp (sockets),
// mailbox.cpp (messages), disk_readers.cpp (page-cache misses), readiness.cpp (the epoll set).
//
// Thread-safety: one thread uses a ring; send_message() may be called from any thread.
#pragma once

#include <linux/aio_abi.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ringo/internal/aio/op_index.hpp"
#include "ringo/internal/aio/readiness.hpp"
#include "ringo/internal/core/provided_buffers.hpp"
#include "ringo/internal/core/ring.hpp"

namespace ringo::aio {

// Backend internals are written in the engine's internal terms (Sqe, Cqe, Ring, Prng, ...).
using namespace ringo::detail;

struct AioOptions {
  // Sqes push() accepts between two submits. The AIO context holds 4x as many file ops in
  // flight (batches pile up while earlier ones run); sockets hold no AIO slot.
  unsigned entries = 256;
  // Messages (MSG_RING, doorbells) a ring's mailbox holds for it; one more fails with
  // -EOVERFLOW. 64 Ki (1 MiB of CQEs): far more than a shard that reaps every tick leaves
  // there, so only a ring that stopped reaping, or a flood, reaches it.
  unsigned max_messages = 1u << 16;
};

class AioRing;

struct AioSetup {
  std::unique_ptr<AioRing> ring;
  std::error_code error;
  std::string report;  // what was set up, or why not
};

class AioRing final : public Ring {
 public:
  static AioSetup create(const AioOptions& options = {});
  ~AioRing() override;
  AioRing(const AioRing&) = delete;
  AioRing& operator=(const AioRing&) = delete;

  size_t push(std::span<const Sqe> sqes) override;
  Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) override;
  size_t reap(std::span<Cqe> out) override;
  Instant now() const override;
  Caps caps() const override;
  int32_t msg_ring_id() const override { return efd_; }
  int64_t sys(SysCall& call) override;
  // Provided buffers are emulated: a multishot recv copies what a readiness-driven recv
  // reads into a buffer picked here (aio_sockets.cpp, recv_loop).
  int32_t setup_buffer_ring(const BufRingSpec& spec, char*& base) override { return buffers_.setup(spec, base); }
  void recycle_buffer(uint16_t group, uint16_t id) override { buffers_.recycle(group, id); }

  // Delivers a MSG_RING CQE {user_data, res} to the AioRing whose msg_ring_id() is target,
  // from any thread, ring or not. Returns 0, -EBADF when no AioRing has that id, or
  // -EOVERFLOW when its mailbox is full (AioOptions::max_messages).
  static int send_message(int32_t target, int32_t res, uint64_t user_data) noexcept;

  // Reads the page cache could not answer at once, sent to a disk reader thread so far.
  uint64_t disk_reader_reads() const noexcept { return disk_reader_reads_; }

  struct Mailbox;  // aio/src/mailbox.hpp

 private:
  // A multishot accept's connections per turn, before other work runs.
  static constexpr unsigned kAcceptBatch = 64;
  // CQEs waiting for reap() past which a multishot accept pauses: io_uring's default
  // completion queue holds 2 x entries too.
  static constexpr size_t kCompletionsPerEntry = 2;

  // What a live op waits for. ready: an edge of its descriptor (in readiness_); orphan:
  // its descriptor was closed under it, so only a cancel ends it (as on io_uring, where
  // the op would hold the file); retry: a multishot accept's next turn.
  enum class Wait : uint8_t { none, aio, ready, orphan, retry, timer, disk_read };
  struct Op {
    iocb cb{};  // its address is the kernel's key for io_cancel: Ops never move
    Sqe sqe;
    uint32_t index = 0;
    uint32_t gen = 0;
    Wait wait = Wait::none;
    bool live = false;
    bool queued = false;      // in to_submit_, not yet given to io_submit
    bool connecting = false;  // connect in progress: its answer is SO_ERROR
    bool nowait = false;      // a read submitted with RWF_NOWAIT: -EAGAIN sends it to a disk reader
    bool has_deadline = false;
    bool deadline_done = false;  // the deadline's CQE was posted
    std::pair<Instant, uint64_t> timer{};
    std::pair<Instant, uint64_t> deadline_timer{};
  };
  struct TimerRef {
    uint32_t index;
    uint32_t gen;
    bool deadline;  // an op's deadline, else a TIMEOUT op
  };

  AioRing() = default;
  bool open_context(AioSetup& setup);
  bool open_wakeups(unsigned max_messages, AioSetup& setup);
  Op* alloc_op(const Sqe& s);
  void release(Op* op);
  void start(Op* op);
  void post(uint64_t user_data, int32_t res, uint32_t flags = 0) { ready_.push_back(Cqe{user_data, res, flags}); }
  void complete(Op* op, int32_t res, uint32_t flags = 0);
  void recv_loop(Op* op);
  void queue_aio(Op* op);
  // The op ref names, if it is still that op (not freed, not reused).
  Op* live(OpRef ref) {
    if (ref.index >= ops_.size()) return nullptr;
    Op* op = ops_[ref.index].get();
    return op->live && op->gen == ref.gen ? op : nullptr;
  }
  void wait_ready(Op* op, uint32_t mask);
  void poll_add(Op* op);
  void attempt(Op* op);
  void finish_connect(Op* op);
  void accept_loop(Op* op);
  void forget_fd(int32_t fd);
  void dispatch_woken();
  int32_t cancel(Op* op);
  void to_disk_reader(Op* op);
  void add_timer(Op* op, Instant at, bool deadline);
  void fire_timers();
  void flush_aio();
  void harvest();
  void drain_mailbox();
  void progress();
  void block(Duration wait);

  aio_context_t ctx_ = 0;
  int efd_ = -1;
  unsigned entries_ = 0;
  unsigned aio_capacity_ = 0;
  unsigned aio_in_flight_ = 0;   // iocbs io_submit took and io_getevents has not returned
  size_t completion_limit_ = 0;  // kCompletionsPerEntry x entries
  std::unique_ptr<Mailbox> mailbox_;
  std::vector<Cqe> mail_;     // scratch: the mailbox's last batch (drain_mailbox)
  std::vector<Sqe> pending_;  // pushed, not yet submitted: at most entries_ (push refuses more)
  std::deque<Cqe> ready_;     // completions waiting for reap()
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<uint32_t> free_ops_;
  OpIndex by_user_data_;  // live ops, for ASYNC_CANCEL
  std::vector<iocb*> to_submit_;
  std::map<std::pair<Instant, uint64_t>, TimerRef> timers_;
  uint64_t timer_seq_ = 0;
  std::vector<io_event> events_;
  Readiness readiness_;
  std::vector<Readiness::Woken> woken_;     // collected while blocked, dispatched by progress()
  std::vector<OpRef> retry_;                // multishot accepts and recvs that stopped at their batch
  std::vector<OpRef> retry_turn_;           // scratch: this turn's retry_ (dispatch_woken)
  ringo::detail::ProvidedBuffers buffers_;  // provided-buffer groups (setup_buffer_ring)
  std::vector<OpRef> orphans_;              // scratch for forget_fd
  // Reads running on disk reader threads; the destructor waits for them (their buffers).
  std::atomic<uint32_t> disk_reads_pending_{0};
  uint64_t disk_reader_reads_ = 0;
};

}  // namespace ringo::aio
