// The simulated kernel: N SimRings, one virtual clock, one seeded PRNG. Every choice
// (which completion is delivered next, how long an op takes, whether a fault fires) is
// drawn from the seed, so the same seed replays the same run.
//
// Thread-safety: none. The simulator runs every shard on one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ringo/core/prng.hpp"
#include "ringo/core/ring.hpp"
#include "ringo/core/trace.hpp"

namespace ringo::sim {

namespace detail {
struct Socket;
}

// Fault probabilities in parts per million, and the network/disk model's knobs.
struct FaultConfig {
  uint32_t msg_ring_overflow_ppm = 0;     // sender sees -EOVERFLOW, nothing delivered
  uint32_t sq_full_ppm = 0;               // push() accepts only part of a batch
  uint32_t cancel_too_late_ppm = 500000;  // ASYNC_CANCEL finds the op already completing
  Duration min_latency{1000};             // per-op completion latency range
  Duration max_latency{20000};
  // Network (sim_net.cpp)
  uint32_t connect_refused_ppm = 0;  // a connect is refused although a listener exists
  uint32_t reset_ppm = 0;            // a send resets its connection (both ends: ECONNRESET)
  uint32_t short_io_ppm = 0;         // a read/write/send/recv moves fewer bytes than it could
  // The ring offers multishot accept; a multishot may end after any connection (legal:
  // the kernel ends one whenever it must, and the caller re-arms).
  bool multishot_accept = true;
  uint32_t multishot_end_ppm = 0;
  Duration net_min_latency{5000};  // one-way delivery latency range
  Duration net_max_latency{50000};
  uint32_t net_ns_per_byte = 1;        // bandwidth: 1 ns per byte = 1 GB/s
  uint32_t socket_buffer = 64 * 1024;  // bytes in flight + unread before a sender waits
  // Disk (sim_disk.cpp)
  uint32_t disk_eio_ppm = 0;  // a file read or write fails with EIO
  // Buggify (set from SimConfig::buggify_ppm): a MSG_RING delivery is held back up to 1 ms.
  uint32_t buggify_ppm = 0;
  // The blocking pool (sim_blocking.hpp): a thread takes a call 0..handoff_max after one
  // is free, and fn's run is taken to last min..max (it runs at once, in virtual time).
  Duration blocking_handoff_max{5000};
  Duration blocking_min_latency{10000};
  Duration blocking_max_latency{100000};

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
  int64_t sys(SysCall& call) override;

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

  // Completions (or model events) whose time has come.
  bool has_due() const noexcept { return !due_.empty() || (!actions_.empty() && actions_.front().at <= now_); }
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
  // SimRing::sys: socket set-up, addresses, file size, synchronous close.
  int64_t sys(SysCall& call);
  // Runs fn at virtual time `when` (network delivery, parked-op deadlines, the blocking
  // pool); actions due at the same instant run in the order they were scheduled.
  void at(Instant when, std::function<void()> fn);
  // A duration drawn uniformly from [lo, hi] by the seed.
  Duration draw(Duration lo, Duration hi);

  // Power loss: every descriptor closes (connections reset, waiting ops fail) and each
  // file keeps what was fsynced plus, chosen by the seed, some of the later writes, whole
  // or torn. Programs run after it see the disk as a restarted machine would.
  void crash();
  // A file's current contents (tests), or nothing if the path does not exist.
  std::optional<std::string> file_contents(const std::string& path) const;
  size_t open_fds() const noexcept;
  size_t parked_ops() const noexcept { return parked_.size(); }

  SimKernel(const SimKernel&) = delete;
  SimKernel& operator=(const SimKernel&) = delete;
  ~SimKernel() override;

  struct Os;  // descriptors, files, sockets (sim_objects.hpp)

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

  // Ops on simulated objects complete at once or park until the object changes.
  // try_io returns the result, or nothing after registering `id` on the wait list.
  std::optional<int32_t> try_io(uint64_t id, uint32_t ring, const Sqe& sqe);
  std::optional<int32_t> try_file(uint32_t ring, const Sqe& sqe);
  std::optional<int32_t> try_net(uint64_t id, uint32_t ring, const Sqe& sqe);
  std::optional<int32_t> try_accept(uint64_t id, uint32_t ring, detail::Socket& sock, const Sqe& sqe);
  int32_t do_open(const Sqe& sqe);
  int32_t do_close(int32_t fd);
  void submit_io(uint32_t ring, const Sqe& sqe);
  void complete_io(uint32_t ring, const Sqe& sqe, int32_t res);
  void wake(std::vector<uint64_t>& waiters);
  bool cancel_parked(uint32_t ring, uint64_t user_data);
  void expire_parked(uint64_t id);
  void run_due_actions();
  Duration net_latency();
  int64_t net_sys(SysCall& call);

  struct Parked {
    uint32_t ring;
    Sqe sqe;
  };
  struct Action {
    Instant at;
    uint64_t seq;
    std::function<void()> fn;
  };
  struct ActionLater {
    bool operator()(const Action& a, const Action& b) const noexcept {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  std::map<uint64_t, Parked> parked_;  // by park id: oldest first
  uint64_t park_seq_ = 0;
  std::vector<Action> actions_;  // a min-heap by (at, seq)
  std::unique_ptr<Os> os_;

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
