// What a raw lane (raw/lane.hpp) hands its owner: one event per kernel completion of an
// op it submitted, and one per lane-A message another shard sent to this one.
//
//   raw::Io       {token, result, flags}: an op's completion. token is what the owner
//                 gave submit(); result is the kernel's (>= 0, or a negative errno:
//                 -ECANCELED when cancelled, -ETIME with kDeadlineExpired when its
//                 deadline won); flags carries kMore while a multishot op stays armed.
//   raw::RingMsg  {from, tag, value}: RemoteShard::send_raw from shard `from`.
//   raw::Event    either of the two.
//
// Plain values, no ownership: a lane fills a span of them and allocates nothing per event.
#pragma once

#include <cstdint>
#include <variant>

namespace ringo::raw {

// raw::Io::flags. kMore: a multishot op (accept) stays armed and more events follow; an
// event without it is the op's last. kDeadlineExpired: the op's deadline won (result is
// -ETIME). The values are io_uring's IORING_CQE_F_MORE and ringo's own bit 31 (op_slab.hpp).
inline constexpr uint32_t kMore = 1u << 1;
inline constexpr uint32_t kDeadlineExpired = 1u << 31;

struct Io {
  uint64_t token = 0;
  int32_t result = 0;
  uint32_t flags = 0;

  bool more() const noexcept { return (flags & kMore) != 0; }
  bool operator==(const Io&) const = default;
};

struct RingMsg {
  uint32_t from = 0;
  uint16_t tag = 0;
  uint64_t value = 0;  // 56 bits (RemoteShard::send_raw)

  bool operator==(const RingMsg&) const = default;
};

using Event = std::variant<Io, RingMsg>;

}  // namespace ringo::raw
