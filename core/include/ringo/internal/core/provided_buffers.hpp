// ProvidedBuffers: provided-buffer rings for backends that pick buffers in user space (the
// simulator, AIO), with io_uring's rules: a group is set up once, its buffers are handed
// out oldest-provided first, and a buffer handed out comes back only by recycle().
//
// Contract: the memory lives as long as this object (the ring that owns it); take()
// returns nothing when the group is empty (the caller fails the recv with -ENOBUFS).
// Thread-safety: the owning ring's thread only.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/ring_buffer.hpp"

namespace ringo::detail {

class ProvidedBuffers {
 public:
  struct Buffer {
    uint16_t id;
    char* data;
    uint32_t size;
  };

  int32_t setup(const BufRingSpec& spec, char*& base) {
    if (!valid_buf_ring(spec)) return -EINVAL;
    if (find(spec.group) != nullptr) return -EEXIST;
    Group g;
    g.spec = spec;
    g.memory = std::make_unique<char[]>(size_t{spec.count} * spec.size);
    g.handed_out.assign(spec.count, false);
    g.free.reserve(spec.count);
    for (uint32_t id = 0; id < spec.count; ++id) g.free.push_back(static_cast<uint16_t>(id));
    base = g.memory.get();
    groups_.push_back(std::move(g));
    return 0;
  }
  std::optional<Buffer> take(uint16_t group) {
    Group* g = find(group);
    if (g == nullptr || g->free.empty()) return std::nullopt;
    const uint16_t id = g->free.take_front();
    g->handed_out[id] = true;
    return Buffer{id, g->memory.get() + size_t{id} * g->spec.size, g->spec.size};
  }
  void recycle(uint16_t group, uint16_t id) {
    Group* g = find(group);
    RINGO_ASSERT(g != nullptr && id < g->spec.count && g->handed_out[id], "a buffer comes back once, to its group");
    if (g == nullptr || id >= g->spec.count || !g->handed_out[id]) return;
    g->handed_out[id] = false;
    g->free.push_back(id);
  }
  bool has_group(uint16_t group) const noexcept { return find(group) != nullptr; }
  // The size of the buffer take() would hand out next, or nothing when the group has none
  // (io_uring picks a multishot RECVMSG's buffer before it looks for a datagram).
  std::optional<uint32_t> next_size(uint16_t group) const noexcept {
    const Group* g = find(group);
    if (g == nullptr || g->free.empty()) return std::nullopt;
    return g->spec.size;
  }

 private:
  struct Group {
    BufRingSpec spec;
    std::unique_ptr<char[]> memory;
    RingBuffer<uint16_t> free;  // oldest-provided first
    std::vector<bool> handed_out;
  };
  Group* find(uint16_t group) noexcept {
    for (Group& g : groups_) {
      if (g.spec.group == group) return &g;
    }
    return nullptr;
  }
  const Group* find(uint16_t group) const noexcept { return const_cast<ProvidedBuffers*>(this)->find(group); }
  std::vector<Group> groups_;
};

}  // namespace ringo::detail
