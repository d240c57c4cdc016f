// The real backends' blocking pool: up to max_threads threads, started when a call finds
// no idle thread and retired after idle_retire without work; up to max_queue calls wait
// for a thread beyond those that can take one at once, and submit refuses the next with
// queue_full. A result goes home through post_from_anywhere (the shard's inbox, and its
// doorbell if it sleeps). Private to api/.
//
// Time: pool threads run outside every shard; idle retirement, the idle spin and close()'s
// bound are timeouts on CLOCK_MONOTONIC (steady_clock) that no routine observes. The simulator
// has its own pool (sim/sim_blocking.hpp), so no program-visible behaviour depends on them.
//
// Shutdown: close(wait) refuses new calls, drops the queued ones unrun, waits up to `wait`
// for running calls, and reports what it abandoned. An abandoned thread keeps the pool's
// shared state alive, finishes its call alone and drops the result (the runtime's
// shards are gone by then), then exits.
//
// Thread-safety: submit, withdraw and stats from any shard; close from one thread, after
// the shards have stopped and before they are destroyed.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ringo/internal/core/blocking_executor.hpp"

namespace ringo::detail {

class ThreadPool final : public BlockingExecutor {
 public:
  // idle_spin: how long one idle thread spins before it sleeps (RuntimeConfig::idle_spin).
  ThreadPool(ShardGroup& group, const BlockingPoolConfig& config, Duration idle_spin, std::string thread_name);
  ~ThreadPool();  // closes without waiting, if close() was not called
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  Result<void> submit(BlockingJob* job) override;
  void withdraw(BlockingJob* job) noexcept override;
  BlockingPoolStats stats() const override;

  struct Closed {
    size_t unstarted = 0;  // queued calls dropped unrun
    size_t abandoned = 0;  // calls still running when the wait ended
  };
  Closed close(Duration wait);

 private:
  struct State;
  static void thread_main(std::shared_ptr<State> state);
  static void spin(State& state, std::unique_lock<std::mutex>& lock);
  static void run_and_send_home(State& state, BlockingJob* job);
  std::shared_ptr<State> state_;
};

}  // namespace ringo::detail
