#include "ringo/error.hpp"

#include <string>

namespace ringo {
namespace detail {

const char* RingoCategory::name() const noexcept { return "ringo"; }

std::string RingoCategory::message(int value) const {
  switch (static_cast<errc>(value)) {
    case errc::ok: return "ok";
    case errc::cancelled: return "operation cancelled";
    case errc::timed_out: return "deadline expired";
    case errc::channel_closed: return "channel closed";
    case errc::shard_stopped: return "shard stopped";
    case errc::not_in_runtime: return "not called from a running ringo shard";
    case errc::join_twice: return "routine already joined or detached";
    case errc::invalid_shard: return "shard index out of range";
    case errc::spawn_limit: return "per-shard routine limit reached";
    case errc::routine_panicked: return "an exception escaped the routine";
    case errc::deadlock: return "deadlock: every routine blocked, nothing pending";
    case errc::invalid_argument: return "invalid argument";
    case errc::wrong_thread: return "called from a thread that does not own the runtime";
    case errc::backend_unavailable: return "backend unavailable";
    case errc::queue_full: return "queue full";
    case errc::channel_full: return "channel full";
    case errc::channel_empty: return "channel empty";
    case errc::no_channel: return "no channel (moved from or default-constructed handle)";
    case errc::wrong_shard: return "called from a shard that does not own the object";
    case errc::unexpected_eof: return "end of stream before the requested bytes";
    case errc::check_failed: return "a scenario's check failed";
    case errc::foreign_runtime: return "the object belongs to another ringo runtime";
    case errc::nested_block_on:
      return "called from inside a routine: block_on would block that routine's shard, and a runtime cannot "
             "shut down from one of its own routines";
    case errc::not_held: return "unlock of a lock not held, or release of more permits than held";
    case errc::negative_counter: return "negative WaitGroup counter";
  }
  return "unknown ringo error";
}

constinit const RingoCategory kRingoCategory{};

}  // namespace detail

}  // namespace ringo
