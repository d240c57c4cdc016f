// Lane B mail: how envelopes (units of cross-shard work) reach a shard.
//
//   Envelope     a unit of work, delivered on its target shard's thread.
//   ShardPort    a shard's thread-safe face: its inbox, an MpscStack of envelopes.
//   ShardGroup   the ports of one runtime's shards, and enqueue(), the thread-safe post.
//   Mailbox      the owner's side (a Shard role): drains the inbox every tick, delivers
//                what the shard posted to itself, runs the tick hooks, sleeps and closes.
//
// Contract:
//  - Order: each poster's envelopes to one target are delivered in the order it posted
//    them (the inbox is taken whole and reversed; the self queue is a FIFO).
//  - Exactly once: an envelope that was accepted is delivered or, when the target closes,
//    rejected; a refused post leaves the envelope with the caller.
//  - The doorbell rings only a sleeping shard. Before it blocks in the kernel the owner
//    swaps an empty inbox for the `asleep` mark (prepare_to_sleep, seq_cst); the one
//    poster whose push replaces the mark is told to ring the MSG_RING doorbell, so a
//    sleeping shard is woken exactly once per sleep and an awake one never.
//  - Bounded: an inbox grows from other threads, so new work (Admission::bounded: a
//    call, a spawn) is refused with errc::queue_full once kInboxLimit envelopes wait in it
//    undrained. An envelope owed to work already admitted (an answer, a cancel, a
//    handover: Admission::owed) is never refused for room: refusing it would lose an
//    answer someone waits for, and it is bounded by the requests it answers.
//
// Thread-safety: ShardGroup::enqueue and post_from_anywhere from any thread; Envelope
// delivery and every Mailbox call on the owning shard's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "ringo/error.hpp"
#include "ringo/internal/core/envelope_pool.hpp"
#include "ringo/internal/core/mpsc_stack.hpp"

namespace ringo::detail {

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

inline Envelope*& envelope_link(Envelope& e) noexcept { return e.next; }
using Inbox = MpscStack<Envelope, &envelope_link>;

// Whether a post may be refused for room in the target's inbox (see the contract above).
enum class Admission : uint8_t {
  bounded,  // new work: errc::queue_full when the inbox holds its limit
  owed,     // owed to work already admitted (an answer, a cancel): never refused for room
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

// The thread-safe face of a shard. Its inbox is polled by the shard every tick, so a
// shard that is awake gets its mail with no syscall on either side.
struct alignas(64) ShardPort {
  // Envelopes that may wait undrained in one inbox before new work is refused
  // (Admission::bounded). An awake shard drains every tick, and a tick resumes at most
  // run_budget (256) routines, each posting about one request before it waits: 64 busy
  // shards posting to one target in the same tick stay under 16,384. So the limit is met
  // only when the target stops draining (stuck in a long routine, or overloaded), and then
  // bounds what waits for it to about 2 MB of envelopes. At most Inbox::kCountMax.
  static constexpr uint32_t kInboxLimit = 16384;
  // The inbox's two marks: words no envelope can have, never dereferenced.
  static constexpr Inbox::Word kAsleep = Inbox::mark(1);
  static constexpr Inbox::Word kClosed = Inbox::mark(2);

  Inbox inbox;  // newest first, or one of the two marks; counts what waits
  std::atomic<bool> stopping{false};
  bool closed = false;                 // written and read by its own shard only
  int32_t ring_id = -1;                // written before any shard runs, then read-only
  uint32_t inbox_limit = kInboxLimit;  // likewise (ShardGroup's constructor)

  // Work requesting (balancer.hpp), on a line of its own: idle shards read `load`
  // while the owner's posters hammer `inbox`.
  // load: the owner's ready routines that may move, as last published.
  // work_request: 0, or 1 + the index of the one shard waiting for an answer from here.
  alignas(64) std::atomic<uint32_t> load{0};
  std::atomic<uint32_t> work_request{0};
};

class ShardGroup {
 public:
  // inbox_limit: ShardPort::kInboxLimit, lowered by tests that hit it.
  explicit ShardGroup(uint32_t shards, uint32_t inbox_limit = ShardPort::kInboxLimit);
  uint32_t size() const noexcept { return static_cast<uint32_t>(ports_.size()); }
  ShardPort& port(uint32_t index) noexcept { return *ports_[index]; }
  const ShardPort& port(uint32_t index) const noexcept { return *ports_[index]; }
  EnvelopePool& envelope_pool(uint32_t index) noexcept { return *pools_[index]; }

  // Puts env in the target's inbox. Returns whether the caller must ring the doorbell
  // (the target sleeps in the kernel). Errors: invalid_shard, shard_stopped (the target
  // closed), queue_full (bounded, and the inbox holds its limit). On error the caller
  // keeps ownership of env.
  Result<bool> enqueue(uint32_t target, Envelope* env, Admission admission = Admission::owed);

  // How a thread that runs no shard rings a doorbell (the real backend installs a
  // ring-less MSG_RING). Set before any shard runs.
  using ExternalWake = bool (*)(void* ctx, uint32_t target);
  void set_external_wake(ExternalWake wake, void* ctx) noexcept {
    external_wake_ = wake;
    external_wake_ctx_ = ctx;
  }
  // Thread-safe post (owed) from any thread: through the current shard's ring when called
  // on a shard of this group, else through the external wake. Without one (or if it
  // fails) the envelope is delivered at the target's next wake-up. On error the caller
  // keeps env.
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

// The owner's side of a shard's mail (a role of Shard, which passes itself as `here`).
class Mailbox {
 public:
  explicit Mailbox(ShardPort& port) noexcept : port_(port) {}

  // Puts env in the target's inbox (or this shard's own queue) and rings the target's
  // doorbell if it sleeps. On error the caller keeps env.
  Result<void> post(Shard& here, uint32_t target, Envelope* env, Admission admission);
  // Called every tick: on an empty inbox it is one load of a line no other core wrote.
  void drain_inbox(Shard& here);
  // Delivers what this shard posted to itself so far; what those post go in the next pass.
  void drain_self(Shard& here);
  void run_tick_hooks(Shard& here, bool final);
  void add_tick_hook(TickHook* hook) { tick_hooks_.push_back(hook); }
  // Marks the inbox asleep if it is empty (see the contract); false: stay awake.
  bool prepare_to_sleep();
  void awake() noexcept { asleep_ = false; }
  // Refuses new mail and rejects what is queued (the shutdown's last step).
  void close(Shard& here);

  bool has_self_mail() const noexcept { return self_head_ != nullptr; }
  bool has_hooks() const noexcept { return !tick_hooks_.empty(); }
  uint64_t delivered() const noexcept { return envelopes_delivered_; }

 private:
  Result<void> post_to_self(Envelope* env);
  void deliver_all(Shard& here, Envelope* list);
  static void reject_all(Shard& here, Envelope* list);

  ShardPort& port_;
  bool asleep_ = false;            // the inbox carries the asleep mark
  Envelope* self_head_ = nullptr;  // posted to this shard by itself
  Envelope* self_tail_ = nullptr;
  std::vector<TickHook*> tick_hooks_;  // registration order
  uint64_t envelopes_delivered_ = 0;
};

}  // namespace ringo::detail
