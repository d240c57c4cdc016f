// UringRing (uring_ring.hpp): set-up and opcode probe, Sqe -> io_uring sqe translation,
// submit/wait/reap, and the plain syscalls behind SysOp.
#include "ringo/internal/uring/uring_ring.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "ringo/internal/core/assert.hpp"

namespace ringo::uring {
namespace {

struct FlagSet {
  unsigned flags;
  const char* name;
};

std::string errno_text(int err) { return std::string(std::strerror(err)); }

struct OpName {
  int op;
  const char* name;
};

// Opcodes the runtime needs at start-up.
constexpr OpName kRequiredOps[] = {
    {IORING_OP_NOP, "NOP"},
    {IORING_OP_TIMEOUT, "TIMEOUT"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
    {IORING_OP_MSG_RING, "MSG_RING"},
};

// Opcodes of the I/O the runtime offers: a kernel without one fails just that call.
constexpr OpName kOptionalOps[] = {
    {IORING_OP_READ, "READ"},         {IORING_OP_WRITE, "WRITE"},     {IORING_OP_READV, "READV"},
    {IORING_OP_WRITEV, "WRITEV"},     {IORING_OP_FSYNC, "FSYNC"},     {IORING_OP_OPENAT, "OPENAT"},
    {IORING_OP_CLOSE, "CLOSE"},       {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},       {IORING_OP_SHUTDOWN, "SHUTDOWN"},
    {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_RECVMSG, "RECVMSG"},
    {IORING_OP_SEND_ZC, "SEND_ZC"},
};

// The setup flag sets to try, most capable first. Default: SINGLE_ISSUER + COOP_TASKRUN
// + TASKRUN_FLAG. DEFER_TASKRUN is opt-in (options or RINGO_URING_FLAGS=defer): measured
// here, it tripled cross-shard call latency, because deferred MSG_RING completions are not
// flagged to a spinning shard.
std::vector<FlagSet> setup_attempts(const UringOptions& options) {
  std::vector<FlagSet> attempts;
  const char* flags_env = std::getenv("RINGO_URING_FLAGS");
  const bool want_defer =
      options.allow_single_issuer && (options.prefer_defer_taskrun || (flags_env && std::string(flags_env) == "defer"));
  if (want_defer) {
    attempts.push_back({IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
                        "SINGLE_ISSUER|DEFER_TASKRUN"});
  }
  if (options.allow_single_issuer) {
    attempts.push_back({IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
                        "SINGLE_ISSUER|COOP_TASKRUN"});
  }
  attempts.push_back({IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "COOP_TASKRUN"});
  attempts.push_back({0, "no setup flags"});
  return attempts;
}

struct Initialised {
  int error = 0;          // 0, or the last attempt's -errno
  FlagSet chosen{};       // the flag set the kernel took
  unsigned features = 0;  // io_uring_params::features
};

// Sets the ring up with the first flag set the kernel accepts. Transient failures (EINTR,
// EAGAIN) are retried a few times; EINVAL means the kernel lacks these flags, so the next,
// plainer set is tried; any other error ends the search.
Initialised init_first_accepted(io_uring* ring, unsigned entries, const std::vector<FlagSet>& attempts) {
  Initialised out;
  for (const FlagSet& a : attempts) {
    io_uring_params params{};
    for (int retry = 0; retry < 3; ++retry) {
      params = io_uring_params{};
      params.flags = a.flags | IORING_SETUP_CLAMP;
      out.error = io_uring_queue_init_params(entries, ring, &params);
      if (out.error != -EINTR && out.error != -EAGAIN) break;
    }
    if (out.error == 0) {
      out.chosen = a;
      out.features = params.features;
      return out;
    }
    if (out.error != -EINVAL) break;
  }
  return out;
}

// io_uring_queue_init's errno, as create()'s error and report (uring_ring.hpp).
void explain_setup_failure(int err, UringSetup& setup) {
  if (err == ENOSYS) {
    setup.error = make_error_code(errc::backend_unavailable);
    setup.report = "io_uring unavailable: this kernel has no io_uring (ENOSYS)";
  } else if (err == EPERM || err == EACCES) {
    setup.error = make_error_code(errc::backend_unavailable);
    setup.report = "io_uring unavailable: refused by policy (" + errno_text(err) +
                   "): check sysctl kernel.io_uring_disabled and seccomp filters";
  } else if (err == ENOMEM) {
    setup.error = errno_code(err);
    setup.report =
        "io_uring resources: the kernel refused ring memory (ENOMEM): raise RLIMIT_MEMLOCK "
        "or lower ring_entries";
  } else {
    setup.error = errno_code(err);
    setup.report = "io_uring setup failed: " + errno_text(err);
  }
}

template <size_t N>
std::string unsupported(io_uring_probe* probe, const OpName (&ops)[N]) {
  std::string missing;
  for (const OpName& op : ops) {
    if (!io_uring_opcode_supported(probe, op.op)) missing += std::string(" ") + op.name;
  }
  return missing;
}

}  // namespace

UringSetup UringRing::create(const UringOptions& options) {
  UringSetup setup;
  std::unique_ptr<UringRing> r(new UringRing());
  const Initialised init = init_first_accepted(&r->ring_, options.entries, setup_attempts(options));
  if (init.error != 0) {
    explain_setup_failure(-init.error, setup);
    return setup;
  }
  r->initialised_ = true;
  r->adopt(init.chosen.flags, init.features);
  std::string optional_missing;
  if (!r->probe_opcodes(setup, optional_missing)) return setup;
  setup.report = std::string("io_uring: ") + init.chosen.name + (r->caps_.ext_arg ? ", EXT_ARG" : "") +
                 ", entries=" + std::to_string(r->ring_.sq.ring_entries) +
                 (optional_missing.empty() ? ", all I/O opcodes present" : ", missing:" + optional_missing);
  setup.ring = std::move(r);
  return setup;
}

// What the accepted setup flags and features mean for caps() and submit_and_wait().
void UringRing::adopt(unsigned flags, unsigned features) {
  caps_.single_issuer = (flags & IORING_SETUP_SINGLE_ISSUER) != 0;
  caps_.defer_taskrun = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
  caps_.coop_taskrun = (flags & IORING_SETUP_COOP_TASKRUN) != 0;
  caps_.ext_arg = (features & IORING_FEAT_EXT_ARG) != 0;
  taskrun_flag_ = (flags & IORING_SETUP_TASKRUN_FLAG) != 0;
  timespecs_.resize(ring_.sq.ring_entries);
}

// Probes the opcodes: false (setup says why) when a required one is missing; else sets the
// caps they decide and lists the missing optional ones.
bool UringRing::probe_opcodes(UringSetup& setup, std::string& optional_missing) {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) {
    setup.error = make_error_code(errc::backend_unavailable);
    setup.report = "io_uring unavailable: opcode probe failed (kernel older than 5.6)";
    return false;
  }
  const std::string missing = unsupported(probe, kRequiredOps);
  optional_missing = unsupported(probe, kOptionalOps);
  caps_.msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
  caps_.link_timeout = io_uring_opcode_supported(probe, IORING_OP_LINK_TIMEOUT);
  caps_.async_cancel = io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
  caps_.multishot_accept = io_uring_opcode_supported(probe, IORING_OP_SOCKET);  // 5.19+, same era
  // SEND_ZC and multishot RECV (with buffer rings, 5.19) both came in 6.0.
  caps_.send_zc = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
  caps_.recv_multishot = caps_.send_zc && std::getenv("RINGO_URING_NO_RECV_MULTISHOT") == nullptr;
  io_uring_free_probe(probe);
  if (!missing.empty()) {
    setup.error = make_error_code(errc::backend_unavailable);
    setup.report = "io_uring unavailable: the kernel lacks required opcodes:" + missing;
    return false;
  }
  return true;
}

UringRing::~UringRing() {
  if (initialised_) io_uring_queue_exit(&ring_);
  release_buffer_rings();  // only now: the kernel may write into them until the ring exits
}

// The timespec a TIMEOUT or LINK_TIMEOUT sqe points at: the slot of the sqe's own index in
// the SQ array. The kernel reads it when it takes the sqe, and the sqe's index is not
// handed out again before that, so a slot is never overwritten while an sqe still needs it
// (also when a submit fails with EBUSY and the sqes stay queued), and never runs out.
__kernel_timespec* UringRing::timespec_slot(const io_uring_sqe* sqe, int64_t ns) {
  const auto index = static_cast<size_t>(sqe - ring_.sq.sqes);
  RINGO_ASSERT(index < timespecs_.size(), "one timespec slot per SQ entry");
  __kernel_timespec* ts = &timespecs_[index];
  ts->tv_sec = ns / 1000000000;
  ts->tv_nsec = ns % 1000000000;
  return ts;
}

static_assert(kAcceptMultishot == IORING_ACCEPT_MULTISHOT);
static_assert(kCqeMore == IORING_CQE_F_MORE);
static_assert(kRecvMultishot == IORING_RECV_MULTISHOT);
static_assert(kCqeBuffer == IORING_CQE_F_BUFFER && kCqeBufferShift == IORING_CQE_BUFFER_SHIFT);
static_assert(kCqeNotif == IORING_CQE_F_NOTIF);
static_assert(sizeof(RecvMsgOut) == sizeof(io_uring_recvmsg_out) &&
              offsetof(RecvMsgOut, namelen) == offsetof(io_uring_recvmsg_out, namelen) &&
              offsetof(RecvMsgOut, controllen) == offsetof(io_uring_recvmsg_out, controllen) &&
              offsetof(RecvMsgOut, payloadlen) == offsetof(io_uring_recvmsg_out, payloadlen) &&
              offsetof(RecvMsgOut, flags) == offsetof(io_uring_recvmsg_out, flags));

bool UringRing::prep(const Sqe& s) {
  const bool linked = s.deadline != kNoDeadline;
  if (io_uring_sq_space_left(&ring_) < (linked ? 2u : 1u)) return false;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
  switch (s.opcode) {
    case Opcode::nop: io_uring_prep_nop(sqe); break;
    case Opcode::read: io_uring_prep_read(sqe, s.fd, addr, s.len, s.off); break;
    case Opcode::write: io_uring_prep_write(sqe, s.fd, addr, s.len, s.off); break;
    case Opcode::readv: io_uring_prep_readv(sqe, s.fd, static_cast<const iovec*>(addr), s.len, s.off); break;
    case Opcode::writev: io_uring_prep_writev(sqe, s.fd, static_cast<const iovec*>(addr), s.len, s.off); break;
    case Opcode::fsync: io_uring_prep_fsync(sqe, s.fd, s.len); break;
    case Opcode::openat:
      io_uring_prep_openat(sqe, s.fd, static_cast<const char*>(addr), static_cast<int>(s.len),
                           static_cast<mode_t>(s.off));
      break;
    case Opcode::close: io_uring_prep_close(sqe, s.fd); break;
    case Opcode::accept:
      io_uring_prep_accept(sqe, s.fd, static_cast<sockaddr*>(addr),
                           reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(s.off)), static_cast<int>(s.len));
      sqe->ioprio |= s.ioprio & kAcceptMultishot;
      break;
    case Opcode::connect:
      io_uring_prep_connect(sqe, s.fd, static_cast<const sockaddr*>(addr), static_cast<socklen_t>(s.len));
      break;
    case Opcode::recv:
      io_uring_prep_recv(sqe, s.fd, addr, s.len, static_cast<int>(s.off));
      sqe->ioprio |= s.ioprio & kRecvMultishot;
      break;
    case Opcode::send: io_uring_prep_send(sqe, s.fd, addr, s.len, static_cast<int>(s.off)); break;
    case Opcode::send_zc: io_uring_prep_send_zc(sqe, s.fd, addr, s.len, static_cast<int>(s.off), 0); break;
    case Opcode::shutdown: io_uring_prep_shutdown(sqe, s.fd, static_cast<int>(s.len)); break;
    case Opcode::timeout: io_uring_prep_timeout(sqe, timespec_slot(sqe, static_cast<int64_t>(s.off)), 0, 0); break;
    case Opcode::async_cancel: io_uring_prep_cancel64(sqe, s.addr, 0); break;
    case Opcode::msg_ring: io_uring_prep_msg_ring(sqe, s.fd, s.len, s.off, 0); break;
    case Opcode::poll_add: io_uring_prep_poll_add(sqe, s.fd, s.len); break;
    case Opcode::sendmsg:
      io_uring_prep_sendmsg(sqe, s.fd, static_cast<const msghdr*>(addr), static_cast<unsigned>(s.off));
      break;
    case Opcode::recvmsg:
      io_uring_prep_recvmsg(sqe, s.fd, static_cast<msghdr*>(addr), static_cast<unsigned>(s.off));
      sqe->ioprio |= s.ioprio & kRecvMultishot;
      break;
    case Opcode::count_:
    default:
      // An opcode this backend does not know: fail it the way the kernel would.
      io_uring_prep_nop(sqe);
      sqe->opcode = IORING_OP_LAST;
      break;
  }
  io_uring_sqe_set_data64(sqe, s.user_data);
  if (s.flags & kSqeSkipSuccess) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  if (s.flags & kSqeBufferSelect) {
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = s.buf_group;
  }
  if (!linked) return true;
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_sqe* timeout = io_uring_get_sqe(&ring_);
  io_uring_prep_link_timeout(timeout, timespec_slot(timeout, s.deadline.count()), IORING_TIMEOUT_ABS);
  io_uring_sqe_set_data64(timeout, s.timeout_user_data);
  return true;
}

size_t UringRing::push(std::span<const Sqe> sqes) {
  size_t n = 0;
  for (const Sqe& s : sqes) {
    if (!prep(s)) break;
    ++n;
  }
  queued_ += n;
  RINGO_ASSERT(queued_ <= io_uring_sq_ready(&ring_), "every Sqe counted since the last submit is in the SQ");
  return n;
}

Result<size_t> UringRing::submit_and_wait(unsigned min_complete, Duration timeout) {
  const bool waits = min_complete > 0 && timeout.count() > 0;
  if (queued_ == 0 && !waits && taskrun_flag_ && !caps_.defer_taskrun) {
    // Nothing to submit and no wait: enter the kernel only if it flagged task work for
    // us or an overflowed CQ. This keeps a busy shard that does no I/O out of the kernel.
    // Not with DEFER_TASKRUN: there the kernel does not flag deferred work (a MSG_RING
    // sat unseen until the shard slept; measured: spawn_on 5 us -> 22 us).
    const unsigned flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
    if ((flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) == 0) return 0;
  }
  queued_ = 0;
  int ret;
  if (min_complete == 0 || timeout.count() <= 0) {
    ret = io_uring_submit_and_get_events(&ring_);
  } else if (timeout == Duration::max()) {
    ret = io_uring_submit_and_wait(&ring_, min_complete);
  } else {
    __kernel_timespec ts{timeout.count() / 1000000000, timeout.count() % 1000000000};
    io_uring_cqe* cqe = nullptr;
    ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, min_complete, &ts, nullptr);
    if (ret == -ETIME) ret = 0;
  }
  if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) {
    queued_ = io_uring_sq_ready(&ring_);  // not taken: the next submit enters the kernel for them
    return 0;
  }
  if (ret < 0) return fail_errno(ret);
  return static_cast<size_t>(ret);
}

size_t UringRing::reap(std::span<Cqe> out) {
  size_t n = 0;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (n == out.size()) break;
    ++seen;
    if (cqe->user_data == LIBURING_UDATA_TIMEOUT) continue;  // liburing's own wait timeout
    out[n++] = Cqe{cqe->user_data, cqe->res, cqe->flags};
  }
  RINGO_ASSERT(seen <= io_uring_cq_ready(&ring_), "reap consumes only the CQEs the kernel posted");
  io_uring_cq_advance(&ring_, seen);
  return n;
}

Instant UringRing::now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Instant{int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec};
}

}  // namespace ringo::uring

namespace ringo::uring {

// The plain syscalls behind SysOp: none of them blocks (sockets are created, bound and
// configured synchronously; their I/O goes through the ring).
int64_t UringRing::sys(SysCall& c) {
  auto ret = [](int64_t r) -> int64_t { return r < 0 ? -errno : r; };
  switch (c.op) {
    case SysOp::socket: {
      const int type = socket_type(c.arg2);
      return type < 0 ? type : ret(::socket(c.arg, type | SOCK_CLOEXEC, 0));
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
    case SysOp::close: return ret(::close(c.fd));
  }
  return -ENOSYS;
}

}  // namespace ringo::uring
