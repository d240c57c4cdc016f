// UringRing (uring_ring.hpp): provided-buffer rings (IORING_REGISTER_PBUF_RING, 5.19+).
// The descriptor ring and the buffers are anonymous mappings owned here: the kernel writes
// received bytes into the buffers, so they are unmapped only after the ring has exited.
#include <sys/mman.h>

#include <cerrno>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/uring/uring_ring.hpp"

namespace ringo::uring {
namespace {

void* map_anonymous(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

UringRing::BufRing* UringRing::find_buffer_ring(uint16_t group) noexcept {
  for (BufRing& b : buf_rings_) {
    if (b.spec.group == group) return &b;
  }
  return nullptr;
}

int32_t UringRing::setup_buffer_ring(const BufRingSpec& spec, char*& base) {
  if (!valid_buf_ring(spec)) return -EINVAL;
  if (find_buffer_ring(spec.group) != nullptr) return -EEXIST;
  BufRing b;
  b.spec = spec;
  b.descriptor_bytes = spec.count * sizeof(io_uring_buf);
  b.bytes = size_t{spec.count} * spec.size;
  b.descriptors = static_cast<io_uring_buf_ring*>(map_anonymous(b.descriptor_bytes));
  b.base = static_cast<char*>(map_anonymous(b.bytes));
  int32_t err = b.descriptors == nullptr || b.base == nullptr ? -ENOMEM : 0;
  if (err == 0) {
    io_uring_buf_ring_init(b.descriptors);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(b.descriptors);
    reg.ring_entries = spec.count;
    reg.bgid = spec.group;
    err = io_uring_register_buf_ring(&ring_, &reg, 0);
  }
  if (err != 0) {
    if (b.descriptors != nullptr) ::munmap(b.descriptors, b.descriptor_bytes);
    if (b.base != nullptr) ::munmap(b.base, b.bytes);
    return err;
  }
  const int mask = io_uring_buf_ring_mask(spec.count);
  for (uint32_t id = 0; id < spec.count; ++id) {
    io_uring_buf_ring_add(b.descriptors, b.base + size_t{id} * spec.size, spec.size, static_cast<unsigned short>(id),
                          mask, static_cast<int>(id));
  }
  io_uring_buf_ring_advance(b.descriptors, static_cast<int>(spec.count));
  base = b.base;
  buf_rings_.push_back(b);
  return 0;
}

void UringRing::recycle_buffer(uint16_t group, uint16_t id) {
  BufRing* b = find_buffer_ring(group);
  RINGO_ASSERT(b != nullptr && id < b->spec.count, "a buffer goes back to the ring that handed it out");
  if (b == nullptr) return;
  io_uring_buf_ring_add(b->descriptors, b->base + size_t{id} * b->spec.size, b->spec.size, id,
                        io_uring_buf_ring_mask(b->spec.count), 0);
  io_uring_buf_ring_advance(b->descriptors, 1);
}

void UringRing::release_buffer_rings() noexcept {
  for (BufRing& b : buf_rings_) {
    ::munmap(b.descriptors, b.descriptor_bytes);
    ::munmap(b.base, b.bytes);
  }
  buf_rings_.clear();
}

}  // namespace ringo::uring
