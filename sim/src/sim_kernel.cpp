#include "ringo/sim/sim_kernel.hpp"

#include <algorithm>
#include <cerrno>

#include "sim_objects.hpp"

namespace ringo::sim {

using namespace detail::fault;

namespace {
enum StepKind : uint64_t { kDeliver = 1, kAdvance = 2 };
constexpr uint32_t kMillion = 1000000;
}  // namespace

FaultConfig FaultConfig::none() {
  FaultConfig f;
  f.cancel_too_late_ppm = 500000;
  return f;
}

FaultConfig FaultConfig::light() {
  FaultConfig f;
  f.msg_ring_overflow_ppm = 10000;
  f.sq_full_ppm = 10000;
  f.max_latency = Duration{100000};
  f.short_io_ppm = 50000;
  f.reset_ppm = 200;
  f.connect_refused_ppm = 1000;
  f.disk_eio_ppm = 1000;
  f.net_max_latency = Duration{200000};
  f.multishot_end_ppm = 10000;
  return f;
}

FaultConfig FaultConfig::heavy() {
  FaultConfig f;
  f.msg_ring_overflow_ppm = 100000;
  f.sq_full_ppm = 100000;
  f.max_latency = Duration{2000000};
  f.short_io_ppm = 300000;
  f.reset_ppm = 2000;
  f.connect_refused_ppm = 20000;
  f.disk_eio_ppm = 10000;
  f.net_max_latency = Duration{5000000};
  f.net_ns_per_byte = 100;  // 10 MB/s
  f.socket_buffer = 2048;   // constant backpressure
  f.multishot_end_ppm = 200000;
  f.blocking_max_latency = Duration{5000000};
  return f;
}

FaultConfig FaultConfig::swarm(uint64_t seed) {
  Prng p(seed ^ 0x5a4a4dULL);
  FaultConfig f;
  f.msg_ring_overflow_ppm = p.chance(1, 2) ? static_cast<uint32_t>(p.below(200000)) : 0;
  f.sq_full_ppm = p.chance(1, 2) ? static_cast<uint32_t>(p.below(200000)) : 0;
  f.cancel_too_late_ppm = static_cast<uint32_t>(p.below(kMillion));
  f.min_latency = Duration{static_cast<int64_t>(p.below(5000))};
  f.max_latency = f.min_latency + Duration{static_cast<int64_t>(p.below(5000000))};
  f.short_io_ppm = p.chance(1, 2) ? static_cast<uint32_t>(p.below(500000)) : 0;
  f.reset_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(5000)) : 0;
  f.connect_refused_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(50000)) : 0;
  f.disk_eio_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(20000)) : 0;
  f.net_min_latency = Duration{static_cast<int64_t>(p.below(20000))};
  f.net_max_latency = f.net_min_latency + Duration{static_cast<int64_t>(p.below(5000000))};
  f.net_ns_per_byte = static_cast<uint32_t>(p.below(200));
  f.socket_buffer = static_cast<uint32_t>(1 + p.below(128 * 1024));
  f.multishot_accept = !p.chance(1, 5);  // sometimes a ring without it: the fallback path
  f.multishot_end_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(300000)) : 0;
  return f;
}

bool FaultConfig::parse(const std::string& name, uint64_t seed, FaultConfig& out) {
  if (name == "none") return out = none(), true;
  if (name == "light") return out = light(), true;
  if (name == "heavy") return out = heavy(), true;
  if (name == "swarm") return out = swarm(seed), true;
  return false;
}

// ---------------------------------------------------------------- SimRing

SimRing::SimRing(SimKernel& kernel, uint32_t index, uint32_t sq_entries)
    : kernel_(kernel), index_(index), sq_entries_(sq_entries) {}

size_t SimRing::push(std::span<const Sqe> sqes) {
  size_t room = sq_entries_ - sq_.size();
  if (room > 1 && kernel_.inject(kernel_.faults().sq_full_ppm, kSqFull)) {
    room = kernel_.prng().below(room);
  }
  const size_t n = std::min(room, sqes.size());
  sq_.insert(sq_.end(), sqes.begin(), sqes.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

Result<size_t> SimRing::submit_and_wait(unsigned, Duration) {
  // The simulator never blocks here: when nothing can run, the driver advances the clock.
  const size_t n = sq_.size();
  for (const Sqe& s : sq_) kernel_.submit(index_, s);
  sq_.clear();
  return n;
}

size_t SimRing::reap(std::span<Cqe> out) {
  const size_t n = std::min(out.size(), cq_.size());
  for (size_t i = 0; i < n; ++i) {
    out[i] = cq_.front();
    cq_.pop_front();
  }
  return n;
}

Instant SimRing::now() const { return kernel_.now(); }

int64_t SimRing::sys(SysCall& call) { return kernel_.sys(call); }

Caps SimRing::caps() const {
  Caps c;
  c.msg_ring = c.link_timeout = c.async_cancel = c.ext_arg = true;
  c.multishot_accept = kernel_.faults().multishot_accept;
  return c;
}

// ---------------------------------------------------------------- SimKernel

SimKernel::SimKernel(uint64_t seed, uint32_t rings, FaultConfig faults, bool keep_trace)
    : prng_(seed), faults_(faults), keep_trace_(keep_trace) {
  os_ = std::make_unique<Os>();
  for (uint32_t i = 0; i < rings; ++i) rings_.push_back(std::make_unique<SimRing>(*this, i, 4096));
}

SimKernel::~SimKernel() = default;

void SimKernel::record(const TraceEvent& e) {
  const uint64_t words[5] = {static_cast<uint64_t>(e.time_ns), e.shard, static_cast<uint64_t>(e.kind), e.a, e.b};
  for (uint64_t w : words) {
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (w >> (8 * i)) & 0xFF;
      hash_ *= 0x100000001b3ULL;
    }
  }
  ++events_;
  if (keep_trace_) trace_.push_back(e);
}

bool SimKernel::inject(uint32_t ppm, uint64_t fault_kind) {
  if (ppm == 0 || !prng_.chance(ppm, kMillion)) return false;
  ++faults_injected_;
  record({now_.count(), UINT32_MAX, TraceKind::fault, fault_kind, 0});
  return true;
}

Duration SimKernel::latency() {
  const auto lo = faults_.min_latency.count();
  const auto hi = std::max(lo, faults_.max_latency.count());
  return Duration{lo + static_cast<int64_t>(prng_.below(static_cast<uint64_t>(hi - lo) + 1))};
}

void SimKernel::schedule(Instant at, uint32_t ring, Cqe cqe, uint64_t op_user_data, bool cancellable) {
  Event e{at, ++seq_, ring, cqe, op_user_data, cancellable};
  if (at <= now_) {
    due_.push_back(e);
  } else {
    future_.push_back(e);
    std::push_heap(future_.begin(), future_.end(), Later{});
  }
}

void SimKernel::submit(uint32_t ring, const Sqe& sqe) {
  switch (sqe.opcode) {
    case Opcode::nop: return submit_op(ring, sqe, 0, latency(), false);
    case Opcode::timeout: return submit_op(ring, sqe, -ETIME, Duration{static_cast<int64_t>(sqe.off)}, true);
    case Opcode::async_cancel:
    case Opcode::msg_ring:
      // Both complete at once in the kernel: a linked deadline always loses.
      if (sqe.opcode == Opcode::async_cancel) {
        submit_cancel(ring, sqe);
      } else {
        submit_msg_ring(ring, sqe);
      }
      if (sqe.deadline != kNoDeadline) {
        schedule(now_ + latency(), ring, Cqe{sqe.timeout_user_data, -ECANCELED, 0}, sqe.user_data, false);
      }
      return;
    default: return submit_io(ring, sqe);
  }
}

// ---------------------------------------------------------------- ops on objects

void SimKernel::submit_io(uint32_t ring, const Sqe& sqe) {
  const uint64_t id = ++park_seq_;
  if (std::optional<int32_t> res = try_io(id, ring, sqe)) return complete_io(ring, sqe, *res);
  parked_.emplace(id, Parked{ring, sqe});
  if (sqe.deadline == kNoDeadline) return;
  if (sqe.deadline <= now_) return expire_parked(id);
  at(sqe.deadline, [this, id] { expire_parked(id); });
}

// The op has its result: it is committed (no longer cancellable), its CQE arrives after
// the usual latency, and a linked deadline loses.
void SimKernel::complete_io(uint32_t ring, const Sqe& sqe, int32_t res) {
  const Instant done = now_ + latency();
  schedule(done, ring, Cqe{sqe.user_data, res, 0}, sqe.user_data, false);
  if (sqe.deadline != kNoDeadline) {
    schedule(done, ring, Cqe{sqe.timeout_user_data, -ECANCELED, 0}, sqe.user_data, false);
  }
}

void SimKernel::expire_parked(uint64_t id) {
  auto it = parked_.find(id);
  if (it == parked_.end()) return;
  const Parked p = it->second;
  parked_.erase(it);
  schedule(now_, p.ring, Cqe{p.sqe.user_data, -ECANCELED, 0}, p.sqe.user_data, false);
  schedule(now_, p.ring, Cqe{p.sqe.timeout_user_data, -ETIME, 0}, p.sqe.user_data, false);
}

bool SimKernel::cancel_parked(uint32_t ring, uint64_t user_data) {
  for (auto it = parked_.begin(); it != parked_.end(); ++it) {
    const Parked& p = it->second;
    if (p.ring != ring || p.sqe.user_data != user_data) continue;
    schedule(now_, ring, Cqe{user_data, -ECANCELED, 0}, user_data, false);
    if (p.sqe.deadline != kNoDeadline)
      schedule(now_, ring, Cqe{p.sqe.timeout_user_data, -ECANCELED, 0}, user_data, false);
    parked_.erase(it);
    return true;
  }
  return false;
}

// Retries every op waiting on an object that changed. Ops of a stopped ring are dropped
// without effect: their buffers may be gone.
void SimKernel::wake(std::vector<uint64_t>& waiters) {
  std::vector<uint64_t> ids;
  ids.swap(waiters);
  for (uint64_t id : ids) {
    auto it = parked_.find(id);
    if (it == parked_.end()) continue;
    const Parked p = it->second;
    if (rings_[p.ring]->stopped()) {
      parked_.erase(it);
      continue;
    }
    if (std::optional<int32_t> res = try_io(id, p.ring, p.sqe)) {
      parked_.erase(id);
      complete_io(p.ring, p.sqe, *res);
    }
  }
}

std::optional<int32_t> SimKernel::try_io(uint64_t id, uint32_t ring, const Sqe& sqe) {
  switch (sqe.opcode) {
    case Opcode::openat: return do_open(sqe);
    case Opcode::close: return do_close(sqe.fd);
    case Opcode::fsync: return try_file(ring, sqe);
    case Opcode::read:
    case Opcode::write:
    case Opcode::readv:
    case Opcode::writev:
      if (os_->get<detail::OpenFile>(sqe.fd)) return try_file(ring, sqe);
      return try_net(id, ring, sqe);
    case Opcode::accept:
    case Opcode::connect:
    case Opcode::recv:
    case Opcode::send:
    case Opcode::shutdown: return try_net(id, ring, sqe);
    case Opcode::poll_add: return -EOPNOTSUPP;  // not modelled (docs/simulation.md)
    default: return -EINVAL;                    // an opcode the kernel does not know
  }
}

void SimKernel::at(Instant when, std::function<void()> fn) {
  actions_.push_back(Action{when, ++seq_, std::move(fn)});
  std::push_heap(actions_.begin(), actions_.end(), ActionLater{});
}

Duration SimKernel::draw(Duration lo, Duration hi) {
  if (hi <= lo) return lo;
  return lo + Duration{static_cast<int64_t>(prng_.below(static_cast<uint64_t>((hi - lo).count()) + 1))};
}

void SimKernel::run_due_actions() {
  while (!actions_.empty() && actions_.front().at <= now_) {
    std::pop_heap(actions_.begin(), actions_.end(), ActionLater{});
    Action a = std::move(actions_.back());
    actions_.pop_back();
    a.fn();
  }
}

size_t SimKernel::open_fds() const noexcept { return os_->open; }

int32_t SimKernel::Os::allocate(detail::Object object) {
  if (open >= max_fds) return -EMFILE;
  size_t fd = kFirstFd;
  while (fd < fds.size() && !std::holds_alternative<std::monostate>(fds[fd])) ++fd;
  if (fd >= fds.size()) fds.resize(fd + 1);
  fds[fd] = std::move(object);
  ++open;
  return static_cast<int32_t>(fd);
}

detail::Object* SimKernel::Os::find(int32_t fd) {
  if (fd < kFirstFd || static_cast<size_t>(fd) >= fds.size()) return nullptr;
  detail::Object* o = &fds[static_cast<size_t>(fd)];
  return std::holds_alternative<std::monostate>(*o) ? nullptr : o;
}

int64_t SimKernel::sys(SysCall& call) {
  if (call.op == SysOp::close) return do_close(call.fd);
  if (call.op == SysOp::file_size) {
    auto file = os_->get<detail::OpenFile>(call.fd);
    if (!file) return os_->find(call.fd) ? -EINVAL : -EBADF;
    return static_cast<int64_t>(file->inode->data.size());
  }
  return net_sys(call);
}

// An op that completes with `res` after `takes`, honouring a linked deadline the way
// IOSQE_IO_LINK + LINK_TIMEOUT does: two CQEs, whichever side wins.
void SimKernel::submit_op(uint32_t ring, const Sqe& sqe, int32_t res, Duration takes, bool cancellable) {
  const Instant done = now_ + takes;
  if (sqe.deadline == kNoDeadline) {
    schedule(done, ring, Cqe{sqe.user_data, res, 0}, sqe.user_data, cancellable);
    return;
  }
  if (sqe.deadline < done) {
    const Instant at = std::max(now_, sqe.deadline);
    schedule(at, ring, Cqe{sqe.user_data, -ECANCELED, 0}, sqe.user_data, false);
    schedule(at, ring, Cqe{sqe.timeout_user_data, -ETIME, 0}, sqe.user_data, false);
  } else {
    schedule(done, ring, Cqe{sqe.user_data, res, 0}, sqe.user_data, cancellable);
    schedule(done, ring, Cqe{sqe.timeout_user_data, -ECANCELED, 0}, sqe.user_data, false);
  }
}

void SimKernel::submit_cancel(uint32_t ring, const Sqe& sqe) {
  const uint64_t target = sqe.addr;
  if (cancel_parked(ring, target)) {
    schedule(now_ + latency(), ring, Cqe{sqe.user_data, 0, 0}, sqe.user_data, false);
    return;
  }
  auto matches = [&](const Event& e) {
    return e.ring == ring && e.op_user_data == target && e.cqe.user_data == target && (e.cqe.flags & kCqeMore) == 0;
  };
  auto in_due = std::find_if(due_.begin(), due_.end(), matches);
  auto in_future = std::find_if(future_.begin(), future_.end(), matches);
  const bool found = in_due != due_.end() || in_future != future_.end();
  const bool cancellable = found && (in_due != due_.end() ? in_due->cancellable : in_future->cancellable);
  int32_t res = -ENOENT;
  if (found && (!cancellable || inject(faults_.cancel_too_late_ppm, kCancelTooLate))) {
    // Too late: the op is completing. It keeps its real result; make it due now.
    res = -EALREADY;
    if (in_future != future_.end()) {
      Event e = *in_future;
      future_.erase(in_future);
      std::make_heap(future_.begin(), future_.end(), Later{});
      e.at = now_;
      due_.push_back(e);
    }
  } else if (found) {
    res = 0;
    Event e = in_due != due_.end() ? *in_due : *in_future;
    if (in_due != due_.end()) {
      due_.erase(in_due);
    } else {
      future_.erase(in_future);
      std::make_heap(future_.begin(), future_.end(), Later{});
    }
    e.at = now_;
    e.cqe.res = -ECANCELED;
    due_.push_back(e);
  }
  schedule(now_ + latency(), ring, Cqe{sqe.user_data, res, 0}, sqe.user_data, false);
}

void SimKernel::submit_msg_ring(uint32_t ring, const Sqe& sqe) {
  const auto target = static_cast<uint32_t>(sqe.fd);
  if (sqe.fd < 0 || target >= rings_.size() || rings_[target]->stopped()) {
    schedule(now_ + latency(), ring, Cqe{sqe.user_data, -EBADF, 0}, sqe.user_data, false);
    return;
  }
  if (inject(faults_.msg_ring_overflow_ppm, kMsgOverflow)) {
    schedule(now_ + latency(), ring, Cqe{sqe.user_data, -EOVERFLOW, 0}, sqe.user_data, false);
    return;
  }
  // Receiver delivery and sender completion are separate events with their own latency.
  // Buggify: now and then the delivery is held back much longer (legal: no bound).
  Duration delivery = latency();
  if (faults_.buggify_ppm != 0 && prng_.chance(faults_.buggify_ppm, kMillion)) {
    delivery += Duration{static_cast<int64_t>(prng_.below(1'000'000))};
  }
  schedule(now_ + delivery, target, Cqe{sqe.off, static_cast<int32_t>(sqe.len), 0}, 0, false);
  if ((sqe.flags & kSqeSkipSuccess) == 0) {
    schedule(now_ + latency(), ring, Cqe{sqe.user_data, 0, 0}, sqe.user_data, false);
  }
}

void SimKernel::post(uint32_t ring, const Cqe& cqe) {
  SimRing& r = *rings_[ring];
  if (r.stopped_) return;  // the ring is gone; its completions go nowhere
  r.cq_.push_back(cqe);
}

void SimKernel::deliver_one() {
  run_due_actions();
  if (due_.empty()) return;
  size_t pick = prng_.below(due_.size());
  // CQEs of one op keep their order (a multishot's results, then its last CQE).
  for (size_t i = 0; i < due_.size(); ++i) {
    if (due_[i].cqe.user_data == due_[pick].cqe.user_data && due_[i].ring == due_[pick].ring &&
        due_[i].seq < due_[pick].seq)
      pick = i;
  }
  const Event e = due_[pick];
  due_[pick] = due_.back();
  due_.pop_back();
  record({now_.count(), e.ring, TraceKind::kernel_step, kDeliver, e.cqe.user_data});
  post(e.ring, e.cqe);
}

Instant SimKernel::next_event() const noexcept {
  if (!due_.empty()) return now_;
  const Instant next = future_.empty() ? kNoDeadline : future_.front().at;
  return actions_.empty() ? next : std::min(next, actions_.front().at);
}

void SimKernel::advance_to(Instant t) {
  if (t > now_) {
    now_ = t;
    record({now_.count(), UINT32_MAX, TraceKind::kernel_step, kAdvance, 0});
  }
  run_due_actions();
  while (!future_.empty() && future_.front().at <= now_) {
    std::pop_heap(future_.begin(), future_.end(), Later{});
    due_.push_back(future_.back());
    future_.pop_back();
  }
}

}  // namespace ringo::sim
