// prometheus_text (metrics.hpp): RuntimeStats as Prometheus text, one table row per metric.
#include "ringo/metrics.hpp"

#include <charconv>
#include <iterator>

namespace ringo {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

namespace {

enum class Kind : uint8_t { counter, gauge };

template <class Stats>
struct Metric {
  const char* name;
  Kind kind;
  const char* help;
  uint64_t Stats::*field;
};

// One entry per ShardStats field, in the order docs/metrics.md lists them.
constexpr Metric<ShardStats> kShardMetrics[] = {
    {"ringo_routines_spawned_total", Kind::counter, "Routines started on the shard.", &ShardStats::routines_spawned},
    {"ringo_routines_finished_total", Kind::counter, "Routines that ended on the shard (returned, threw or cancelled).",
     &ShardStats::routines_finished},
    {"ringo_routines_live", Kind::gauge, "Routines the shard holds now: started or received, not finished or given.",
     &ShardStats::routines_live},
    {"ringo_routines_panicked_total", Kind::counter, "Routines that ended with an exception.",
     &ShardStats::routines_panicked},
    {"ringo_routines_cancelled_before_start_total", Kind::counter,
     "Routines aborted before they first ran (their body never ran).", &ShardStats::routines_cancelled_before_start},
    {"ringo_routine_resumes_total", Kind::counter, "Times the shard resumed a routine.", &ShardStats::resumes},
    {"ringo_ops_submitted_total", Kind::counter, "Kernel ops handed to the ring.", &ShardStats::ops_submitted},
    {"ringo_ops_completed_total", Kind::counter, "Kernel ops whose result reached their caller.",
     &ShardStats::ops_completed},
    {"ringo_ops_cancelled_before_submit_total", Kind::counter,
     "Kernel ops cancelled while still queued: they never reached the kernel.",
     &ShardStats::ops_cancelled_before_submit},
    {"ringo_ops_cancelled_by_kernel_total", Kind::counter, "Kernel ops the kernel cancelled on request.",
     &ShardStats::ops_cancelled_by_kernel},
    {"ringo_ops_completed_despite_cancel_total", Kind::counter,
     "Kernel ops that completed although a cancel was requested.", &ShardStats::ops_completed_despite_cancel},
    {"ringo_multishot_results_total", Kind::counter, "Completions of multishot ops that stayed armed.",
     &ShardStats::multishot_results},
    {"ringo_deadline_expiries_total", Kind::counter, "Kernel ops ended by their deadline (linked timeout).",
     &ShardStats::deadline_expiries},
    {"ringo_stale_completions_total", Kind::counter,
     "Completions dropped because their op was gone or their user_data forged.", &ShardStats::stale_completions},
    {"ringo_messages_sent_total", Kind::counter, "Lane A ring messages sent to other shards.",
     &ShardStats::messages_sent},
    {"ringo_messages_delivered_total", Kind::counter, "Lane A ring messages delivered to a handler.",
     &ShardStats::messages_delivered},
    {"ringo_messages_send_failed_total", Kind::counter, "Lane A ring messages the kernel failed to send.",
     &ShardStats::messages_send_failed},
    {"ringo_messages_dropped_total", Kind::counter, "Lane A ring messages dropped: no handler, or a forged sender.",
     &ShardStats::messages_dropped},
    {"ringo_envelopes_delivered_total", Kind::counter, "Cross-shard envelopes (lane B) taken from the inbox and run.",
     &ShardStats::envelopes_delivered},
    {"ringo_doorbells_sent_total", Kind::counter, "Doorbells (MSG_RING) rung to wake a sleeping shard.",
     &ShardStats::doorbells_sent},
    {"ringo_doorbell_retries_total", Kind::counter, "Doorbells rung again after a failed send.",
     &ShardStats::doorbell_retries},
    {"ringo_timers_fired_total", Kind::counter, "Timers (sleeps, timeouts) that fired.", &ShardStats::timers_fired},
    {"ringo_ticks_total", Kind::counter, "Turns of the shard's loop (run_once).", &ShardStats::ticks},
    {"ringo_batches_pushed_total", Kind::counter, "Batches of submissions pushed to the ring.",
     &ShardStats::batches_pushed},
    {"ringo_envelope_blocks_allocated_total", Kind::counter,
     "Envelope blocks the shard's pool took from the allocator (the rest are reused).", &ShardStats::envelope_blocks},
    {"ringo_routines_given_total", Kind::counter, "Routines the shard handed to shards that asked for work.",
     &ShardStats::routines_given},
    {"ringo_routines_received_total", Kind::counter, "Routines the shard took in answer to its work requests.",
     &ShardStats::routines_received},
    {"ringo_work_requests_sent_total", Kind::counter, "Work requests the shard sent while idle.",
     &ShardStats::work_requests_sent},
    {"ringo_work_requests_answered_total", Kind::counter, "Work requests the shard answered, with or without work.",
     &ShardStats::work_requests_answered},
    {"ringo_blocking_calls_total", Kind::counter, "blocking(fn) calls made by the shard's routines.",
     &ShardStats::blocking_calls},
    {"ringo_blocking_cancelled_before_start_total", Kind::counter, "blocking(fn) calls cancelled before fn ran.",
     &ShardStats::blocking_cancelled_before_start},
    {"ringo_blocking_cancelled_while_running_total", Kind::counter,
     "blocking(fn) calls cancelled while fn ran (its result dropped).", &ShardStats::blocking_cancelled_while_running},
    {"ringo_blocking_completed_despite_cancel_total", Kind::counter,
     "blocking(fn) calls cancelled after fn had finished (its result delivered).",
     &ShardStats::blocking_completed_despite_cancel},
    {"ringo_spins_preempted_total", Kind::counter,
     "Idle spins that found their thread preempted, after which spinning gave way (real backends).",
     &ShardStats::spins_preempted},
};
static_assert(sizeof(ShardStats) == std::size(kShardMetrics) * sizeof(uint64_t),
              "a ShardStats field has no metric: add it to kShardMetrics and docs/metrics.md");

constexpr Metric<BlockingPoolStats> kPoolMetrics[] = {
    {"ringo_blocking_pool_threads_started_total", Kind::counter, "Threads the blocking pool started.",
     &BlockingPoolStats::threads_started},
    {"ringo_blocking_pool_threads_retired_total", Kind::counter, "Blocking pool threads that exited after idling.",
     &BlockingPoolStats::threads_retired},
    {"ringo_blocking_pool_threads", Kind::gauge, "Blocking pool threads alive now.", &BlockingPoolStats::threads_alive},
    {"ringo_blocking_pool_threads_peak", Kind::gauge, "Most blocking pool threads alive at once so far.",
     &BlockingPoolStats::threads_peak},
    {"ringo_blocking_pool_calls_accepted_total", Kind::counter, "Calls the blocking pool accepted.",
     &BlockingPoolStats::calls_accepted},
    {"ringo_blocking_pool_calls_rejected_total", Kind::counter, "Calls the blocking pool refused (queue_full).",
     &BlockingPoolStats::calls_rejected},
    {"ringo_blocking_pool_calls_started_total", Kind::counter, "Calls whose fn the blocking pool called.",
     &BlockingPoolStats::calls_started},
    {"ringo_blocking_pool_calls_dropped_total", Kind::counter,
     "Calls cancelled before start and taken out of the queue unrun.", &BlockingPoolStats::calls_dropped},
};
static_assert(sizeof(BlockingPoolStats) == std::size(kPoolMetrics) * sizeof(uint64_t),
              "a BlockingPoolStats field has no metric: add it to kPoolMetrics and docs/metrics.md");

// A label value or HELP text: backslash and newline escaped; in label values also '"'.
void append_escaped(std::string& out, std::string_view text, bool label_value) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && label_value) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_uint(std::string& out, uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(std::begin(digits), std::end(digits), value).ptr;
  out.append(digits, end);
}

void append_header(std::string& out, std::string_view name, Kind kind, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += kind == Kind::counter ? " counter\n" : " gauge\n";
}

}  // namespace

void append_prometheus_text(std::string& out, const RuntimeStats& stats, const RuntimeInfo* info) {
  if (info != nullptr) {
    append_header(out, "ringo_runtime_info", Kind::gauge, "The runtime's backend and seed (the value is always 1).");
    out += "ringo_runtime_info{backend=\"";
    append_escaped(out, backend_name(info->backend), true);
    out += "\",seed=\"";
    append_uint(out, info->seed);
    out += "\"} 1\n";
  }
  append_header(out, "ringo_shards", Kind::gauge, "Shards the runtime runs.");
  out += "ringo_shards ";
  append_uint(out, stats.shards.size());
  out += '\n';
  for (const auto& m : kShardMetrics) {
    append_header(out, m.name, m.kind, m.help);
    for (size_t i = 0; i < stats.shards.size(); ++i) {
      out += m.name;
      out += "{shard=\"";
      append_uint(out, i);
      out += "\"} ";
      append_uint(out, stats.shards[i].*m.field);
      out += '\n';
    }
  }
  for (const auto& m : kPoolMetrics) {
    append_header(out, m.name, m.kind, m.help);
    out += m.name;
    out += ' ';
    append_uint(out, stats.blocking.*m.field);
    out += '\n';
  }
}

std::string prometheus_text(const RuntimeStats& stats) {
  std::string out;
  append_prometheus_text(out, stats);
  return out;
}

std::string prometheus_text(const Runtime& runtime) {
  const RuntimeInfo info{runtime.backend(), runtime.seed()};
  std::string out;
  append_prometheus_text(out, runtime.stats(), &info);
  return out;
}

}  // namespace ringo
