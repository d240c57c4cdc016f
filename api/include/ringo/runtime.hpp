// ringo::Runtime: N shards on a backend (real io_uring, one thread per shard, or the
// deterministic simulator on the calling thread), with block_on() to run a main task.
//
//   auto rt = ringo::Runtime::create({.shards = 2});
//   if (!rt) { fprintf(stderr, "%s\n", rt.error().message().c_str()); return 1; }
//   ringo::Result<int> r = rt->block_on(main_task());
//
// Shard 0 runs on the thread that created the runtime (its owner), while block_on() runs;
// shards 1..N-1 run on their own threads from create() to shutdown(). In the simulator all
// shards run inside block_on() on the calling thread, and the seed decides every
// interleaving.
//
// The environment: RINGO_BACKEND=uring|sim|aio picks the backend when the config leaves it
// automatic; RINGO_SEED=<n> (decimal or 0x-hex) overrides RuntimeConfig::seed on every
// backend, so the simulator's "replay with RINGO_SEED=<n>" re-runs that run. Any other
// value of either is an error, never a silent default.
//
// The seed: the simulator runs RuntimeConfig::seed (default 1). A real backend with no
// seed set draws one from the OS (getrandom), so select's random choices differ from run
// to run as they do in Go; backend_report() and seed() say which seed ran, and setting it
// repeats those choices (not the threads' timing).
//
// Errors: create() returns errc::backend_unavailable when the backend cannot run here
// (automatic: neither io_uring nor AIO), errc::invalid_argument for a bad config or
// a bad RINGO_BACKEND or RINGO_SEED. It says why on stderr, or in `why` for the overload
// that takes it. block_on() returns the task's Result, errc::wrong_thread off the owner
// thread (real backend), errc::nested_block_on when called from inside a routine of this or
// any other runtime (it would block that routine's shard, or re-enter it),
// errc::shard_stopped after shutdown() or on a moved-from Runtime, errc::deadlock
// (simulator) when every routine is blocked, errc::routine_panicked if the task threw.
// shutdown() reports errc::wrong_thread off the owner thread and errc::nested_block_on from
// one of the runtime's own routines, and then does nothing.
//
// Thread-safety: a Runtime is used from one thread at a time. Any number of runtimes, of
// either backend, may live on one thread: each keeps its own owner, and block_on() and
// shutdown() make its shards current on the thread only while they run, then restore what
// was current before. Inside a routine block_on() is refused (above), but shutting down
// another runtime, or dropping it (one made inside the routine too), works: it is not
// running, and its drain is bounded by its shutdown_timeout. A runtime destroyed from
// inside one of its own routines aborts the process with a message: that would free the
// shard running the caller.
//
// Real backend: block_on() and shutdown() work on the owner thread only (shard 0's ring
// takes submissions only from its creator: IORING_SETUP_SINGLE_ISSUER); moving a Runtime
// does not move its owner. The destructor works on any thread. On the owner it shuts down.
// Elsewhere (the owner may even have exited) shard 0 cannot run, so the destructor closes
// shard 0 without running it (calls to it are answered shard_stopped), stops and joins
// shards 1..N-1 as shutdown() does, then frees the routines shard 0 still had without
// running them again and closes its ring, whose kernel ops are abandoned; it says so on
// stderr. A shard that waits on shard 0 there waits out shutdown_timeout. No shard thread
// is leaked either way.
//
// Simulator: no thread affinity; any thread may call it, one at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ringo/blocking.hpp"
#include "ringo/cross_shard.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/shard_stats.hpp"
#include "ringo/sim/fault_config.hpp"
#include "ringo/task.hpp"

namespace ringo {

enum class Backend { automatic, uring, sim, aio };

const char* backend_name(Backend b) noexcept;
// The backend RINGO_BACKEND names ("uring", "sim" or "aio"), or fallback when it is not
// set. Errors: errc::invalid_argument for anything else (empty and other spellings
// included); `why` then says so and lists the valid values.
Result<Backend> backend_from_env(Backend fallback, std::string& why);

// What Runtime::create() builds: shard count, backend, seed and the runtime's limits.
struct RuntimeConfig {
  uint32_t shards = 2;
  Backend backend = Backend::automatic;  // automatic: RINGO_BACKEND, else io_uring, else AIO
  // Seeds the shards' PRNGs (select's choices, timer ties) and the simulator. Unset: 1 on
  // the simulator, a seed from the OS on real backends. RINGO_SEED overrides it.
  std::optional<uint64_t> seed = std::nullopt;
  sim::FaultConfig faults = sim::FaultConfig::none();  // simulator only
  bool keep_trace = false;                             // simulator only
  unsigned ring_entries = 256;
  std::string thread_name = "ringo";  // shard threads are named "<thread_name>-<i>"
  bool pin_cpus = false;              // pin shard i to CPU i % nproc
  uint64_t max_routines_per_shard = 1u << 22;
  uint32_t run_budget = 256;
  // Idle shards ask busy ones for routines started with spawn() (docs/scheduling.md).
  // Off: every routine runs where it was spawned.
  bool work_requesting = true;
  Duration idle_spin = std::chrono::microseconds(50);  // spin this long before sleeping in the kernel
  // How long an idle shard spins instead while its core is contended: after another thread
  // preempted its spin, for 100 ms (docs/scheduling.md, Co-tenancy). >= idle_spin: never
  // give way.
  Duration contended_spin = std::chrono::microseconds(5);
  Duration shutdown_timeout = std::chrono::seconds(2);
  // The pool blocking(fn) runs on (blocking.hpp): threads started on demand up to
  // max_threads and retired after idle_retire; max_queue more calls may wait, the next
  // gets queue_full. The simulator models the same bounds in virtual time. Shutdown waits
  // up to shutdown_timeout more for calls still running, then abandons them.
  BlockingPoolConfig blocking{};
};

// Runtime::stats(): each shard's counters, their sum, and the blocking pool's.
struct RuntimeStats {
  std::vector<ShardStats> shards;  // real backends: published when idle, and every 10 ms while busy
  ShardStats total;
  BlockingPoolStats blocking;  // the blocking pool, now
};

// What shutdown() had to do: routines cancelled or abandoned, ops and blocking calls
// left behind.
struct ShutdownReport {
  std::error_code error;          // wrong_thread (off the owner) or nested_block_on (from one of its
                                  // own routines): refused, nothing done
  size_t routines_cancelled = 0;  // routines that were still alive and had to be cancelled
  size_t routines_abandoned = 0;  // still alive after shutdown_timeout (frames freed by force)
  size_t ops_abandoned = 0;       // kernel ops still in flight at the deadline
  size_t blocking_unstarted = 0;  // blocking calls still queued: dropped, fn never ran
  size_t blocking_abandoned = 0;  // blocking calls still running when the pool stopped waiting:
                                  // their threads finish alone and drop the results
  std::string summary() const;
};

namespace detail {
class Engine;
}  // namespace detail

// N shards on a backend, with block_on() to run a main task (this header's comment has
// the threading and error rules).
class Runtime {
 public:
  static Result<Runtime> create(RuntimeConfig config = {});
  // The same, but a failure's reason goes to `why` instead of stderr.
  static Result<Runtime> create(RuntimeConfig config, std::string& why);
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;
  ~Runtime();  // shuts down if needed, on any thread (see Thread-safety)

  template <class T>
  Joined<T> block_on(Task<T> task) {
    // Shared: if drive() gives up (deadlock, budget), the task may still finish during
    // shutdown, after this frame is gone.
    auto out = std::make_shared<std::optional<Joined<T>>>();
    auto status = drive(capture(std::move(task), out));
    if (!status) return std::unexpected(status.error());
    return std::move(**out);
  }

  Backend backend() const noexcept;
  uint32_t shard_count() const noexcept;
  // What the backend probe found (chosen flags and features), then the seed and where it
  // came from: "...; seed 42 (from RINGO_SEED)".
  const std::string& backend_report() const noexcept;
  // The seed this runtime runs with, however it was chosen.
  uint64_t seed() const noexcept;
  RuntimeStats stats() const;
  // Simulator only: the running trace hash (0 on real backends).
  uint64_t trace_hash() const noexcept;
  // Cancels every routine, drains ops within shutdown_timeout, stops the shards.
  ShutdownReport shutdown();

 private:
  explicit Runtime(std::unique_ptr<detail::Engine> engine) noexcept;
  Result<void> drive(Task<void> main);

  template <class T>
  static Task<void> capture(Task<T> task, std::shared_ptr<std::optional<Joined<T>>> out) {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      out->emplace();
    } else if constexpr (std::is_same_v<Joined<T>, T>) {
      out->emplace(co_await std::move(task));
    } else {
      out->emplace(Joined<T>(co_await std::move(task)));
    }
  }

  std::unique_ptr<detail::Engine> engine_;
};

}  // namespace ringo
