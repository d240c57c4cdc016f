// Who waits on a channel, and the one way a channel wakes them. Internal to chan.hpp.
//
// ChanWaiter is one blocked operation in a channel's wait queue: a routine's send or
// receive (chan_local.hpp), a select's case (select_case.hpp) or a request from another
// shard (chan_remote.hpp). The channel knows none of them: it hands a receiver its result
// (RecvWaiter, in place) or takes a sender's value (SendWaiter, in place), takes the
// waiter out of its queue, and calls `wake`. That call is the whole contract:
//
//  - wake(w, home) runs on the channel's home shard, once, after w has left its queue and
//    holds its outcome; the waiter may be gone when it returns (its routine resumed, its
//    envelope answered).
//  - Everything a waiter stands for lives behind `owner`, which only its own wake reads.
//
// Why a function pointer and an owner word rather than a kind byte and a union of owners
// (the layout before 2026-12): the channel then has no branch per kind of waiter, and a
// new kind of waiter needs nothing from the channel. The pointer takes the 8 bytes the
// kind, the case index and the flags had shared; those moved next to the value, into the
// room a 4-byte element leaves. For an `int` channel the waiters keep their size (32-byte
// base, 40 with the value: tests/routine_test.cpp asserts it); an element type whose size
// is a multiple of 8 takes 8 bytes more in a blocked routine's frame. See
// docs/channels-and-select.md, "Waking a waiter".
//
// ChanSubscriber is a select over several shards watching a channel (select_shards.hpp):
// it takes nothing and is never woken; the channel calls channel_changed() whenever a
// case on it may have become ready.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "ringo/error.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/intrusive_list.hpp"

namespace ringo::detail {

class Shard;

// No default member initialisers on purpose: the awaiters leave the waiter unset until
// they park (most sends, receives and selects finish at once, and zeroing the waiter each
// time was a measurable part of them). push_back sets the links; the parker sets the rest.
struct ChanWaiter {
  using Wake = void (*)(ChanWaiter* self, Shard& home);
  ChanWaiter* prev;
  ChanWaiter* next;
  Wake wake;    // the one call a channel makes on a waiter (see above)
  void* owner;  // what wake needs: the routine, the select case, the remote request
};
using WaiterList = IntrusiveList<ChanWaiter, &ChanWaiter::prev, &ChanWaiter::next>;

// A channel's queue of one kind of waiter (its receivers, or its senders): a WaiterList
// that hands out the derived type, so the channel never casts.
template <class W>
class WaiterQueue {
 public:
  static_assert(std::is_base_of_v<ChanWaiter, W>);
  bool empty() const noexcept { return list_.empty(); }
  W* front() const noexcept { return static_cast<W*>(list_.front()); }
  W* pop_front() noexcept { return static_cast<W*>(list_.pop_front()); }
  void push_back(W* w) noexcept { list_.push_back(w); }
  void remove(W* w) noexcept { list_.remove(w); }  // a no-op when w is not queued
  bool contains(const W* w) const noexcept { return list_.contains(w); }

 private:
  WaiterList list_;
};

// A receiver: the result is written in place, as a value or an errc (every error a receive
// can end with is one of ours), not as a Result<T>, whose error_code takes 16 bytes;
// `full` and `failed` say which. The links, wake and owner are left unset until it parks.
template <class T>
struct RecvWaiter : ChanWaiter {
  union {
    T value;     // full && !failed
    errc error;  // full && failed
  };
  bool full;
  bool failed;

  RecvWaiter() noexcept : full(false), failed(false) {}  // never leave a bool unset: the move reads them (UBSan)
  // Awaiters move (with_deadline takes them by value) and select cases move only before
  // they park: the result moves, the rest stays unset.
  RecvWaiter(RecvWaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
      : full(o.full), failed(o.full && o.failed) {
    if (o.full && !o.failed) {
      std::construct_at(&value, std::move(o.value));
    } else if (o.full) {
      error = o.error;
    }
  }
  RecvWaiter& operator=(const RecvWaiter&) = delete;
  // Trivial when T is: the awaiter's variant then needs no destructor dispatch on every
  // receive.
  ~RecvWaiter() requires std::is_trivially_destructible_v<T>
  = default;
  ~RecvWaiter() { clear(); }

  template <class... A>
  void emplace(A&&... a) {
    clear();
    std::construct_at(&value, std::forward<A>(a)...);
    full = true;
    failed = false;
  }
  void fail(errc e) noexcept {
    clear();
    error = e;
    full = true;
    failed = true;
  }
  // Empty again (a select case that parks a second time).
  void reset() noexcept {
    clear();
    full = false;
    failed = false;
  }
  // The result (full only).
  Result<T> take() {
    RINGO_ASSERT(full, "a receiver's result is taken only once it has one");
    if (!failed) return Result<T>(std::in_place, std::move(value));
    return ringo::fail(error);
  }

 private:
  void clear() noexcept {
    if constexpr (!std::is_trivially_destructible_v<T>) {
      if (full && !failed) value.~T();
    }
  }
};

// A sender: the value in place, and `outcome`, why the send did not happen (errc::ok
// while it may still happen or once it has; a close is the only failure the channel
// writes). The links, wake and owner are left unset until it parks.
template <class T>
struct SendWaiter : ChanWaiter {
  T value;
  errc outcome;

  explicit SendWaiter(T v, errc refusal = errc::ok) noexcept(std::is_nothrow_move_constructible_v<T>)
      : value(std::move(v)), outcome(refusal) {}
  // Only before it parks (see RecvWaiter).
  SendWaiter(SendWaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
      : value(std::move(o.value)), outcome(o.outcome) {}
  SendWaiter& operator=(const SendWaiter&) = delete;
  ~SendWaiter() = default;

  bool failed() const noexcept { return outcome != errc::ok; }
  void fail(errc e) noexcept {
    RINGO_ASSERT(e != errc::ok, "a failure has a reason");
    outcome = e;
  }
};

// A result that is an error, into either kind of receiver's slot.
template <class T>
void fail_into(std::optional<Result<T>>& out, errc e) {
  out.emplace(fail(e));
}
template <class T>
void fail_into(RecvWaiter<T>& out, errc e) noexcept {
  out.fail(e);
}

// A select over channels of several shards, subscribed to one of its cases' channels.
struct ChanSubscriber {
  ChanSubscriber* prev = nullptr;
  ChanSubscriber* next = nullptr;
  // On the home shard: something changed that may have made the case ready (a value
  // buffered, a sender or receiver parked, room freed, a close). Must not change the
  // channel's subscriber lists.
  virtual void channel_changed() = 0;

 protected:
  ~ChanSubscriber() = default;
};
using SubscriberList = IntrusiveList<ChanSubscriber, &ChanSubscriber::prev, &ChanSubscriber::next>;

}  // namespace ringo::detail
