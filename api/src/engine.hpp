// Engines behind Runtime: one per backend. Private to api/.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ringo/runtime.hpp"

namespace ringo::detail {

// True when the calling thread is running one of `group`'s shards right now: inside one of
// its routines, or on one of its shard threads.
inline bool inside_own_shard(const ShardGroup& group) noexcept {
  Shard* here = current_shard();
  return here != nullptr && &here->group() == &group;
}

// A runtime destroyed from inside one of its own routines would free the shard that is
// running the caller: nothing can be saved, so say what happened instead of crashing later.
[[noreturn]] inline void die_destroyed_from_inside() {
  std::fprintf(stderr, "ringo: Runtime destroyed from inside one of its own routines; aborting\n");
  std::abort();
}

class Engine {
 public:
  virtual ~Engine() = default;
  virtual Backend backend() const noexcept = 0;
  virtual uint32_t shard_count() const noexcept = 0;
  // The probe's report (each engine writes report_), then the seed Runtime::create chose.
  const std::string& report() const noexcept { return report_; }
  uint64_t seed() const noexcept { return seed_; }
  void set_seed(uint64_t seed, const std::string& origin) {
    seed_ = seed;
    report_ += (report_.empty() ? "" : "; ") + ("seed " + std::to_string(seed)) + " (" + origin + ")";
  }
  virtual Result<void> drive(Task<void> main) = 0;
  virtual RuntimeStats stats() const = 0;
  virtual uint64_t trace_hash() const noexcept { return 0; }
  virtual ShutdownReport shutdown() = 0;

 protected:
  std::string report_;

 private:
  uint64_t seed_ = 0;
};

// Both take a config whose seed is set (Runtime::create chose it).
Result<std::unique_ptr<Engine>> make_sim_engine(const RuntimeConfig& config);
Result<std::unique_ptr<Engine>> make_uring_engine(const RuntimeConfig& config, std::string& why);
Result<std::unique_ptr<Engine>> make_aio_engine(const RuntimeConfig& config, std::string& why, std::string note = {});

// A ring made for one shard, on that shard's thread, or why it could not be.
struct RingSetup {
  std::unique_ptr<Ring> ring;
  std::error_code error;
  std::string report;
};

// What makes a real engine one backend rather than another: how a shard's ring is made
// and how a thread without a ring rings a shard's doorbell (ctx is the ShardGroup).
// Everything else (threads, ownership, shutdown) is shared: real_engine.cpp.
struct RealBackend {
  Backend backend = Backend::uring;
  RingSetup (*create_ring)(const RuntimeConfig& config) = nullptr;
  ShardGroup::ExternalWake wake = nullptr;
  std::string note;  // appended to the report (why this backend was chosen)
};

Result<std::unique_ptr<Engine>> make_real_engine(const RuntimeConfig& config, RealBackend backend, std::string& why);

}  // namespace ringo::detail
