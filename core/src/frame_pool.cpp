#include "ringo/core/frame_pool.hpp"

#include <new>

#include "pool_bypass.hpp"

namespace ringo {
namespace {

constexpr std::size_t kGranule = 16;
constexpr std::size_t kClasses = 64;  // frames up to 1 KiB are pooled
constexpr std::size_t kMaxCachedPerClass = 4096;

struct FreeBlock {
  FreeBlock* next;
};

struct Pool {
  FreeBlock* heads[kClasses] = {};
  std::size_t counts[kClasses] = {};

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

inline std::size_t size_class(std::size_t size) noexcept { return (size + kGranule - 1) / kGranule - 1; }

}  // namespace

void* frame_alloc(std::size_t size) {
#ifdef RINGO_POOL_BYPASS
  return ::operator new(size);
#endif
  const std::size_t c = size_class(size);
  if (c >= kClasses) return ::operator new(size);
  Pool& pool = tls_pool;
  if (FreeBlock* block = pool.heads[c]) {
    pool.heads[c] = block->next;
    --pool.counts[c];
    return block;
  }
  return ::operator new((c + 1) * kGranule);
}

void frame_free(void* block, std::size_t size) noexcept {
#ifdef RINGO_POOL_BYPASS
  (void)size;
  ::operator delete(block);
  return;
#endif
  const std::size_t c = size_class(size);
  Pool& pool = tls_pool;
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
  FramePoolStats stats{0, 0};
  for (std::size_t c = 0; c < kClasses; ++c) {
    stats.cached_blocks += tls_pool.counts[c];
    stats.cached_bytes += tls_pool.counts[c] * (c + 1) * kGranule;
  }
  return stats;
}

void frame_pool_trim() noexcept { tls_pool.trim(); }

}  // namespace ringo
