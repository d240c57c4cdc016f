// ThreadPool (thread_pool.hpp): the real backends' blocking pool.
#include "thread_pool.hpp"

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/intrusive_list.hpp"

namespace ringo::detail {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

struct ThreadPool::State {
  ShardGroup* group;
  BlockingPoolConfig config;
  Duration idle_spin{0};
  std::string thread_name;

  mutable std::mutex mutex;
  std::condition_variable work;    // idle threads wait here
  std::condition_variable exited;  // close() waits here
  detail::IntrusiveList<BlockingJob, &BlockingJob::prev_queued, &BlockingJob::next_queued> queue;
  uint64_t queued = 0;
  std::atomic<uint64_t> queued_hint{0};  // `queued`, for the spinner to read without the lock
  uint64_t idle = 0;                     // spinning or asleep, waiting for work
  bool spinner = false;                  // one idle thread spins before it sleeps
  uint64_t running = 0;
  bool closed = false;
  BlockingPoolStats stats;

  // Held shared while a result is sent home, exclusively by close(): once home_gone is
  // set no thread touches the ShardGroup again.
  std::shared_mutex home;
  bool home_gone = false;
};

ThreadPool::ThreadPool(ShardGroup& group, const BlockingPoolConfig& config, Duration idle_spin, std::string thread_name)
    : state_(std::make_shared<State>()) {
  state_->group = &group;
  state_->config = config;
  state_->idle_spin = idle_spin;
  state_->thread_name = std::move(thread_name);
}

ThreadPool::~ThreadPool() { (void)close(Duration{0}); }

Result<void> ThreadPool::submit(BlockingJob* job) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  if (s.closed) return fail(errc::shard_stopped);
  // Threads that could take a call now: the idle ones, and those not started yet.
  RINGO_ASSERT(s.stats.threads_alive <= s.config.max_threads && s.idle <= s.stats.threads_alive,
               "threads start only below max_threads, and only live ones idle");
  const uint64_t takers = s.idle + (s.config.max_threads - s.stats.threads_alive);
  if (s.queued >= takers + s.config.max_queue) {
    ++s.stats.calls_rejected;
    return fail(errc::queue_full);
  }
  s.queue.push_back(job);
  s.queued_hint.store(++s.queued, std::memory_order_release);
  ++s.stats.calls_accepted;
  if (s.queued <= s.idle) {
    if (s.queued > (s.spinner ? 1u : 0u)) s.work.notify_one();  // the spinner sees one call by itself
  } else if (s.stats.threads_alive < s.config.max_threads) {
    ++s.stats.threads_started;
    s.stats.threads_peak = std::max(s.stats.threads_peak, ++s.stats.threads_alive);
    std::thread(&ThreadPool::thread_main, state_).detach();  // it holds the state; close() waits for it
  }
  return {};
}

void ThreadPool::withdraw(BlockingJob* job) noexcept {
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (!s.queue.contains(job)) return;  // a thread took it: it finds it cancelled
    s.queue.remove(job);
    RINGO_ASSERT(s.queued > 0, "queued counts the calls in the queue");
    s.queued_hint.store(--s.queued, std::memory_order_relaxed);
    ++s.stats.calls_dropped;
  }
  job->release();
}

BlockingPoolStats ThreadPool::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

void ThreadPool::thread_main(std::shared_ptr<State> state) {
  State& s = *state;
  pthread_setname_np(pthread_self(), (s.thread_name + "-blk").substr(0, 15).c_str());
  std::unique_lock lock(s.mutex);
  bool spun = false;  // once per idle spell, then sleep
  for (;;) {
    if (s.queue.empty()) {
      if (s.closed) break;
      if (!spun && !s.spinner && s.idle_spin > Duration{0}) {
        spin(s, lock);
        spun = true;
        continue;  // look at the queue again, under the lock, before sleeping
      }
      ++s.idle;
      const bool woken = s.work.wait_for(lock, s.config.idle_retire, [&s] { return !s.queue.empty() || s.closed; });
      --s.idle;
      if (woken) continue;
      ++s.stats.threads_retired;
      break;
    }
    BlockingJob* job = s.queue.pop_front();
    RINGO_ASSERT(s.queued > 0, "queued counts the calls in the queue");
    s.queued_hint.store(--s.queued, std::memory_order_relaxed);
    spun = false;
    const bool started = job->start();
    started ? ++s.stats.calls_started : ++s.stats.calls_dropped;
    ++s.running;
    lock.unlock();
    if (started) {
      run_and_send_home(s, job);
    } else {
      job->release();  // cancelled while queued: never runs
    }
    lock.lock();
    RINGO_ASSERT(s.running > 0, "running counts the calls outside the lock");
    --s.running;
  }
  RINGO_ASSERT(s.stats.threads_alive > 0 && s.idle < s.stats.threads_alive, "an exiting thread is live, not idle");
  --s.stats.threads_alive;
  s.exited.notify_all();
}

// Waking a thread asleep on a futex costs several microseconds on these VMs, against a
// fraction of one for a spinning thread, so one idle thread at a time spins for
// idle_spin (the shards' own setting) before it sleeps. Called and returns holding lock.
void ThreadPool::spin(State& s, std::unique_lock<std::mutex>& lock) {
  RINGO_ASSERT(!s.spinner && lock.owns_lock(), "one idle thread spins at a time, called holding the lock");
  s.spinner = true;
  ++s.idle;
  lock.unlock();
  // A pool thread's idle spin: real backends only, and no routine sees it.
  const auto until = std::chrono::steady_clock::now() + s.idle_spin;  // determinism-ok: idle spin
  for (uint32_t i = 1; s.queued_hint.load(std::memory_order_acquire) == 0; ++i) {
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) break;  // determinism-ok: as above
    cpu_relax();
  }
  lock.lock();
  --s.idle;
  s.spinner = false;
}

void ThreadPool::run_and_send_home(State& s, BlockingJob* job) {
  job->run();
  std::shared_lock home(s.home);
  if (s.home_gone) {
    home.unlock();
    job->release();  // abandoned by shutdown: nobody is waiting
    return;
  }
  job->send_home(*s.group);
}

ThreadPool::Closed ThreadPool::close(Duration wait) {
  State& s = *state_;
  Closed out;
  std::vector<BlockingJob*> unstarted;
  {
    std::unique_lock lock(s.mutex);
    if (s.closed) return out;
    s.closed = true;
    while (BlockingJob* job = s.queue.pop_front()) unstarted.push_back(job);
    s.queued = 0;
    s.queued_hint.store(1, std::memory_order_release);  // ends a spin: the thread sees `closed`
    s.work.notify_all();
    s.exited.wait_for(lock, wait, [&s] { return s.stats.threads_alive == 0; });
    RINGO_ASSERT(s.running <= s.stats.threads_alive, "a running call has its thread");
    out.abandoned = s.running;
  }
  {
    std::unique_lock home(s.home);
    s.home_gone = true;
  }
  for (BlockingJob* job : unstarted) {
    if (job->cancel() == BlockingJob::State::queued) ++out.unstarted;
    job->release();
  }
  return out;
}

}  // namespace ringo::detail
