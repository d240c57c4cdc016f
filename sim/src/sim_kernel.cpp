// SimKernel (sim_kernel.hpp): the event core. The virtual clock and the trace; the queue
// of completions (an Event is one CQE on its way to a ring) and the queue of model events
// (an Action); the ring opcodes the core answers itself (NOP, TIMEOUT, ASYNC_CANCEL,
// MSG_RING); and ops on descriptors, handed to the device behind the descriptor (SimDisk,
// SimNet), which complete at once or park until their object changes.
#include "ringo/internal/sim/sim_kernel.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "descriptor_table.hpp"
#include "device_host.hpp"
#include "fault_kind.hpp"
#include "ringo/internal/core/assert.hpp"
#include "sim_disk.hpp"
#include "sim_fabric.hpp"
#include "sim_net.hpp"

namespace ringo::sim::detail {

using namespace fault;

namespace {
enum StepKind : uint64_t { kDeliver = 1, kAdvance = 2 };
constexpr uint32_t kMillion = 1000000;
constexpr uint32_t kSqEntries = 4096;
constexpr size_t kQueueRoom = 64;

// The ledgers and order trackers feed only RINGO_ASSERTs, so release builds skip their
// upkeep (it was 0.3% of a pipeline seed's instructions, measured with callgrind).
#ifdef NDEBUG
constexpr bool kTrack = false;
#else
constexpr bool kTrack = true;
#endif

void tally([[maybe_unused]] uint64_t& counter) noexcept {
  if constexpr (kTrack) ++counter;
}
}  // namespace

// One host's devices: its descriptor table and the disk and network behind it.
struct SimKernel::Host {
  std::unique_ptr<DescriptorTable> fds;
  std::unique_ptr<SimDisk> disk;
  std::unique_ptr<SimNet> net;
  Clock clock;
};

SimKernel::SimKernel(uint64_t seed, uint32_t rings, FaultConfig faults, bool keep_trace)
    : choices_(seed), faults_(faults), keep_trace_(keep_trace) {
  // Room for a small run's queues from the start: growing each from nothing was a handful
  // of allocations per Simulation, and fuzz targets make one per input.
  due_.reserve(kQueueRoom);
  future_.reserve(kQueueRoom);
  actions_.reserve(kQueueRoom);
  add_host(Clock{});
  for (uint32_t i = 0; i < rings; ++i) add_ring(0);
}

SimKernel::~SimKernel() = default;

void SimKernel::add_host(Clock clock) {
  auto h = std::make_unique<Host>();
  h->fds = std::make_unique<DescriptorTable>();
  h->disk = std::make_unique<SimDisk>(DeviceHost(*this), *h->fds, faults_);
  h->net = std::make_unique<SimNet>(DeviceHost(*this), *h->fds, faults_);
  h->clock = clock;
  hosts_.push_back(std::move(h));
}

uint32_t SimKernel::add_ring(uint32_t host) {
  RINGO_ASSERT(host < hosts_.size(), "a ring belongs to a host");
  const auto index = static_cast<uint32_t>(rings_.size());
  rings_.push_back(std::make_unique<SimRing>(*this, index, kSqEntries));
  ring_host_.push_back(host);
  return index;
}

void SimKernel::make_cluster(const std::vector<Clock>& clocks) {
  RINGO_ASSERT(hosts_.size() == 1 && !fabric_ && !clocks.empty(), "a kernel becomes a cluster once");
  hosts_[0]->clock = clocks[0];
  for (size_t h = 1; h < clocks.size(); ++h) add_host(clocks[h]);
  fabric_ = std::make_unique<SimFabric>();
  for (auto& h : hosts_) h->net->attach(fabric_.get(), fabric_->add(h->net.get()));
}

namespace {
// 10^6 + drift: the clock's rate in parts per million of true time.
__int128 rate(const SimKernel::Clock& c) { return 1'000'000 + c.drift_ppm; }
}  // namespace

Instant SimKernel::local_now(uint32_t ring) const noexcept {
  const Clock& c = hosts_[ring_host_[ring]]->clock;
  if (c.offset_ns == 0 && c.drift_ppm == 0) return now_;
  const __int128 t = now_.count();
  return Instant{static_cast<int64_t>(c.offset_ns + t * rate(c) / 1'000'000)};
}

Instant SimKernel::to_true(uint32_t ring, Instant local) const noexcept {
  const Clock& c = hosts_[ring_host_[ring]]->clock;
  if ((c.offset_ns == 0 && c.drift_ppm == 0) || local == kNoDeadline) return local;
  const __int128 since = static_cast<__int128>(local.count()) - c.offset_ns;
  if (since <= 0) return Instant{0};
  __int128 t = (since * 1'000'000 + rate(c) - 1) / rate(c);  // ceil: never earlier than asked
  while (t > 0 && (t - 1) * rate(c) / 1'000'000 >= since) --t;
  return Instant{static_cast<int64_t>(std::min<__int128>(t, kNoDeadline.count()))};
}

Duration SimKernel::to_true_span(uint32_t ring, Duration local) const noexcept {
  const Clock& c = hosts_[ring_host_[ring]]->clock;
  if (c.drift_ppm == 0 || local.count() <= 0) return local;
  return Duration{static_cast<int64_t>((static_cast<__int128>(local.count()) * 1'000'000 + rate(c) - 1) / rate(c))};
}

// ---------------------------------------------------------------- trace and draws

void SimKernel::record(const TraceEvent& e) {
  RINGO_ASSERT(e.time_ns >= last_record_ns_, "virtual time never goes back");
  if constexpr (kTrack) last_record_ns_ = e.time_ns;
  const uint64_t words[5] = {static_cast<uint64_t>(e.time_ns), e.shard, static_cast<uint64_t>(e.kind), e.a, e.b};
  // In a local, the byte loop unrolled: under UBSan every write to the member of this
  // polymorphic class was a vptr check, and in the fuzz build every loop turn bumped a
  // coverage counter; 40 of each per event were a fifth of fuzz_net's time (perf).
  uint64_t hash = hash_;
  for (uint64_t w : words) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      hash ^= (w >> (8 * i)) & 0xFF;
      hash *= 0x100000001b3ULL;
    }
  }
  hash_ = hash;
  ++events_;
  if (keep_trace_) trace_.push_back(e);
}

bool SimKernel::inject(uint32_t ppm, uint64_t fault_kind) {
  if (ppm == 0 || !choices_.chance(ppm, kMillion, ChoiceKind::fault)) return false;
  ++faults_injected_;
  record({now_.count(), UINT32_MAX, TraceKind::fault, fault_kind, 0});
  return true;
}

// An op's completion latency (choice value: the extra delay over the minimum). Draws even
// when the range is one value (the draw order is part of every seed's replay).
Duration SimKernel::latency() {
  const auto lo = faults_.min_latency.count();
  const auto hi = std::max(lo, faults_.max_latency.count());
  return Duration{lo + static_cast<int64_t>(choices_.below(static_cast<uint64_t>(hi - lo) + 1))};
}

Duration SimKernel::draw(Duration lo, Duration hi) {
  if (hi <= lo) return lo;
  return lo + Duration{static_cast<int64_t>(choices_.below(static_cast<uint64_t>((hi - lo).count()) + 1))};
}

// ---------------------------------------------------------------- the two queues

// A completion whose time has passed is due at once.
void SimKernel::schedule(Instant at, uint32_t ring, Cqe cqe, uint64_t op_user_data, bool cancellable) {
  tally(events_scheduled_);
  Event e{at, ++seq_, ring, cqe, op_user_data, cancellable};
  if (at <= now_) {
    due_.push_back(e);
  } else {
    future_.push_back(e);
    std::push_heap(future_.begin(), future_.end(), Later{});
  }
}

void SimKernel::at(Instant when, Callback fn) {
  tally(actions_scheduled_);
  actions_.push_back(Action{when, ++seq_, std::move(fn)});
  std::push_heap(actions_.begin(), actions_.end(), ActionLater{});
}

void SimKernel::run_due_actions() {
  while (!actions_.empty() && actions_.front().at <= now_) {
    std::pop_heap(actions_.begin(), actions_.end(), ActionLater{});
    Action a = std::move(actions_.back());
    actions_.pop_back();
    RINGO_ASSERT(a.seq > last_action_seq_ || a.at > last_action_at_,
                 "actions run once each, by time, and in scheduling order at one instant");
    if constexpr (kTrack) {
      last_action_at_ = a.at;
      last_action_seq_ = a.seq;
      ++actions_run_;
    }
    a.fn();
  }
  RINGO_ASSERT(actions_run_ + actions_.size() == actions_scheduled_, "every action runs once");
  RINGO_ASSERT(ops_accounted(), "a CQE per SQE: every op answered, parked or silent, once");
}

void SimKernel::post(uint32_t ring, const Cqe& cqe) {
  SimRing& r = *rings_[ring];
  if (r.stopped_) return;  // the ring is gone; its completions go nowhere
  r.cq_.push_back(cqe);
}

void SimKernel::deliver_one() {
  run_due_actions();
  if (due_.empty()) return;
  size_t pick = pick_due();
  // CQEs of one op keep their order (a multishot's results, then its last CQE).
  for (size_t i = 0; i < due_.size(); ++i) {
    if (due_[i].cqe.user_data == due_[pick].cqe.user_data && due_[i].ring == due_[pick].ring &&
        due_[i].seq < due_[pick].seq)
      pick = i;
  }
  RINGO_ASSERT(oldest_of_its_op(pick), "CQEs of one op keep their order");
  const Event e = due_[pick];
  RINGO_ASSERT(e.at <= now_, "only a due completion is delivered");
  due_[pick] = due_.back();
  due_.pop_back();
  tally(events_delivered_);
  RINGO_ASSERT(events_accounted(), "every completion is delivered once");
  record({now_.count(), e.ring, TraceKind::kernel_step, kDeliver, e.cqe.user_data});
  post(e.ring, e.cqe);
}

// The seed's draw is an index into due_, whose order is an artefact of swap-removal; the
// recorded value is the pick's age rank instead (0: the oldest due completion), so that
// shrinking toward 0 means delivering in the order completions became due.
size_t SimKernel::pick_due() {
  auto rank_of = [this](uint64_t index) {
    uint64_t older = 0;
    for (const Event& e : due_) older += e.seq < due_[index].seq;
    return older;
  };
  auto with_rank = [this](uint64_t rank) {
    by_age_.resize(due_.size());
    for (size_t i = 0; i < by_age_.size(); ++i) by_age_[i] = i;
    const auto nth = by_age_.begin() + static_cast<std::ptrdiff_t>(rank);
    std::nth_element(by_age_.begin(), nth, by_age_.end(),
                     [this](size_t a, size_t b) { return due_[a].seq < due_[b].seq; });
    return static_cast<uint64_t>(*nth);
  };
  return static_cast<size_t>(choices_.choose(due_.size(), rank_of, with_rank));
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
  RINGO_ASSERT(future_.empty() || future_.front().at > now_, "everything due by now is deliverable");
  RINGO_ASSERT(events_accounted(), "every completion is delivered once");
}

bool SimKernel::events_accounted() const noexcept {
  return events_scheduled_ == events_delivered_ + due_.size() + future_.size();
}

bool SimKernel::oldest_of_its_op(size_t pick) const noexcept {
  const Event& p = due_[pick];
  return std::none_of(due_.begin(), due_.end(), [&](const Event& e) {
    return e.cqe.user_data == p.cqe.user_data && e.ring == p.ring && e.seq < p.seq;
  });
}

// ---------------------------------------------------------------- submission

void SimKernel::submit(uint32_t ring, const Sqe& sqe) {
  tally(ops_submitted_);
  switch (sqe.opcode) {
    case Opcode::nop: submit_op(ring, sqe, 0, latency(), false); break;
    case Opcode::timeout: submit_op(ring, sqe, -ETIME, Duration{static_cast<int64_t>(sqe.off)}, true); break;
    case Opcode::async_cancel:
    case Opcode::msg_ring:
      // Both complete at once in the kernel: a linked deadline always loses.
      if (sqe.opcode == Opcode::async_cancel) {
        submit_cancel(ring, sqe);
      } else {
        submit_msg_ring(ring, sqe);
      }
      if (sqe.deadline != kNoDeadline) answer_link(now_ + latency(), ring, sqe, -ECANCELED, 0);
      break;
    default: submit_io(ring, sqe); break;
  }
  RINGO_ASSERT(ops_accounted(), "a CQE per SQE: every op answered, parked or silent, once");
}

void SimKernel::answer(Instant at, uint32_t ring, const Sqe& sqe, int32_t res, bool cancellable, uint32_t flags) {
  tally(ops_answered_);
  if (sqe.deadline != kNoDeadline) tally(links_owed_);
  schedule(at, ring, Cqe{sqe.user_data, res, flags}, sqe.user_data, cancellable);
}

void SimKernel::answer_link(Instant at, uint32_t ring, const Sqe& sqe, int32_t res, [[maybe_unused]] int32_t op_res) {
  RINGO_ASSERT(sqe.deadline != kNoDeadline, "only an op with a deadline has a link timeout");
  RINGO_ASSERT(links_owed_ > 0, "a link timeout's CQE comes with its op's");
  RINGO_ASSERT(res == -ECANCELED || (res == -ETIME && op_res == -ECANCELED),
               "of a link-timeout pair exactly one side wins");
  if constexpr (kTrack) --links_owed_;
  schedule(at, ring, Cqe{sqe.timeout_user_data, res, 0}, sqe.user_data, false);
}

bool SimKernel::ops_accounted() const noexcept {
  return ops_submitted_ == ops_answered_ + ops_silent_ + parked_.size() + ops_held_ && links_owed_ == 0;
}

// answer(), except that a success sent with kSqeSkipSuccess posts nothing (its link
// timeout's CQE still comes). Kernel 6.18: a NOP, an ASYNC_CANCEL that found its target
// and an op on a descriptor that succeeded post no CQE (a MSG_RING neither: see
// submit_msg_ring); a TIMEOUT that expires (-ETIME), a cancel that found nothing
// (-ENOENT), any failure do.
void SimKernel::answer_unless_skipped(Instant at, uint32_t ring, const Sqe& sqe, int32_t res, bool cancellable,
                                      uint32_t flags) {
  if ((sqe.flags & kSqeSkipSuccess) == 0 || res < 0) return answer(at, ring, sqe, res, cancellable, flags);
  tally(ops_silent_);
  if (sqe.deadline != kNoDeadline) tally(links_owed_);
}

// An op that completes with `res` after `takes`, honouring a linked deadline the way
// IOSQE_IO_LINK + LINK_TIMEOUT does: two CQEs, whichever side wins. Only a NOP succeeds
// here (a TIMEOUT ends -ETIME), so only a NOP's skipped success is silent; it is not
// cancellable, so the outcome is known at submission.
void SimKernel::submit_op(uint32_t ring, const Sqe& sqe, int32_t res, Duration takes, bool cancellable) {
  RINGO_ASSERT(res < 0 || !cancellable, "a success decided now cannot be cancelled later");
  const Instant done = now_ + takes;
  if (sqe.deadline == kNoDeadline) {
    answer_unless_skipped(done, ring, sqe, res, cancellable);
    return;
  }
  if (sqe.deadline < done) {
    const Instant at = std::max(now_, sqe.deadline);
    answer(at, ring, sqe, -ECANCELED, false);
    answer_link(at, ring, sqe, -ETIME, -ECANCELED);
  } else {
    answer_unless_skipped(done, ring, sqe, res, cancellable);
    answer_link(done, ring, sqe, -ECANCELED, res);
  }
}

void SimKernel::submit_cancel(uint32_t ring, const Sqe& sqe) {
  const uint64_t target = sqe.addr;
  const int32_t res = cancel_parked(ring, target) ? 0 : cancel_in_flight(ring, target);
  answer_unless_skipped(now_ + latency(), ring, sqe, res, false);
}

// Cancels the op's pending completion: 0 (it now completes -ECANCELED, due at once),
// -EALREADY (too late: it is completing and keeps its real result, now due), or -ENOENT.
// A SEND_ZC's notification (kCqeNotif) is not the op's result: a cancel neither ends it nor
// hurries it, or it would come before a result still in flight (issue 19's review).
int32_t SimKernel::cancel_in_flight(uint32_t ring, uint64_t target) {
  auto matches = [&](const Event& e) {
    return e.ring == ring && e.op_user_data == target && e.cqe.user_data == target &&
           (e.cqe.flags & (kCqeMore | kCqeNotif)) == 0;
  };
  auto in_due = std::find_if(due_.begin(), due_.end(), matches);
  auto in_future = std::find_if(future_.begin(), future_.end(), matches);
  const bool found = in_due != due_.end() || in_future != future_.end();
  const bool cancellable = found && (in_due != due_.end() ? in_due->cancellable : in_future->cancellable);
  if (!found) return -ENOENT;
  if (!cancellable || inject(faults_.cancel_too_late_ppm, kCancelTooLate)) {
    if (in_future != future_.end()) {
      Event e = *in_future;
      future_.erase(in_future);
      std::make_heap(future_.begin(), future_.end(), Later{});
      e.at = now_;
      due_.push_back(e);
    }
    return -EALREADY;
  }
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
  return 0;
}

void SimKernel::submit_msg_ring(uint32_t ring, const Sqe& sqe) {
  const auto target = static_cast<uint32_t>(sqe.fd);
  if (sqe.fd < 0 || target >= rings_.size() || rings_[target]->stopped()) {
    answer(now_ + latency(), ring, sqe, -EBADF, false);
    return;
  }
  if (inject(faults_.msg_ring_overflow_ppm, kMsgOverflow)) {
    answer(now_ + latency(), ring, sqe, -EOVERFLOW, false);
    return;
  }
  // Receiver delivery and sender completion are separate events with their own latency.
  // Buggify: now and then the delivery is held back much longer (legal: no bound).
  Duration delivery = latency();
  if (faults_.buggify_ppm != 0 && choices_.chance(faults_.buggify_ppm, kMillion, ChoiceKind::fault)) {
    delivery += Duration{static_cast<int64_t>(choices_.below(1'000'000))};
  }
  schedule(now_ + delivery, target, Cqe{sqe.off, static_cast<int32_t>(sqe.len), 0}, 0, false);
  // Not answer_unless_skipped: a skipped success draws no latency, and a draw here would
  // shift every later choice of the run (recorded seeds and corpus entries replay these).
  if ((sqe.flags & kSqeSkipSuccess) == 0) {
    answer(now_ + latency(), ring, sqe, 0, false);
  } else {
    tally(ops_silent_);                                   // success skips its CQE
    if (sqe.deadline != kNoDeadline) tally(links_owed_);  // the link timeout's still comes
  }
}

// ---------------------------------------------------------------- ops on descriptors

std::optional<int32_t> SimKernel::try_io(uint64_t id, uint32_t ring, const Sqe& sqe) {
  Host& h = host_devices(ring);
  switch (sqe.opcode) {
    case Opcode::openat: return h.disk->open(sqe);
    case Opcode::close: return close_fd(ring_host_[ring], sqe.fd);
    case Opcode::fsync: return h.disk->io(sqe);
    case Opcode::read:
    case Opcode::write:
    case Opcode::readv:
    case Opcode::writev:
      if (h.fds->get<detail::OpenFile>(sqe.fd)) return h.disk->io(sqe);
      return h.net->try_op(id, ring, sqe);
    case Opcode::accept:
    case Opcode::connect:
    case Opcode::recv:
    case Opcode::send:
    case Opcode::send_zc:
    case Opcode::sendmsg:
    case Opcode::recvmsg:
    case Opcode::shutdown: return h.net->try_op(id, ring, sqe);
    case Opcode::poll_add: return -EOPNOTSUPP;  // not modelled (docs/simulation.md)
    default: return -EINVAL;                    // an opcode the kernel does not know
  }
}

void SimKernel::submit_io(uint32_t ring, const Sqe& sqe) {
  const uint64_t id = ++park_seq_;
  if (std::optional<int32_t> res = try_io(id, ring, sqe)) return complete_io(ring, sqe, *res);
  parked_.add(id, Parked{ring, sqe});
  if (sqe.deadline == kNoDeadline) return;
  if (sqe.deadline <= now_) return expire_parked(id);
  at(sqe.deadline, [this, id] { expire_parked(id); });
}

// The op has its result: it is committed (no longer cancellable), its CQE arrives after
// the usual latency, and a linked deadline loses. A success with kSqeSkipSuccess posts no
// CQE, as io_uring, even one that would carry a provided buffer: that buffer is consumed
// all the same (kernel 6.18, conformance_test's ASkippedSuccessTakesItsBufferAlong).
void SimKernel::complete_io(uint32_t ring, const Sqe& sqe, int32_t res) {
  if (held_result_at_ != kNoDeadline) {
    // Held (hold_final): the result goes out with kCqeMore, the final CQE at release_held.
    const Instant done = std::exchange(held_result_at_, kNoDeadline);
    ++ops_held_;
    schedule(done, ring, Cqe{sqe.user_data, res, kCqeMore}, sqe.user_data, false);
    if (sqe.deadline != kNoDeadline) {
      tally(links_owed_);
      answer_link(done, ring, sqe, -ECANCELED, res);
    }
    return;
  }
  const Instant done = now_ + latency();
  const uint32_t flags = std::exchange(final_flags_, 0);
  answer_unless_skipped(done, ring, sqe, res, false, flags);
  if (sqe.deadline != kNoDeadline) answer_link(done, ring, sqe, -ECANCELED, res);
}

Instant SimKernel::hold_final() {
  held_result_at_ = now_ + latency();
  return held_result_at_;
}

void SimKernel::release_held(uint32_t ring, const Sqe& sqe, int32_t res, uint32_t flags, Instant result_at) {
  RINGO_ASSERT(ops_held_ > 0, "only a held op is released, once");
  --ops_held_;
  tally(ops_answered_);  // its link timeout's CQE went out with its result (complete_io)
  const Instant at = std::max(now_ + latency(), result_at);
  schedule(at, ring, Cqe{sqe.user_data, res, flags}, sqe.user_data, false);
}

// A parked op that ends cancelled. A SEND_ZC posts two CQEs even then, as the kernel's
// does (its notification slot is set up when the op is prepared): -ECANCELED with kCqeMore,
// then the notification.
void SimKernel::answer_cancelled(uint32_t ring, const Sqe& sqe) {
  if (sqe.opcode == Opcode::send_zc) {
    schedule(now_, ring, Cqe{sqe.user_data, -ECANCELED, kCqeMore}, sqe.user_data, false);
    answer(now_, ring, sqe, 0, false, kCqeNotif);
  } else {
    answer(now_, ring, sqe, -ECANCELED, false);
  }
}

void SimKernel::expire_parked(uint64_t id) {
  const Parked* found = parked_.find(id);
  if (found == nullptr) return;
  const Parked p = *found;
  parked_.erase(id);
  answer_cancelled(p.ring, p.sqe);
  answer_link(now_, p.ring, p.sqe, -ETIME, -ECANCELED);
}

bool SimKernel::cancel_parked(uint32_t ring, uint64_t user_data) {
  const uint64_t id =
      parked_.find_first([&](const Parked& p) { return p.ring == ring && p.sqe.user_data == user_data; });
  if (id == 0) return false;
  const Parked p = *parked_.find(id);
  answer_cancelled(ring, p.sqe);
  if (p.sqe.deadline != kNoDeadline) answer_link(now_, ring, p.sqe, -ECANCELED, -ECANCELED);
  parked_.erase(id);
  return true;
}

// Retries every op waiting on an object that changed. Ops of a stopped ring are dropped
// without effect: their buffers may be gone. The list gets its room back when no retry
// parked again on it (most park once more soon: a pipe's reader after each arrival; the
// list is its object's, which the caller holds alive through the retries).
void SimKernel::wake(std::vector<uint64_t>& waiters) {
  if (waiters.empty()) return;
  std::vector<uint64_t> ids;
  ids.swap(waiters);
  for (uint64_t id : ids) {
    const Parked* found = parked_.find(id);
    if (found == nullptr) continue;
    const Parked p = *found;
    if (rings_[p.ring]->stopped()) {
      parked_.erase(id);
      tally(ops_silent_);
      continue;
    }
    if (std::optional<int32_t> res = try_io(id, p.ring, p.sqe)) {
      parked_.erase(id);
      complete_io(p.ring, p.sqe, *res);
    }
  }
  if (waiters.empty()) {
    ids.clear();
    waiters.swap(ids);
  }
}

int32_t SimKernel::close_fd(uint32_t host, int32_t fd) {
  Host& h = *hosts_[host];
  detail::Object gone = h.fds->release(fd);
  if (std::holds_alternative<std::monostate>(gone)) return -EBADF;
  if (auto* sock = std::get_if<std::shared_ptr<detail::Socket>>(&gone)) h.net->closed(*sock);
  return 0;
}

int64_t SimKernel::sys(uint32_t ring, SysCall& call) {
  int64_t res = 0;
  if (call.op == SysOp::close) {
    res = close_fd(ring_host_[ring], call.fd);
  } else if (call.op == SysOp::file_size) {
    res = host_devices(ring).disk->size(call.fd);
  } else {
    res = host_devices(ring).net->sys(call);
  }
  RINGO_ASSERT(ops_accounted(), "a CQE per SQE: every op answered, parked or silent, once");
  return res;
}

void SimKernel::crash() {
  for (uint32_t h = 0; h < hosts_.size(); ++h) {
    record({now_.count(), UINT32_MAX, TraceKind::fault, kCrashTear, h});
    DescriptorTable& fds = *hosts_[h]->fds;
    for (int32_t fd = detail::DescriptorTable::kFirstFd; fd < fds.end(); ++fd) {
      if (fds.find(fd) != nullptr) close_fd(h, fd);
    }
    hosts_[h]->disk->crash();
  }
  RINGO_ASSERT(ops_accounted(), "a CQE per SQE: every op answered, parked or silent, once");
}

void SimKernel::crash_host(uint32_t host) {
  RINGO_ASSERT(host < hosts_.size(), "a host that exists");
  record({now_.count(), UINT32_MAX, TraceKind::fault, kCrashTear, host});
  Host& h = *hosts_[host];
  h.net->crash();
  for (int32_t fd = detail::DescriptorTable::kFirstFd; fd < h.fds->end(); ++fd) {
    if (h.fds->find(fd) != nullptr) close_fd(host, fd);
  }
  h.disk->crash();
  RINGO_ASSERT(ops_accounted(), "a CQE per SQE: every op answered, parked or silent, once");
}

std::optional<std::string> SimKernel::file_contents(const std::string& path) const { return file_contents(0, path); }

std::optional<std::string> SimKernel::file_contents(uint32_t host, const std::string& path) const {
  return hosts_[host]->disk->contents(path);
}

size_t SimKernel::open_fds() const noexcept {
  size_t n = 0;
  for (const auto& h : hosts_) n += h->fds->open();
  return n;
}

}  // namespace ringo::sim::detail
