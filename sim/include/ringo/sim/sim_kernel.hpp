// The simulated kernel: N SimRings, one virtual clock, one seeded PRNG. Every choice
// (which completion is delivered next, how long an op takes, whether a fault fires) is
// drawn from the seed, so the same seed replays the same run.
//
// Thread-safety: none. The simulator runs every shard on one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "ringo/core/prng.hpp"
#include "ringo/core/ring.hpp"
#include "ringo/core/trace.hpp"

namespace ringo::sim {

// Fault probabilities in parts per million.
struct FaultConfig {
  uint32_t msg_ring_overflow_ppm = 0;     // sender sees -EOVERFLOW, nothing delivered
  uint32_t sq_full_ppm = 0;               // push() accepts only part of a batch
  uint32_t cancel_too_late_ppm = 500000;  // ASYNC_CANCEL finds the op already completing
  Duration min_latency{1000};             // per-op completion latency range
  Duration max_latency{20000};

  static FaultConfig none();
  static FaultConfig light();
  static FaultConfig heavy();
  // A random subset of faults at random strengths, drawn from the seed (swarm testing).
  static FaultConfig swarm(uint64_t seed);
  static bool parse(const std::string& name, uint64_t seed, FaultConfig& out);
};

class SimKernel;

class SimRing final : public Ring {
 public:
  SimRing(SimKernel& kernel, uint32_t index, uint32_t sq_entries);
  size_t push(std::span<const Sqe> sqes) override;
  Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) override;
  size_t reap(std::span<Cqe> out) override;
  Instant now() const override;
  Caps caps() const override;
  int32_t msg_ring_id() const override { return static_cast<int32_t>(index_); }

  size_t cq_ready() const noexcept { return cq_.size(); }
  // A stopped ring refuses MSG_RING deliveries (its shard is gone).
  void stop() noexcept { stopped_ = true; }
  bool stopped() const noexcept { return stopped_; }

 private:
  friend class SimKernel;
  SimKernel& kernel_;
  uint32_t index_;
  uint32_t sq_entries_;
  bool stopped_ = false;
  std::vector<Sqe> sq_;
  std::deque<Cqe> cq_;
};

class SimKernel final : public Tracer {
 public:
  SimKernel(uint64_t seed, uint32_t rings, FaultConfig faults, bool keep_trace);

  SimRing& ring(uint32_t i) noexcept { return *rings_[i]; }
  uint32_t ring_count() const noexcept { return static_cast<uint32_t>(rings_.size()); }
  Instant now() const noexcept { return now_; }
  Prng& prng() noexcept { return prng_; }
  const FaultConfig& faults() const noexcept { return faults_; }

  // Completions whose time has come, waiting to be posted to a CQ.
  bool has_due() const noexcept { return !due_.empty(); }
  // Posts one due completion, chosen by the seed (reordering among simultaneous ones).
  void deliver_one();
  // The earliest future completion, or kNoDeadline.
  Instant next_event() const noexcept;
  // Moves the clock forward to t (never back) and makes what is due there deliverable.
  void advance_to(Instant t);
  size_t in_flight() const noexcept { return due_.size() + future_.size(); }

  // Tracer: every record feeds the running hash; kept if asked.
  void record(const TraceEvent& event) override;
  uint64_t trace_hash() const noexcept { return hash_; }
  uint64_t trace_events() const noexcept { return events_; }
  const std::vector<TraceEvent>& trace() const noexcept { return trace_; }
  uint64_t faults_injected() const noexcept { return faults_injected_; }

  // Called by SimRing::submit_and_wait for each submitted Sqe.
  void submit(uint32_t ring, const Sqe& sqe);
  bool inject(uint32_t ppm, uint64_t fault_kind);

 private:
  struct Event {
    Instant at;
    uint64_t seq;  // creation order: ties in `at` never depend on anything else
    uint32_t ring;
    Cqe cqe;
    uint64_t op_user_data;  // the op this completion belongs to (for cancellation)
    bool cancellable;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const noexcept {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  void schedule(Instant at, uint32_t ring, Cqe cqe, uint64_t op_user_data, bool cancellable);
  Duration latency();
  void submit_op(uint32_t ring, const Sqe& sqe, int32_t res, Duration takes, bool cancellable);
  void submit_cancel(uint32_t ring, const Sqe& sqe);
  void submit_msg_ring(uint32_t ring, const Sqe& sqe);
  void post(uint32_t ring, const Cqe& cqe);

  Instant now_{0};
  Prng prng_;
  FaultConfig faults_;
  bool keep_trace_;
  uint64_t seq_ = 0;
  std::vector<std::unique_ptr<SimRing>> rings_;
  std::vector<Event> due_;
  std::vector<Event> future_;  // a min-heap by (at, seq)
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  uint64_t events_ = 0;
  uint64_t faults_injected_ = 0;
  std::vector<TraceEvent> trace_;
};

}  // namespace ringo::sim
