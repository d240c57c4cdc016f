// The offline timeline page (timeline_html.hpp): the run's header, name tables and events
// as one JSON object, put into the page template with the script.
#include "timeline_html.hpp"

#include <cstdio>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <string_view>

#include "ringo/blocking_pool.hpp"
#include "ringo/internal/core/ring.hpp"
#include "timeline_template.hpp"

namespace ringo::sim {

using namespace ringo::detail;  // white-box: opcode names
namespace {

constexpr uint64_t kLargestExactDouble = uint64_t{1} << 53;

const char* blocking_phase_name(BlockingPhase p) {
  switch (p) {
    case BlockingPhase::submitted: return "submitted";
    case BlockingPhase::started: return "started";
    case BlockingPhase::finished: return "finished";
    case BlockingPhase::delivered: return "delivered";
    case BlockingPhase::cancelled_before_start: return "cancelled before start";
    case BlockingPhase::dropped: return "dropped";
    case BlockingPhase::thread_started: return "thread started";
    case BlockingPhase::thread_retired: return "thread retired";
  }
  return "?";
}

// JSON for a trace value: a number while JavaScript's doubles hold it exactly, a string
// of its digits above that (op user_data can use all 64 bits).
std::string json_u64(uint64_t v) {
  const std::string digits = std::to_string(v);
  return v < kLargestExactDouble ? digits : "\"" + digits + "\"";
}

std::string json_array(const char* (*name)(size_t), size_t n) {
  std::string out = "[";
  // Appended piece by piece: `const char* + std::string` here trips GCC 12's -Wrestrict
  // false positive in release builds.
  for (size_t i = 0; i < n; ++i) {
    if (i != 0) out += ',';
    out += json_for_html(name(i));
  }
  return out + "]";
}

// Names for the numbers inside events. The fault kinds (sim/src/fault_kind.hpp) and the
// simulator's step kinds (sim/src/sim_kernel.cpp, simulation.cpp) are private to sim/;
// their numbers are part of every trace hash and never renumbered, so they are safe to
// restate here.
std::string name_tables(const std::vector<TraceEvent>& trace) {
  std::string out = "{\"kinds\":";
  out += json_array([](size_t i) { return trace_kind_name(static_cast<TraceKind>(i)); },
                    static_cast<size_t>(TraceKind::count_));
  out += ",\"opcodes\":";
  out += json_array([](size_t i) { return opcode_name(static_cast<Opcode>(i)); }, static_cast<size_t>(Opcode::count_));
  out += ",\"blocking\":";
  out += json_array([](size_t i) { return blocking_phase_name(static_cast<BlockingPhase>(i)); },
                    static_cast<size_t>(BlockingPhase::thread_retired) + 1);
  out +=
      ",\"faults\":{\"1\":\"MSG_RING target overflow\",\"2\":\"SQ full (partial submit)\",\"3\":\"cancel too "
      "late\",\"4\":\"disk EIO\",\"5\":\"short I/O\",\"6\":\"connection reset\",\"7\":\"connect "
      "refused\",\"8\":\"crash "
      "tears unsynced writes\",\"9\":\"multishot ended\"}";
  out += ",\"steps\":{\"1\":\"deliver CQE\",\"2\":\"advance virtual time\",\"3\":\"run shard\"}";
  // The errors the completions carry (res < 0), by name: -ECANCELED says more than -125.
  std::map<int, std::string> errors;
  for (const TraceEvent& e : trace) {
    const auto res = static_cast<int32_t>(static_cast<uint32_t>(e.b));
    if (e.kind == TraceKind::op_complete && res < 0 && res > -4096) {
      const char* name = strerrorname_np(-res);
      errors[res] = std::string(name != nullptr ? name : "E?") + " (" + std::strerror(-res) + ")";
    }
  }
  out += ",\"errno\":{";
  for (const auto& [res, name] : errors) {
    if (res != errors.begin()->first) out += ',';
    out += '"';
    out += std::to_string(res);
    out += "\":";
    out += json_for_html(name);
  }
  return out + "}}";
}

std::string header(const TimelineRun& run) {
  const ScenarioResult& r = run.result;
  const RunOptions& o = run.options;
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(r.report.trace_hash));
  return "{\"scenario\":" + json_for_html(run.scenario.name) +
         ",\"description\":" + json_for_html(run.scenario.description) +
         ",\"shards\":" + std::to_string(run.scenario.shards) + ",\"seed\":\"" + std::to_string(o.seed) +
         "\",\"faults\":" + json_for_html(o.faults) + ",\"strategy\":" + json_for_html(strategy_name(o.strategy)) +
         ",\"depth\":" + std::to_string(o.pct_depth) + ",\"buggify_ppm\":" + std::to_string(o.buggify_ppm) +
         ",\"failed\":" + (r.failed() ? "true" : "false") + ",\"why\":" + json_for_html(r.why) +
         ",\"message\":" + json_for_html(r.report.message) + ",\"summary\":" + json_for_html(r.report.summary()) +
         ",\"replay\":" + json_for_html(run.replay) + ",\"hash\":\"" + hash +
         "\",\"virtual_time_ns\":" + std::to_string(r.report.virtual_time.count()) + "}";
}

// Events as [time_ns, shard (-1: the kernel), kind, a, b]: a third of the size of objects.
void write_events(const std::vector<TraceEvent>& trace, std::ostream& out) {
  out << "[";
  for (size_t i = 0; i < trace.size(); ++i) {
    const TraceEvent& e = trace[i];
    out << (i == 0 ? "\n[" : ",\n[") << e.time_ns << ','
        << (e.shard == UINT32_MAX ? int64_t{-1} : static_cast<int64_t>(e.shard)) << ',' << static_cast<unsigned>(e.kind)
        << ',' << json_u64(e.a) << ',' << json_u64(e.b) << ']';
  }
  out << "]";
}

// Writes page up to marker and returns what follows it. The template is ours: a missing
// marker is a build mistake, and the page without its part would fail its test.
std::string_view write_until(std::string_view page, std::string_view marker, std::ostream& out) {
  const size_t at = page.find(marker);
  if (at == std::string_view::npos) {
    out << page;
    return {};
  }
  out << page.substr(0, at);
  return page.substr(at + marker.size());
}

}  // namespace

std::string json_for_html(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool separator = c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                           (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8;  // U+2028, U+2029
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else if (separator) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void write_trace_html(const TimelineRun& run, std::ostream& out) {
  std::string_view page = detail::timeline_page_html();
  page = write_until(page, "{{title}}", out);
  out << html_escape("ringo-sim " + run.scenario.name + " seed " + std::to_string(run.options.seed) +
                     (run.result.failed() ? " FAILED" : " ok"));
  page = write_until(page, "{{data}}", out);
  out << "{\"meta\":" << header(run) << ",\n\"names\":" << name_tables(run.result.report.trace) << ",\n\"events\":";
  write_events(run.result.report.trace, out);
  out << "}";
  page = write_until(page, "{{script}}", out);
  out << detail::timeline_page_js() << page;
}

}  // namespace ringo::sim
