// The helper threads of every AioRing in the process: they run the file reads the page
// cache could not answer at once (RWF_NOWAIT said -EAGAIN), so a shard never waits for
// the disk. Private to aio/.
//
// Contract: run_on_helper() queues the read and returns at once. A helper runs it with
// pread/preadv and delivers the result to ring_id's mailbox as a CQE {handle, -errno or
// bytes, kHelperResult}, then decrements *outstanding and notifies it (the ring's
// destructor waits for zero: the reads write into buffers the ring's caller keeps until
// their CQE). At most kMaxHelpers threads, started as work outgrows the idle ones, never
// stopped (an idle one blocks in a condition variable). The queue holds one job per op
// on a helper, so the rings' ops bound it.
//
// Thread-safety: run_on_helper from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "ringo/internal/core/ring.hpp"

namespace ringo::aio {

// Backend internals are written in the engine's internal terms (Sqe, Cqe, Ring, Prng, ...).
using namespace ringo::detail;

struct HelperJob {
  int32_t ring_id;  // the ring's msg_ring id: where the result goes
  uint64_t handle;  // the op's handle, the result's user_data
  Sqe sqe;          // a read or readv at an offset
  std::atomic<uint32_t>* outstanding;
};

void run_on_helper(const HelperJob& job);

}  // namespace ringo::aio
