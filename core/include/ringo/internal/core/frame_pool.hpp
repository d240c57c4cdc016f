// Coroutine frames come from a per-thread pool of size-classed free lists (a shard owns
// its thread, so this is the shard's pool; in the simulator all shards share the one
// thread and so the one pool). Blocks are individually allocated, so a frame freed on
// another thread just joins that thread's lists; each list keeps a bounded cache. The
// size classes are size_class.hpp's, shared with the envelope pool.
#pragma once

#include <cstddef>

namespace ringo::detail {

void* frame_alloc(std::size_t size);
void frame_free(void* block, std::size_t size) noexcept;

struct FramePoolStats {
  std::size_t cached_blocks;
  std::size_t cached_bytes;
  // Running totals of this thread's frame_alloc / frame_free, in block bytes (the size
  // class a frame takes): their difference over a stretch on one thread (the simulator)
  // is what the frames made and not freed in it hold.
  std::size_t allocated_bytes;
  std::size_t freed_bytes;
};
FramePoolStats frame_pool_stats() noexcept;
// The bytes of the block a frame of frame_size takes.
std::size_t frame_block_bytes(std::size_t frame_size) noexcept;
// Returns this thread's cached blocks to the system allocator.
void frame_pool_trim() noexcept;

}  // namespace ringo::detail
