// Where envelopes come from. An envelope is usually made on one shard and freed on
// another, and glibc frees a block into the arena of the thread that made it, under that
// arena's lock: perf on a select across shards put a fifth of its time in malloc and free
// and showed the two shards waiting on each other's arena lock. So each shard has a pool:
// a block the shard made and frees itself goes on its own free list; a block freed
// anywhere else goes back to the shard that made it, through a lock-free return stack the
// maker takes whole when a list runs dry (an MpscStack, mpsc_stack.hpp, like a shard's
// inbox). No block ever crosses into another arena. Size classes are size_class.hpp's.
//
// The ShardGroup owns the pools and outlives its shards, so a block freed late (a
// shutdown rejecting envelopes) still has a pool to go back to. Blocks over 504 bytes, or
// made off any shard, come from the system allocator. Under AddressSanitizer every block
// does, so a use after free is reported rather than hidden.
//
// Thread-safety: allocate and the owner's side of release run on the pool's shard only;
// release of another pool's block is safe from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ringo/internal/core/mpsc_stack.hpp"
#include "ringo/internal/core/size_class.hpp"

namespace ringo::detail {

class alignas(64) EnvelopePool {
 public:
  using Classes = detail::SizeClasses<32>;  // blocks up to 504 bytes are pooled
  static constexpr std::size_t kClasses = Classes::kClasses;
  static constexpr uint32_t kMaxCachedPerClass = 1024;

  EnvelopePool() = default;
  ~EnvelopePool();
  EnvelopePool(const EnvelopePool&) = delete;
  EnvelopePool& operator=(const EnvelopePool&) = delete;

  // A block of at least size bytes from `pool` (nullptr: the system allocator).
  static void* allocate(EnvelopePool* pool, std::size_t size);
  // Frees a block from allocate; `here` is the pool of the shard running this (or null).
  static void release(void* block, EnvelopePool* here) noexcept;

  // Blocks taken from the system allocator so far (a steady flow reuses its blocks).
  uint64_t blocks_made() const noexcept { return made_; }
  // True in AddressSanitizer builds, where nothing is pooled.
  static bool bypassed() noexcept;

 private:
  struct Header;
  static Header*& link(Header& h) noexcept;
  using ReturnStack = MpscStack<Header, &EnvelopePool::link>;
  void keep(Header* h) noexcept;
  void take_returned() noexcept;
  void give_back(Header* h) noexcept;

  Header* lists_[kClasses] = {};
  uint32_t counts_[kClasses] = {};
  uint64_t made_ = 0;
  // Written by other shards: on its own cache line, away from the owner's lists.
  alignas(64) ReturnStack returned_;
};

}  // namespace ringo::detail
