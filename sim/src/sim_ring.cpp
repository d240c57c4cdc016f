// SimRing (sim_ring.hpp): the Ring seam's simulated side. Every decision it makes (how
// much of a batch the SQ takes) comes from the kernel's choices.
#include "ringo/internal/sim/sim_ring.hpp"

#include <algorithm>

#include "fault_kind.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/sim/sim_kernel.hpp"

namespace ringo::sim::detail {

SimRing::SimRing(SimKernel& kernel, uint32_t index, uint32_t sq_entries)
    : kernel_(kernel), index_(index), sq_entries_(sq_entries) {}

size_t SimRing::push(std::span<const Sqe> sqes) {
  RINGO_ASSERT(sq_.size() <= sq_entries_, "the SQ never holds more than its entries");
  size_t room = sq_entries_ - sq_.size();
  if (room > 1 && kernel_.inject(kernel_.faults().sq_full_ppm, detail::fault::kSqFull)) {
    room = kernel_.choices().below_from_top(room);  // choice value 0: the most it can take
  }
  const size_t n = std::min(room, sqes.size());
  sq_.insert(sq_.end(), sqes.begin(), sqes.begin() + static_cast<std::ptrdiff_t>(n));
  RINGO_ASSERT(sq_.size() <= sq_entries_, "push takes at most the room left in the SQ");
  return n;
}

Result<size_t> SimRing::submit_and_wait(unsigned, Duration) {
  // The simulator never blocks here: when nothing can run, the driver advances the clock.
  const size_t n = sq_.size();
  for (Sqe& s : sq_) {
    // The shard's deadlines and timeouts are on its host's clock; the kernel's on true time.
    s.deadline = kernel_.to_true(index_, s.deadline);
    if (s.opcode == Opcode::timeout)
      s.off = static_cast<uint64_t>(kernel_.to_true_span(index_, Duration{static_cast<int64_t>(s.off)}).count());
    kernel_.submit(index_, s);
  }
  RINGO_ASSERT(sq_.size() == n, "the kernel takes Sqes without pushing more");
  sq_.clear();
  return n;
}

size_t SimRing::reap(std::span<Cqe> out) {
  const size_t n = std::min(out.size(), cq_.size());
  for (size_t i = 0; i < n; ++i) {
    out[i] = cq_.front();
    cq_.pop_front();
  }
  return n;
}

Instant SimRing::now() const { return kernel_.local_now(index_); }

int64_t SimRing::sys(SysCall& call) { return kernel_.sys(index_, call); }

Caps SimRing::caps() const {
  Caps c;
  c.msg_ring = c.link_timeout = c.async_cancel = c.ext_arg = true;
  c.multishot_accept = kernel_.faults().multishot_accept;
  c.recv_multishot = c.send_zc = true;
  return c;
}

}  // namespace ringo::sim::detail
