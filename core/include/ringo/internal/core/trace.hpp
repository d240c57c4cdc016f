// Trace records: a compact event for every scheduling decision. The simulator installs a
// Tracer on each shard, hashes every record and optionally keeps them for export. Real
// backends run without a tracer (one predictable branch per event).
#pragma once

#include "ringo/trace_event.hpp"

namespace ringo::detail {

class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void record(const TraceEvent& event) = 0;
};

}  // namespace ringo::detail
