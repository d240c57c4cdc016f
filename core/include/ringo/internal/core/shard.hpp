// Shard: one ring driven by one thread. It is the composition root of five roles, each a
// plain member with its own file and contract:
//
//   Scheduler       scheduler.hpp        ready queue, park/unpark, timers, routine accounting
//   OpDriver        op_driver.hpp        kernel ops: submit, flush, reap, cancel, doorbells
//   Mailbox         mailbox.hpp          lane B: the inbox, posts, tick hooks, sleep, close
//   CallerRegistry  caller_registry.hpp  remote callers served or parked here, by call id
//   Balancer        balancer.hpp         work requesting between idle and busy shards
//
// A tick (run_once) strings them together. A role that needs another, or the shard's
// identity, PRNG or tracer, is handed the shard as `here`: roles are plain members called
// directly, with no pointer between them and no virtual call. The public methods below
// are the shard's face for routines, channels, the engines and tests; most forward to a
// role in one inline call.
//
// Not thread-safe by design: the only way in from another thread is a ShardPort (an inbox
// of envelopes the shard polls while awake; an IORING_OP_MSG_RING doorbell wakes it when
// it sleeps). Every Shard member must be called on the shard's own thread (inside
// run_once, or from routines it runs). ShardGroup::enqueue and post_from_anywhere are
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringo/error.hpp"
#include "ringo/internal/core/balancer.hpp"
#include "ringo/internal/core/caller_registry.hpp"
#include "ringo/internal/core/envelope_pool.hpp"
#include "ringo/internal/core/mailbox.hpp"
#include "ringo/internal/core/op_driver.hpp"
#include "ringo/internal/core/orphan.hpp"
#include "ringo/internal/core/prng.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/routine.hpp"
#include "ringo/internal/core/scheduler.hpp"
#include "ringo/internal/core/timer_heap.hpp"
#include "ringo/internal/core/trace.hpp"
#include "ringo/shard_stats.hpp"

namespace ringo::detail {

struct ShardConfig {
  uint32_t run_budget = 256;         // routines resumed per tick before the ring is serviced
  uint64_t max_routines = 1u << 22;  // live routines; spawning beyond returns spawn_limit
  // Remote callers served or parked here at once; beyond, new ones get queue_full
  // (caller_registry.hpp says why this default).
  uint64_t max_callers = CallerRegistry::kDefaultLimit;
  uint64_t seed = 0;  // the shard's PRNG (timer ties, select choices)
  // An idle shard asks a busy one for balanced routines (spawn()); off: they stay home.
  bool work_requesting = true;
  // Simulator only: parts per million at which each buggify point takes its unusual but
  // legal branch (0 = never; real engines leave it 0).
  uint32_t buggify_ppm = 0;
};

class Shard {
 public:
  static constexpr uint16_t kDoorbellTag = OpDriver::kDoorbellTag;
  static constexpr uint64_t kMaxMessageValue = OpDriver::kMaxMessageValue;

  Shard(ShardGroup& group, uint32_t index, Ring& ring, ShardConfig config = {});
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // One tick: resume up to run_budget ready routines, fire due timers, push this tick's
  // submissions to the ring in one batch, wait (if may_block and idle) and dispatch
  // completions. A blocking wait lasts at most max_block (and never past the next timer).
  // Returns whether anything happened.
  bool run_once(bool may_block, Duration max_block = Duration::max());
  // True when a non-blocking tick would do something now (simulator scheduling).
  bool has_local_work() const noexcept;
  // Marks the inbox asleep if it is empty, so the next poster rings the doorbell; returns
  // false when mail is waiting instead (stay awake and drain it). run_once calls it before
  // it blocks; the simulator calls it for every shard it leaves idle.
  bool prepare_to_sleep() { return mail_.prepare_to_sleep(); }
  Instant next_timer() const noexcept { return sched_.next_timer(); }

  // ---- the roles ----
  Scheduler& scheduler() noexcept { return sched_; }
  const Scheduler& scheduler() const noexcept { return sched_; }
  OpDriver& ops() noexcept { return ops_; }
  Mailbox& mailbox() noexcept { return mail_; }
  CallerRegistry& callers() noexcept { return callers_; }
  Balancer& balancer() noexcept { return balancer_; }

  // ---- identity, clock, randomness, tracing ----
  uint32_t index() const noexcept { return index_; }
  ShardGroup& group() noexcept { return group_; }
  const ShardGroup& group() const noexcept { return group_; }
  // Whether `other` is a shard of the same Runtime (objects may cross between them).
  bool same_runtime(const Shard& other) const noexcept { return &group_ == &other.group_; }
  Ring& ring() noexcept { return ring_; }
  // What an upper layer keeps per shard and must die with it: net's provided-buffer pool
  // (api/src/recv_pool.hpp) and the owned zero-copy sends still in the kernel
  // (api/src/send_blocks.hpp). Destroyed after the frames of unfinished routines, while the
  // ring still exists.
  struct Attachment {
    virtual ~Attachment() = default;
  };
  std::unique_ptr<Attachment>& recv_pool() noexcept { return recv_pool_; }
  std::unique_ptr<Attachment>& send_blocks() noexcept { return send_blocks_; }
  EnvelopePool* envelope_pool() noexcept { return envelopes_; }
  Instant now() const { return ring_.now(); }
  Prng& prng() noexcept { return prng_; }
  // Buggify (simulator only): true, rarely and by the seed, where the shard may choose an
  // unusual but legal behaviour — run ready routines out of order, wake a sleeper late.
  // Always false on real backends. Drawn from its own stream so the shard's other
  // choices under a seed do not change when buggify is switched on.
  bool buggify() noexcept { return config_.buggify_ppm != 0 && buggify_prng_.chance(config_.buggify_ppm, 1000000); }
  Duration buggify_slack() noexcept {
    return buggify() ? Duration{static_cast<int64_t>(buggify_prng_.below(50'000))} : Duration{0};
  }
  const ShardStats& stats() const noexcept;
  // Ops in the slab, plus doorbells not yet handed to the kernel (shutdown flushes them).
  size_t live_ops() const noexcept { return ops_.live_ops(); }
  size_t pending_timers() const noexcept { return sched_.pending_timers(); }
  void set_tracer(Tracer* tracer) noexcept { tracer_ = tracer; }
  // Inline test, out-of-line record: trace points sit on hot paths (every select), and
  // only the simulator usually has a tracer.
  void trace(TraceKind kind, uint64_t a, uint64_t b) {
    if (tracer_ != nullptr) [[unlikely]]
      record_trace(kind, a, b);
  }
  [[gnu::noinline, gnu::cold]] void record_trace(TraceKind kind, uint64_t a, uint64_t b) {
    tracer_->record({now().count(), index_, kind, a, b});
  }

  // ---- routines (Scheduler; used by Task/JoinHandle, see task.hpp for the public face) ----
  Result<void> admit(Routine* r, std::coroutine_handle<> root) { return sched_.admit(*this, r, root); }
  void make_ready(Routine* r) noexcept { sched_.make_ready(r); }
  void park(Routine* r, std::coroutine_handle<> at, const WaitKind& kind, void* ctx) noexcept {
    sched_.park(r, at, kind, ctx);
  }
  void unpark(Routine* r) noexcept { sched_.unpark(r); }
  void abort(Routine* r) { sched_.abort(r); }
  void interrupt(Routine* r) { sched_.interrupt(r); }
  void finish(Routine* r) { sched_.finish(*this, r); }
  Routine* current_routine() const noexcept { return sched_.current(); }
  std::string describe_blocked() const { return sched_.describe_blocked(index_); }
  size_t abort_all() { return sched_.abort_all(); }
  void add_timer(TimerNode* node, Instant when) { sched_.add_timer(node, when, prng_); }
  void cancel_timer(TimerNode* node) { sched_.cancel_timer(node); }

  // ---- counts kept by the shard itself ----
  void count_deadline_expiry() noexcept { ++deadline_expiries_; }
  // blocking(fn): a call made, and how a cancelled one ended (blocking.hpp).
  enum class BlockingCount : uint8_t {
    call,
    cancelled_before_start,
    cancelled_while_running,
    completed_despite_cancel
  };
  void count_blocking(BlockingCount c) noexcept { ++blocking_counts_[static_cast<uint8_t>(c)]; }

  // ---- balancing (Balancer) ----
  // Cancels a routine spawned here and handed to another shard (JoinHandle::abort).
  void abort_moved(Routine* r) { balancer_.abort_moved(*this, r); }
  // Whether this shard would ask for work now (the simulator steps it then).
  bool wants_work() const noexcept { return balancer_.wants_work(*this); }

  // ---- lane A: raw ops and raw messages (OpDriver) ----
  OpToken submit_raw(const Sqe& sqe, OpCallback callback, void* ctx, Instant deadline = kNoDeadline) {
    return ops_.submit_raw(sqe, callback, ctx, deadline);
  }
  // Requests cancellation. The op still ends with exactly one last callback (the one
  // without kCqeMore; see OpDriver's contract for the calls before it), with -ECANCELED
  // (before submit or by the kernel) or the op's real result (it completed anyway).
  // Returns false if the token no longer names a live op.
  bool cancel(OpToken token) { return ops_.cancel(*this, token); }
  Result<void> send_raw(uint32_t target, uint16_t tag, uint64_t value, OpCallback on_sent = nullptr,
                        void* ctx = nullptr) {
    return ops_.send_raw(*this, target, tag, value, on_sent, ctx);
  }
  void set_message_handler(MessageHandler handler, void* ctx) noexcept { ops_.set_message_handler(handler, ctx); }
  bool has_message_handler() const noexcept { return ops_.has_message_handler(); }
  // An object only its op in flight still owns (orphan.hpp): freed by this shard's
  // destruction unless it disowns itself first, at that op's last CQE.
  void adopt(Orphan* o) noexcept { orphans_.push_back(o); }
  void disown(Orphan* o) noexcept { orphans_.remove(o); }

  // ---- lane B transport (Mailbox) ----
  // Puts env in the target's inbox and rings its doorbell if needed. On error the caller
  // keeps ownership of env. post() is for what is owed to work already admitted (an
  // answer, a cancel, a handover) and is never refused for room; post_request() is for
  // new work (a call, a spawn) and gets errc::queue_full when the target's inbox is full
  // (mailbox.hpp).
  Result<void> post(uint32_t target, Envelope* env) { return mail_.post(*this, target, env, Admission::owed); }
  Result<void> post_request(uint32_t target, Envelope* env) {
    return mail_.post(*this, target, env, Admission::bounded);
  }
  // Shutdown: run the tick hooks a last time, answer parked requests, refuse new
  // envelopes, reject what is queued.
  void close_inbox();
  void add_tick_hook(TickHook* hook) { mail_.add_tick_hook(hook); }

  // ---- remote callers (CallerRegistry) ----
  uint64_t next_call_id() noexcept { return callers_.next_call_id(index_); }
  // Routines serving another shard's call, and requests parked here, by call id, so the
  // caller can cancel them. Errors: queue_full at ShardConfig::max_callers; the caller
  // must then answer the call with that error itself.
  Result<void> register_call(uint64_t call_id, Routine* r) { return callers_.add_call(call_id, r); }
  void unregister_call(uint64_t call_id) { callers_.remove_call(call_id); }
  [[nodiscard]] Result<void> park_request(uint64_t call_id, ParkedRequest* r) {
    return callers_.add_parked(call_id, r);
  }
  void unpark_request(uint64_t call_id) { callers_.remove_parked(call_id); }
  // The caller of call_id gave up: aborts its serving routine or cancels its parked request
  // (nothing if it has already been answered).
  void abort_call(uint64_t call_id) { callers_.abort_call(*this, call_id); }

 private:
  // A count that grows whenever a tick does something (resumes, completions, timers,
  // deliveries).
  uint64_t progress() const noexcept { return sched_.progress() + ops_.progress() + mail_.delivered(); }
  Duration sleep_timeout(Duration max_block) const;

  ShardGroup& group_;
  const uint32_t index_;
  ShardPort& port_;
  Ring& ring_;
  EnvelopePool* envelopes_;  // owned by the group
  ShardConfig config_;
  Prng prng_;
  Prng buggify_prng_;
  Tracer* tracer_ = nullptr;
  Scheduler sched_;
  OpDriver ops_;
  Mailbox mail_;
  CallerRegistry callers_;
  Balancer balancer_;
  uint64_t ticks_ = 0;
  uint64_t deadline_expiries_ = 0;
  uint64_t blocking_counts_[4] = {};  // by BlockingCount
  mutable ShardStats stats_;          // what stats() last assembled
  Orphan::List orphans_;              // freed by ~Shard (orphan.hpp)
  std::unique_ptr<Attachment> send_blocks_;
  std::unique_ptr<Attachment> recv_pool_;  // last member: the first destroyed
};

// Inline so that every await reads it directly instead of calling out.
inline thread_local Shard* tls_current_shard = nullptr;
inline thread_local bool tls_tearing_down = false;

// The shard running on this thread, or nullptr outside a runtime.
inline Shard* current_shard() noexcept { return detail::tls_current_shard; }
// True while a shard on this thread destroys the frames of routines that never finished
// (teardown): handles must then not touch other frames.
inline bool shard_tearing_down() noexcept { return detail::tls_tearing_down; }

// Makes `shard` current on this thread for a scope (the simulator's single thread
// switches between shards; a shard thread sets its own once).
class CurrentShardScope {
 public:
  explicit CurrentShardScope(Shard* shard) noexcept;
  ~CurrentShardScope();
  CurrentShardScope(const CurrentShardScope&) = delete;
  CurrentShardScope& operator=(const CurrentShardScope&) = delete;

 private:
  Shard* previous_;
};

}  // namespace ringo::detail
