#include "ringo/internal/core/frame_pool.hpp"

#include <new>

#include "pool_bypass.hpp"
#include "ringo/internal/core/size_class.hpp"

namespace ringo::detail {
namespace {

using Classes = detail::SizeClasses<64>;  // frames up to 1016 bytes are pooled (size_class.hpp)
constexpr std::size_t kClasses = Classes::kClasses;
constexpr std::size_t kMaxCachedPerClass = 4096;

struct FreeBlock {
  FreeBlock* next;
};

struct Pool {
  FreeBlock* heads[kClasses] = {};
  std::size_t counts[kClasses] = {};
  std::size_t allocated_bytes = 0;
  std::size_t freed_bytes = 0;

  ~Pool() { trim(); }

  void trim() noexcept {
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (heads[c] != nullptr) {
        FreeBlock* block = heads[c];
        heads[c] = block->next;
        ::operator delete(block);
      }
      counts[c] = 0;
    }
  }
};

thread_local Pool tls_pool;

inline std::size_t size_class(std::size_t size) noexcept { return Classes::of(size); }
inline std::size_t class_bytes(std::size_t c) noexcept { return Classes::bytes(c); }
inline std::size_t block_bytes(std::size_t size) noexcept { return Classes::block_bytes(size); }

}  // namespace

void* frame_alloc(std::size_t size) {
  Pool& pool = tls_pool;
  pool.allocated_bytes += block_bytes(size);
#ifdef RINGO_POOL_BYPASS
  return ::operator new(size);
#endif
  const std::size_t c = size_class(size);
  if (c >= kClasses) return ::operator new(size);
  if (FreeBlock* block = pool.heads[c]) {
    pool.heads[c] = block->next;
    --pool.counts[c];
    return block;
  }
  return ::operator new(class_bytes(c));
}

void frame_free(void* block, std::size_t size) noexcept {
  Pool& pool = tls_pool;
  pool.freed_bytes += block_bytes(size);
#ifdef RINGO_POOL_BYPASS
  ::operator delete(block);
  return;
#endif
  const std::size_t c = size_class(size);
  if (c >= kClasses || pool.counts[c] >= kMaxCachedPerClass) {
    ::operator delete(block);
    return;
  }
  auto* node = static_cast<FreeBlock*>(block);
  node->next = pool.heads[c];
  pool.heads[c] = node;
  ++pool.counts[c];
}

FramePoolStats frame_pool_stats() noexcept {
  const Pool& pool = tls_pool;
  FramePoolStats stats{0, 0, pool.allocated_bytes, pool.freed_bytes};
  for (std::size_t c = 0; c < kClasses; ++c) {
    stats.cached_blocks += pool.counts[c];
    stats.cached_bytes += pool.counts[c] * class_bytes(c);
  }
  return stats;
}

std::size_t frame_block_bytes(std::size_t frame_size) noexcept { return block_bytes(frame_size); }

void frame_pool_trim() noexcept { tls_pool.trim(); }

}  // namespace ringo::detail
