// Engines behind Runtime: one per backend. Private to api/.
#pragma once

#include <string>

#include "ringo/runtime.hpp"

namespace ringo {

class Engine {
 public:
  virtual ~Engine() = default;
  virtual Backend backend() const noexcept = 0;
  virtual uint32_t shard_count() const noexcept = 0;
  virtual const std::string& report() const noexcept = 0;
  virtual Result<void> drive(Task<void> main) = 0;
  virtual RuntimeStats stats() const = 0;
  virtual uint64_t trace_hash() const noexcept { return 0; }
  virtual ShutdownReport shutdown() = 0;
};

Result<std::unique_ptr<Engine>> make_sim_engine(const RuntimeConfig& config);
Result<std::unique_ptr<Engine>> make_uring_engine(const RuntimeConfig& config, std::string& why);

}  // namespace ringo
