// ByteQueue: a FIFO of bytes in one contiguous string (a pipe's unread bytes, its bytes in
// flight). Appends go to the end, reads take from the front without moving what is left;
// the taken front is dropped once it is at least half the string, so each byte is moved
// at most once more on average. Empty, it holds no memory until the first append; once
// grown, it keeps its room. Private to sim/.
//
// Why not std::deque<char>: an empty deque allocates two blocks (a pipe is made per
// connection, two per connection), and its byte-wise iterators made every copy a loop;
// the simulator's pipes cost fuzz_net a tenth of its allocations (docs/fuzzing.md).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

class ByteQueue {
 public:
  bool empty() const noexcept { return size() == 0; }
  size_t size() const noexcept { return bytes_.size() - head_; }
  // The first n bytes (n <= size()), valid until the next append or take.
  std::string_view front(size_t n) const noexcept {
    RINGO_ASSERT(n <= size(), "a view of bytes the queue holds");
    return std::string_view(bytes_).substr(head_, n);
  }
  void append(std::string_view more) {
    if (head_ != 0 && head_ >= bytes_.size() / 2) compact();
    bytes_.append(more);
  }
  // Drops the first n bytes (n <= size()).
  void take(size_t n) noexcept {
    RINGO_ASSERT(n <= size(), "take only bytes the queue holds");
    head_ += n;
    if (head_ == bytes_.size()) clear();
  }
  // Moves the first n bytes to the end of `to`.
  void move_to(ByteQueue& to, size_t n) {
    to.append(front(n));
    take(n);
  }
  void clear() noexcept {
    bytes_.clear();
    head_ = 0;
  }

 private:
  void compact() noexcept {
    bytes_.erase(0, head_);
    head_ = 0;
  }

  std::string bytes_;
  size_t head_ = 0;
};

}  // namespace ringo::sim::detail
