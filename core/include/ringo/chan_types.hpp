// The value types of the channel API: Capacity (a count of slots, or `unbounded`),
// Rejected (a send that did not happen: why, and the value handed back) and SendResult.
// Plain values with no behaviour of their own; chan.hpp says what the channel does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <system_error>

#include "ringo/error.hpp"

namespace ringo {

inline constexpr size_t kMaxChannelCapacity = size_t{1} << 30;

// chan<T>(unbounded): a tag, not a number, so that no count (SIZE_MAX included) can mean
// "unbounded" by accident; a count above kMaxChannelCapacity is invalid_argument.
struct Unbounded {
  explicit constexpr Unbounded() = default;
};
inline constexpr Unbounded unbounded{};

// The internal slot count of an unbounded channel (never reachable by a count).
inline constexpr size_t kUnboundedSlots = SIZE_MAX;

// What chan<T>() takes: a count of slots (0: unbuffered), or unbounded.
class Capacity {
 public:
  constexpr Capacity() noexcept : slots_(0) {}                             // unbuffered, as Go's make(chan T)
  constexpr Capacity(size_t slots) noexcept : slots_(slots) {}             // NOLINT: implicit on purpose
  constexpr Capacity(Unbounded) noexcept : slots_(0), unbounded_(true) {}  // NOLINT: implicit on purpose
  constexpr bool is_unbounded() const noexcept { return unbounded_; }
  constexpr size_t slots() const noexcept { return slots_; }
  constexpr bool valid() const noexcept { return unbounded_ || slots_ <= kMaxChannelCapacity; }
  friend constexpr bool operator==(Capacity, Capacity) noexcept = default;

 private:
  size_t slots_;
  bool unbounded_ = false;
};

// A send that did not happen: why, and the value, handed back.
template <class T>
struct Rejected {
  std::error_code error;
  T value;
};
template <class T>
using SendResult = std::expected<void, Rejected<T>>;

}  // namespace ringo
