// Shard (shard.hpp): the composition of its roles, and the tick that strings them
// together.
#include "ringo/internal/core/shard.hpp"

#include <algorithm>

#include "ringo/internal/core/assert.hpp"

namespace ringo {

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

}  // namespace ringo

namespace ringo::detail {

CurrentShardScope::CurrentShardScope(Shard* shard) noexcept : previous_(tls_current_shard) {
  tls_current_shard = shard;
}
CurrentShardScope::~CurrentShardScope() { tls_current_shard = previous_; }

Shard::Shard(ShardGroup& group, uint32_t index, Ring& ring, ShardConfig config)
    : group_(group),
      index_(index),
      port_(group.port(index)),
      ring_(ring),
      envelopes_(&group.envelope_pool(index)),
      config_(config),
      prng_(config.seed ^ (0x5a17d00dULL * (index + 1))),
      buggify_prng_(config.seed ^ (0xb0661f7ULL * (index + 1))),
      sched_(config.run_budget, config.max_routines),
      ops_(ring),
      mail_(group.port(index)),
      callers_(config.max_callers),
      balancer_(group.port(index), config.work_requesting) {
  RINGO_ASSERT(index < group.size(), "a shard is one of its group's");
}

Shard::~Shard() {
  // Requests other shards parked here are answered (shard_stopped) first, while the wait
  // queues they sit in are intact: a local routine's waiter may be their neighbour, and
  // freeing its frame first left a dangling link for the request's unlink to follow
  // (limits_test RemoteLockWaits..., under ASan). The runtimes close the inbox before
  // this already; bare shards (tests) rely on this order.
  close_inbox();
  // Frames still alive here belong to routines that never finished (a runtime torn down
  // mid-flight): free them, then refuse what their destructors posted to this shard.
  const bool outer = detail::tls_tearing_down;
  detail::tls_tearing_down = true;
  sched_.destroy_unfinished();
  // Objects that only an op in flight still owned (a retired Acceptor or BufReader) were
  // waiting for a last CQE that will never be reaped now: nothing else would free them
  // (orphan.hpp). After the frames, whose destructors may retire more of them; before the
  // attachments they may use (a BufReader gives its buffers back to the RecvPool).
  while (Orphan* o = orphans_.pop_front()) delete o;
  // Descriptors dropped in the last tick (their CLOSE queued, never flushed) close now.
  ops_.close_queued_descriptors();
  detail::tls_tearing_down = outer;
  close_inbox();
}

const ShardStats& Shard::stats() const noexcept {
  ShardStats& s = stats_;
  sched_.report(s);
  ops_.report(s);
  balancer_.report(s);
  s.envelopes_delivered = mail_.delivered();
  s.ticks = ticks_;
  s.deadline_expiries = deadline_expiries_;
  s.blocking_calls = blocking_counts_[static_cast<uint8_t>(BlockingCount::call)];
  s.blocking_cancelled_before_start = blocking_counts_[static_cast<uint8_t>(BlockingCount::cancelled_before_start)];
  s.blocking_cancelled_while_running = blocking_counts_[static_cast<uint8_t>(BlockingCount::cancelled_while_running)];
  s.blocking_completed_despite_cancel = blocking_counts_[static_cast<uint8_t>(BlockingCount::completed_despite_cancel)];
  s.envelope_blocks = envelopes_->blocks_made();
  return s;
}

bool Shard::has_local_work() const noexcept {
  return sched_.has_ready() || mail_.has_self_mail() || ops_.has_work() || mail_.has_hooks() ||
         sched_.timer_due(ring_.now()) || port_.work_request.load(std::memory_order_relaxed) != 0 || wants_work();
}

// How long an idle tick may block: until the next timer, at most max_block.
Duration Shard::sleep_timeout(Duration max_block) const {
  const Instant next = sched_.next_timer();
  const Duration timeout = next == kNoDeadline ? Duration::max() : std::max(Duration{0}, next - ring_.now());
  return std::min(timeout, max_block);
}

bool Shard::run_once(bool may_block, Duration max_block) {
  CurrentShardScope scope(this);
  ++ticks_;
  mail_.awake();  // running: the inbox is looked at again this tick
  const uint64_t before = progress();
  balancer_.serve_if_any(*this);
  sched_.fire_timers(*this);
  sched_.run_ready(*this);
  mail_.run_tick_hooks(*this, /*final=*/false);
  mail_.drain_self(*this);
  ops_.retry_doorbells(*this);
  if (!sched_.has_ready()) balancer_.request_work(*this);

  // Block only if this tick has done nothing so far: work done here (a timer fired, a
  // routine finished) may be what the caller's loop waits for, e.g. block_on's main task
  // returning. Blocking after it lost that wake-up whenever no timer or op was left.
  const bool idle = !sched_.has_ready() && progress() == before;
  const Duration timeout = may_block && idle ? sleep_timeout(max_block) : Duration{0};
  // Sleep only once posters know to ring: an inbox with mail in it means stay awake.
  const bool sleep = may_block && idle && timeout.count() > 0 && prepare_to_sleep();
  ops_.flush(*this, sleep ? 1 : 0, timeout);
  ops_.reap(*this);
  mail_.drain_inbox(*this);
  sched_.fire_timers(*this);
  // Routines woken by what was just reaped or drained (a cross-shard answer) run now,
  // not after the next flush: what they post then leaves in the same flush as what the
  // reap itself answered, often under one doorbell, instead of one syscall later.
  if (sched_.has_ready() || mail_.has_self_mail()) {
    sched_.run_ready(*this);
    mail_.run_tick_hooks(*this, /*final=*/false);
    mail_.drain_self(*this);
  }
  balancer_.publish_if_changed(*this);
  return progress() != before || sched_.has_ready() || mail_.has_self_mail();
}

void Shard::close_inbox() {
  CurrentShardScope scope(this);
  mail_.run_tick_hooks(*this, /*final=*/true);  // before stopping: the home shards may still take it
  port_.stopping.store(true, std::memory_order_release);
  callers_.stop_parked(*this);  // bounded: each stop() removes its request
  mail_.close(*this);
}

}  // namespace ringo::detail
