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
#include <string>
#include <vector>

#include "ringo/internal/core/ring.hpp"

namespace ringo::sim::detail {

// Backend internals are written in the engine's internal terms (Sqe, Cqe, Ring, Prng, ...).
using namespace ringo::detail;

// Returns 0 or a negative errno.
int32_t op_buffers(const Sqe& sqe, std::vector<iovec>& out);
size_t total_length(const std::vector<iovec>& iov) noexcept;
// Copies up to n bytes of src into the buffers; returns how many.
size_t scatter(const std::vector<iovec>& iov, const char* src, size_t n) noexcept;
// The first n bytes the buffers hold.
std::string gather(const std::vector<iovec>& iov, size_t n);

}  // namespace ringo::sim::detail
