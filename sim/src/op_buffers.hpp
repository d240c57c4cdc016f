// The user buffers an Sqe names, as the simulated devices read and fill them: one buffer
// for read/write/recv/send, an iovec array for readv/writev. Private to sim/.
//
// Contract: op_buffers() checks what the kernel checks before it touches memory (EFAULT
// for a null buffer of non-zero length, EINVAL for more than IOV_MAX vectors); scatter()
// and gather() never go past the buffers' total length or past n.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ringo/internal/core/ring.hpp"

namespace ringo::sim::detail {

// Backend internals are written in the engine's internal terms (Sqe, Cqe, Ring, Prng, ...).
using namespace ringo::detail;

// One op's buffers: up to kInline in place, more on the heap. Every socket and file op
// names its buffers this way, and a vector per op was 8% of fuzz_net's allocations.
class IoList {
 public:
  static constexpr size_t kInline = 4;

  void clear() noexcept {
    size_ = 0;
    spilled_.clear();
  }
  void push_back(const iovec& v) {
    if (size_ < kInline) {
      inline_[size_++] = v;
      return;
    }
    if (size_ == kInline) spilled_.assign(inline_, inline_ + kInline);
    spilled_.push_back(v);
    ++size_;
  }
  const iovec* data() const noexcept { return size_ <= kInline ? inline_ : spilled_.data(); }
  size_t size() const noexcept { return size_; }
  const iovec* begin() const noexcept { return data(); }
  const iovec* end() const noexcept { return data() + size_; }

 private:
  iovec inline_[kInline] = {};
  size_t size_ = 0;
  std::vector<iovec> spilled_;  // all of them, once there are more than kInline
};

// Returns 0 or a negative errno.
int32_t op_buffers(const Sqe& sqe, IoList& out);
size_t total_length(std::span<const iovec> iov) noexcept;
// Copies up to n bytes of src into the buffers; returns how many.
size_t scatter(std::span<const iovec> iov, const char* src, size_t n) noexcept;
// The first n bytes the buffers hold.
std::string gather(std::span<const iovec> iov, size_t n);

}  // namespace ringo::sim::detail
