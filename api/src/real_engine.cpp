// The production engine, for every real backend (io_uring, AIO): shard 0 on the creating
// thread (inside block_on), shards 1..N-1 on their own threads, one ring each, MSG_RING
// doorbells between them. Only making a ring and the ring-less wake differ per backend
// (RealBackend, engine.hpp).
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <latch>
#include <mutex>
#include <thread>

#include "engine.hpp"
#include "ringo/internal/core/assert.hpp"
#include "thread_pool.hpp"

namespace ringo::detail {
namespace {

// Shards one real engine runs: its per-shard counters are fixed arrays (no allocation and
// no lock on the spin path), 64 is beyond every machine this runs on with one shard per
// core, and make_real_engine refuses more with invalid_argument.
constexpr uint32_t kMaxShards = 64;

// What a shard thread's loop needs; written by envelopes delivered on that thread, read
// by the loop on the same thread.
struct ShardLoop {
  bool draining = false;
  bool closing = false;
};

// Wakes a shard blocked in the kernel so it re-checks its loop condition.
struct WakeEnvelope final : Envelope {
  void deliver(Shard&) override { delete this; }
};

struct LoopStopEnvelope final : Envelope {
  ShardLoop* loop;
  bool close;
  LoopStopEnvelope(ShardLoop* l, bool c) : loop(l), close(c) {}
  void deliver(Shard& here) override {
    if (close) {
      loop->closing = true;
    } else if (!loop->draining) {
      loop->draining = true;
      here.abort_all();
    }
    delete this;
  }
};

// Names the calling thread for the ownership checks. Unlike std::thread::id or pthread_t,
// a token is never handed to a later thread, so a thread made after the owner exited cannot
// pass for it (its submissions would be refused by the kernel: SINGLE_ISSUER).
uint64_t this_thread_token() noexcept {
  static std::atomic<uint64_t> next{0};
  thread_local const uint64_t token = next.fetch_add(1, std::memory_order_relaxed) + 1;
  return token;
}

class RealEngine final : public Engine {
 public:
  RealEngine(const RuntimeConfig& config, RealBackend backend)
      : config_(config),
        backend_(std::move(backend)),
        group_(config.shards),
        rings_(config.shards),
        shards_(config.shards),
        loops_(config.shards),
        snapshots_(config.shards) {}

  ~RealEngine() override {
    if (stopped_) return;
    if (inside_own_shard(group_)) die_destroyed_from_inside();
    if (owner_ == this_thread_token()) {
      shutdown();
    } else {
      teardown_off_owner();
    }
  }

  Result<void> start(std::string& why) {
    std::latch created(config_.shards);
    std::vector<RingSetup> setups(config_.shards);
    // Shard 0's ring belongs to this thread; the others are made on their own threads.
    setups[0] = backend_.create_ring(config_);
    created.count_down();
    for (uint32_t i = 1; i < config_.shards; ++i) {
      threads_.emplace_back([this, i, &setups, &created] {
        setups[i] = backend_.create_ring(config_);
        created.count_down();
        go_.wait(false);
        if (go_ok_.load()) thread_main(i);
      });
    }
    created.wait();
    RINGO_ASSERT(threads_.size() + 1 == config_.shards, "one thread per shard but shard 0");
    std::error_code error;
    for (uint32_t i = 0; i < config_.shards; ++i) {
      if (setups[i].error && !error) {
        error = setups[i].error;
        why = setups[i].report;
      }
    }
    if (!error) {
      report_ = backend_.note.empty() ? setups[0].report : setups[0].report + " (" + backend_.note + ")";
      for (uint32_t i = 0; i < config_.shards; ++i) {
        rings_[i] = std::move(setups[i].ring);
        group_.port(i).ring_id = rings_[i]->msg_ring_id();
      }
      group_.set_external_wake(backend_.wake, &group_);
      pool_ = std::make_unique<ThreadPool>(group_, config_.blocking, config_.idle_spin, config_.thread_name);
      group_.set_blocking_executor(pool_.get());
      for (uint32_t i = 0; i < config_.shards; ++i) {
        ShardConfig sc;
        sc.run_budget = config_.run_budget;
        sc.work_requesting = config_.work_requesting;
        sc.max_routines = config_.max_routines_per_shard;
        sc.seed = config_.seed.value_or(1);
        shards_[i] = std::make_unique<Shard>(group_, i, *rings_[i], sc);
      }
      owner_ = this_thread_token();
      if (config_.pin_cpus) pin(0);
    }
    go_ok_.store(!error);
    go_.store(true);
    go_.notify_all();
    if (error) {
      for (auto& t : threads_) t.join();
      threads_.clear();
      stopped_ = true;
      return std::unexpected(error);
    }
    return {};
  }

  Backend backend() const noexcept override { return backend_.backend; }
  uint32_t shard_count() const noexcept override { return config_.shards; }

  Result<void> drive(Task<void> main) override {
    if (stopped_) return fail(errc::shard_stopped);
    if (owner_ != this_thread_token()) return fail(errc::wrong_thread);
    // Inside a routine (of this or any runtime on this thread) a nested drive would block
    // that routine's shard, or re-enter the shard that is running it.
    if (current_shard() != nullptr) return fail(errc::nested_block_on);
    RINGO_ASSERT(shards_[0] != nullptr, "a started, unstopped engine has its shards");
    Shard& shard = *shards_[0];
    CurrentShardScope scope(&shard);
    bool done = false;
    auto handle = spawn_local(shard, flag_when_done(std::move(main), &done));
    if (!handle.valid()) return std::unexpected(handle.spawn_error());
    Spin spin;
    while (!done) tick(shard, spin);
    publish(0);
    return {};
  }

  RuntimeStats stats() const override {
    RuntimeStats out;
    std::lock_guard lock(snapshot_mutex_);
    for (uint32_t i = 0; i < config_.shards; ++i) {
      out.shards.push_back(snapshots_[i]);
      out.total += snapshots_[i];
    }
    if (pool_) out.blocking = pool_->stats();
    return out;
  }

  ShutdownReport shutdown() override {
    ShutdownReport out;
    if (stopped_) return out;
    if (owner_ != this_thread_token()) {
      // Shard 0's ring accepts submissions only from its creator (SINGLE_ISSUER).
      out.error = make_error_code(errc::wrong_thread);
      return out;
    }
    if (inside_own_shard(group_)) {
      // From one of our routines: shard 0 is running it. (A routine of another runtime may
      // shut this one down: it is not running, and the drain is bounded.)
      out.error = make_error_code(errc::nested_block_on);
      return out;
    }
    stopped_ = true;
    Shard& shard0 = *shards_[0];
    {
      CurrentShardScope scope(&shard0);
      for (uint32_t i = 1; i < config_.shards; ++i) {
        auto* env = new LoopStopEnvelope(&loops_[i], false);
        if (!shard0.post(i, env)) delete env;
      }
      out.routines_cancelled += shard0.abort_all();
      drain_and_close(0);
      for (uint32_t i = 1; i < config_.shards; ++i) {
        auto* env = new LoopStopEnvelope(&loops_[i], true);
        if (!shard0.post(i, env)) delete env;
      }
      // Keep serving shard 0's ring (doorbell sends complete) while the others close.
      Spin spin;
      while (closed_.load() < config_.shards - 1) tick(shard0, spin);
      RINGO_ASSERT(closed_.load() == config_.shards - 1, "each other shard closes once");
      shard0.close_inbox();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    // The shards have stopped; calls still running are no longer awaited.
    const ThreadPool::Closed pool = pool_->close(config_.shutdown_timeout);
    out.blocking_unstarted = pool.unstarted;
    out.blocking_abandoned = pool.abandoned;
    for (uint32_t i = 0; i < config_.shards; ++i) {
      out.routines_cancelled += cancelled_[i].load();
      const ShardStats& s = shards_[i]->stats();
      out.routines_abandoned += s.routines_live;
      out.ops_abandoned += shards_[i]->live_ops();
      publish(i);
    }
    for (uint32_t i = 0; i < config_.shards; ++i) {
      CurrentShardScope scope(shards_[i].get());
      shards_[i].reset();
    }
    rings_.clear();
    return out;
  }

 private:
  // Destroyed off the owner thread, which may be gone. Shard 0's ring takes submissions
  // only from the owner (SINGLE_ISSUER), so shard 0 cannot run here: it is closed without
  // running (calls to it are answered shard_stopped), the other shards are stopped and
  // joined as by shutdown(), and shard 0's routines are freed without running again.
  void teardown_off_owner() {
    stopped_ = true;
    {
      CurrentShardScope scope(shards_[0].get());
      shards_[0]->close_inbox();
    }
    {
      CurrentShardScope scope(nullptr);  // post as a thread with no shard
      for (uint32_t i = 1; i < config_.shards; ++i) {
        for (bool close : {false, true}) {
          auto* env = new LoopStopEnvelope(&loops_[i], close);
          if (!group_.post_from_anywhere(i, env)) delete env;
        }
        // Replies shard 0 just posted may have taken a sleeping shard's doorbell duty, and
        // shard 0's ring cannot send it from here: ring every shard ourselves.
        (void)backend_.wake(&group_, i);
      }
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    const ThreadPool::Closed pool = pool_->close(config_.shutdown_timeout);
    uint64_t abandoned = 0;
    for (uint32_t i = 0; i < config_.shards; ++i) {
      abandoned += shards_[i]->stats().routines_live;
      publish(i);
    }
    for (uint32_t i = 0; i < config_.shards; ++i) {
      CurrentShardScope scope(shards_[i].get());
      shards_[i].reset();
    }
    rings_.clear();
    if (abandoned > 0) {
      std::fprintf(stderr,
                   "ringo: Runtime destroyed off its owner thread, where shard 0 cannot run: %llu routines "
                   "freed without running to their end\n",
                   static_cast<unsigned long long>(abandoned));
    }
    if (pool.unstarted + pool.abandoned > 0) {
      std::fprintf(stderr, "ringo: blocking pool: %zu queued calls dropped, %zu running calls abandoned\n",
                   pool.unstarted, pool.abandoned);
    }
  }

  static Task<void> flag_when_done(Task<void> main, bool* done) {
    struct Flag {
      bool* done;
      ~Flag() { *done = true; }
    } flag{done};
    co_await std::move(main);
  }

  // One tick of a shard's loop: spin while there is work or for idle_spin after it, then
  // sleep in the kernel. A clock read costs about what an idle tick does, and an awake
  // shard sees its mail only between ticks, so the clock is read once per
  // kIdleTicksPerClockRead idle ticks: a busy tick marks that work happened, and a later
  // idle tick stamps when.
  //
  // Spinning gives way when the core is contended (docs/scheduling.md, Co-tenancy): an
  // idle spin that another thread preempts leaves mail unseen for a whole time slice, as
  // no doorbell wakes a shard that is not asleep. Two idle clock reads that lie more than
  // kPreemptedGap apart, while the kernel counts a new involuntary context switch for this
  // thread, mean it was preempted: for kContendedHold after that it spins only
  // contended_spin before it sleeps, so mail wakes it (a doorbell) and the wake-up
  // preempts the co-tenant, instead of waiting for the co-tenant's slice to end.
  static constexpr Instant kJustWorked = Instant::min();
  static constexpr Instant kNoRead = Instant::min();
  static constexpr uint32_t kIdleTicksPerClockRead = 32;
  // A shard publishes its stats for Runtime::stats() when it goes to sleep, and while it
  // never sleeps (busy for good) at most every kBusyPublishEvery: before, a shard under
  // constant load showed the numbers of its last idle moment forever. The clock is read
  // once per kBusyTicksPerClockRead busy ticks (each runs up to run_budget routines).
  static constexpr uint32_t kBusyTicksPerClockRead = 64;
  static constexpr Duration kBusyPublishEvery = std::chrono::milliseconds(10);
  static constexpr Duration kPreemptedGap = std::chrono::microseconds(50);
  static constexpr Duration kContendedHold = std::chrono::milliseconds(100);
  struct Spin {
    Instant last_work = kJustWorked;
    uint32_t idle_ticks = 0;
    Instant last_read = kNoRead;        // the previous clock read of this idle stretch
    Instant contended_until = kNoRead;  // spin only contended_spin before this
    long involuntary = -1;              // this thread's involuntary context switches, last seen
    uint32_t busy_ticks = 0;
    Instant last_publish = kNoRead;
  };
  // Did the kernel preempt this thread since the last look? (A gap alone may be an
  // interrupt or the hypervisor; only the scheduler counts an involuntary switch.)
  static bool preempted_since_last_look(Spin& spin) {
    rusage usage{};
    if (getrusage(RUSAGE_THREAD, &usage) != 0) return false;
    const bool more = spin.involuntary >= 0 && usage.ru_nivcsw > spin.involuntary;
    spin.involuntary = usage.ru_nivcsw;
    return more;
  }
  void tick(Shard& shard, Spin& spin) {
    RINGO_ASSERT(shard.index() < kMaxShards && spin.idle_ticks < kIdleTicksPerClockRead, "a shard's own counters");
    if (shard.run_once(false)) {
      spin.last_work = kJustWorked;
      spin.last_read = kNoRead;  // a busy tick may take long: not a gap
      if (++spin.busy_ticks == kBusyTicksPerClockRead) publish_if_due(shard, spin);
      return;
    }
    if (++spin.idle_ticks < kIdleTicksPerClockRead) return;
    spin.idle_ticks = 0;
    const Instant now = shard.now();
    const bool gap = spin.last_read != kNoRead && now - spin.last_read > kPreemptedGap;
    spin.last_read = now;
    if (gap && config_.contended_spin < config_.idle_spin && preempted_since_last_look(spin)) {
      ++spins_preempted_[shard.index()];
      spin.contended_until = now + kContendedHold;
    }
    if (spin.last_work == kJustWorked) {
      spin.last_work = now;
      return;
    }
    const Duration limit = now < spin.contended_until ? config_.contended_spin : config_.idle_spin;
    if (now - spin.last_work < limit) return;
    publish(shard.index());
    spin.last_publish = now;
    shard.run_once(true);
    spin.last_work = kJustWorked;
    spin.last_read = kNoRead;
  }

  void publish_if_due(Shard& shard, Spin& spin) {
    spin.busy_ticks = 0;
    const Instant now = shard.now();
    if (spin.last_publish != kNoRead && now - spin.last_publish < kBusyPublishEvery) return;
    publish(shard.index());
    spin.last_publish = now;
  }

  void publish(uint32_t i) {
    std::lock_guard lock(snapshot_mutex_);
    snapshots_[i] = shards_[i]->stats();
    snapshots_[i].spins_preempted = spins_preempted_[i];
  }

  void pin(uint32_t i) {
    cpu_set_t set;
    CPU_ZERO(&set);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CPU_SET(static_cast<int>(i % static_cast<uint32_t>(cpus > 0 ? cpus : 1)), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }

  // Drain: run until no routine or op is left, or the shutdown deadline passes.
  void drain_and_close(uint32_t i) {
    Shard& shard = *shards_[i];
    const Instant deadline = shard.now() + config_.shutdown_timeout;
    Instant last_work = shard.now();
    const auto busy = [&shard] { return shard.stats().routines_live > 0 || shard.live_ops() > 0; };
    while (busy() && shard.now() < deadline) {
      if (shard.run_once(false)) {
        last_work = shard.now();
        continue;
      }
      // Look again before sleeping: the tick may have finished the drain without making
      // progress (it only submitted the last doorbells), and nothing would wake us then.
      if (busy() && shard.now() - last_work > config_.idle_spin) shard.run_once(true, deadline - shard.now());
    }
  }

  void thread_main(uint32_t i) {
    const std::string name = config_.thread_name + "-" + std::to_string(i);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    if (config_.pin_cpus) pin(i);
    Shard& shard = *shards_[i];
    CurrentShardScope scope(&shard);
    ShardLoop& loop = loops_[i];
    Spin spin;
    while (!loop.draining) tick(shard, spin);
    cancelled_[i].store(shard.abort_all() + cancelled_[i].load());
    drain_and_close(i);
    while (!loop.closing) tick(shard, spin);
    RINGO_ASSERT(loop.draining, "close comes after drain (one poster, delivered in order)");
    shard.close_inbox();
    [[maybe_unused]] const uint32_t closed_before = closed_.fetch_add(1);
    RINGO_ASSERT(closed_before + 1 < config_.shards, "each shard but 0 closes once");
    if (auto* wake = new WakeEnvelope(); !shard.post(0, wake)) delete wake;
    // Ops still in flight (doorbells we sent) must complete before the ring goes away. One
    // tick at least, whatever shutdown_timeout says: it submits the doorbell of the
    // WakeEnvelope just posted, and shard 0 may be asleep waiting for it (this close). With
    // shutdown_timeout 0 the doorbell stayed queued, and shard 0 slept for good: about one
    // shutdown in three hung (ListenerAtShutdown tests, io_uring under ASan).
    const Instant deadline = shard.now() + config_.shutdown_timeout;
    do {
      shard.run_once(false);
    } while (shard.live_ops() > 0 && shard.now() < deadline);
    publish(i);
  }

  RuntimeConfig config_;
  RealBackend backend_;
  ShardGroup group_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<ShardLoop> loops_;
  std::vector<std::thread> threads_;
  std::atomic<bool> go_{false};
  std::atomic<bool> go_ok_{false};
  std::atomic<uint32_t> closed_{0};
  std::atomic<size_t> cancelled_[kMaxShards]{};
  uint64_t spins_preempted_[kMaxShards]{};  // each written by its shard's thread, read by publish() there
  mutable std::mutex snapshot_mutex_;
  std::vector<ShardStats> snapshots_;
  std::unique_ptr<ThreadPool> pool_;  // after group_: closed (if not yet) before the group goes
  uint64_t owner_ = 0;                // this_thread_token() of the thread that created the runtime
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Engine>> make_real_engine(const RuntimeConfig& config, RealBackend backend, std::string& why) {
  if (config.shards > kMaxShards) {
    why = std::string("the ") + backend_name(backend.backend) + " engine supports at most " +
          std::to_string(kMaxShards) + " shards";
    return fail(errc::invalid_argument);
  }
  auto engine = std::make_unique<RealEngine>(config, std::move(backend));
  if (auto started = engine->start(why); !started) return std::unexpected(started.error());
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace ringo::detail
