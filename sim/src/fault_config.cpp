// FaultConfig's presets and swarm mode (fault_config.hpp). Changing a number here changes
// what every saved seed under that preset replays: treat them as part of the file format.
#include "ringo/sim/fault_config.hpp"

#include <charconv>
#include <string_view>

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
  f.udp_loss_ppm = 10000;
  f.udp_dup_ppm = 5000;
  f.udp_reorder_ppm = 10000;
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
  f.udp_loss_ppm = 100000;
  f.udp_dup_ppm = 50000;
  f.udp_reorder_ppm = 100000;
  f.udp_reorder_max = Duration{5000000};
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
  f.udp_loss_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(300000)) : 0;
  f.udp_dup_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(200000)) : 0;
  f.udp_reorder_ppm = p.chance(1, 3) ? static_cast<uint32_t>(p.below(500000)) : 0;
  f.udp_reorder_max = Duration{static_cast<int64_t>(p.below(10000000))};
  return f;
}

namespace {

bool preset(const std::string& name, uint64_t seed, FaultConfig& out) {
  if (name == "none") return out = FaultConfig::none(), true;
  if (name == "light") return out = FaultConfig::light(), true;
  if (name == "heavy") return out = FaultConfig::heavy(), true;
  if (name == "swarm") return out = FaultConfig::swarm(seed), true;
  return false;
}

// One "key=value" knob onto f; an empty string, or why not.
std::string apply_knob(std::string_view knob, FaultConfig& f) {
  const size_t eq = knob.find('=');
  if (eq == std::string_view::npos) return std::string("expected key=value, got '").append(knob) + "'";
  const std::string_view key = knob.substr(0, eq);
  const std::string_view text = knob.substr(eq + 1);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    // std::string first: `"'" + std::string(...)` trips GCC 12's -Wrestrict false positive.
    return std::string("'").append(key) + "' needs a non-negative integer, got '" + std::string(text) + "'";
  }
  uint32_t* ppm = key == "udp_loss_ppm"      ? &f.udp_loss_ppm
                  : key == "udp_dup_ppm"     ? &f.udp_dup_ppm
                  : key == "udp_reorder_ppm" ? &f.udp_reorder_ppm
                                             : nullptr;
  if (ppm != nullptr) {
    if (value > kMillion) return std::string("'").append(key) + "' is a probability in ppm: at most 1000000";
    *ppm = static_cast<uint32_t>(value);
    return {};
  }
  if (key == "udp_reorder_max_ns") {
    if (value > uint64_t{3600} * 1000000000) return "'udp_reorder_max_ns' is at most an hour";
    f.udp_reorder_max = Duration{static_cast<int64_t>(value)};
    return {};
  }
  return "unknown fault knob '" + std::string(key) +
         "' (known: udp_loss_ppm, udp_dup_ppm, udp_reorder_ppm, udp_reorder_max_ns)";
}

}  // namespace

bool FaultConfig::parse(const std::string& spec, uint64_t seed, FaultConfig& out, std::string* why) {
  const std::string_view all(spec);
  const size_t comma = all.find(',');
  FaultConfig f;
  if (!preset(std::string(all.substr(0, comma)), seed, f)) {
    if (why) *why = "unknown preset '" + std::string(all.substr(0, comma)) + "' (none, light, heavy, swarm)";
    return false;
  }
  for (size_t at = comma; at != std::string_view::npos;) {
    const size_t next = all.find(',', at + 1);
    const std::string error = apply_knob(all.substr(at + 1, next == std::string_view::npos ? next : next - at - 1), f);
    if (!error.empty()) {
      if (why) *why = error;
      return false;
    }
    at = next;
  }
  out = f;
  return true;
}

}  // namespace ringo::sim
