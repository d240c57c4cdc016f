#include "ringo/core/shard.hpp"

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ringo {
namespace {

constexpr size_t kCqeBatch = 128;
constexpr unsigned kMaxReapRounds = 8;  // bounded: at most 1024 CQEs per tick

// The inbox is a stack; reversing what was taken restores the order in which each poster
// posted.
Envelope* oldest_first(Envelope* newest) {
  if (newest == ShardPort::asleep()) return nullptr;
  Envelope* list = nullptr;
  while (newest != nullptr) {
    Envelope* older = newest->next;
    newest->next = list;
    list = newest;
    newest = older;
  }
  return list;
}

}  // namespace

CurrentShardScope::CurrentShardScope(Shard* shard) noexcept : previous_(detail::tls_current_shard) {
  detail::tls_current_shard = shard;
}
CurrentShardScope::~CurrentShardScope() { detail::tls_current_shard = previous_; }

ShardStats& ShardStats::operator+=(const ShardStats& o) {
  routines_spawned += o.routines_spawned;
  routines_finished += o.routines_finished;
  routines_live += o.routines_live;
  routines_panicked += o.routines_panicked;
  routines_cancelled_before_start += o.routines_cancelled_before_start;
  resumes += o.resumes;
  ops_submitted += o.ops_submitted;
  ops_completed += o.ops_completed;
  ops_cancelled_before_submit += o.ops_cancelled_before_submit;
  ops_cancelled_by_kernel += o.ops_cancelled_by_kernel;
  ops_completed_despite_cancel += o.ops_completed_despite_cancel;
  multishot_results += o.multishot_results;
  deadline_expiries += o.deadline_expiries;
  stale_completions += o.stale_completions;
  messages_sent += o.messages_sent;
  messages_delivered += o.messages_delivered;
  messages_send_failed += o.messages_send_failed;
  messages_dropped += o.messages_dropped;
  envelopes_delivered += o.envelopes_delivered;
  doorbells_sent += o.doorbells_sent;
  doorbell_retries += o.doorbell_retries;
  timers_fired += o.timers_fired;
  ticks += o.ticks;
  batches_pushed += o.batches_pushed;
  envelope_blocks += o.envelope_blocks;
  routines_given += o.routines_given;
  routines_received += o.routines_received;
  work_requests_sent += o.work_requests_sent;
  work_requests_answered += o.work_requests_answered;
  blocking_calls += o.blocking_calls;
  blocking_cancelled_before_start += o.blocking_cancelled_before_start;
  blocking_cancelled_while_running += o.blocking_cancelled_while_running;
  blocking_completed_despite_cancel += o.blocking_completed_despite_cancel;
  spins_preempted += o.spins_preempted;
  return *this;
}

// ---------------------------------------------------------------- group

ShardGroup::ShardGroup(uint32_t shards) {
  ports_.reserve(shards);
  pools_.reserve(shards);
  for (uint32_t i = 0; i < shards; ++i) {
    ports_.push_back(std::make_unique<ShardPort>());
    pools_.push_back(std::make_unique<EnvelopePool>());
  }
}

void* Envelope::operator new(std::size_t size) {
  Shard* here = current_shard();
  return EnvelopePool::allocate(here != nullptr ? here->envelope_pool() : nullptr, size);
}

void Envelope::operator delete(void* block) noexcept {
  Shard* here = current_shard();
  EnvelopePool::release(block, here != nullptr ? here->envelope_pool() : nullptr);
}

Result<bool> ShardGroup::enqueue(uint32_t target, Envelope* env) {
  if (target >= size()) return fail(errc::invalid_shard);
  std::atomic<Envelope*>& inbox = ports_[target]->inbox;
  Envelope* head = inbox.load(std::memory_order_relaxed);
  // Lock-free: a failed exchange means another poster got in first, and we retry on top.
  for (;;) {
    if (head == ShardPort::closed_mark()) return fail(errc::shard_stopped);
    env->next = head == ShardPort::asleep() ? nullptr : head;
    if (inbox.compare_exchange_weak(head, env, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return head == ShardPort::asleep();
    }
  }
}

Result<void> ShardGroup::post_from_anywhere(uint32_t target, Envelope* env) {
  Shard* here = current_shard();
  if (here != nullptr && &here->group() == this) return here->post(target, env);
  auto ring = enqueue(target, env);
  if (!ring) return std::unexpected(ring.error());
  // Without a wake (or if it fails) the target finds the envelope when it next wakes up.
  if (*ring && external_wake_ != nullptr) (void)external_wake_(external_wake_ctx_, target);
  return {};
}

// ---------------------------------------------------------------- shard

Shard::Shard(ShardGroup& group, uint32_t index, Ring& ring, ShardConfig config)
    : group_(group),
      index_(index),
      port_(group.port(index)),
      ring_(ring),
      envelopes_(&group.envelope_pool(index)),
      config_(config),
      prng_(config.seed ^ (0x5a17d00dULL * (index + 1))),
      buggify_prng_(config.seed ^ (0xb0661f7ULL * (index + 1))),
      cqe_buffer_(kCqeBatch) {
  assert(index < group.size());
}

Shard::~Shard() {
  // Frames still alive here belong to routines that never finished (a runtime torn down
  // mid-flight). Their frames own awaiters that may sit in our structures: unlink them
  // first, then free the frames.
  const bool outer = detail::tls_tearing_down;
  detail::tls_tearing_down = true;
  while (Routine* r = live_.pop_front()) {
    r->end(r, /*publish=*/false);
  }
  detail::tls_tearing_down = outer;
  close_inbox();
}

const ShardStats& Shard::stats() const noexcept {
  stats_.routines_live =
      stats_.routines_spawned + stats_.routines_received - stats_.routines_finished - stats_.routines_given;
  stats_.envelope_blocks = envelopes_->blocks_made();
  return stats_;
}

bool Shard::has_local_work() const noexcept {
  return ready_head_ != nullptr || self_head_ != nullptr || !pending_.empty() || !doorbell_retry_.empty() ||
         !tick_hooks_.empty() || (timers_.size() > 0 && timers_.next_deadline() <= ring_.now()) ||
         port_.work_request.load(std::memory_order_relaxed) != 0 || wants_work();
}

bool Shard::run_once(bool may_block, Duration max_block) {
  CurrentShardScope scope(this);
  ++stats_.ticks;
  asleep_ = false;  // running: the inbox is looked at again this tick
  const uint64_t before = progress();
  serve_work_request_if_any();
  fire_timers();
  run_ready();
  run_tick_hooks(/*final=*/false);
  drain_self();
  for (uint32_t target : doorbell_retry_) {
    ++stats_.doorbell_retries;
    ring_doorbell(target);
  }
  doorbell_retry_.clear();
  if (ready_head_ == nullptr) request_work();

  // Block only if this tick has done nothing so far: work done here (a timer fired, a
  // routine finished) may be what the caller's loop waits for, e.g. block_on's main task
  // returning. Blocking after it lost that wake-up whenever no timer or op was left.
  const bool idle = ready_head_ == nullptr && progress() == before;
  Duration timeout{0};
  if (may_block && idle) {
    const Instant next = timers_.next_deadline();
    timeout = next == kNoDeadline ? Duration::max() : std::max(Duration{0}, next - ring_.now());
    timeout = std::min(timeout, max_block);
  }
  // Sleep only once posters know to ring: an inbox with mail in it means stay awake.
  const bool sleep = may_block && idle && timeout.count() > 0 && prepare_to_sleep();
  flush(sleep ? 1 : 0, timeout);
  reap();
  drain_inbox();
  fire_timers();
  // Routines woken by what was just reaped or drained (a cross-shard answer) run now,
  // not after the next flush: what they post then leaves in the same flush as what the
  // reap itself answered, often under one doorbell, instead of one syscall later.
  if (ready_head_ != nullptr || self_head_ != nullptr) {
    run_ready();
    run_tick_hooks(/*final=*/false);
    drain_self();
  }
  if (published_load_ != movable_ready_) publish_load();
  return progress() != before || ready_head_ != nullptr || self_head_ != nullptr;
}

// ---------------------------------------------------------------- routines

Result<void> Shard::admit(Routine* r, std::coroutine_handle<> root) {
  if (stats_.routines_spawned + stats_.routines_received - stats_.routines_finished - stats_.routines_given >=
      config_.max_routines) {
    return fail(errc::spawn_limit);
  }
  if (group_.port(index_).stopping.load(std::memory_order_relaxed)) return fail(errc::shard_stopped);
  r->resume_point = root;
  r->shard = this;
  r->home = this;
  r->id = (uint64_t{index_} << 48) | ++next_routine_seq_;
  live_.push_back(r);
  ++stats_.routines_spawned;
  trace(TraceKind::spawn, r->id, 0);
  make_ready(r);
  // Idle shards see a burst of balanced spawns while it happens, not at the tick's end
  // (a tick of CPU-bound routines can last milliseconds); one store per doubling.
  if (r->movable && movable_ready_ > 2 * published_load_) publish_load();
  return {};
}

void Shard::make_ready(Routine* r) {
  assert(r->next_ready == nullptr && ready_tail_ != r);
  if (r->movable && !r->started) ++movable_ready_;
  if (ready_tail_ != nullptr) {
    ready_tail_->next_ready = r;
  } else {
    ready_head_ = r;
  }
  ready_tail_ = r;
}

void Shard::park(Routine* r, std::coroutine_handle<> at, const WaitKind& kind, void* ctx) noexcept {
  // Not queued. It may be parked already: a wait can hand over to the next one without
  // waking the routine (Cond::wait: the signal, then the relock), and replaces it.
  assert(r->wait != nullptr || r->next_ready == nullptr);
  r->resume_point = at;
  r->wait = &kind;
  r->wait_ctx = ctx;
  r->wait_cancelled = false;
}

void Shard::unpark(Routine* r) {
  assert(r->wait != nullptr);
  r->wait = nullptr;
  r->next_ready = nullptr;  // the ready link is the live member again
  make_ready(r);
}

// Runs the current wait's cancel, once per wait; the waiter unparks when it may.
static void cancel_wait(Routine* r) {
  if (r->wait == nullptr || r->wait->cancel == nullptr || r->wait_cancelled) return;
  r->wait_cancelled = true;
  r->wait->cancel(r, r->wait_ctx);
}

void Shard::abort(Routine* r) {
  if (r->done || r->cancel_requested) return;
  r->cancel_requested = true;
  if (r->shield_depth == 0) cancel_wait(r);
}

void Shard::interrupt(Routine* r) {
  if (r->done || r->shield_depth > 0) return;
  cancel_wait(r);
}

size_t Shard::abort_all() {
  draining_ = true;
  size_t n = 0;
  for (Routine* r = live_.front(); r != nullptr; r = live_.next(r)) {
    if (!r->cancel_requested && !r->done) {
      abort(r);
      ++n;
    }
  }
  return n;
}

void Shard::run_ready() {
  for (uint32_t budget = config_.run_budget; budget > 0 && ready_head_ != nullptr; --budget) {
    if (ready_head_ != ready_tail_ && buggify()) {
      // Buggify: runnable routines have no order between them; rotate the queue.
      Routine* head = ready_head_;
      ready_head_ = head->next_ready;
      head->next_ready = nullptr;
      ready_tail_->next_ready = head;
      ready_tail_ = head;
    }
    serve_work_request_if_any();  // a thief waits for us: answer between two routines
    Routine* r = ready_head_;
    if (r == nullptr) break;  // all handed over
    take_ready_head(r);
    if (!r->started && r->cancel_requested && !r->must_start) {
      // Aborted before it ever ran: the body is skipped, join() reports cancelled.
      r->cancelled_before_start = true;
      ++stats_.routines_cancelled_before_start;
      finish(r);
      continue;
    }
    r->started = true;
    ++stats_.resumes;
    trace(TraceKind::resume, r->id, 0);
    current_ = r;
    r->resume_point.resume();
    current_ = nullptr;
  }
}

void Shard::take_ready_head(Routine* r) {
  ready_head_ = r->next_ready;
  if (ready_head_ == nullptr) ready_tail_ = nullptr;
  r->next_ready = nullptr;
  if (r->movable && !r->started) {
    assert(movable_ready_ > 0);
    --movable_ready_;
    if (movable_ready_ < published_load_ / 2) publish_load();
  }
}

void Shard::finish(Routine* r) {
  r->done = true;
  ++stats_.routines_finished;
  if (r->panicked) ++stats_.routines_panicked;
  trace(TraceKind::finish, r->id, r->panicked ? 1 : 0);
  live_.remove(r);
  if (r->home != this) return finish_away(r);  // its JoinHandle is at home
  r->end(r, /*publish=*/true);
}

std::string Shard::describe_blocked() const {
  constexpr uint64_t kSeqMask = (uint64_t{1} << 48) - 1;
  auto seq = [](uint64_t id) { return static_cast<unsigned long long>(id & kSeqMask); };
  auto info = [](const Routine* r) {
    return r->wait != nullptr ? r->wait->describe(r->wait_ctx) : WaitInfo{r->started ? "runnable" : "not started", 0};
  };
  std::string out;
  char line[200];
  for (const Routine* r = live_.front(); r != nullptr; r = live_.next(r)) {
    const WaitInfo w = info(r);
    std::snprintf(line, sizeof line, "  shard %u routine #%llu: %s (%llu)%s", index_, seq(r->id), w.reason,
                  static_cast<unsigned long long>(w.detail), r->cancel_requested ? " [cancelled]" : "");
    out += line;
    // The chain: who waits for this routine to finish. Quadratic, so only for reports a
    // person can read.
    std::string joiners;
    const bool small = stats_.routines_spawned - stats_.routines_finished <= 4096;
    for (const Routine* j = small ? live_.front() : nullptr; j != nullptr; j = live_.next(j)) {
      if (j->wait == nullptr) continue;
      const WaitInfo jw = info(j);
      if (std::strcmp(jw.reason, "join") == 0 && jw.detail == r->id) {
        joiners += (joiners.empty() ? "" : ", #") + std::to_string(seq(j->id));
      }
    }
    if (!joiners.empty()) out += ", awaited by #" + joiners;
    out += "\n";
  }
  return out;
}

// ---------------------------------------------------------------- timers

void Shard::add_timer(TimerNode* node, Instant when) {
  node->when = when;
  node->tiebreak = prng_.next();
  timers_.insert(node);
}

void Shard::fire_timers() {
  if (timers_.size() == 0) return;  // no clock read: it costs ~30 ns on this VM
  const Instant now = ring_.now();
  // Bounded: a fired timer may add another timer, which waits for the next tick.
  for (size_t n = timers_.size(); n > 0; --n) {
    TimerNode* top = timers_.top();
    if (top == nullptr || top->when > now) break;
    timers_.pop();
    ++stats_.timers_fired;
    trace(TraceKind::timer_fire, top->tiebreak, 0);
    top->fire(top);
  }
}

// ---------------------------------------------------------------- lane A: ops

void Shard::queue_sqe(const Sqe& sqe) { pending_.push_back(sqe); }

OpToken Shard::submit_raw(const Sqe& sqe, OpCallback callback, void* ctx, Instant deadline) {
  const uint32_t slot = slab_.acquire(callback, ctx);
  Sqe s = sqe;
  s.user_data = slab_.handle(slot);
  s.deadline = deadline;
  s.timeout_user_data = deadline != kNoDeadline ? slab_.handle(slot, UdKind::link_timeout) : 0;
  queue_sqe(s);
  return OpToken{s.user_data};
}

bool Shard::cancel(OpToken token) {
  OpRecord* rec = slab_.lookup(token.user_data);
  if (rec == nullptr || rec->cancel_requested) return false;
  rec->cancel_requested = true;
  trace(TraceKind::op_cancel, token.user_data, rec->state == OpRecord::State::queued ? 0 : 1);
  if (rec->state == OpRecord::State::queued) {
    // Outcome 1: it never reaches the kernel. flush() skips its queued Sqe, whose
    // generation no longer matches once the slot is released.
    ++stats_.ops_cancelled_before_submit;
    const OpCallback cb = rec->callback;
    void* ctx = rec->ctx;
    slab_.release(UserData::slot(token.user_data));
    if (cb != nullptr) cb(ctx, -ECANCELED, 0);
    return true;
  }
  Sqe c;
  c.opcode = Opcode::async_cancel;
  c.addr = token.user_data;
  c.user_data = UserData::with_kind(token.user_data, UdKind::cancel);
  queue_sqe(c);
  return true;
}

void Shard::flush(unsigned min_complete, Duration timeout) {
  // Drop Sqes of ops cancelled before submission, then push the rest in one batch.
  size_t kept = 0;
  for (const Sqe& s : pending_) {
    const UdKind kind = UserData::kind(s.user_data);
    if (kind == UdKind::op) {
      OpRecord* rec = slab_.lookup(s.user_data);
      if (rec == nullptr || rec->state != OpRecord::State::queued) continue;
    }
    pending_[kept++] = s;
  }
  pending_.resize(kept);
  if (!pending_.empty()) {
    const size_t accepted = ring_.push(pending_);
    ++stats_.batches_pushed;
    for (size_t i = 0; i < accepted; ++i) {
      const Sqe& s = pending_[i];
      trace(TraceKind::op_submit, s.user_data, static_cast<uint64_t>(s.opcode));
      if (UserData::kind(s.user_data) == UdKind::doorbell) --doorbells_unsubmitted_;
      if (UserData::kind(s.user_data) != UdKind::op) continue;
      OpRecord& rec = slab_.at(UserData::slot(s.user_data));
      rec.state = OpRecord::State::in_flight;
      rec.has_deadline = s.deadline != kNoDeadline;
      rec.multishot = s.opcode == Opcode::accept && (s.ioprio & kAcceptMultishot) != 0;
      rec.cqes_outstanding = rec.has_deadline ? 2 : 1;
      ++stats_.ops_submitted;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(accepted));
    if (!pending_.empty()) min_complete = 0;  // SQ full: come back soon, do not sleep
  }
  const auto submitted = ring_.submit_and_wait(min_complete, timeout);
  (void)submitted;  // an interrupted wait (EINTR) or busy ring is retried next tick
}

size_t Shard::reap() {
  size_t total = 0;
  for (unsigned round = 0; round < kMaxReapRounds; ++round) {
    const size_t n = ring_.reap(cqe_buffer_);
    for (size_t i = 0; i < n; ++i) dispatch(cqe_buffer_[i]);
    total += n;
    if (n < cqe_buffer_.size()) break;
  }
  return total;
}

void Shard::dispatch(const Cqe& cqe) {
  switch (UserData::kind(cqe.user_data)) {
    case UdKind::op:
    case UdKind::link_timeout: complete_op(cqe); return;
    case UdKind::cancel: return;  // the cancel request's own result; the op's CQE tells the outcome
    case UdKind::doorbell: on_doorbell_failed(cqe); return;
    case UdKind::message: deliver_message(cqe); return;
  }
  ++stats_.stale_completions;
  trace(TraceKind::stale_cqe, cqe.user_data, 0);
}

void Shard::complete_op(const Cqe& cqe) {
  OpRecord* rec = slab_.lookup(cqe.user_data);
  const bool is_timeout = UserData::kind(cqe.user_data) == UdKind::link_timeout;
  const bool duplicate =
      rec != nullptr && (is_timeout ? !rec->has_deadline || rec->timeout_cqe_seen : rec->op_cqe_seen);
  if (rec == nullptr || rec->state != OpRecord::State::in_flight || duplicate) {
    ++stats_.stale_completions;
    trace(TraceKind::stale_cqe, cqe.user_data, 0);
    return;
  }
  trace(TraceKind::op_complete, cqe.user_data, static_cast<uint32_t>(cqe.res));
  if (!is_timeout && rec->multishot && (cqe.flags & kCqeMore) != 0) {
    // One result of a multishot op that stays armed. The callback may cancel the op: the
    // record stays live until the CQE without kCqeMore.
    ++stats_.multishot_results;
    if (rec->callback != nullptr) rec->callback(rec->ctx, cqe.res, cqe.flags);
    return;
  }
  if (is_timeout) {
    rec->timeout_cqe_seen = true;
    rec->deadline_fired = cqe.res == -ETIME;
  } else {
    rec->op_cqe_seen = true;
    rec->res = cqe.res;
    rec->cqe_flags = cqe.flags;
  }
  if (--rec->cqes_outstanding == 0) finalize_op(UserData::slot(cqe.user_data));
}

void Shard::finalize_op(uint32_t slot) {
  OpRecord& rec = slab_.at(slot);
  int32_t res = rec.res;
  uint32_t flags = rec.cqe_flags;
  if (rec.deadline_fired && res == -ECANCELED) {
    res = -ETIME;
    flags |= kOpDeadlineExpired;
    ++stats_.deadline_expiries;
  } else if (rec.cancel_requested) {
    if (res == -ECANCELED) {
      ++stats_.ops_cancelled_by_kernel;
    } else {
      ++stats_.ops_completed_despite_cancel;
    }
  }
  ++stats_.ops_completed;
  const OpCallback cb = rec.callback;
  void* ctx = rec.ctx;
  slab_.release(slot);
  if (cb != nullptr) cb(ctx, res, flags);
}

// ---------------------------------------------------------------- lane A: messages

Result<void> Shard::send_raw(uint32_t target, uint16_t tag, uint64_t value, OpCallback on_sent, void* ctx) {
  if (target >= group_.size()) return fail(errc::invalid_shard);
  if (tag == kDoorbellTag || value > kMaxMessageValue) return fail(errc::invalid_argument);
  if (group_.port(target).stopping.load(std::memory_order_acquire)) return fail(errc::shard_stopped);
  Sqe s;
  s.opcode = Opcode::msg_ring;
  s.fd = group_.port(target).ring_id;
  s.len = (index_ << 16) | tag;
  s.off = UserData::message(value);
  if (on_sent != nullptr) {
    submit_raw(s, on_sent, ctx);
  } else {
    submit_raw(s, &Shard::on_raw_sent, this);
  }
  ++stats_.messages_sent;
  trace(TraceKind::msg_send, target, tag);
  return {};
}

void Shard::on_raw_sent(void* ctx, int32_t res, uint32_t) {
  if (res < 0) ++static_cast<Shard*>(ctx)->stats_.messages_send_failed;
}

void Shard::deliver_message(const Cqe& cqe) {
  const auto word = static_cast<uint32_t>(cqe.res);
  const uint32_t from = word >> 16;
  const auto tag = static_cast<uint16_t>(word & 0xFFFF);
  if (cqe.res < 0 || from >= group_.size()) {
    ++stats_.messages_dropped;  // forged: no shard sends from there
    trace(TraceKind::stale_cqe, cqe.user_data, word);
    return;
  }
  ++stats_.messages_delivered;
  trace(TraceKind::msg_deliver, from, tag);
  if (tag == kDoorbellTag) {
    drain_inbox();
    return;
  }
  if (message_handler_ == nullptr) {
    ++stats_.messages_dropped;
    return;
  }
  message_handler_(message_ctx_, RingMsg{from, tag, UserData::payload(cqe.user_data)});
}

// ---------------------------------------------------------------- lane B transport

Result<void> Shard::post(uint32_t target, Envelope* env) {
  if (target == index_) return post_to_self(env);
  auto ring = group_.enqueue(target, env);
  if (!ring) return std::unexpected(ring.error());
  if (*ring) ring_doorbell(target);
  return {};
}

// A doorbell skips its CQE on success (one CQE less per hop to post and reap), so it has
// no slab record: its user_data names the target, and only a failure comes back.
void Shard::ring_doorbell(uint32_t target) {
  Sqe s;
  s.opcode = Opcode::msg_ring;
  s.flags = kSqeSkipSuccess;
  s.fd = group_.port(target).ring_id;
  s.len = (index_ << 16) | kDoorbellTag;
  s.off = UserData::message(0);
  s.user_data = UserData::make(UdKind::doorbell, 0, target);
  queue_sqe(s);
  ++doorbells_unsubmitted_;
  ++stats_.doorbells_sent;
  trace(TraceKind::msg_send, target, kDoorbellTag);
}

void Shard::on_doorbell_failed(const Cqe& cqe) {
  const uint32_t target = UserData::slot(cqe.user_data);
  if (cqe.res >= 0 || target >= group_.size()) {
    ++stats_.stale_completions;  // a doorbell succeeds silently: this CQE is forged
    trace(TraceKind::stale_cqe, cqe.user_data, 0);
    return;
  }
  // The payload waits in the inbox with the doorbell armed: nobody else will ring, so we
  // must, unless the target is gone (its inbox was closed and rejected everything).
  ++stats_.messages_send_failed;
  if (!group_.port(target).stopping.load(std::memory_order_acquire)) doorbell_retry_.push_back(target);
}

// An envelope for this shard itself skips the port and its MSG_RING doorbell: it waits in
// a local FIFO that the same tick delivers (a select's own-shard arm, a call to self).
Result<void> Shard::post_to_self(Envelope* env) {
  if (group_.port(index_).closed) return fail(errc::shard_stopped);  // written on this thread only
  env->next = nullptr;
  if (self_tail_ != nullptr) {
    self_tail_->next = env;
  } else {
    self_head_ = env;
  }
  self_tail_ = env;
  return {};
}

// Delivers what this shard posted to itself so far; what those post go in the next pass.
void Shard::drain_self() {
  Envelope* list = std::exchange(self_head_, nullptr);
  self_tail_ = nullptr;
  deliver_all(list);
}

void Shard::deliver_all(Envelope* list) {
  while (list != nullptr) {
    Envelope* env = list;
    list = env->next;
    env->next = nullptr;
    ++stats_.envelopes_delivered;
    env->deliver(*this);
  }
}

// Called every tick: on an empty inbox it is one load of a line no other core wrote.
void Shard::drain_inbox() {
  std::atomic<Envelope*>& inbox = group_.port(index_).inbox;
  Envelope* head = inbox.load(std::memory_order_relaxed);
  if (head == nullptr || head == ShardPort::closed_mark()) return;  // only this shard closes
  head = inbox.exchange(nullptr, std::memory_order_acq_rel);
  deliver_all(oldest_first(head));
}

bool Shard::prepare_to_sleep() {
  // Asleep already: mail that came since is not seen until its doorbell wakes us.
  if (asleep_) return port_.work_request.load(std::memory_order_seq_cst) == 0;
  std::atomic<Envelope*>& inbox = port_.inbox;
  Envelope* head = nullptr;
  // seq_cst, paired with request_work(): either a thief sees this mark and withdraws,
  // or we see its request below and stay awake to answer it.
  asleep_ = inbox.compare_exchange_strong(head, ShardPort::asleep(), std::memory_order_seq_cst) ||
            head == ShardPort::closed_mark();
  return asleep_ && port_.work_request.load(std::memory_order_seq_cst) == 0;
}

void Shard::abort_call(uint64_t call_id) {
  if (auto it = calls_.find(call_id); it != calls_.end()) return abort(it->second);
  if (auto it = parked_requests_.find(call_id); it != parked_requests_.end()) it->second->cancel(*this);
}

void Shard::run_tick_hooks(bool final) {
  // Index-based: a hook may register another while we iterate.
  size_t kept = 0;
  for (size_t i = 0; i < tick_hooks_.size(); ++i) {
    TickHook* hook = tick_hooks_[i];
    if (hook->at_tick_end(*this, final)) tick_hooks_[kept++] = hook;
  }
  tick_hooks_.resize(kept);
}

void Shard::close_inbox() {
  ShardPort& port = group_.port(index_);
  {
    CurrentShardScope scope(this);
    run_tick_hooks(/*final=*/true);  // before stopping: the home shards may still take it
  }
  port.stopping.store(true, std::memory_order_release);
  {
    CurrentShardScope scope(this);
    // Bounded: each stop() unregisters its request.
    while (!parked_requests_.empty()) parked_requests_.begin()->second->stop(*this);
  }
  port.closed = true;
  Envelope* taken = port.inbox.exchange(ShardPort::closed_mark(), std::memory_order_acq_rel);
  // Closed twice (the destructor closes again): nothing can have arrived since.
  Envelope* list = taken == ShardPort::closed_mark() ? nullptr : oldest_first(taken);
  CurrentShardScope scope(this);
  reject_all(list);
  // post_to_self refuses from now on, so no reject can add to this list.
  self_tail_ = nullptr;
  reject_all(std::exchange(self_head_, nullptr));
}

void Shard::reject_all(Envelope* list) {
  while (list != nullptr) {
    Envelope* env = list;
    list = env->next;
    env->next = nullptr;
    env->reject(*this);
  }
}

}  // namespace ringo
