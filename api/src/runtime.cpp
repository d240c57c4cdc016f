// Runtime (runtime.hpp): checks the config, chooses the backend (automatic: io_uring, else
// AIO when io_uring is absent or refused) and the seed, and forwards to the engine.
#include "ringo/runtime.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine.hpp"
#include "ringo/sim/simulation.hpp"

namespace ringo {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

const char* backend_name(Backend b) noexcept {
  switch (b) {
    case Backend::automatic: return "automatic";
    case Backend::uring: return "uring";
    case Backend::sim: return "sim";
    case Backend::aio: return "aio";
  }
  return "unknown";
}

Result<Backend> backend_from_env(Backend fallback, std::string& why) {
  const char* v = std::getenv("RINGO_BACKEND");
  if (v == nullptr) return fallback;
  if (std::strcmp(v, "uring") == 0) return Backend::uring;
  if (std::strcmp(v, "sim") == 0) return Backend::sim;
  if (std::strcmp(v, "aio") == 0) return Backend::aio;
  why = std::string("RINGO_BACKEND=\"") + v +
        "\" names no backend: use uring, sim or aio, or leave it unset for io_uring (AIO where io_uring is refused)";
  return fail(errc::invalid_argument);
}

std::string ShutdownReport::summary() const {
  if (error) return "shutdown refused: " + error.message();
  return "cancelled " + std::to_string(routines_cancelled) + " routines, abandoned " +
         std::to_string(routines_abandoned) + " routines and " + std::to_string(ops_abandoned) +
         " ops; blocking pool: dropped " + std::to_string(blocking_unstarted) + " queued calls, abandoned " +
         std::to_string(blocking_abandoned) + " running";
}

namespace {

std::string check_config(const RuntimeConfig& c) {
  if (c.shards == 0 || c.shards > 32767) return "RuntimeConfig::shards must be 1..32767";
  if (c.ring_entries == 0) return "RuntimeConfig::ring_entries must be positive";
  if (c.run_budget == 0) return "RuntimeConfig::run_budget must be positive";
  if (c.blocking.max_threads == 0 || c.blocking.max_threads > 4096) {
    return "RuntimeConfig::blocking.max_threads must be 1..4096";
  }
  if (c.blocking.idle_retire <= Duration{0}) return "RuntimeConfig::blocking.idle_retire must be positive";
  return "";
}

// A real backend's default seed. The one randomness source in api/ (core/ has none): Go's
// select is not reproducible across runs, and a fixed default would make every process
// take the same "random" choices. 8 bytes never block once the pool is initialised.
Result<uint64_t> os_seed(std::string& why) {
  uint64_t seed = 0;
  for (;;) {
    const ssize_t got = getrandom(&seed, sizeof seed, 0);
    if (got == static_cast<ssize_t>(sizeof seed)) return seed;
    if (got < 0 && errno != EINTR) break;
  }
  why = std::string("getrandom failed, no seed for the shards: ") + std::strerror(errno);
  return fail(errc::backend_unavailable);
}

struct Seed {
  uint64_t value = 0;
  std::string origin;  // for backend_report()
};

// RINGO_SEED, else the config's seed, else the backend's default.
Result<Seed> choose_seed(const RuntimeConfig& config, Backend backend, std::string& why) {
  auto env = sim::env_seed(why);
  if (!env) return std::unexpected(env.error());
  if (*env) return Seed{**env, "from RINGO_SEED"};
  if (config.seed) return Seed{*config.seed, "from RuntimeConfig::seed"};
  if (backend == Backend::sim) return Seed{1, "the simulator's default"};
  auto drawn = os_seed(why);
  if (!drawn) return std::unexpected(drawn.error());
  return Seed{*drawn, "from the OS; set RuntimeConfig::seed or RINGO_SEED=" + std::to_string(*drawn) +
                          " to repeat select's choices"};
}

}  // namespace

Result<Runtime> Runtime::create(RuntimeConfig config) {
  std::string why;
  auto rt = create(std::move(config), why);
  if (!rt) std::fprintf(stderr, "ringo: %s\n", why.empty() ? rt.error().message().c_str() : why.c_str());
  return rt;
}

Result<Runtime> Runtime::create(RuntimeConfig config, std::string& why) {
  if (why = check_config(config); !why.empty()) return fail(errc::invalid_argument);
  Result<Backend> backend = config.backend;
  if (config.backend == Backend::automatic) backend = backend_from_env(Backend::uring, why);
  if (!backend) return std::unexpected(backend.error());
  auto seed = choose_seed(config, *backend, why);
  if (!seed) return std::unexpected(seed.error());
  config.seed = seed->value;
  // Automatic with nothing forced: io_uring, else AIO when io_uring is absent or refused.
  const bool may_fall_back = config.backend == Backend::automatic && std::getenv("RINGO_BACKEND") == nullptr;
  auto engine = *backend == Backend::sim   ? make_sim_engine(config)
                : *backend == Backend::aio ? make_aio_engine(config, why)
                                           : make_uring_engine(config, why);
  if (!engine && may_fall_back && engine.error() == make_error_code(errc::backend_unavailable)) {
    // Only absence or refusal (ENOSYS, EPERM/EACCES, a missing opcode) falls back; a
    // transient or resource error (EAGAIN, ENOMEM) is reported as itself.
    std::string aio_why;
    engine = make_aio_engine(config, aio_why, "io_uring not used: " + why);
    if (!engine) why += "; AIO: " + aio_why;
  }
  if (!engine) return std::unexpected(engine.error());
  (*engine)->set_seed(seed->value, seed->origin);
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
uint64_t Runtime::seed() const noexcept { return engine_ ? engine_->seed() : 0; }
RuntimeStats Runtime::stats() const { return engine_ ? engine_->stats() : RuntimeStats{}; }
uint64_t Runtime::trace_hash() const noexcept { return engine_ ? engine_->trace_hash() : 0; }
ShutdownReport Runtime::shutdown() { return engine_ ? engine_->shutdown() : ShutdownReport{}; }

}  // namespace ringo
