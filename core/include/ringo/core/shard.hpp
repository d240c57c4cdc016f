// Shard: one ring, one op slab, one run queue, one timer heap and one inbox, driven by
// one thread. Not thread-safe by design: the only way in from another thread is a
// ShardPort (an inbox of envelopes the shard polls while awake; an IORING_OP_MSG_RING
// doorbell wakes it when it sleeps).
//
// Thread-safety: every Shard member must be called on the shard's own thread (inside
// run_once, or from routines it runs). ShardGroup::enqueue and post_from_anywhere are
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringo/core/envelope_pool.hpp"
#include "ringo/core/error.hpp"
#include "ringo/core/intrusive_list.hpp"
#include "ringo/core/op_slab.hpp"
#include "ringo/core/prng.hpp"
#include "ringo/core/ring.hpp"
#include "ringo/core/routine.hpp"
#include "ringo/core/timer_heap.hpp"
#include "ringo/core/trace.hpp"

namespace ringo {

class Shard;
class BlockingExecutor;

// A unit of cross-shard work (lane B). deliver() runs on the target shard's thread;
// reject() runs there instead when the target is stopping. Both take ownership.
struct Envelope {
  Envelope* next = nullptr;
  virtual ~Envelope() = default;
  virtual void deliver(Shard& here) = 0;
  virtual void reject(Shard& here) { (void)here, delete this; }

  // From the pool of the shard that makes it, and back there wherever it is freed
  // (envelope_pool.hpp).
  static void* operator new(std::size_t size);
  static void operator delete(void* block) noexcept;
};

// A request from another shard that waits here without a routine (a remote channel send
// parked until a receiver comes). Registered by id so the caller's shard can cancel it,
// and answered with shard_stopped when this shard stops. Both calls run on this shard and
// must unregister the request.
struct ParkedRequest {
  virtual void cancel(Shard& here) = 0;
  virtual void stop(Shard& here) = 0;

 protected:
  ~ParkedRequest() = default;
};

// Work a shard does at the end of every tick, before that tick's submissions reach the
// ring (channel outboxes ship what routines sent under lease). at_tick_end returns whether
// the hook stays registered; `final` is the shard's last call before it stops. A hook
// that returns false may have been destroyed by then.
struct TickHook {
  virtual bool at_tick_end(Shard& here, bool final) = 0;

 protected:
  ~TickHook() = default;
};

// The thread-safe face of a shard. Its inbox is a lock-free stack of envelopes that the
// shard polls every tick, so a shard that is awake gets its mail with no syscall on either
// side. Before it sleeps in the kernel the shard swaps an empty inbox for the `asleep`
// mark; the one poster that replaces the mark rings the MSG_RING doorbell, so a sleeping
// shard is woken exactly once per sleep and a waking one is never rung at all.
struct alignas(64) ShardPort {
  // The inbox's two marks: values no envelope can have, never dereferenced.
  static Envelope* asleep() noexcept { return reinterpret_cast<Envelope*>(uintptr_t{1}); }
  static Envelope* closed_mark() noexcept { return reinterpret_cast<Envelope*>(uintptr_t{2}); }

  std::atomic<Envelope*> inbox{nullptr};  // newest first, or one of the two marks
  std::atomic<bool> stopping{false};
  bool closed = false;   // written and read by its own shard only
  int32_t ring_id = -1;  // written before any shard runs, then read-only

  // Work requesting (work_request.cpp), on a line of its own: idle shards read `load`
  // while the owner's posters hammer `inbox`.
  // load: the owner's ready routines that may move, as last published.
  // work_request: 0, or 1 + the index of the one shard waiting for an answer from here.
  alignas(64) std::atomic<uint32_t> load{0};
  std::atomic<uint32_t> work_request{0};
};

class ShardGroup {
 public:
  explicit ShardGroup(uint32_t shards);
  uint32_t size() const noexcept { return static_cast<uint32_t>(ports_.size()); }
  ShardPort& port(uint32_t index) noexcept { return *ports_[index]; }
  EnvelopePool& envelope_pool(uint32_t index) noexcept { return *pools_[index]; }

  // Puts env in the target's inbox. Returns whether the caller must ring the doorbell
  // (the target sleeps in the kernel). On error the caller keeps ownership of env.
  Result<bool> enqueue(uint32_t target, Envelope* env);

  // How a thread that runs no shard rings a doorbell (the real backend installs a
  // ring-less MSG_RING). Set before any shard runs.
  using ExternalWake = bool (*)(void* ctx, uint32_t target);
  void set_external_wake(ExternalWake wake, void* ctx) noexcept {
    external_wake_ = wake;
    external_wake_ctx_ = ctx;
  }
  // Thread-safe post from any thread: through the current shard's ring when called on a
  // shard of this group, else through the external wake. Without one (or if it fails)
  // the envelope is delivered at the target's next wake-up. On error the caller keeps env.
  Result<void> post_from_anywhere(uint32_t target, Envelope* env);
  // Rings target's doorbell now through the external wake (one syscall on a real
  // backend); false without one.
  bool wake_now(uint32_t target) { return external_wake_ != nullptr && external_wake_(external_wake_ctx_, target); }

  // The pool `blocking(fn)` runs on (blocking_executor.hpp), or null: no pool. Set before
  // any shard runs; the installer keeps it alive until the shards are gone.
  void set_blocking_executor(BlockingExecutor* executor) noexcept { blocking_ = executor; }
  BlockingExecutor* blocking_executor() const noexcept { return blocking_; }

 private:
  std::vector<std::unique_ptr<ShardPort>> ports_;
  std::vector<std::unique_ptr<EnvelopePool>> pools_;  // shards come and go; these stay
  ExternalWake external_wake_ = nullptr;
  void* external_wake_ctx_ = nullptr;
  BlockingExecutor* blocking_ = nullptr;
};

struct ShardStats {
  uint64_t routines_spawned = 0;
  uint64_t routines_finished = 0;
  uint64_t routines_live = 0;
  uint64_t routines_panicked = 0;
  uint64_t routines_cancelled_before_start = 0;
  uint64_t resumes = 0;
  uint64_t ops_submitted = 0;
  uint64_t ops_completed = 0;
  uint64_t ops_cancelled_before_submit = 0;
  uint64_t ops_cancelled_by_kernel = 0;
  uint64_t ops_completed_despite_cancel = 0;
  uint64_t multishot_results = 0;  // CQEs of multishot ops that stayed armed
  uint64_t deadline_expiries = 0;
  uint64_t stale_completions = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_send_failed = 0;
  uint64_t messages_dropped = 0;  // raw messages with no handler, or forged sender
  uint64_t envelopes_delivered = 0;
  uint64_t doorbells_sent = 0;
  uint64_t doorbell_retries = 0;
  uint64_t timers_fired = 0;
  uint64_t ticks = 0;
  uint64_t batches_pushed = 0;
  uint64_t envelope_blocks = 0;    // envelope blocks the pool took from the system (the rest reused)
  uint64_t routines_given = 0;     // balanced routines handed to shards that asked for work
  uint64_t routines_received = 0;  // routines this shard took in answer to its requests
  uint64_t work_requests_sent = 0;
  uint64_t work_requests_answered = 0;  // requests this shard answered (with or without work)
  // blocking(fn) calls made by routines of this shard, and how the cancelled ones ended.
  uint64_t blocking_calls = 0;
  uint64_t blocking_cancelled_before_start = 0;    // fn never ran
  uint64_t blocking_cancelled_while_running = 0;   // the routine left; fn ran on, its result dropped
  uint64_t blocking_completed_despite_cancel = 0;  // fn had finished: its result was delivered
  // Real engines: times an idle spin found its thread preempted, so spinning gave way
  // (docs/scheduling.md, Co-tenancy). Always 0 on the simulator.
  uint64_t spins_preempted = 0;

  ShardStats& operator+=(const ShardStats& o);
};

struct ShardConfig {
  uint32_t run_budget = 256;         // routines resumed per tick before the ring is serviced
  uint64_t max_routines = 1u << 22;  // live routines; spawning beyond returns spawn_limit
  uint64_t seed = 0;                 // the shard's PRNG (timer ties, select choices)
  // An idle shard asks a busy one for balanced routines (spawn()); off: they stay home.
  bool work_requesting = true;
  // Simulator only: parts per million at which each buggify point takes its unusual but
  // legal branch (0 = never; real engines leave it 0).
  uint32_t buggify_ppm = 0;
};

// A generation-checked handle of a lane-A op.
struct OpToken {
  uint64_t user_data = 0;
};

// Lane A message delivery: a RingMsg{from, tag, value}.
struct RingMsg {
  uint32_t from;
  uint16_t tag;
  uint64_t value;  // 56 bits
};
using MessageHandler = void (*)(void* ctx, const RingMsg& msg);

class Shard {
 public:
  static constexpr uint16_t kDoorbellTag = 0xFFFF;
  static constexpr uint64_t kMaxMessageValue = UserData::kPayloadMask;

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
  bool prepare_to_sleep();
  Instant next_timer() const noexcept { return timers_.next_deadline(); }

  uint32_t index() const noexcept { return index_; }
  ShardGroup& group() noexcept { return group_; }
  const ShardGroup& group() const noexcept { return group_; }
  // Whether `other` is a shard of the same Runtime (objects may cross between them).
  bool same_runtime(const Shard& other) const noexcept { return &group_ == &other.group_; }
  Ring& ring() noexcept { return ring_; }
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
  size_t live_ops() const noexcept { return slab_.live() + doorbells_unsubmitted_; }
  size_t pending_timers() const noexcept { return timers_.size(); }
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

  // ---- routines (used by Task/JoinHandle; see task.hpp for the public face) ----
  Result<void> admit(Routine* r, std::coroutine_handle<> root);
  void make_ready(Routine* r);
  // Parks r (suspended at `at`) in a wait of `kind` whose awaiter is ctx; it stays parked
  // until unpark(r).
  void park(Routine* r, std::coroutine_handle<> at, const WaitKind& kind, void* ctx) noexcept;
  void unpark(Routine* r);
  void abort(Routine* r);
  // Cancels the routine's current wait once, without the stickiness of abort(): later
  // awaits proceed normally. Used by deadlines (with_timeout).
  void interrupt(Routine* r);
  void count_deadline_expiry() noexcept { ++stats_.deadline_expiries; }
  // blocking(fn): a call made, and how a cancelled one ended (blocking.hpp).
  enum class BlockingCount : uint8_t {
    call,
    cancelled_before_start,
    cancelled_while_running,
    completed_despite_cancel
  };
  void count_blocking(BlockingCount c) noexcept {
    switch (c) {
      case BlockingCount::call: ++stats_.blocking_calls; break;
      case BlockingCount::cancelled_before_start: ++stats_.blocking_cancelled_before_start; break;
      case BlockingCount::cancelled_while_running: ++stats_.blocking_cancelled_while_running; break;
      case BlockingCount::completed_despite_cancel: ++stats_.blocking_completed_despite_cancel; break;
    }
  }
  // Called from the root frame's final suspend (or for a routine aborted before it ran):
  // publishes the result to its JoinHandle, wakes the joiner, destroys the frame. A
  // finished routine's parameters and locals are gone at once, as in Go.
  void finish(Routine* r);
  Routine* current_routine() const noexcept { return current_; }
  // Every live routine with what it waits on, in spawn order (deadlock reports).
  std::string describe_blocked() const;
  // Cancels every live routine (shutdown); returns how many were cancelled. Routines
  // handed here later are cancelled as they arrive.
  size_t abort_all();

  // ---- balancing: work requesting (work_request.cpp) ----
  // Cancels a routine spawned here and handed to another shard (JoinHandle::abort).
  void abort_moved(Routine* r);
  // Whether this shard would ask for work now (the simulator steps it then).
  bool wants_work() const noexcept;

  // ---- timers ----
  void add_timer(TimerNode* node, Instant when);
  void cancel_timer(TimerNode* node) { timers_.cancel(node); }

  // ---- lane A: raw ops and raw messages ----
  OpToken submit_raw(const Sqe& sqe, OpCallback callback, void* ctx, Instant deadline = kNoDeadline);
  // Requests cancellation. The callback still runs exactly once, with -ECANCELED (before
  // submit or by the kernel) or the op's real result (it completed anyway). Returns false
  // if the token no longer names a live op.
  bool cancel(OpToken token);
  Result<void> send_raw(uint32_t target, uint16_t tag, uint64_t value, OpCallback on_sent = nullptr,
                        void* ctx = nullptr);
  void set_message_handler(MessageHandler handler, void* ctx) noexcept {
    message_handler_ = handler;
    message_ctx_ = ctx;
  }

  // ---- lane B transport ----
  // Puts env in the target's inbox and rings its doorbell if needed. On error the caller
  // keeps ownership of env.
  Result<void> post(uint32_t target, Envelope* env);
  // Shutdown: run the tick hooks a last time, answer parked requests, refuse new
  // envelopes, reject what is queued.
  void close_inbox();
  void add_tick_hook(TickHook* hook) { tick_hooks_.push_back(hook); }
  // Routines serving another shard's call, by call id, so the caller can cancel them.
  uint64_t next_call_id() noexcept { return (uint64_t{index_} << 48) | ++next_call_seq_; }

  void register_call(uint64_t call_id, Routine* r) { calls_[call_id] = r; }
  void unregister_call(uint64_t call_id) { calls_.erase(call_id); }
  void park_request(uint64_t call_id, ParkedRequest* r) { parked_requests_.emplace(call_id, r); }
  void unpark_request(uint64_t call_id) { parked_requests_.erase(call_id); }
  // The caller of call_id gave up: aborts its serving routine or cancels its parked request
  // (nothing if it has already been answered).
  void abort_call(uint64_t call_id);

 private:
  // A count that grows whenever a tick does something (resumes, completions, timers,
  // deliveries).
  uint64_t progress() const noexcept {
    return stats_.resumes + stats_.ops_completed + stats_.timers_fired + stats_.messages_delivered +
           stats_.envelopes_delivered;
  }
  void run_ready();
  void take_ready_head(Routine* r);
  void fire_timers();
  // Work requesting (work_request.cpp).
  friend struct WorkHandover;
  friend struct HomeFinish;
  friend struct AbortMoved;
  void request_work();
  int32_t pick_victim() noexcept;
  void answer_work_request();
  void adopt(Routine* list);
  void finish_away(Routine* r);
  void publish_load();
  void nudge_a_sleeper();
  void serve_work_request_if_any() {
    if (port_.work_request.load(std::memory_order_relaxed) != 0) [[unlikely]]
      answer_work_request();
  }
  void flush(unsigned min_complete, Duration timeout);
  size_t reap();
  void dispatch(const Cqe& cqe);
  void complete_op(const Cqe& cqe);
  void finalize_op(uint32_t slot);
  void deliver_message(const Cqe& cqe);
  void drain_inbox();
  Result<void> post_to_self(Envelope* env);
  void drain_self();
  void deliver_all(Envelope* list);
  void reject_all(Envelope* list);
  void run_tick_hooks(bool final);
  void ring_doorbell(uint32_t target);
  void on_doorbell_failed(const Cqe& cqe);
  static void on_raw_sent(void* ctx, int32_t res, uint32_t flags);
  void queue_sqe(const Sqe& sqe);

  ShardGroup& group_;
  const uint32_t index_;
  ShardPort& port_;
  Ring& ring_;
  EnvelopePool* envelopes_;  // owned by the group
  ShardConfig config_;
  Prng prng_;
  Prng buggify_prng_;
  OpSlab slab_;
  TimerHeap timers_;
  std::vector<Sqe> pending_;
  std::vector<Cqe> cqe_buffer_;
  Routine* ready_head_ = nullptr;
  Routine* ready_tail_ = nullptr;
  detail::IntrusiveList<Routine, &Routine::prev_live, &Routine::next_live> live_;  // spawn order
  Routine* current_ = nullptr;
  uint64_t next_routine_seq_ = 0;
  uint64_t next_call_seq_ = 0;
  std::unordered_map<uint64_t, Routine*> calls_;        // lookup only: order never observed
  std::map<uint64_t, ParkedRequest*> parked_requests_;  // ordered: stopped in id order
  std::vector<TickHook*> tick_hooks_;                   // registration order
  bool asleep_ = false;                                 // the inbox carries the asleep mark
  Envelope* self_head_ = nullptr;                       // posted to this shard by itself
  Envelope* self_tail_ = nullptr;
  size_t doorbells_unsubmitted_ = 0;  // doorbell Sqes in pending_ (they have no slab record)
  std::vector<uint32_t> doorbell_retry_;
  MessageHandler message_handler_ = nullptr;
  void* message_ctx_ = nullptr;
  Tracer* tracer_ = nullptr;
  // Balancing.
  uint32_t movable_ready_ = 0;  // ready routines that are movable and have not started
  uint32_t published_load_ = 0;
  bool request_outstanding_ = false;     // asked a shard for work, its answer not yet here
  bool draining_ = false;                // abort_all ran: routines that arrive are cancelled
  std::map<uint64_t, Routine*> hosted_;  // routines handed here, by id (for abort_moved)
  mutable ShardStats stats_;
};

namespace detail {
// Inline so that every await reads it directly instead of calling out.
inline thread_local Shard* tls_current_shard = nullptr;
inline thread_local bool tls_tearing_down = false;
}  // namespace detail

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

}  // namespace ringo
