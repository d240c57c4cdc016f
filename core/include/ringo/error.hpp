// Errors: every fallible ringo call returns Result<T> = std::expected<T, std::error_code>.
// Runtime conditions use ringo::errc (category "ringo"); kernel results keep their errno
// in std::generic_category so callers can compare against std::errc::connection_reset etc.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <system_error>

namespace ringo {

enum class errc : int {
  ok = 0,
  cancelled = 1,        // the operation or routine was cancelled (abort, stop token)
  timed_out,            // a deadline expired before the operation completed
  channel_closed,       // send on a closed channel, or recv on a closed and drained one
  shard_stopped,        // the target shard is stopping or stopped
  not_in_runtime,       // the call needs a running shard on this thread
  join_twice,           // join() on a handle that was already joined or detached
  invalid_shard,        // shard index out of range
  spawn_limit,          // the shard reached RuntimeConfig::max_routines_per_shard
  routine_panicked,     // an exception escaped a routine
  deadlock,             // (simulator) every routine blocked with nothing pending
  invalid_argument,     // a malformed request (bad size, value out of range...)
  wrong_thread,         // the call must be made on the runtime's owner thread
  backend_unavailable,  // the requested backend cannot run on this machine
  queue_full,           // a bounded internal queue is full (retry later)
  channel_full,         // try_send: no room and no waiting receiver
  channel_empty,        // try_recv: nothing buffered and no waiting sender
  no_channel,           // the Sender/Receiver is empty (moved from or default-constructed)
  wrong_shard,          // a shard-bound operation was called from another shard
  unexpected_eof,       // the stream or file ended before the requested bytes arrived
  check_failed,         // (simulator) a scenario's own check failed
  foreign_runtime,      // the object (a channel...) belongs to another Runtime
  nested_block_on,      // block_on from inside a routine, or shutdown from one of the runtime's own
  not_held,             // unlock of a lock not held, release of more permits than are held
  negative_counter,     // WaitGroup::add would take the counter below zero (nothing changed)
};

namespace detail {
class RingoCategory final : public std::error_category {
 public:
  constexpr RingoCategory() noexcept = default;
  const char* name() const noexcept override;
  std::string message(int value) const override;
};
// Constant-initialised: making a ringo error_code is two stores, with no call and no
// guard (error codes are built on the channel hot paths).
extern const RingoCategory kRingoCategory;
}  // namespace detail

inline const std::error_category& ringo_category() noexcept { return detail::kRingoCategory; }

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), ringo_category()}; }

// A kernel result (negative errno) as an error_code in the generic category.
inline std::error_code errno_code(int err) noexcept { return {err < 0 ? -err : err, std::generic_category()}; }

template <class T>
using Result = std::expected<T, std::error_code>;

inline std::unexpected<std::error_code> fail(errc e) noexcept { return std::unexpected(make_error_code(e)); }
inline std::unexpected<std::error_code> fail_errno(int err) noexcept { return std::unexpected(errno_code(err)); }

}  // namespace ringo

template <>
struct std::is_error_code_enum<ringo::errc> : std::true_type {};
