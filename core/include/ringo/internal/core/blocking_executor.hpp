// The blocking pool's seam: what core hands to a pool of threads and how the work comes
// home. core/ knows only this interface; the runtime installs an implementation on the
// ShardGroup (a real thread pool in api/, a simulated one in sim/). `blocking.hpp` is the
// routine's side (`co_await blocking(fn)`).
//
// A BlockingJob is shared by two owners, each holding one reference:
//   - the caller's side: the awaiting routine's awaiter, while it is linked to the job
//     (released on the home shard when the result is handed over, when the wait is
//     cancelled, or when the routine's frame is destroyed);
//   - the executor's side: the pool's queue, then the runner, then the envelope that
//     carries the result home (released when it is delivered or rejected there, or by
//     the executor when it drops the job: cancelled before start, pool closed).
// The last release frees the job, on whichever thread that is, so the job comes from
// the system allocator, not a shard's envelope pool (which may be gone by then).
//
// A job's state moves queued -> running -> finished (sent home), or queued -> cancelled;
// the caller cancels (on its home shard; the executor too, for what it drops when it
// closes), a runner starts it. Both are one compare-exchange, so a job is either started
// or cancelled, never both.
//
// Thread-safety: start/run/finish and release on any thread; cancel, deliver and reject
// on the home shard only. The executor's queue fields are the executor's to guard.
#pragma once

#include <atomic>
#include <cstdint>
#include <new>

#include "ringo/blocking_pool.hpp"
#include "ringo/error.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {

class BlockingJob : public Envelope {
 public:
  enum class State : uint8_t { queued, running, finished, cancelled };

  BlockingJob(uint32_t home, uint64_t id) noexcept : home_(home), id_(id) {}
  uint32_t home() const noexcept { return home_; }
  uint64_t id() const noexcept { return id_; }  // (home shard << 48) | per-shard sequence
  State state() const noexcept { return state_.load(std::memory_order_acquire); }

  // Runner: claims the job. False when it was cancelled first (then release() it unrun).
  bool start() noexcept {
    State expected = State::queued;
    return state_.compare_exchange_strong(expected, State::running, std::memory_order_acq_rel);
  }
  // Runner, after start(): calls fn, keeps its value or exception. Never throws. The job
  // stays running until send_home(): the simulator holds the result for fn's simulated
  // duration, and a cancel in that time is a cancel while running.
  void run() noexcept {
    RINGO_ASSERT(state() == State::running, "run() follows a start() that won");
    invoke();
  }
  // Caller (home shard): the state the job had. queued means it is now cancelled and
  // will never run.
  State cancel() noexcept {
    State expected = State::queued;
    if (state_.compare_exchange_strong(expected, State::cancelled, std::memory_order_acq_rel)) return State::queued;
    return expected;
  }
  // Runner, after run(): marks the job finished (its result is on its way: a cancel now
  // waits for it) and sends it, with the executor's reference, home. If home is gone the
  // reference is released here.
  void send_home(ShardGroup& group) noexcept {
    state_.store(State::finished, std::memory_order_release);
    if (!group.post_from_anywhere(home_, this)) release();
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Not from a shard's envelope pool: the last release may come after the runtime is gone.
  static void* operator new(std::size_t size) { return ::operator new(size); }
  static void operator delete(void* block) noexcept { ::operator delete(block); }

  // The executor's queue links, guarded by the executor.
  BlockingJob* prev_queued = nullptr;
  BlockingJob* next_queued = nullptr;

 protected:
  ~BlockingJob() override = default;
  virtual void invoke() noexcept = 0;

 private:
  const uint32_t home_;
  const uint64_t id_;
  std::atomic<State> state_{State::queued};
  std::atomic<uint32_t> refs_{2};
};

// A pool that runs jobs off the shards. Runners follow the protocol above: start(), run(),
// send_home(); a job that start() refuses is release()d unrun.
class BlockingExecutor {
 public:
  // Takes the executor's reference. Errors: errc::queue_full (max_queue calls already
  // wait), errc::shard_stopped (the pool is closed); the caller then keeps the job.
  virtual Result<void> submit(BlockingJob* job) = 0;
  // The job was cancelled before it started: free its place in the queue now, if it is
  // still there (else a runner finds it cancelled). Called on the job's home shard.
  virtual void withdraw(BlockingJob* job) noexcept = 0;
  virtual BlockingPoolStats stats() const = 0;

 protected:
  ~BlockingExecutor() = default;
};

}  // namespace ringo::detail
