#include "ringo/runtime.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine.hpp"

namespace ringo {

const char* backend_name(Backend b) noexcept {
  switch (b) {
    case Backend::automatic: return "automatic";
    case Backend::uring: return "uring";
    case Backend::sim: return "sim";
    case Backend::aio: return "aio";
  }
  return "unknown";
}

Backend backend_from_env(Backend fallback) {
  const char* v = std::getenv("RINGO_BACKEND");
  if (v == nullptr) return fallback;
  if (std::strcmp(v, "uring") == 0) return Backend::uring;
  if (std::strcmp(v, "sim") == 0) return Backend::sim;
  if (std::strcmp(v, "aio") == 0) return Backend::aio;
  return fallback;
}

std::string ShutdownReport::summary() const {
  if (error) return "shutdown refused: " + error.message();
  return "cancelled " + std::to_string(routines_cancelled) + " routines, abandoned " +
         std::to_string(routines_abandoned) + " routines and " + std::to_string(ops_abandoned) + " ops";
}

Result<Runtime> Runtime::create(RuntimeConfig config) {
  if (config.shards == 0 || config.shards > 32767 || config.ring_entries == 0 || config.run_budget == 0) {
    return fail(errc::invalid_argument);
  }
  Backend backend = config.backend;
  // Automatic with nothing forced: io_uring, else AIO when io_uring is absent or refused.
  const bool may_fall_back =
      backend == Backend::automatic && backend_from_env(Backend::automatic) == Backend::automatic;
  if (backend == Backend::automatic) backend = backend_from_env(Backend::uring);
  if (backend == Backend::sim) {
    auto engine = make_sim_engine(config);
    if (!engine) return std::unexpected(engine.error());
    return Runtime(std::move(*engine));
  }
  std::string why;
  auto engine = backend == Backend::aio ? make_aio_engine(config, why) : make_uring_engine(config, why);
  if (!engine && may_fall_back && engine.error() == make_error_code(errc::backend_unavailable)) {
    // Only absence or refusal (ENOSYS, EPERM/EACCES, a missing opcode) falls back; a
    // transient or resource error (EAGAIN, ENOMEM) is reported as itself.
    std::string aio_why;
    engine = make_aio_engine(config, aio_why, "io_uring not used: " + why);
    if (!engine) why += "; AIO: " + aio_why;
  }
  if (!engine) {
    std::fprintf(stderr, "ringo: %s\n", why.c_str());
    return std::unexpected(engine.error());
  }
  return Runtime(std::move(*engine));
}

Runtime::Runtime(std::unique_ptr<Engine> engine) noexcept : engine_(std::move(engine)) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

// A moved-from Runtime has no engine: it behaves as one that was shut down.
Result<void> Runtime::drive(Task<void> main) {
  if (!engine_) return fail(errc::shard_stopped);
  return engine_->drive(std::move(main));
}
Backend Runtime::backend() const noexcept { return engine_ ? engine_->backend() : Backend::automatic; }
uint32_t Runtime::shard_count() const noexcept { return engine_ ? engine_->shard_count() : 0; }
const std::string& Runtime::backend_report() const noexcept {
  static const std::string moved_from = "moved-from Runtime";
  return engine_ ? engine_->report() : moved_from;
}
RuntimeStats Runtime::stats() const { return engine_ ? engine_->stats() : RuntimeStats{}; }
uint64_t Runtime::trace_hash() const noexcept { return engine_ ? engine_->trace_hash() : 0; }
ShutdownReport Runtime::shutdown() { return engine_ ? engine_->shutdown() : ShutdownReport{}; }

}  // namespace ringo
