// The offline timeline page: `ringo-sim run|replay ... --trace FILE --trace-format html`
// writes one self-contained HTML file (inline CSS, script and the run's events as JSON;
// nothing loaded from anywhere) that draws the run as lanes, one per shard, routine and
// the simulated kernel, over virtual time, with the failure marked. The page's script is
// timeline_page.js, its markup and style timeline_page.html (embedded at build time).
#pragma once

#include <iosfwd>
#include <string>

#include "ringo/sim/scenario.hpp"

namespace ringo::sim {

// One traced run and what the page's header says about it.
struct TimelineRun {
  const Scenario& scenario;
  const RunOptions& options;
  const ScenarioResult& result;  // result.report.trace: the events drawn
  std::string replay;            // the command line that replays the run
};

void write_trace_html(const TimelineRun& run, std::ostream& out);

// s as a JSON string literal that is also safe inside an HTML <script> element: '<', '>'
// and '&' are \u escapes, so no "</script>" or "<!--" can end or change the element.
std::string json_for_html(std::string_view s);
// s with &, <, >, " and ' as character references, for HTML text and attribute values.
std::string html_escape(std::string_view s);

}  // namespace ringo::sim
