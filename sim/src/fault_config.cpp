// FaultConfig's presets and swarm mode (fault_config.hpp). Changing a number here changes
// what every saved seed under that preset replays: treat them as part of the file format.
#include "ringo/sim/fault_config.hpp"

#include "ringo/internal/core/prng.hpp"

namespace ringo::sim {

// The public simulator API, implemented in terms of the engine's internals.
using namespace ringo::detail;

namespace {
constexpr uint32_t kMillion = 1000000;
}  // namespace

FaultConfig FaultConfig::none() {
  FaultConfig f;
  f.cancel_too_late_ppm = 500000;
  return f;
}

FaultConfig FaultConfig::light() {
  FaultConfig f;
  f.msg_ring_overflow_ppm = 10000;
  f.sq_full_ppm = 10000;
  f.max_latency = Duration{100000};
  f.short_io_ppm = 50000;
  f.reset_ppm = 200;
  f.connect_refused_ppm = 1000;
  f.disk_eio_ppm = 1000;
  f.net_max_latency = Duration{200000};
  f.multishot_end_ppm = 10000;
  return f;
}

FaultConfig FaultConfig::heavy() {
  FaultConfig f;
  f.msg_ring_overflow_ppm = 100000;
  f.sq_full_ppm = 100000;
  f.max_latency = Duration{2000000};
  f.short_io_ppm = 300000;
  f.reset_ppm = 2000;
  f.connect_refused_ppm = 20000;
  f.disk_eio_ppm = 10000;
  f.net_max_latency = Duration{5000000};
  f.net_ns_per_byte = 100;  // 10 MB/s
  f.socket_buffer = 2048;   // constant backpressure
  f.multishot_end_ppm = 200000;
  f.blocking_max_latency = Duration{5000000};
  return f;
}

// The draws happen in this order for every seed; a new knob draws after the last one, or
// every swarm seed saved so far would replay a different config.
FaultConfig FaultConfig::swarm(uint64_t seed) {
  Prng p(seed ^ 0x5a4a4dULL);
  FaultConfig f;
  f.msg_ring_overflow_ppm = p.chance(1, 2) ? static_cast<uint32_t>(p.below(200000)) : 0;
  f.sq_full_ppm = p.chance(1, 2) ? static_cast<uint32_t>(p.below(200000)) : 0;
  f.cancel_too_late_ppm = static_cast<uint32_t>(p.below(kMillion));
  f.min_latency = Duration{static_cast<int64_t>(p.below(5000))};
  f.max_latency = f.min_latency + Duration{static_cast<int64_t>(p.below(5000000))};
  f.short_io_ppm = p.chance(1, 2) ? static_cast<uint32_t>(p.below(500000)) : 0;
  f.reset_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(5000)) : 0;
  f.connect_refused_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(50000)) : 0;
  f.disk_eio_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(20000)) : 0;
  f.net_min_latency = Duration{static_cast<int64_t>(p.below(20000))};
  f.net_max_latency = f.net_min_latency + Duration{static_cast<int64_t>(p.below(5000000))};
  f.net_ns_per_byte = static_cast<uint32_t>(p.below(200));
  f.socket_buffer = static_cast<uint32_t>(1 + p.below(128 * 1024));
  f.multishot_accept = !p.chance(1, 5);  // sometimes a ring without it: the fallback path
  f.multishot_end_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(300000)) : 0;
  return f;
}

bool FaultConfig::parse(const std::string& name, uint64_t seed, FaultConfig& out) {
  if (name == "none") return out = none(), true;
  if (name == "light") return out = light(), true;
  if (name == "heavy") return out = heavy(), true;
  if (name == "swarm") return out = swarm(seed), true;
  return false;
}

}  // namespace ringo::sim
