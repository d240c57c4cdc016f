// AioRing's core (aio_ring.hpp): set-up and teardown, the op table, starting each opcode,
// file I/O through the AIO context, timers and deadlines, cancellation, and the
// submit/wait/reap cycle. Sockets are in aio_sockets.cpp, cross-thread messages in
// mailbox.cpp, page-cache misses in disk_readers.cpp.
#include "ringo/internal/aio/aio_ring.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "aio_sys.hpp"
#include "disk_readers.hpp"
#include "mailbox.hpp"
#include "ringo/internal/core/assert.hpp"

namespace ringo::aio {
namespace {

// io_setup's errno, as create()'s error and report (aio_ring.hpp).
void explain_io_setup_failure(int err, unsigned capacity, AioSetup& setup) {
  if (err == ENOSYS || err == EPERM || err == EACCES) {
    setup.error = make_error_code(errc::backend_unavailable);
    setup.report = std::string("AIO unavailable: io_setup refused (") + std::strerror(err) +
                   (err == ENOSYS ? "): this kernel has no AIO (CONFIG_AIO)" : "): check seccomp filters");
  } else if (err == EAGAIN) {
    setup.error = errno_code(err);
    setup.report = "AIO resources: io_setup(" + std::to_string(capacity) +
                   ") failed with EAGAIN: the system-wide limit /proc/sys/fs/aio-max-nr (sysctl fs.aio-max-nr) is "
                   "exhausted; raise it or lower ring_entries";
  } else {
    setup.error = errno_code(err);
    setup.report = std::string("AIO setup failed: io_setup: ") + std::strerror(err);
  }
}

}  // namespace

AioSetup AioRing::create(const AioOptions& options) {
  AioSetup setup;
  if (options.entries == 0 || options.entries > (1u << 24) || options.max_messages == 0) {
    setup.error = make_error_code(errc::invalid_argument);
    setup.report = "AIO: entries must be in 1..16777216, max_messages positive";
    return setup;
  }
  std::unique_ptr<AioRing> r(new AioRing());
  r->entries_ = options.entries;
  // File ops only (sockets wait in epoll): 4 x entries (1,024 by default) of the
  // system-wide fs.aio-max-nr, so batches submitted while earlier ones run still fit.
  r->aio_capacity_ = options.entries * 4;
  r->completion_limit_ = size_t{options.entries} * kCompletionsPerEntry;
  if (!r->open_context(setup) || !r->open_wakeups(options.max_messages, setup)) return setup;
  r->events_.resize(r->aio_capacity_);
  r->pending_.reserve(options.entries);
  setup.report = "aio: io_setup(" + std::to_string(r->aio_capacity_) + "), eventfd completions, " +
                 (sys::can_peek(r->ctx_) ? "user-space completion peek" : "no completion peek") +
                 ", RWF_NOWAIT reads (page-cache misses on disk reader threads), sockets by edge-triggered epoll";
  setup.ring = std::move(r);
  return setup;
}

// The AIO context, for aio_capacity_ file ops in flight; false (setup says why) if refused.
bool AioRing::open_context(AioSetup& setup) {
  long ret = -1;
  for (int retry = 0; retry < 3; ++retry) {
    ret = sys::io_setup(aio_capacity_, &ctx_);
    if (ret == 0 || errno != EINTR) break;
  }
  if (ret == 0) return true;
  explain_io_setup_failure(errno, aio_capacity_, setup);
  ctx_ = 0;
  return false;
}

// The eventfd every wake-up signals, the epoll set that waits on it and on sockets, and the
// mailbox other threads reach through the eventfd's number; false (setup says why) if not.
bool AioRing::open_wakeups(unsigned max_messages, AioSetup& setup) {
  efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd_ < 0) {
    setup.error = errno_code(errno);
    setup.report = std::string("AIO setup failed: eventfd: ") + std::strerror(errno);
    return false;
  }
  if (const std::error_code ec = readiness_.open(efd_)) {
    setup.error = ec;
    setup.report = "AIO setup failed: epoll: " + ec.message();
    return false;
  }
  mailbox_ = std::make_unique<Mailbox>(efd_, max_messages);
  mailbox_->publish(efd_);
  return true;
}

AioRing::~AioRing() {
  // Disk reader reads write into buffers the caller keeps until their CQE: let them finish.
  for (uint32_t n = disk_reads_pending_.load(std::memory_order_acquire); n != 0; n = disk_reads_pending_.load()) {
    disk_reads_pending_.wait(n);
  }
  if (mailbox_) mailbox_->withdraw(efd_);
  // io_destroy cancels what it can (polls) and waits for the rest (file I/O), so no
  // buffer is written after the ring is gone. It also waits for RCU grace periods: about
  // 38 ms here, even for an idle context. With nothing in flight no buffer is at stake,
  // so that wait moves to a throwaway thread and a runtime's shutdown does not pay it.
  if (ctx_ != 0) {
    if (aio_in_flight_ == 0) {
      try {
        std::thread([ctx = ctx_] { (void)sys::io_destroy(ctx); }).detach();
      } catch (...) {
        (void)sys::io_destroy(ctx_);
      }
    } else {
      (void)sys::io_destroy(ctx_);
    }
  }
  if (efd_ >= 0) ::close(efd_);
}

Caps AioRing::caps() const {
  Caps c;
  c.msg_ring = true;
  c.link_timeout = true;
  c.async_cancel = true;
  c.multishot_accept = true;
  c.ext_arg = true;
  c.recv_multishot = true;  // emulated: a copy (aio_sockets.cpp, recv_loop)
  return c;
}

Instant AioRing::now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Instant{int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec};
}

// ---------------------------------------------------------------- ops

AioRing::Op* AioRing::alloc_op(const Sqe& s) {
  uint32_t index;
  if (!free_ops_.empty()) {
    index = free_ops_.back();
    free_ops_.pop_back();
  } else {
    index = static_cast<uint32_t>(ops_.size());
    ops_.push_back(std::make_unique<Op>());
    ops_.back()->index = index;
  }
  Op* op = ops_[index].get();
  RINGO_ASSERT(!op->live && op->index == index, "a free slot holds no live op");
  const uint32_t gen = op->gen + 1;
  *op = Op{};
  op->index = index;
  op->gen = gen;
  op->sqe = s;
  op->live = true;
  op->has_deadline = s.deadline != kNoDeadline;
  by_user_data_.add(s.user_data, index);  // a duplicate user_data keeps the first op
  return op;
}

void AioRing::release(Op* op) {
  RINGO_ASSERT(op->live && !op->queued && op->wait == Wait::none, "an op is freed once, waiting for nothing");
  by_user_data_.remove(op->sqe.user_data, op->index);
  op->live = false;
  free_ops_.push_back(op->index);
}

// Posts the op's own CQE, then its deadline's (-ECANCELED: the op won), and frees it.
void AioRing::complete(Op* op, int32_t res, uint32_t flags) {
  RINGO_ASSERT(op->live && !op->queued, "an op completes once, after it left to_submit_");
  if (op->wait == Wait::timer) timers_.erase(op->timer);
  op->wait = Wait::none;
  const bool skip = (op->sqe.flags & kSqeSkipSuccess) != 0 && res >= 0;
  if (!skip) post(op->sqe.user_data, res, flags);
  if (op->has_deadline && !op->deadline_done) {
    timers_.erase(op->deadline_timer);
    post(op->sqe.timeout_user_data, -ECANCELED);
  }
  release(op);
}

size_t AioRing::push(std::span<const Sqe> sqes) {
  const size_t n = std::min(sqes.size(), entries_ - std::min<size_t>(entries_, pending_.size()));
  pending_.insert(pending_.end(), sqes.begin(), sqes.begin() + static_cast<std::ptrdiff_t>(n));
  RINGO_ASSERT(pending_.size() <= entries_, "push takes at most entries Sqes between two submits");
  return n;
}

void AioRing::start(Op* op) {
  const Sqe& s = op->sqe;
  void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
  switch (s.opcode) {
    case Opcode::nop: complete(op, 0); return;
    case Opcode::read:
    case Opcode::write:
    case Opcode::readv:
    case Opcode::writev:
      if (s.off == ~uint64_t{0}) {
        // The file position (pipes, sockets, ttys): AIO has no such offset, so the plain
        // call runs inline, and waits for readiness if the descriptor is non-blocking.
        attempt(op);
        return;
      }
      [[fallthrough]];
    case Opcode::fsync: queue_aio(op); return;
    case Opcode::openat: {
      const int fd =
          ::openat(s.fd, static_cast<const char*>(addr), static_cast<int>(s.len), static_cast<mode_t>(s.off));
      if (fd >= 0) forget_fd(fd);
      complete(op, sys::neg_errno(fd));
      return;
    }
    case Opcode::close:
      forget_fd(s.fd);
      complete(op, sys::neg_errno(::close(s.fd)));
      return;
    case Opcode::shutdown: complete(op, sys::neg_errno(::shutdown(s.fd, static_cast<int>(s.len)))); return;
    case Opcode::accept:
    case Opcode::connect:
    case Opcode::recv:
    case Opcode::send:
    case Opcode::recvmsg:
    case Opcode::sendmsg: attempt(op); return;
    case Opcode::poll_add: poll_add(op); return;
    case Opcode::timeout:
      op->wait = Wait::timer;
      add_timer(op, now() + Duration{static_cast<int64_t>(std::min<uint64_t>(s.off, INT64_MAX / 2))}, false);
      return;
    case Opcode::async_cancel: {
      int32_t res = -ENOENT;
      const uint32_t found = by_user_data_.find(s.addr);
      if (found != OpIndex::kNone && found != op->index) {
        Op* target = ops_[found].get();
        res = cancel(target);
      }
      complete(op, res);
      return;
    }
    case Opcode::msg_ring: complete(op, send_message(s.fd, static_cast<int32_t>(s.len), s.off)); return;
    case Opcode::send_zc:  // not offered (caps().send_zc is false): as an unknown opcode
    case Opcode::count_:
    default: complete(op, -EINVAL); return;
  }
}

void AioRing::queue_aio(Op* op) {
  const Sqe& s = op->sqe;
  iocb& cb = op->cb;
  cb = iocb{};
  cb.aio_data = (uint64_t{op->gen} << 32) | op->index;
  cb.aio_fildes = static_cast<uint32_t>(s.fd);
  cb.aio_flags = IOCB_FLAG_RESFD;
  cb.aio_resfd = static_cast<uint32_t>(efd_);
  switch (s.opcode) {
    case Opcode::read: cb.aio_lio_opcode = IOCB_CMD_PREAD; break;
    case Opcode::write: cb.aio_lio_opcode = IOCB_CMD_PWRITE; break;
    case Opcode::readv: cb.aio_lio_opcode = IOCB_CMD_PREADV; break;
    case Opcode::writev: cb.aio_lio_opcode = IOCB_CMD_PWRITEV; break;
    default: cb.aio_lio_opcode = (s.len & 1) != 0 ? IOCB_CMD_FDSYNC : IOCB_CMD_FSYNC; break;
  }
  if (s.opcode == Opcode::read || s.opcode == Opcode::readv) {
    cb.aio_rw_flags = RWF_NOWAIT;
    op->nowait = true;
  }
  if (s.opcode != Opcode::fsync) {
    cb.aio_buf = s.addr;
    cb.aio_nbytes = s.len;
    cb.aio_offset = static_cast<int64_t>(s.off);
  }
  if (s.fd < 0) {
    complete(op, -EBADF);
    return;
  }
  op->wait = Wait::aio;
  op->queued = true;
  to_submit_.push_back(&cb);
}

// Cancels a live op: 0 when it will complete with -ECANCELED, -EALREADY when it cannot be
// stopped and will report its real result.
int32_t AioRing::cancel(Op* op) {
  if (op->queued) {
    // Not given to the kernel yet: take it back.
    const auto it = std::find(to_submit_.begin(), to_submit_.end(), &op->cb);
    RINGO_ASSERT(it != to_submit_.end(), "a queued op's iocb waits in to_submit_");
    to_submit_.erase(it);
    op->queued = false;
    complete(op, -ECANCELED);
    return 0;
  }
  switch (op->wait) {
    case Wait::ready: (void)readiness_.cancel(op->sqe.fd, OpRef{op->index, op->gen}); [[fallthrough]];
    case Wait::orphan:
    case Wait::retry:  // dispatch_woken skips it: it is no longer live
    case Wait::timer: complete(op, -ECANCELED); return 0;
    case Wait::aio: {
      io_event ev{};
      // Regular files have no cancel method (-EINVAL): the op completes anyway.
      if (sys::io_cancel(ctx_, &op->cb, &ev) < 0 && errno != EINPROGRESS) return -EALREADY;
      return 0;
    }
    case Wait::disk_read:  // a pread in progress: it completes anyway
    case Wait::none: break;
  }
  return -EALREADY;
}

void AioRing::to_disk_reader(Op* op) {
  op->wait = Wait::disk_read;
  ++disk_reader_reads_;
  disk_reads_pending_.fetch_add(1, std::memory_order_relaxed);
  run_on_disk_reader({efd_, (uint64_t{op->gen} << 32) | op->index, op->sqe, &disk_reads_pending_});
}

// ---------------------------------------------------------------- timers

void AioRing::add_timer(Op* op, Instant at, bool deadline) {
  const auto key = std::make_pair(at, ++timer_seq_);
  timers_.emplace(key, TimerRef{op->index, op->gen, deadline});
  (deadline ? op->deadline_timer : op->timer) = key;
}

void AioRing::fire_timers() {
  if (timers_.empty()) return;
  const Instant t = now();
  while (!timers_.empty() && timers_.begin()->first.first <= t) {
    const TimerRef ref = timers_.begin()->second;
    timers_.erase(timers_.begin());
    Op* op = ops_[ref.index].get();
    if (!op->live || op->gen != ref.gen) continue;
    if (!ref.deadline) {
      op->wait = Wait::none;
      complete(op, -ETIME);
      continue;
    }
    // LINK_TIMEOUT: the deadline tries to cancel the op; its CQE says whether it could.
    op->deadline_done = true;
    const uint64_t timeout_ud = op->sqe.timeout_user_data;
    const int32_t res = cancel(op);  // may complete and free op
    post(timeout_ud, res == 0 ? -ETIME : res);
  }
}

// ---------------------------------------------------------------- the kernel

void AioRing::flush_aio() {
  while (!to_submit_.empty() && aio_in_flight_ < aio_capacity_) {
    const size_t n = std::min<size_t>(to_submit_.size(), aio_capacity_ - aio_in_flight_);
    const long r = sys::io_submit(ctx_, static_cast<long>(n), to_submit_.data());
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;  // retried next submit
    const size_t taken = r < 0 ? 0 : static_cast<size_t>(r);
    for (size_t i = 0; i < taken; ++i) {
      Op* op = ops_[static_cast<uint32_t>(to_submit_[i]->aio_data)].get();
      op->queued = false;
    }
    aio_in_flight_ += static_cast<unsigned>(taken);
    RINGO_ASSERT(aio_in_flight_ <= aio_capacity_, "io_submit takes no more than the context holds");
    if (r < 0) {
      // The first iocb was refused (bad descriptor, unsupported file): fail that op alone.
      const int err = errno;
      iocb* cb = to_submit_.front();
      to_submit_.erase(to_submit_.begin());
      Op* op = ops_[static_cast<uint32_t>(cb->aio_data)].get();
      op->queued = false;
      if (op->nowait && (err == EOPNOTSUPP || err == EAGAIN)) {
        to_disk_reader(op);  // this file cannot say "would block": read it off the shard
      } else {
        complete(op, -err);
      }
      continue;
    }
    to_submit_.erase(to_submit_.begin(), to_submit_.begin() + static_cast<std::ptrdiff_t>(taken));
  }
}

void AioRing::harvest() {
  while (aio_in_flight_ > 0 && sys::may_have_events(ctx_)) {
    timespec zero{0, 0};
    const long n = sys::io_getevents(ctx_, 0, static_cast<long>(events_.size()), events_.data(), &zero);
    if (n <= 0) return;
    RINGO_ASSERT(static_cast<unsigned long>(n) <= aio_in_flight_, "every event is of an iocb in flight");
    aio_in_flight_ -= static_cast<unsigned>(n);
    for (long i = 0; i < n; ++i) {
      const io_event& ev = events_[static_cast<size_t>(i)];
      Op* op = live(OpRef{static_cast<uint32_t>(ev.data), static_cast<uint32_t>(ev.data >> 32)});
      if (op == nullptr || op->wait != Wait::aio) continue;
      const auto res = static_cast<int32_t>(ev.res);
      if (op->nowait && (res == -EAGAIN || res == -EOPNOTSUPP)) {
        to_disk_reader(op);  // not in the page cache: the disk read runs on a disk reader
      } else {
        complete(op, res);
      }
    }
    if (static_cast<size_t>(n) < events_.size()) return;
  }
}

// Messages go to reap(); disk reader results complete their op, if it still waits for one.
void AioRing::drain_mailbox() {
  if (!mailbox_->has_mail()) return;
  mailbox_->take_all(mail_);
  for (const Cqe& c : mail_) {
    if ((c.flags & kDiskReadResult) == 0) {
      ready_.push_back(c);
      continue;
    }
    Op* op = live(OpRef{static_cast<uint32_t>(c.user_data), static_cast<uint32_t>(c.user_data >> 32)});
    if (op != nullptr && op->wait == Wait::disk_read) complete(op, c.res);
  }
  mail_.clear();  // keeps the capacity for the next trade
}

// Everything that moves: new completions, messages, timers, socket edges (one
// epoll_wait, only while some op waits for one and block() brought none), and the AIO
// submissions they caused.
void AioRing::progress() {
  harvest();
  drain_mailbox();
  fire_timers();
  if (woken_.empty() && readiness_.waiting() > 0) (void)readiness_.collect(0, woken_);
  dispatch_woken();
  flush_aio();
}

namespace {

// epoll and ppoll timeouts are stretched by the thread's timer slack (50 µs by default),
// io_uring's are not: a shard sleeping until its next timer woke up to 50 µs late on AIO.
// A shard's thread waits with a 1 µs slack instead, set once per thread (and kept: a
// runtime's owner thread, which runs shard 0, keeps it after the runtime is gone).
void make_timed_waits_precise() {
  static thread_local bool done = false;
  if (done) return;
  done = true;
  (void)::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
}

}  // namespace

void AioRing::block(Duration wait) {
  make_timed_waits_precise();
  // Reset the eventfd first, then announce the sleep and look once more: a message or a
  // completion that comes after this look signals the eventfd after the reset, so the
  // epoll wait sees it. (Resetting after the announcement could swallow a wake-up.)
  uint64_t count;
  (void)!::read(efd_, &count, sizeof count);
  if (!mailbox_->begin_sleep()) return;
  const bool work_waiting = !retry_.empty() || (aio_in_flight_ > 0 && sys::may_have_events(ctx_));
  const int64_t ns = work_waiting ? 0 : wait == Duration::max() ? -1 : wait.count();
  (void)readiness_.collect(ns, woken_);
  mailbox_->end_sleep();
}

Result<size_t> AioRing::submit_and_wait(unsigned min_complete, Duration timeout) {
  const size_t submitted = pending_.size();
  if (!pending_.empty()) {
    std::vector<Sqe> batch;
    batch.swap(pending_);
    for (const Sqe& s : batch) {
      Op* op = alloc_op(s);
      const uint32_t gen = op->gen;
      start(op);
      // Still running: its deadline starts now (an op that finished posted both CQEs).
      if (op->live && op->gen == gen && op->has_deadline) add_timer(op, s.deadline, true);
    }
    batch.clear();
    if (pending_.empty()) pending_.swap(batch);  // keep the capacity
  }
  progress();
  if (min_complete == 0 || timeout.count() <= 0 || ready_.size() >= min_complete) return submitted;
  const Instant start = now();
  const Instant until = timeout == Duration::max() || timeout > kNoDeadline - start ? kNoDeadline : start + timeout;
  while (ready_.size() < min_complete) {
    const Instant t = now();
    if (t >= until) break;
    Instant wake = until;
    if (!timers_.empty()) wake = std::min(wake, timers_.begin()->first.first);
    block(wake == kNoDeadline ? Duration::max() : std::max(Duration{0}, wake - t));
    progress();
  }
  return submitted;
}

size_t AioRing::reap(std::span<Cqe> out) {
  size_t n = 0;
  while (n < out.size() && !ready_.empty()) {
    out[n++] = ready_.front();
    ready_.pop_front();
  }
  return n;
}

}  // namespace ringo::aio
