// DescriptorTable (descriptor_table.hpp): lowest-free allocation and the open count.
#include "descriptor_table.hpp"

#include <cerrno>

#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

int32_t DescriptorTable::allocate(Object object) {
  RINGO_ASSERT(!std::holds_alternative<std::monostate>(object), "a descriptor names an object");
  if (open_ >= max_fds_) return -EMFILE;
  size_t fd = kFirstFd;
  while (fd < slots_.size() && !std::holds_alternative<std::monostate>(slots_[fd])) ++fd;
  if (fd >= slots_.size()) slots_.resize(fd + 1);
  slots_[fd] = std::move(object);
  ++open_;
  RINGO_ASSERT(open_ + kFirstFd <= slots_.size(), "the open count fits the slots");
  return static_cast<int32_t>(fd);
}

Object* DescriptorTable::find(int32_t fd) noexcept {
  if (fd < kFirstFd || static_cast<size_t>(fd) >= slots_.size()) return nullptr;
  Object* o = &slots_[static_cast<size_t>(fd)];
  return std::holds_alternative<std::monostate>(*o) ? nullptr : o;
}

Object DescriptorTable::release(int32_t fd) noexcept {
  Object* o = find(fd);
  if (o == nullptr) return std::monostate{};
  RINGO_ASSERT(open_ > 0, "an occupied slot is counted open");
  Object gone = std::move(*o);
  *o = std::monostate{};
  --open_;
  return gone;
}

}  // namespace ringo::sim::detail
