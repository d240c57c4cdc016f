// SimKernel: the simulated kernel's event core. It owns N SimRings, one virtual clock,
// one ChoiceSource, the queue of completions on their way to the rings and the queue of
// model events (network delivery, parked-op deadlines, the blocking pool). Every choice
// (which completion is delivered next, how long an op takes, whether a fault fires) comes
// from the ChoiceSource: drawn from the seed, so the same seed replays the same run, or
// read from a recorded choice sequence (choice_source.hpp).
//
// The devices behind descriptors are their own types (sim/src): SimDisk (files,
// durability, crashes) and SimNet (stream sockets), sharing one DescriptorTable. They see
// the core only through DeviceHost (device_host.hpp): the clock, seeded draws, model
// events, an extra completion now, and a retry of the ops parked on an object.
//
// Contract:
// - virtual time never goes back (every trace record is at or after the one before);
//   a completion scheduled for a time already past is due at once;
// - every completion is delivered once (or dropped, if its ring stopped); CQEs of one op
//   keep their order; model events due at the same instant run in the order scheduled;
// - a CQE per SQE: every submitted op is answered exactly once (its CQE scheduled), stays
//   parked on an object, or is silent (a MSG_RING that skips its success CQE, an op of a
//   ring that stopped); an op with a deadline gets one more CQE, its link timeout's, and
//   of the pair exactly one side wins (link -ETIME with the op -ECANCELED, or link
//   -ECANCELED).
// These are RINGO_ASSERTs in debug and sanitizer builds.
//
// Thread-safety: none. The simulator runs every shard on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/trace.hpp"
#include "ringo/internal/sim/choice_source.hpp"
#include "ringo/internal/sim/parked_table.hpp"
#include "ringo/internal/sim/sim_ring.hpp"
#include "ringo/sim/fault_config.hpp"

namespace ringo::sim::detail {

class DeviceHost;
class DescriptorTable;
class SimDisk;
class SimFabric;
class SimNet;

class SimKernel final : public Tracer {
 public:
  SimKernel(uint64_t seed, uint32_t rings, FaultConfig faults, bool keep_trace);

  // A model event's action. move_only_function keeps up to three words in place (libstdc++
  // 12), std::function two: a pipe's arrival ([this, shared_ptr]) allocated once per send.
  using Callback = std::move_only_function<void()>;

  // A host's clock against true virtual time: local(t) = t + offset + t * drift / 10^6.
  struct Clock {
    int64_t offset_ns = 0;  // >= 0
    int64_t drift_ppm = 0;  // > -10^6
  };

  SimRing& ring(uint32_t i) noexcept { return *rings_[i]; }
  uint32_t ring_count() const noexcept { return static_cast<uint32_t>(rings_.size()); }
  Instant now() const noexcept { return now_; }
  ChoiceSource& choices() noexcept { return choices_; }
  const FaultConfig& faults() const noexcept { return faults_; }

  // Completions (or model events) whose time has come.
  bool has_due() const noexcept { return !due_.empty() || (!actions_.empty() && actions_.front().at <= now_); }
  // Posts one due completion, chosen by the seed (reordering among simultaneous ones);
  // choice value 0 is the oldest due completion.
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

  // Draws whether a fault with this probability fires; one that does is counted and
  // recorded (TraceKind::fault, a = fault_kind).
  bool inject(uint32_t ppm, uint64_t fault_kind);
  // SimRing::sys: socket set-up, addresses, file size, synchronous close.
  int64_t sys(uint32_t ring, SysCall& call);
  // Runs fn at virtual time `when` (network delivery, parked-op deadlines, the blocking
  // pool); actions due at the same instant run in the order they were scheduled.
  void at(Instant when, Callback fn);
  // A duration drawn uniformly from [lo, hi] by the seed.
  Duration draw(Duration lo, Duration hi);

  // Hosts (cluster.hpp). A kernel starts as one host, 0, whose rings are the constructor's.
  // make_cluster gives it `clocks.size()` hosts (host 0 keeps its rings) on a fabric, each
  // with its own descriptors, disk, network (address 10.0.0.<h + 1>) and clock.
  void make_cluster(const std::vector<Clock>& clocks);
  uint32_t host_count() const noexcept { return static_cast<uint32_t>(hosts_.size()); }
  // A new ring on `host` (a restarted host gets new rings: the old ones stay stopped).
  uint32_t add_ring(uint32_t host);
  uint32_t host_of(uint32_t ring) const noexcept { return ring_host_[ring]; }
  SimFabric* fabric() noexcept { return fabric_.get(); }
  // A ring's host's clock: now, and the true time at which it shows `local` (the first
  // instant it shows at least that; kNoDeadline stays).
  Instant local_now(uint32_t ring) const noexcept;
  Instant to_true(uint32_t ring, Instant local) const noexcept;
  Duration to_true_span(uint32_t ring, Duration local) const noexcept;
  // One host loses power: its connections are reset, its descriptors close, its disk
  // keeps what the durability model says (as crash() for every host).
  void crash_host(uint32_t host);
  std::optional<std::string> file_contents(uint32_t host, const std::string& path) const;

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

 private:
  friend class SimRing;             // submits its Sqes
  friend class detail::DeviceHost;  // the devices' narrow view of the core

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
  struct Parked {
    uint32_t ring;
    Sqe sqe;
  };
  struct Action {
    Instant at;
    uint64_t seq;
    Callback fn;
  };
  struct ActionLater {
    bool operator()(const Action& a, const Action& b) const noexcept {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  // Called by SimRing::submit_and_wait for each submitted Sqe.
  void submit(uint32_t ring, const Sqe& sqe);
  void schedule(Instant at, uint32_t ring, Cqe cqe, uint64_t op_user_data, bool cancellable);
  // An op's own final CQE, and its link timeout's (the two halves of the ledger).
  void answer(Instant at, uint32_t ring, const Sqe& sqe, int32_t res, bool cancellable, uint32_t flags = 0);
  void answer_unless_skipped(Instant at, uint32_t ring, const Sqe& sqe, int32_t res, bool cancellable,
                             uint32_t flags = 0);
  void answer_link(Instant at, uint32_t ring, const Sqe& sqe, int32_t res, int32_t op_res);
  Duration latency();
  void submit_op(uint32_t ring, const Sqe& sqe, int32_t res, Duration takes, bool cancellable);
  void submit_cancel(uint32_t ring, const Sqe& sqe);
  int32_t cancel_in_flight(uint32_t ring, uint64_t target);
  void submit_msg_ring(uint32_t ring, const Sqe& sqe);
  void post(uint32_t ring, const Cqe& cqe);

  // Ops on simulated objects complete at once or park until the object changes.
  // try_io returns the result, or nothing after the device registered `id` on a wait list.
  std::optional<int32_t> try_io(uint64_t id, uint32_t ring, const Sqe& sqe);
  int32_t close_fd(uint32_t host, int32_t fd);
  void submit_io(uint32_t ring, const Sqe& sqe);
  void complete_io(uint32_t ring, const Sqe& sqe, int32_t res);
  void wake(std::vector<uint64_t>& waiters);
  void answer_cancelled(uint32_t ring, const Sqe& sqe);
  bool cancel_parked(uint32_t ring, uint64_t user_data);
  void expire_parked(uint64_t id);
  void run_due_actions();

  // Debug checks (RINGO_ASSERT): the ledgers balance, the pick is its op's oldest CQE.
  bool ops_accounted() const noexcept;
  bool events_accounted() const noexcept;
  bool oldest_of_its_op(size_t pick) const noexcept;
  // The due completion to deliver: an index into due_ (choice value: its age rank).
  size_t pick_due();

  ParkedTable<Parked> parked_;            // by park id: oldest first
  uint32_t final_flags_ = 0;              // DeviceHost::final_flags, for the next complete_io
  Instant held_result_at_ = kNoDeadline;  // DeviceHost::hold_final, for the next complete_io
  uint64_t ops_held_ = 0;                 // ops whose final CQE waits for release_held
  Instant hold_final();
  void release_held(uint32_t ring, const Sqe& sqe, int32_t res, uint32_t flags, Instant result_at);
  uint64_t park_seq_ = 0;
  std::vector<Action> actions_;  // a min-heap by (at, seq)

  Instant now_{0};
  ChoiceSource choices_;
  FaultConfig faults_;
  bool keep_trace_;
  uint64_t seq_ = 0;
  std::vector<std::unique_ptr<SimRing>> rings_;
  std::vector<Event> due_;
  std::vector<size_t> by_age_;  // scratch for pick_due
  std::vector<Event> future_;   // a min-heap by (at, seq)
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  uint64_t events_ = 0;
  uint64_t faults_injected_ = 0;
  std::vector<TraceEvent> trace_;

  // The devices behind descriptors, per host (sim_kernel.cpp), and the rings' hosts.
  struct Host;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<uint32_t> ring_host_;
  std::unique_ptr<detail::SimFabric> fabric_;  // in a cluster only
  Host& host_devices(uint32_t ring) noexcept { return *hosts_[ring_host_[ring]]; }
  void add_host(Clock clock);

  // Ledgers behind the contract's assertions (kept up only where assertions run).
  uint64_t ops_submitted_ = 0;  // Sqes taken from the rings
  uint64_t ops_answered_ = 0;   // final CQEs scheduled
  uint64_t ops_silent_ = 0;     // ops that end without a CQE
  uint64_t links_owed_ = 0;     // answered ops with a deadline whose link CQE is not scheduled yet
  uint64_t events_scheduled_ = 0;
  uint64_t events_delivered_ = 0;  // taken from due_ (posted, or dropped at a stopped ring)
  uint64_t actions_scheduled_ = 0;
  uint64_t actions_run_ = 0;
  Instant last_action_at_{0};  // the last action run, for the order check
  uint64_t last_action_seq_ = 0;
  int64_t last_record_ns_ = INT64_MIN;  // the last trace record's time
};

}  // namespace ringo::sim::detail
