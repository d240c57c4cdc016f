// Channels with Go semantics: chan<T>(0) is an unbuffered rendezvous, chan<T>(n) is bounded,
// chan<T>(unbounded) never blocks a sender. Sender and Receiver are cloneable (MPMC) and
// usable from any shard of the runtime that made them.
//
//   auto [tx, rx] = ringo::chan<int>(8).value();  // throws (in a routine: a panic) if it fails
//   auto ch = co_await ringo::chan_on<int>(1, 8);  // Result<pair>, homed on shard 1
//   co_await tx.send(1);                           // SendResult<int>: ok or Rejected{error, value}
//   ringo::Result<int> v = co_await rx.recv();     // value, or errc::channel_closed once drained
//
// Every channel lives on its home shard (the shard that created it): its buffer and wait
// queues are touched by that shard only, with no lock or atomic on the path. send/recv
// from another shard travel to the home shard as one request envelope in its inbox (a
// MSG_RING doorbell only if that shard sleeps), wait there without a routine, and
// obey the same cancellation contract: a value already taken is delivered, a send that did
// not happen gives its value back. Home a channel on the shard that receives from it.
//
// Errors: channel_closed (send after close: the value is handed back in Rejected; recv
// after close once the buffer is drained), channel_full / channel_empty (try_*),
// no_channel (empty handle), invalid_argument (capacity above kMaxChannelCapacity; ask
// for `unbounded` by name, no count means it), foreign_runtime (a channel made in another
// Runtime: refused, its state never touched), not_in_runtime, cancelled, wrong_shard
// (try_* off the home shard), shard_stopped (home shard stopping or gone; a send's value
// comes back), queue_full (from another shard: the home shard's inbox is full, or it
// already holds ShardConfig::max_callers waiting requests; a send's value comes back).
//
// Element types must be movable and default-constructible (the buffer keeps constructed
// slots).
//
// Thread-safety: handles may be copied, moved and dropped on any thread (the reference
// counts are atomic); operations follow the rules above. The channel closes itself when
// its last Sender is dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <variant>

#include "ringo/chan_types.hpp"
#include "ringo/internal/core/chan_local.hpp"
#include "ringo/internal/core/chan_remote.hpp"
#include "ringo/internal/core/chan_state.hpp"

namespace ringo {
namespace detail {

// One awaiter for both paths: on the home shard, or a request to it from another shard.
template <class Local, class Remote, class Out>
struct EitherAwaiter {
  using Path = std::variant<Local, Remote>;
  Path path;

  // Plain branches, not std::visit: GCC leaves visit's jump table out of line, and this
  // is the hot path of every send and receive (perf: a quarter of SPSC's time).
  bool await_ready() {
    if (auto* local = std::get_if<Local>(&path)) return local->await_ready();
    return std::get_if<Remote>(&path)->await_ready();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    if (auto* local = std::get_if<Local>(&path)) {
      local->await_suspend(h);
      return true;
    }
    return std::get_if<Remote>(&path)->await_suspend(h);
  }
  Out await_resume() {
    if (auto* local = std::get_if<Local>(&path)) return local->await_resume();
    return std::get_if<Remote>(&path)->await_resume();
  }
};

// Why an operation from `here` (not the home shard) on a channel homed on `home` is
// refused: no runtime on this thread, or a shard of another Runtime, whose shards must
// never touch this channel's state (they run concurrently with its home shard).
inline errc refuse_from(const Shard* here, const Shard* home) noexcept {
  if (here == nullptr) return errc::not_in_runtime;
  return here->same_runtime(*home) ? errc::ok : errc::foreign_runtime;
}

// A close made on another shard (or off any runtime), delivered to the home shard.
template <class T>
struct CloseEnvelope final : Envelope {
  ChanState<T>* state;
  explicit CloseEnvelope(ChanState<T>* s) : state(s) {}
  void deliver(Shard&) override {
    (void)state->close();
    release_state(state);
    delete this;
  }
  void reject(Shard&) override {
    state->closed = true;  // the home shard is stopping: nobody waits any more
    release_state(state);
    delete this;
  }
};

// What Sender and Receiver share: the state pointer and the read-only observers.
template <class T>
class ChanHandle {
 public:
  bool valid() const noexcept { return st_ != nullptr; }
  bool is_closed() const noexcept { return st_ == nullptr || st_->closed; }
  bool is_unbounded() const noexcept { return st_ != nullptr && st_->capacity == kUnboundedSlots; }
  size_t capacity() const noexcept { return st_ != nullptr ? st_->capacity : 0; }  // SIZE_MAX: unbounded
  size_t len() const noexcept { return st_ != nullptr ? st_->buffer.size() : 0; }
  ChanState<T>* state() const noexcept { return st_; }

 protected:
  ChanHandle() = default;
  explicit ChanHandle(ChanState<T>* st) noexcept : st_(st) {}
  ChanState<T>* st_ = nullptr;
};

}  // namespace detail

template <class T>
class Receiver;

// The sending end of a channel: cloneable, usable from any shard of its runtime; the
// channel closes when the last Sender is dropped or close() is called.
template <class T>
class Sender : public detail::ChanHandle<T> {
  using detail::ChanHandle<T>::st_;

 public:
  Sender() = default;
  Sender(const Sender& o) noexcept : detail::ChanHandle<T>(o.st_) { retain(); }
  Sender(Sender&& o) noexcept : detail::ChanHandle<T>(std::exchange(o.st_, nullptr)) {}
  Sender& operator=(Sender o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~Sender() { drop(); }

  // Awaitable SendResult<T>: resumes once a receiver has the value (unbuffered) or it is
  // buffered. On a closed channel, or if cancelled while blocked, the value comes back.
  auto send(T value) {
    using namespace detail;
    using Either = EitherAwaiter<LocalSend<T>, RemoteSend<T>, SendResult<T>>;
    detail::Shard* here = detail::current_shard();
    if (st_ == nullptr || here == nullptr || here == st_->home) {
      // Built in place: GCC zeroes the unset waiter of a LocalSend moved into the variant.
      return Either{typename Either::Path(std::in_place_type<LocalSend<T>>, st_, std::move(value))};
    }
    if (errc refused = refuse_from(here, st_->home); refused != errc::ok) {
      return Either{typename Either::Path(std::in_place_type<LocalSend<T>>, nullptr, std::move(value), refused)};
    }
    return Either{RemoteSend<T>{{st_}, std::move(value)}};
  }

  // Home shard only: sends if it can without waiting.
  SendResult<T> try_send(T value) {
    if (st_ == nullptr) return std::unexpected(Rejected<T>{make_error_code(errc::no_channel), std::move(value)});
    if (detail::Shard* here = detail::current_shard(); here != st_->home) {
      const errc refused = detail::refuse_from(here, st_->home);
      return std::unexpected(
          Rejected<T>{make_error_code(refused != errc::ok ? refused : errc::wrong_shard), std::move(value)});
    }
    switch (st_->try_send(value)) {
      case detail::Attempt::done: return {};
      case detail::Attempt::closed:
        return std::unexpected(Rejected<T>{make_error_code(errc::channel_closed), std::move(value)});
      case detail::Attempt::would_block: break;
    }
    return std::unexpected(Rejected<T>{make_error_code(errc::channel_full), std::move(value)});
  }

  // Home shard: closes now. Another shard: the close is posted to the home shard. Either
  // way only the first close succeeds; every later one, from any shard, is channel_closed.
  Result<void> close() {
    if (st_ == nullptr) return fail(errc::no_channel);
    detail::Shard* here = detail::current_shard();
    if (here != st_->home) {
      if (errc refused = detail::refuse_from(here, st_->home); refused != errc::ok) return fail(refused);
    }
    if (st_->close_claimed.exchange(true, std::memory_order_acq_rel)) return fail(errc::channel_closed);
    if (here == st_->home) return st_->close();
    detail::Outbox<T>::of(st_, *here).ship(*here, /*give_back=*/true);  // sends before the close
    st_->refs.fetch_add(1, std::memory_order_relaxed);
    auto* env = new detail::CloseEnvelope<T>(st_);
    if (auto posted = here->post(st_->home->index(), env); !posted) {
      delete env;
      st_->close_claimed.store(false, std::memory_order_release);  // it did not happen
      detail::release_state(st_);
      return posted;
    }
    return {};
  }

 private:
  template <class U>
  friend Result<std::pair<Sender<U>, Receiver<U>>> chan(Capacity);
  explicit Sender(detail::ChanState<T>* st) noexcept : detail::ChanHandle<T>(st) { retain(); }

  void retain() noexcept {
    if (st_ == nullptr) return;
    st_->senders.fetch_add(1, std::memory_order_relaxed);
    st_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  // The last sender dropped on a shard of another Runtime: the close travels to the home
  // shard like a close from a thread outside any runtime (no outbox of ours to ship).
  static void close_from_foreign_thread(detail::ChanState<T>* st) noexcept {
    st->refs.fetch_add(1, std::memory_order_relaxed);
    auto* env = new detail::CloseEnvelope<T>(st);
    if (!st->home->group().post_from_anywhere(st->home->index(), env)) {
      delete env;
      detail::release_state(st);
    }
  }
  void drop() noexcept {
    if (st_ == nullptr) return;
    detail::ChanState<T>* st = std::exchange(st_, nullptr);
    if (st->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The last sender closes the channel, on its home shard.
      detail::Shard* here = detail::current_shard();
      if (here == st->home || here == nullptr) {
        if (here == st->home) {
          (void)st->close();
        } else {
          st->closed = true;  // no runtime on this thread: nobody can be waiting here
        }
      } else if (!here->same_runtime(*st->home)) {
        close_from_foreign_thread(st);
      } else {
        detail::Outbox<T>::of(st, *here).ship(*here, /*give_back=*/true);
        st->refs.fetch_add(1, std::memory_order_relaxed);
        auto* env = new detail::CloseEnvelope<T>(st);
        if (!here->post(st->home->index(), env)) {
          delete env;
          detail::release_state(st);
        }
      }
    }
    detail::release_state(st);
  }
};

// The receiving end of a channel: cloneable (MPMC), usable from any shard of its runtime;
// recv() gives channel_closed once the channel is closed and drained.
template <class T>
class Receiver : public detail::ChanHandle<T> {
  using detail::ChanHandle<T>::st_;

 public:
  Receiver() = default;
  Receiver(const Receiver& o) noexcept : detail::ChanHandle<T>(o.st_) { retain(); }
  Receiver(Receiver&& o) noexcept : detail::ChanHandle<T>(std::exchange(o.st_, nullptr)) {}
  Receiver& operator=(Receiver o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~Receiver() {
    if (st_ != nullptr) detail::release_state(std::exchange(st_, nullptr));
  }

  // Awaitable Result<T>: the oldest value; channel_closed once closed and drained.
  auto recv() {
    using namespace detail;
    using Either = EitherAwaiter<LocalRecv<T>, RemoteRecv<T>, Result<T>>;
    detail::Shard* here = detail::current_shard();
    if (st_ == nullptr || here == nullptr || here == st_->home) {
      return Either{typename Either::Path(std::in_place_type<LocalRecv<T>>, st_)};
    }
    if (errc refused = refuse_from(here, st_->home); refused != errc::ok) {
      return Either{typename Either::Path(std::in_place_type<LocalRecv<T>>, nullptr, refused)};
    }
    return Either{RemoteRecv<T>{{st_}}};
  }

  // Home shard only: a value if one is ready now.
  Result<T> try_recv() {
    if (st_ == nullptr) return fail(errc::no_channel);
    if (detail::Shard* here = detail::current_shard(); here != st_->home) {
      const errc refused = detail::refuse_from(here, st_->home);
      return fail(refused != errc::ok ? refused : errc::wrong_shard);
    }
    std::optional<Result<T>> out;
    if (st_->try_recv(out) == detail::Attempt::would_block) return fail(errc::channel_empty);
    return std::move(*out);
  }

 private:
  template <class U>
  friend Result<std::pair<Sender<U>, Receiver<U>>> chan(Capacity);
  explicit Receiver(detail::ChanState<T>* st) noexcept : detail::ChanHandle<T>(st) { retain(); }
  void retain() noexcept {
    if (st_ != nullptr) st_->refs.fetch_add(1, std::memory_order_relaxed);
  }
};

// A new channel homed on the current shard. capacity: 0 (unbuffered), n, or unbounded.
template <class T>
Result<std::pair<Sender<T>, Receiver<T>>> chan(Capacity capacity) {
  detail::Shard* here = detail::current_shard();
  if (here == nullptr) return fail(errc::not_in_runtime);
  if (!capacity.valid()) return fail(errc::invalid_argument);
  auto* st = new detail::ChanState<T>(here, capacity.is_unbounded() ? kUnboundedSlots : capacity.slots());
  return std::pair<Sender<T>, Receiver<T>>(Sender<T>(st), Receiver<T>(st));
}

// A new channel homed on shard `home` (made there: a cross-shard call unless `home` is
// this shard). Home a channel on the shard that receives from it.
template <class T>
Task<Result<std::pair<Sender<T>, Receiver<T>>>> chan_on(uint32_t home, Capacity capacity) {
  detail::Shard* here = detail::current_shard();
  if (here != nullptr && here->index() == home) co_return chan<T>(capacity);
  auto make = [capacity] { return chan<T>(capacity); };  // not inside the co_await: GCC 12
  co_return co_await submit_to(home, std::move(make));
}

}  // namespace ringo
