// DescriptorTable: the simulated process's file descriptors, shared by every simulated
// ring (all shards are threads of one process). A descriptor names an open file
// (SimDisk's OpenFile) or a socket (SimNet's Socket); the table knows them only as
// shared pointers. Private to sim/.
//
// Contract: descriptors start at kFirstFd; allocate() hands out the lowest free one, as
// POSIX does, or -EMFILE beyond max_fds open ones; open() counts the occupied slots; a
// slot is either empty or holds one object. The counts are RINGO_ASSERTs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

namespace ringo::sim::detail {

struct OpenFile;  // sim_disk.hpp
struct Socket;    // sim_net.hpp

using Object = std::variant<std::monostate, std::shared_ptr<OpenFile>, std::shared_ptr<Socket>>;

class DescriptorTable {
 public:
  static constexpr int32_t kFirstFd = 3;

  // The lowest free descriptor, now holding object, or -EMFILE.
  int32_t allocate(Object object);
  // The object behind fd, or nullptr if fd is not open.
  Object* find(int32_t fd) noexcept;
  template <class T>
  std::shared_ptr<T> get(int32_t fd) noexcept {
    Object* o = find(fd);
    if (o == nullptr) return nullptr;
    auto* p = std::get_if<std::shared_ptr<T>>(o);
    return p != nullptr ? *p : nullptr;
  }
  // Empties fd's slot and returns what it held (monostate if fd was not open).
  Object release(int32_t fd) noexcept;

  size_t open() const noexcept { return open_; }
  // One past the highest descriptor ever handed out (for walking every slot).
  int32_t end() const noexcept { return static_cast<int32_t>(slots_.size()); }

 private:
  std::vector<Object> slots_;  // index = fd
  size_t open_ = 0;
  size_t max_fds_ = 1 << 16;  // EMFILE beyond
};

}  // namespace ringo::sim::detail
