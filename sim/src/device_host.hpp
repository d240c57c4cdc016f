// DeviceHost: what a simulated device (SimDisk, SimNet, the blocking pool) may ask of the
// event core (SimKernel), and nothing more: the virtual clock, seeded draws (a fault drawn
// here is counted and recorded in the trace), model events at a later virtual time, an
// extra completion due now, and a retry of the ops parked on an object that changed.
// Private to sim/.
//
// Contract: every draw comes from the kernel's one ChoiceSource, in the order the device
// asks, so a device's behaviour is part of the seed's (and the choice sequence's)
// replay. A device holds a DeviceHost by value and never the kernel itself. The calls are
// non-virtual and inline: a device's call costs what a direct call into the kernel did
// before the devices were split out.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/trace.hpp"
#include "ringo/internal/sim/sim_kernel.hpp"

namespace ringo::sim::detail {

// Ops parked on an object (sockets' readers, writers, accepters...), by park id, oldest
// first. A device registers the id try_io gave it, and hands the list to wake() when the
// object changes.
using WaitList = std::vector<uint64_t>;

class DeviceHost {
 public:
  explicit DeviceHost(SimKernel& kernel) noexcept : kernel_(&kernel) {}

  Instant now() const noexcept { return kernel_->now_; }
  // Uniform in [0, bound) from the kernel's choices (seeded: Prng::below, bound 0 draws
  // nothing); choice value 0 is option 0.
  uint64_t below(uint64_t bound) { return kernel_->choices_.below(bound); }
  // A duration drawn uniformly from [lo, hi]; nothing drawn when hi <= lo.
  Duration draw(Duration lo, Duration hi) { return kernel_->draw(lo, hi); }
  // Whether a fault with this probability fires (recorded in the trace when it does).
  bool inject(uint32_t ppm, uint64_t fault_kind) { return kernel_->inject(ppm, fault_kind); }
  void record(const TraceEvent& event) { kernel_->record(event); }
  // Runs fn at virtual time `when`, after every action already scheduled for that instant.
  void at(Instant when, SimKernel::Callback fn) { kernel_->at(when, std::move(fn)); }
  // A CQE of op `sqe` on `ring`, due now, that is not the op's final one (kCqeMore).
  void post_more(uint32_t ring, const Sqe& sqe, int32_t res, uint32_t flags = 0) {
    kernel_->schedule(kernel_->now_, ring, Cqe{sqe.user_data, res, kCqeMore | flags}, sqe.user_data, false);
  }
  // Flags for the final CQE of the op whose result the device returns next (a multishot
  // recv's last buffer: kCqeBuffer and its id; SEND_ZC's notification: kCqeNotif).
  void final_flags(uint32_t flags) noexcept { kernel_->final_flags_ = flags; }
  // The op whose result the device returns next does not end with it: the result goes out
  // with kCqeMore after the usual latency (at the instant returned; a linked deadline loses
  // then), and the final CQE waits until the device calls release_held (a SEND_ZC's
  // notification). No cancel reaches the op after this.
  Instant hold_final() { return kernel_->hold_final(); }
  // The final CQE of an op held by hold_final: after the usual latency, and not before its
  // result (result_at, what hold_final returned).
  void release_held(uint32_t ring, const Sqe& sqe, int32_t res, uint32_t flags, Instant result_at) {
    kernel_->release_held(ring, sqe, res, flags, result_at);
  }
  // A buffer of `group` from ring's provided buffers (multishot recv), or nothing.
  std::optional<ProvidedBuffers::Buffer> take_buffer(uint32_t ring, uint16_t group) {
    return kernel_->rings_[ring]->provided_buffers().take(group);
  }
  // The size of the buffer take_buffer would give next, or nothing: the group is empty.
  std::optional<uint32_t> next_buffer_size(uint32_t ring, uint16_t group) const {
    return kernel_->rings_[ring]->provided_buffers().next_size(group);
  }
  // Retries every op on the list (which it empties): the object they wait on changed.
  void wake(WaitList& waiters) { kernel_->wake(waiters); }

 private:
  SimKernel* kernel_;
};

}  // namespace ringo::sim::detail
