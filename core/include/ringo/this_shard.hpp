// Where and when the calling routine runs: the index of its shard, how many shards its
// runtime has, and the time on its runtime's clock (virtual in the simulator, monotonic
// on real backends; see clock.hpp).
//
//   Result<Instant> t = ringo::now();            // Go: time.Now()
//   Result<uint32_t> me = ringo::shard_index();  // 0 .. shard_count() - 1
//
// Each call reads the shard the routine is on now: a routine started with spawn() may
// move to another shard between awaits (docs/scheduling.md), so ask again rather than
// keep an answer across an await. Outside a routine of a runtime, each returns
// errc::not_in_runtime.
//
// Thread-safety: any thread; the answer is about the calling thread's shard.
#pragma once

#include <cstdint>

#include "ringo/clock.hpp"
#include "ringo/error.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo {

inline Result<Instant> now() noexcept {
  const detail::Shard* s = detail::current_shard();
  if (s == nullptr) return fail(errc::not_in_runtime);
  return s->now();
}

inline Result<uint32_t> shard_index() noexcept {
  const detail::Shard* s = detail::current_shard();
  if (s == nullptr) return fail(errc::not_in_runtime);
  return s->index();
}

inline Result<uint32_t> shard_count() noexcept {
  const detail::Shard* s = detail::current_shard();
  if (s == nullptr) return fail(errc::not_in_runtime);
  return static_cast<uint32_t>(s->group().size());
}

}  // namespace ringo
