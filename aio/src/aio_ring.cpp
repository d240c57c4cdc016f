#include "ringo/aio/aio_ring.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

namespace ringo::aio {

// A ring's mailbox: MSG_RING deliveries from any thread. `sleeping` is set under the lock
// only when the queue is empty and the owner is about to block; the one sender that finds
// it set writes the eventfd, so an awake ring is never signalled and a sleeping one always.
struct AioRing::Mailbox {
  std::mutex mu;
  std::vector<Cqe> queue;
  bool sleeping = false;
  std::atomic<bool> pending{false};
  int efd = -1;
};

namespace {

// The raw system calls: glibc wraps none of them, and libaio's wrappers add nothing the
// ring needs (docs/backends.md says why no libaio).
long sys_io_setup(unsigned nr, aio_context_t* ctx) { return syscall(__NR_io_setup, nr, ctx); }
long sys_io_destroy(aio_context_t ctx) { return syscall(__NR_io_destroy, ctx); }
long sys_io_submit(aio_context_t ctx, long n, iocb** cbs) { return syscall(__NR_io_submit, ctx, n, cbs); }
long sys_io_cancel(aio_context_t ctx, iocb* cb, io_event* ev) { return syscall(__NR_io_cancel, ctx, cb, ev); }
long sys_io_getevents(aio_context_t ctx, long min, long max, io_event* evs, timespec* ts) {
  return syscall(__NR_io_getevents, ctx, min, max, evs, ts);
}

// The context's completion ring, mapped into user space at ctx (a stable kernel ABI that
// fio's userspace_reap and others read). Only peeked at: io_getevents still consumes it.
struct AioRingHeader {
  unsigned id;
  unsigned nr;
  unsigned head;
  unsigned tail;
  unsigned magic;
  unsigned compat_features;
  unsigned incompat_features;
  unsigned header_length;
};
constexpr unsigned kAioRingMagic = 0xa10a10a1;

// Maps msg_ring ids (each ring's eventfd) to mailboxes. A sender holds the lock shared
// while it delivers, so a ring being destroyed (exclusive) never frees a mailbox in use.
struct Registry {
  std::shared_mutex mu;
  std::unordered_map<int32_t, AioRing::Mailbox*> map;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: senders may run during exit
  return *r;
}

int32_t neg_errno(long r) { return r < 0 ? -errno : static_cast<int32_t>(r); }

// A mailbox entry that is no MSG_RING: a helper's result for op `user_data` (a handle).
constexpr uint32_t kHelperResult = 1u << 31;

// Runs reads the page cache could not answer at once (RWF_NOWAIT said -EAGAIN), so the
// shard never waits for the disk. Process-wide, started on first use, at most kMax
// threads (made as work outgrows the idle ones), never stopped: a thread blocks in a
// condition variable when idle. The result goes back through the ring's mailbox.
class Helpers {
 public:
  struct Job {
    int32_t ring_id;
    uint64_t handle;
    Sqe sqe;
    std::atomic<uint32_t>* outstanding;
  };
  static Helpers& get() {
    static Helpers* h = new Helpers;  // never destroyed: threads may run during exit
    return *h;
  }
  void post(const Job& job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(job);
      if (idle_ == 0 && threads_ < kMax) {
        ++threads_;
        std::thread([this] { run(); }).detach();
      }
    }
    cv_.notify_one();
  }

 private:
  static constexpr unsigned kMax = 4;
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return !jobs_.empty(); });
      --idle_;
      const Job job = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      const Sqe& s = job.sqe;
      void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
      const long r = s.opcode == Opcode::read ? ::pread(s.fd, addr, s.len, static_cast<off_t>(s.off))
                                              : ::preadv(s.fd, static_cast<const iovec*>(addr), static_cast<int>(s.len),
                                                         static_cast<off_t>(s.off));
      (void)AioRing::send_internal(job.ring_id, job.handle, neg_errno(r), kHelperResult);
      job.outstanding->fetch_sub(1, std::memory_order_release);
      job.outstanding->notify_all();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  unsigned idle_ = 0;
  unsigned threads_ = 0;
};

// Sockets are driven by readiness: a blocking one would stall the shard in accept/connect.
void ensure_nonblocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK) == 0) (void)::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

}  // namespace

AioSetup AioRing::create(const AioOptions& options) {
  AioSetup setup;
  if (options.entries == 0 || options.entries > (1u << 24)) {
    setup.error = make_error_code(errc::invalid_argument);
    setup.report = "AIO: entries must be in 1..16777216";
    return setup;
  }
  std::unique_ptr<AioRing> r(new AioRing());
  r->entries_ = options.entries;
  // File ops only (sockets wait in epoll): 4 x entries (1,024 by default) of the
  // system-wide fs.aio-max-nr, so batches submitted while earlier ones run still fit.
  r->aio_capacity_ = options.entries * 4;
  long ret = -1;
  for (int retry = 0; retry < 3; ++retry) {
    ret = sys_io_setup(r->aio_capacity_, &r->ctx_);
    if (ret == 0 || errno != EINTR) break;
  }
  if (ret < 0) {
    const int err = errno;
    if (err == ENOSYS || err == EPERM || err == EACCES) {
      setup.error = make_error_code(errc::backend_unavailable);
      setup.report = std::string("AIO unavailable: io_setup refused (") + std::strerror(err) +
                     (err == ENOSYS ? "): this kernel has no AIO (CONFIG_AIO)" : "): check seccomp filters");
    } else if (err == EAGAIN) {
      setup.error = errno_code(err);
      setup.report = "AIO resources: io_setup(" + std::to_string(r->aio_capacity_) +
                     ") failed with EAGAIN: the system-wide limit /proc/sys/fs/aio-max-nr (sysctl fs.aio-max-nr) is "
                     "exhausted; raise it or lower ring_entries";
    } else {
      setup.error = errno_code(err);
      setup.report = std::string("AIO setup failed: io_setup: ") + std::strerror(err);
    }
    r->ctx_ = 0;
    return setup;
  }
  r->efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->efd_ < 0) {
    setup.error = errno_code(errno);
    setup.report = std::string("AIO setup failed: eventfd: ") + std::strerror(errno);
    return setup;
  }
  if (const std::error_code ec = r->readiness_.open(r->efd_)) {
    setup.error = ec;
    setup.report = "AIO setup failed: epoll: " + ec.message();
    return setup;
  }
  r->mailbox_ = std::make_unique<Mailbox>();
  r->mailbox_->efd = r->efd_;
  {
    std::unique_lock lock(registry().mu);
    registry().map[r->efd_] = r->mailbox_.get();
  }
  r->events_.resize(r->aio_capacity_);
  r->pending_.reserve(options.entries);
  const auto* header = reinterpret_cast<const AioRingHeader*>(r->ctx_);
  const bool peek = header->magic == kAioRingMagic;
  setup.report = "aio: io_setup(" + std::to_string(r->aio_capacity_) + "), eventfd completions, " +
                 (peek ? "user-space completion peek" : "no completion peek") +
                 ", RWF_NOWAIT reads (page-cache misses on helper threads), sockets by edge-triggered epoll";
  setup.ring = std::move(r);
  return setup;
}

AioRing::~AioRing() {
  // Helper reads write into buffers the caller keeps until their CQE: let them finish.
  for (uint32_t n = helper_jobs_.load(std::memory_order_acquire); n != 0; n = helper_jobs_.load()) {
    helper_jobs_.wait(n);
  }
  if (mailbox_) {
    std::unique_lock lock(registry().mu);
    registry().map.erase(efd_);
  }
  // io_destroy cancels what it can (polls) and waits for the rest (file I/O), so no
  // buffer is written after the ring is gone. It also waits for RCU grace periods: about
  // 38 ms here, even for an idle context. With nothing in flight no buffer is at stake,
  // so that wait moves to a throwaway thread and a runtime's shutdown does not pay it.
  if (ctx_ != 0) {
    if (aio_in_flight_ == 0) {
      try {
        std::thread([ctx = ctx_] { (void)sys_io_destroy(ctx); }).detach();
      } catch (...) {
        (void)sys_io_destroy(ctx_);
      }
    } else {
      (void)sys_io_destroy(ctx_);
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
  by_user_data_.remove(op->sqe.user_data, op->index);
  op->live = false;
  free_ops_.push_back(op->index);
}

// Posts the op's own CQE, then its deadline's (-ECANCELED: the op won), and frees it.
void AioRing::complete(Op* op, int32_t res) {
  if (op->wait == Wait::timer) timers_.erase(op->timer);
  op->wait = Wait::none;
  const bool skip = (op->sqe.flags & kSqeSkipSuccess) != 0 && res >= 0;
  if (!skip) post(op->sqe.user_data, res);
  if (op->has_deadline && !op->deadline_done) {
    timers_.erase(op->deadline_timer);
    post(op->sqe.timeout_user_data, -ECANCELED);
  }
  release(op);
}

size_t AioRing::push(std::span<const Sqe> sqes) {
  const size_t n = std::min(sqes.size(), entries_ - std::min<size_t>(entries_, pending_.size()));
  pending_.insert(pending_.end(), sqes.begin(), sqes.begin() + static_cast<std::ptrdiff_t>(n));
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
      complete(op, neg_errno(fd));
      return;
    }
    case Opcode::close:
      forget_fd(s.fd);
      complete(op, neg_errno(::close(s.fd)));
      return;
    case Opcode::shutdown: complete(op, neg_errno(::shutdown(s.fd, static_cast<int>(s.len)))); return;
    case Opcode::accept:
    case Opcode::connect:
    case Opcode::recv:
    case Opcode::send: attempt(op); return;
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

AioRing::Op* AioRing::live(OpRef ref) {
  if (ref.index >= ops_.size()) return nullptr;
  Op* op = ops_[ref.index].get();
  return op->live && op->gen == ref.gen ? op : nullptr;
}

// Files op under its descriptor until an edge in mask's directions (errors and hang-ups
// always count). A descriptor epoll cannot watch is always ready: the op tries again.
void AioRing::wait_ready(Op* op, uint32_t mask) {
  Readiness::Filed filed;
  const int r = readiness_.wait(op->sqe.fd, mask, OpRef{op->index, op->gen}, filed);
  if (r < 0) {
    complete(op, r);
    return;
  }
  if (filed == Readiness::Filed::always_ready) {
    // Only poll_add gets here (a syscall on such a file never says EAGAIN).
    complete(op, static_cast<int32_t>(mask & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)));
    return;
  }
  op->wait = Wait::ready;
}

// One-shot readiness, as IORING_OP_POLL_ADD: what is ready now, else the next edge.
void AioRing::poll_add(Op* op) {
  const uint32_t mask = op->sqe.len;
  pollfd p{op->sqe.fd, static_cast<short>(mask), 0};
  const int r = op->sqe.fd < 0 ? 0 : ::poll(&p, 1, 0);
  if (op->sqe.fd < 0 || (r > 0 && (p.revents & POLLNVAL) != 0)) {
    complete(op, -EBADF);
  } else if (r != 0) {
    complete(op, r < 0 ? -errno : static_cast<uint16_t>(p.revents));
  } else {
    wait_ready(op, mask);
  }
}

namespace {

bool wants_output(Opcode op) {
  return op == Opcode::send || op == Opcode::write || op == Opcode::writev || op == Opcode::connect;
}

// The op's syscall, never blocking on a socket (a blocking pipe the caller handed in
// still blocks, as a plain read would).
long nonblocking_call(const Sqe& s) {
  void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
  switch (s.opcode) {
    case Opcode::recv: return ::recv(s.fd, addr, s.len, static_cast<int>(s.off) | MSG_DONTWAIT);
    case Opcode::send: return ::send(s.fd, addr, s.len, static_cast<int>(s.off) | MSG_DONTWAIT);
    case Opcode::read: return ::read(s.fd, addr, s.len);
    case Opcode::write: return ::write(s.fd, addr, s.len);
    case Opcode::readv: return ::readv(s.fd, static_cast<const iovec*>(addr), static_cast<int>(s.len));
    case Opcode::writev: return ::writev(s.fd, static_cast<const iovec*>(addr), static_cast<int>(s.len));
    case Opcode::accept:
      ensure_nonblocking(s.fd);
      return ::accept4(s.fd, static_cast<sockaddr*>(addr), reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(s.off)),
                       static_cast<int>(s.len));
    case Opcode::connect:
      ensure_nonblocking(s.fd);
      return ::connect(s.fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(s.len));
    default: errno = EINVAL; return -1;
  }
}

}  // namespace

// One try of a readiness-driven op's syscall; on EAGAIN it waits for the next edge. A
// descriptor known not to be ready (EAGAIN, no edge since) skips the try.
void AioRing::attempt(Op* op) {
  const Sqe& s = op->sqe;
  if (s.opcode == Opcode::accept && (s.ioprio & kAcceptMultishot) != 0) {
    accept_loop(op);
    return;
  }
  if (op->connecting) {
    finish_connect(op);
    return;
  }
  const uint32_t mask = wants_output(s.opcode) ? POLLOUT : POLLIN;
  if (s.opcode != Opcode::connect && !readiness_.may_be_ready(s.fd, mask)) {
    wait_ready(op, mask);
    return;
  }
  const long r = nonblocking_call(s);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    readiness_.saw_eagain(s.fd, mask);
    wait_ready(op, mask);
    return;
  }
  if (r < 0 && errno == EINPROGRESS && s.opcode == Opcode::connect) {
    op->connecting = true;
    wait_ready(op, POLLOUT);
    return;
  }
  if (r >= 0 && s.opcode == Opcode::accept) forget_fd(static_cast<int32_t>(r));
  complete(op, neg_errno(r));
}

// A connect in progress answered (writable, or an error): SO_ERROR says how it went.
void AioRing::finish_connect(Op* op) {
  int err = 0;
  socklen_t len = sizeof err;
  const int r = ::getsockopt(op->sqe.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  complete(op, r < 0 ? -errno : -err);
}

// Multishot accept: takes every connection that is ready, one CQE each, up to a batch per
// turn; a full batch comes back next turn (retry_), so other work runs in between.
void AioRing::accept_loop(Op* op) {
  const Sqe& s = op->sqe;
  void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
  ensure_nonblocking(s.fd);
  if (!readiness_.may_be_ready(s.fd, POLLIN)) {
    wait_ready(op, POLLIN);
    return;
  }
  for (int i = 0; i < 64; ++i) {
    const int fd = ::accept4(s.fd, static_cast<sockaddr*>(addr),
                             reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(s.off)), static_cast<int>(s.len));
    if (fd >= 0) {
      forget_fd(fd);
      post(s.user_data, fd, kCqeMore);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readiness_.saw_eagain(s.fd, POLLIN);
      wait_ready(op, POLLIN);
      return;
    }
    if (errno == ECONNABORTED || errno == EINTR) continue;
    complete(op, -errno);  // the multishot ends: a CQE without kCqeMore
    return;
  }
  op->wait = Wait::retry;
  retry_.push_back(OpRef{op->index, op->gen});
}

// fd is closed, or its number was just handed out anew: ops still waiting on the old
// descriptor must never run a syscall on the new one.
void AioRing::forget_fd(int32_t fd) {
  orphans_.clear();
  readiness_.forget(fd, orphans_);
  for (const OpRef ref : orphans_) {
    if (Op* op = live(ref)) op->wait = Wait::orphan;
  }
}

// Ops an edge (or their batch turn) woke: poll_add reports, the others try again.
void AioRing::dispatch_woken() {
  for (const Readiness::Woken& w : woken_) {
    Op* op = live(w.op);
    if (op == nullptr || op->wait != Wait::ready) continue;
    op->wait = Wait::none;
    if (op->sqe.opcode == Opcode::poll_add) {
      complete(op, static_cast<int32_t>(w.events & (op->sqe.len | POLLERR | POLLHUP)));
    } else {
      attempt(op);
    }
  }
  woken_.clear();
  if (retry_.empty()) return;
  std::vector<OpRef> turn;
  turn.swap(retry_);
  for (const OpRef ref : turn) {
    Op* op = live(ref);
    if (op == nullptr || op->wait != Wait::retry) continue;
    op->wait = Wait::none;
    accept_loop(op);
  }
}

// Cancels a live op: 0 when it will complete with -ECANCELED, -EALREADY when it cannot be
// stopped and will report its real result.
int32_t AioRing::cancel(Op* op) {
  if (op->queued) {
    // Not given to the kernel yet: take it back.
    to_submit_.erase(std::find(to_submit_.begin(), to_submit_.end(), &op->cb));
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
      if (sys_io_cancel(ctx_, &op->cb, &ev) < 0 && errno != EINPROGRESS) return -EALREADY;
      return 0;
    }
    case Wait::helper:  // a pread in progress: it completes anyway
    case Wait::none: break;
  }
  return -EALREADY;
}

void AioRing::to_helper(Op* op) {
  op->wait = Wait::helper;
  ++helper_reads_;
  helper_jobs_.fetch_add(1, std::memory_order_relaxed);
  Helpers::get().post({efd_, (uint64_t{op->gen} << 32) | op->index, op->sqe, &helper_jobs_});
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
    const long r = sys_io_submit(ctx_, static_cast<long>(n), to_submit_.data());
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;  // retried next submit
    const size_t taken = r < 0 ? 0 : static_cast<size_t>(r);
    for (size_t i = 0; i < taken; ++i) {
      Op* op = ops_[static_cast<uint32_t>(to_submit_[i]->aio_data)].get();
      op->queued = false;
    }
    aio_in_flight_ += static_cast<unsigned>(taken);
    if (r < 0) {
      // The first iocb was refused (bad descriptor, unsupported file): fail that op alone.
      const int err = errno;
      iocb* cb = to_submit_.front();
      to_submit_.erase(to_submit_.begin());
      Op* op = ops_[static_cast<uint32_t>(cb->aio_data)].get();
      op->queued = false;
      if (op->nowait && (err == EOPNOTSUPP || err == EAGAIN)) {
        to_helper(op);  // this file cannot say "would block": read it off the shard
      } else {
        complete(op, -err);
      }
      continue;
    }
    to_submit_.erase(to_submit_.begin(), to_submit_.begin() + static_cast<std::ptrdiff_t>(taken));
  }
}

bool AioRing::aio_ring_has_events() const {
  const auto* h = reinterpret_cast<const AioRingHeader*>(ctx_);
  if (h->magic != kAioRingMagic) return true;  // cannot peek: ask the kernel
  const unsigned head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
  const unsigned tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
  return head != tail;
}

void AioRing::harvest() {
  while (aio_in_flight_ > 0 && aio_ring_has_events()) {
    timespec zero{0, 0};
    const long n = sys_io_getevents(ctx_, 0, static_cast<long>(events_.size()), events_.data(), &zero);
    if (n <= 0) return;
    aio_in_flight_ -= static_cast<unsigned>(n);
    for (long i = 0; i < n; ++i) {
      const io_event& ev = events_[static_cast<size_t>(i)];
      Op* op = live(OpRef{static_cast<uint32_t>(ev.data), static_cast<uint32_t>(ev.data >> 32)});
      if (op == nullptr || op->wait != Wait::aio) continue;
      const auto res = static_cast<int32_t>(ev.res);
      if (op->nowait && (res == -EAGAIN || res == -EOPNOTSUPP)) {
        to_helper(op);  // not in the page cache: the disk read runs on a helper
      } else {
        complete(op, res);
      }
    }
    if (static_cast<size_t>(n) < events_.size()) return;
  }
}

void AioRing::drain_mailbox() {
  Mailbox& m = *mailbox_;
  if (!m.pending.load(std::memory_order_acquire)) return;
  std::vector<Cqe> got;
  {
    std::lock_guard lock(m.mu);
    got.swap(m.queue);
    m.pending.store(false, std::memory_order_relaxed);
  }
  for (const Cqe& c : got) {
    if ((c.flags & kHelperResult) == 0) {
      ready_.push_back(c);
      continue;
    }
    const auto index = static_cast<uint32_t>(c.user_data);
    Op* op = index < ops_.size() ? ops_[index].get() : nullptr;
    if (op != nullptr && op->live && op->gen == static_cast<uint32_t>(c.user_data >> 32) && op->wait == Wait::helper) {
      complete(op, c.res);
    }
  }
}

int AioRing::send_message(int32_t target, int32_t res, uint64_t user_data) noexcept {
  return send_internal(target, user_data, res, 0);
}

int AioRing::send_internal(int32_t target, uint64_t user_data, int32_t res, uint32_t flags) noexcept {
  std::shared_lock lock(registry().mu);
  auto it = registry().map.find(target);
  if (it == registry().map.end()) return -EBADF;
  Mailbox& m = *it->second;
  bool wake;
  {
    std::lock_guard mlock(m.mu);
    m.queue.push_back(Cqe{user_data, res, flags});
    m.pending.store(true, std::memory_order_release);
    wake = m.sleeping;
    m.sleeping = false;
  }
  if (wake) {
    const uint64_t one = 1;
    (void)!::write(m.efd, &one, sizeof one);
  }
  return 0;
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
  {
    std::lock_guard lock(mailbox_->mu);
    if (!mailbox_->queue.empty()) return;
    mailbox_->sleeping = true;
  }
  const bool work_waiting = !retry_.empty() || (aio_in_flight_ > 0 && aio_ring_has_events());
  const int64_t ns = work_waiting ? 0 : wait == Duration::max() ? -1 : wait.count();
  (void)readiness_.collect(ns, woken_);
  std::lock_guard lock(mailbox_->mu);
  mailbox_->sleeping = false;
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

// The plain syscalls behind SysOp, as on io_uring, except that sockets are made
// non-blocking: their I/O is readiness-driven here.
int64_t AioRing::sys(SysCall& c) {
  auto ret = [](int64_t r) -> int64_t { return r < 0 ? -errno : r; };
  switch (c.op) {
    case SysOp::socket: {
      const int fd = ::socket(c.arg, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd >= 0) forget_fd(fd);
      return ret(fd);
    }
    case SysOp::bind: return ret(::bind(c.fd, static_cast<const sockaddr*>(c.addr), c.addr_len));
    case SysOp::listen: return ret(::listen(c.fd, c.arg));
    case SysOp::local_addr:
    case SysOp::peer_addr: {
      socklen_t len = c.addr_len;
      auto* sa = static_cast<sockaddr*>(c.addr);
      const int r = c.op == SysOp::local_addr ? ::getsockname(c.fd, sa, &len) : ::getpeername(c.fd, sa, &len);
      c.addr_len = len;
      return ret(r);
    }
    case SysOp::set_option: {
      const int value = c.arg2;
      switch (static_cast<SockOption>(c.arg)) {
        case SockOption::reuse_addr: return ret(::setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &value, sizeof value));
        case SockOption::reuse_port: return ret(::setsockopt(c.fd, SOL_SOCKET, SO_REUSEPORT, &value, sizeof value));
        case SockOption::nodelay: return ret(::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value));
      }
      return -EINVAL;
    }
    case SysOp::file_size: {
      struct stat st {};
      if (::fstat(c.fd, &st) < 0) return -errno;
      return st.st_size;
    }
    case SysOp::close: forget_fd(c.fd); return ret(::close(c.fd));
  }
  return -ENOSYS;
}

}  // namespace ringo::aio
