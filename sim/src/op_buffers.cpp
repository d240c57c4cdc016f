// op_buffers.hpp: checking, filling and reading the buffers an Sqe names.
#include "op_buffers.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace ringo::sim::detail {

int32_t op_buffers(const Sqe& sqe, IoList& out) {
  out.clear();
  const bool vectored = sqe.opcode == Opcode::readv || sqe.opcode == Opcode::writev;
  if (!vectored) {
    if (sqe.addr == 0 && sqe.len > 0) return -EFAULT;
    out.push_back(iovec{reinterpret_cast<void*>(static_cast<uintptr_t>(sqe.addr)), sqe.len});
    return 0;
  }
  if (sqe.len > IOV_MAX) return -EINVAL;
  if (sqe.addr == 0 && sqe.len > 0) return -EFAULT;
  const auto* vec = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(sqe.addr));
  for (uint32_t i = 0; i < sqe.len; ++i) {
    if (vec[i].iov_base == nullptr && vec[i].iov_len > 0) return -EFAULT;
    out.push_back(vec[i]);
  }
  return 0;
}

size_t total_length(std::span<const iovec> iov) noexcept {
  size_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

size_t scatter(std::span<const iovec> iov, const char* src, size_t n) noexcept {
  size_t done = 0;
  for (const iovec& v : iov) {
    const size_t take = std::min(v.iov_len, n - done);
    if (take > 0) std::memcpy(v.iov_base, src + done, take);
    done += take;
    if (done == n) break;
  }
  return done;
}

std::string gather(std::span<const iovec> iov, size_t n) {
  std::string out;
  out.reserve(n);
  for (const iovec& v : iov) {
    const size_t take = std::min(v.iov_len, n - out.size());
    out.append(static_cast<const char*>(v.iov_base), take);
    if (out.size() == n) break;
  }
  return out;
}

}  // namespace ringo::sim::detail
