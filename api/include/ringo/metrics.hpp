// ringo::prometheus_text: RuntimeStats in the Prometheus text exposition format, version
// 0.0.4, ready to serve on /metrics (examples/metrics/metrics_server.cpp does it over
// ringo's own TCP). docs/metrics.md lists every metric: name, type, unit, meaning.
//
//   std::string body = ringo::prometheus_text(runtime);        // stats + backend and seed
//   std::string body = ringo::prometheus_text(runtime.stats()); // stats alone
//   // HTTP: Content-Type: ringo::kPrometheusContentType
//
// The text: every family has `# HELP` and `# TYPE` before its samples, names start with
// `ringo_`, counters (counts that only grow) end in `_total`, gauges are values that go up
// and down. Shard counters have one sample per shard, labelled shard="i" (no total sample:
// sum(...) without (shard) gives it); the blocking pool's have none. Families come in a
// fixed order and shards in index order, so equal stats give equal text. None of the
// values has a unit other than a count today; a future duration or size will be in
// seconds or bytes, with the unit in its name.
//
// Thread-safety: the functions only read their arguments. prometheus_text(runtime) calls
// runtime.stats(), which works from any thread, including the runtime's own routines; on
// io_uring and AIO each shard's values are then at most about 10 ms old (RuntimeStats).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringo/runtime.hpp"

namespace ringo {

// The Content-Type of the text these functions write.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// What the exposition says about the runtime itself: ringo_runtime_info{backend, seed} 1.
struct RuntimeInfo {
  Backend backend = Backend::automatic;
  uint64_t seed = 0;
};

// Appends the exposition of stats to out; with info, also ringo_runtime_info.
void append_prometheus_text(std::string& out, const RuntimeStats& stats, const RuntimeInfo* info = nullptr);

// The exposition of stats (no ringo_runtime_info: the stats do not say which runtime).
std::string prometheus_text(const RuntimeStats& stats);

// The exposition of runtime.stats(), with ringo_runtime_info for its backend and seed.
std::string prometheus_text(const Runtime& runtime);

}  // namespace ringo
