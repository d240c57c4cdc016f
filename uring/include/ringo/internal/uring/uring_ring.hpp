// UringRing: the Ring on real io_uring (liburing). One per shard thread, created on that
// thread (SINGLE_ISSUER binds the ring to its creator). Sets up SINGLE_ISSUER +
// COOP_TASKRUN + TASKRUN_FLAG where the kernel has them (DEFER_TASKRUN on request; see
// docs/backends.md for the measurement behind that default), else plainer sets.
//
// Errors from create(): errc::backend_unavailable when io_uring cannot be used at all
// (ENOSYS: no io_uring in this kernel; EPERM: kernel.io_uring_disabled or a seccomp
// filter) or lacks an opcode the runtime needs; ENOMEM (generic category) when the
// kernel refuses the ring's memory (RLIMIT_MEMLOCK on old kernels). UringSetup::report
// says which, in words.
//
// Thread-safety: one thread, the creator.
#pragma once

#include <liburing.h>

#include <memory>
#include <string>
#include <vector>

#include "ringo/internal/core/ring.hpp"

namespace ringo::uring {

// Backend internals are written in the engine's internal terms (Sqe, Cqe, Ring, Prng, ...).
using namespace ringo::detail;

struct UringOptions {
  unsigned entries = 256;
  bool allow_single_issuer = true;
  bool prefer_defer_taskrun = false;  // also RINGO_URING_FLAGS=defer
};

class UringRing;

struct UringSetup {
  std::unique_ptr<UringRing> ring;
  std::error_code error;
  std::string report;  // features found and missing, or why set-up failed
};

class UringRing final : public Ring {
 public:
  static UringSetup create(const UringOptions& options = {});
  ~UringRing() override;
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;

  size_t push(std::span<const Sqe> sqes) override;
  Result<size_t> submit_and_wait(unsigned min_complete, Duration timeout) override;
  size_t reap(std::span<Cqe> out) override;
  Instant now() const override;
  Caps caps() const override { return caps_; }
  int32_t msg_ring_id() const override { return ring_.ring_fd; }
  int64_t sys(SysCall& call) override;
  int32_t setup_buffer_ring(const BufRingSpec& spec, char*& base) override;
  void recycle_buffer(uint16_t group, uint16_t id) override;

 private:
  // A registered provided-buffer ring (uring_buffers.cpp): the ring of buffer descriptors
  // the kernel reads, and the buffers, both mapped here and unmapped after the ring exits.
  struct BufRing {
    BufRingSpec spec;
    io_uring_buf_ring* descriptors = nullptr;
    size_t descriptor_bytes = 0;
    char* base = nullptr;
    size_t bytes = 0;
  };
  BufRing* find_buffer_ring(uint16_t group) noexcept;
  void release_buffer_rings() noexcept;
  UringRing() = default;
  void adopt(unsigned flags, unsigned features);
  bool probe_opcodes(UringSetup& setup, std::string& optional_missing);
  bool prep(const Sqe& s);
  __kernel_timespec* timespec_slot(const io_uring_sqe* sqe, int64_t ns);

  io_uring ring_{};
  bool initialised_ = false;
  Caps caps_{};
  // Timespecs of TIMEOUT and LINK_TIMEOUT sqes, one per SQ entry (timespec_slot).
  std::vector<__kernel_timespec> timespecs_;
  size_t queued_ = 0;          // nonzero: the SQ holds entries no submit has taken yet
  bool taskrun_flag_ = false;  // the kernel flags pending task work in sq.kflags
  std::vector<BufRing> buf_rings_;
};

}  // namespace ringo::uring
