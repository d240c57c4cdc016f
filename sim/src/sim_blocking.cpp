// SimBlockingPool (sim_blocking.hpp): the blocking pool's bounds in virtual time.
#include "sim_blocking.hpp"

#include <algorithm>
#include <iterator>

#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

namespace {
constexpr uint32_t kPoolTrace = UINT32_MAX;  // a pool thread's record names no shard
}

SimBlockingPool::SimBlockingPool(detail::DeviceHost host, const FaultConfig& faults, ShardGroup& group,
                                 const BlockingPoolConfig& config)
    : host_(host), faults_(faults), group_(group), config_(config) {}

SimBlockingPool::~SimBlockingPool() { (void)close(); }

void SimBlockingPool::trace(uint32_t shard, uint64_t id, BlockingPhase phase) {
  host_.record({host_.now().count(), shard, TraceKind::blocking, id, static_cast<uint64_t>(phase)});
}

// While the pool is open: every live thread carries one call (taken, not yet home) or is
// idle, no thread idles while a call waits, and the bounds hold.
bool SimBlockingPool::threads_accounted() const noexcept {
  if (closed_) return true;
  return taken_.size() + idle_.size() == stats_.threads_alive && (waiting_.empty() || idle_.empty()) &&
         stats_.threads_alive <= config_.max_threads && waiting_count_ <= config_.max_queue &&
         waiting_.empty() == (waiting_count_ == 0);
}

Result<void> SimBlockingPool::submit(BlockingJob* job) {
  if (closed_) return fail(errc::shard_stopped);
  const uint64_t takers = idle_.size() + (config_.max_threads - stats_.threads_alive);
  if (takers == 0 && waiting_count_ >= config_.max_queue) {
    ++stats_.calls_rejected;
    return fail(errc::queue_full);
  }
  ++stats_.calls_accepted;
  if (takers == 0) {
    waiting_.push_back(job);
    ++waiting_count_;
  } else {
    claim_thread(job->id());
    take(job);
  }
  RINGO_ASSERT(threads_accounted(), "each live thread carries one call or idles, within the bounds");
  return {};
}

// An idle thread (the latest to go idle), else a new one.
void SimBlockingPool::claim_thread(uint64_t for_call) {
  if (!idle_.empty()) {
    idle_.erase(std::prev(idle_.end()));
    return;
  }
  ++stats_.threads_started;
  stats_.threads_peak = std::max(stats_.threads_peak, ++stats_.threads_alive);
  trace(kPoolTrace, for_call, BlockingPhase::thread_started);
}

// The thread claimed for the call takes it after the handoff delay.
void SimBlockingPool::take(BlockingJob* job) {
  const uint64_t id = job->id();
  taken_.emplace(id, job);
  host_.at(host_.now() + host_.draw(Duration{0}, faults_.blocking_handoff_max), [this, id] { start(id); });
}

void SimBlockingPool::withdraw(BlockingJob* job) noexcept {
  if (!waiting_.contains(job)) return;  // taken: start() finds it cancelled
  waiting_.remove(job);
  --waiting_count_;
  ++stats_.calls_dropped;
  job->release();
}

void SimBlockingPool::start(uint64_t id) {
  auto it = taken_.find(id);
  if (it == taken_.end()) return;  // dropped by close()
  BlockingJob* job = it->second;
  if (!job->start()) {
    taken_.erase(it);
    ++stats_.calls_dropped;
    job->release();
    return thread_free();
  }
  ++stats_.calls_started;
  trace(kPoolTrace, id, BlockingPhase::started);
  {
    CurrentShardScope outside(nullptr);  // fn runs as on a pool thread: off every shard
    job->run();
  }
  const Duration takes = host_.draw(faults_.blocking_min_latency, faults_.blocking_max_latency);
  host_.at(host_.now() + takes, [this, id] { finish(id); });
}

void SimBlockingPool::finish(uint64_t id) {
  auto it = taken_.find(id);
  if (it == taken_.end()) return;
  BlockingJob* job = it->second;
  taken_.erase(it);
  trace(kPoolTrace, id, BlockingPhase::finished);
  {
    CurrentShardScope outside(nullptr);  // home through the inbox, as from a foreign thread
    job->send_home(group_);
  }
  thread_free();
}

// A thread is done with its call: it takes the oldest waiting one, or goes idle.
void SimBlockingPool::thread_free() {
  if (BlockingJob* next = waiting_.pop_front()) {
    --waiting_count_;
    take(next);
    RINGO_ASSERT(threads_accounted(), "each live thread carries one call or idles, within the bounds");
    return;
  }
  const uint64_t token = ++next_token_;
  idle_.insert(token);
  RINGO_ASSERT(threads_accounted(), "each live thread carries one call or idles, within the bounds");
  host_.at(host_.now() + config_.idle_retire, [this, token] { retire(token); });
}

void SimBlockingPool::retire(uint64_t token) {
  if (idle_.erase(token) == 0) return;  // it went back to work since
  RINGO_ASSERT(stats_.threads_alive > 0, "a retiring thread is alive");
  --stats_.threads_alive;
  ++stats_.threads_retired;
  RINGO_ASSERT(threads_accounted(), "each live thread carries one call or idles, within the bounds");
  trace(kPoolTrace, token, BlockingPhase::thread_retired);
}

SimBlockingPool::Closed SimBlockingPool::close() {
  Closed out;
  if (closed_) return out;
  closed_ = true;
  while (BlockingJob* job = waiting_.pop_front()) {
    if (job->cancel() == BlockingJob::State::queued) ++out.unstarted;
    job->release();
  }
  waiting_count_ = 0;
  for (auto& [id, job] : taken_) {
    if (job->cancel() == BlockingJob::State::queued) {
      ++out.unstarted;
    } else {
      ++out.abandoned;
    }
    job->release();
  }
  taken_.clear();
  return out;
}

}  // namespace ringo::sim::detail
