// The kinds of injected fault, as the trace records them: a TraceKind::fault event with
// a = kind (shard UINT32_MAX: the kernel). Private to sim/.
//
// Contract: the numbers are part of every recorded trace and its hash; never renumber.
#pragma once

#include <cstdint>

namespace ringo::sim::detail {

namespace fault {
enum Kind : uint64_t {
  kMsgOverflow = 1,
  kSqFull = 2,
  kCancelTooLate = 3,
  kDiskEio = 4,
  kShortIo = 5,
  kReset = 6,
  kRefused = 7,
  kCrashTear = 8,
  kMultishotEnd = 9,
  kDatagramLoss = 10,
  kDatagramDup = 11,
  kDatagramReorder = 12,
};
}  // namespace fault

}  // namespace ringo::sim::detail
