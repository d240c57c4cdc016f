// SimRing: one shard's Ring on the simulated kernel (sim_kernel.hpp). push() queues Sqes
// (and may take only part of a batch: the SQ-full fault), submit_and_wait() hands them to
// the kernel in order and never blocks, reap() takes CQEs in the order the kernel posted
// them, now() is the kernel's virtual clock, sys() is answered from the kernel's model.
//
// Contract: the SQ never holds more than sq_entries Sqes; a stopped ring accepts no more
// completions (its shard is gone) and refuses MSG_RING deliveries.
// Thread-safety: none. The simulator runs every shard on one thread.
#pragma once

#include <cstdint>
#include <vector>

#include "ringo/internal/core/provided_buffers.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/ring_buffer.hpp"

namespace ringo::sim::detail {

// Backend internals are written in the engine's internal terms (Sqe, Cqe, Ring, Prng, ...).
using namespace ringo::detail;

class SimKernel;

class SimRing final : public Ring {
 public:
  SimRing(SimKernel& kernel, uint32_t index, uint32_t sq_entries);
  size_t push(std::span<const Sqe> sqes) override;
  Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) override;
  size_t reap(std::span<Cqe> out) override;
  Instant now() const override;
  Caps caps() const override;
  int32_t msg_ring_id() const override { return static_cast<int32_t>(index_); }
  int64_t sys(SysCall& call) override;
  int32_t setup_buffer_ring(const BufRingSpec& spec, char*& base) override { return buffers_.setup(spec, base); }
  void recycle_buffer(uint16_t group, uint16_t id) override { buffers_.recycle(group, id); }
  // The provided-buffer groups the network picks from (multishot recv, sim_net.cpp).
  ProvidedBuffers& provided_buffers() noexcept { return buffers_; }

  size_t cq_ready() const noexcept { return cq_.size(); }
  // A stopped ring refuses MSG_RING deliveries (its shard is gone).
  void stop() noexcept { stopped_ = true; }
  bool stopped() const noexcept { return stopped_; }

 private:
  friend class SimKernel;  // posts completions
  SimKernel& kernel_;
  uint32_t index_;
  uint32_t sq_entries_;
  bool stopped_ = false;
  std::vector<Sqe> sq_;
  RingBuffer<Cqe> cq_;
  ProvidedBuffers buffers_;
};

}  // namespace ringo::sim::detail
