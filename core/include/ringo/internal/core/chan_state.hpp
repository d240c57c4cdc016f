// ChanState<T>: a channel's state on its home shard (the buffer, the two wait queues, the
// subscriptions of selects over several shards, and the home side of leases), and
// release_state, its reference count. Internal to chan.hpp.
//
// Contract: only the home shard touches anything here except the reference counts (refs,
// senders) and `outboxes[i]`, which shard i alone creates and uses. Waiters are woken only
// through ChanWaiter::wake (chan_waiter.hpp), subscribers told only through
// ChanSubscriber::channel_changed, and another shard's lease reached only through the
// LeaseHolder interface below: this file knows nothing of routines, selects or the remote
// path, which all build on it.
//
// Invariants, checked by assertions once an operation is complete (check()); lend and
// write_off, which may run inside another operation's wake, check the lease ones only
// (check_leases()):
//  - buffer.size() + leased <= capacity (leased slots count against the capacity);
//  - a receiver waits only while nothing is buffered;
//  - a sender waits only while the channel is open and has no room;
//  - leased is the sum of leased_by.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/chan_waiter.hpp"
#include "ringo/internal/core/ring_buffer.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {

enum class Attempt { done, closed, would_block };

// Up to this many sends a remote shard may complete on its own before asking again.
inline constexpr uint32_t kMaxLease = 256;

// Another shard's side of its lease on one channel (chan_remote.hpp's Outbox<T>), as the
// channel's state sees it: the state owns it (ChanState::outboxes) and, on close, asks it
// on its own shard to give the lease back. Defined here, below both, so that the state
// needs nothing of the remote path.
struct LeaseHolder : TickHook {
  virtual ~LeaseHolder() = default;
  // On the holder's shard: ship what was sent under the lease and return the rest.
  virtual void give_back(Shard& here) = 0;
};

template <class T>
struct ChanState {
  // Three cache lines' worth of roles, so that a request from another shard does not pull
  // the home shard's working line across: what never changes (read from every shard),
  // what the home shard changes, and the counts other shards change.
  Shard* home;
  size_t capacity;
  uint64_t id;
  std::vector<std::unique_ptr<LeaseHolder>> outboxes;  // slot i is created and used by shard i only

  alignas(64) RingBuffer<T> buffer;
  bool closed = false;
  // Subscriptions of selects over several shards, in both lists below: next to `closed`,
  // so that a channel nobody subscribed to pays one test of a line it reads anyway.
  uint32_t subs = 0;
  WaiterQueue<RecvWaiter<T>> receivers_waiting;
  WaiterQueue<SendWaiter<T>> senders_waiting;
  // Buffer slots leased to other shards (chan_remote.hpp): values sent there, or that may
  // be sent there, without asking.
  size_t leased = 0;
  std::vector<uint32_t> leased_by;  // per shard; home only
  SubscriberList recv_subs;
  SubscriberList send_subs;

  alignas(64) std::atomic<uint32_t> senders{0};
  std::atomic<uint32_t> refs{0};
  // Taken by the first Sender::close() from any shard: a close from another shard is
  // posted to the home shard, which alone sets `closed`, so a second close made elsewhere
  // could not see the first one; this tells every later close channel_closed at once.
  std::atomic<bool> close_claimed{false};

  ChanState(Shard* h, size_t cap)
      : home(h), capacity(cap), id(h->next_call_id()), outboxes(h->group().size()), leased_by(h->group().size(), 0) {}

  // The one way a waiter is woken: out of its queue, its outcome in place.
  [[gnu::always_inline]] void wake(RecvWaiter<T>* w) {
    RINGO_ASSERT(!receivers_waiting.contains(w), "a receiver is woken only once out of the queue");
    w->wake(w, *home);
  }
  [[gnu::always_inline]] void wake(SendWaiter<T>* w) {
    RINGO_ASSERT(!senders_waiting.contains(w), "a sender is woken only once out of the queue");
    w->wake(w, *home);
  }

  // Anything that may make a case ready calls this: subscribed selects look again.
  void changed() {
    if (subs != 0) [[unlikely]]
      poke_subs();
  }
  [[gnu::noinline, gnu::cold]] void poke_subs() {
    for (ChanSubscriber* s = recv_subs.front(); s != nullptr; s = SubscriberList::next(s)) s->channel_changed();
    for (ChanSubscriber* s = send_subs.front(); s != nullptr; s = SubscriberList::next(s)) s->channel_changed();
  }
  void subscribe(SubscriberList& list, ChanSubscriber* s) {
    list.push_back(s);
    ++subs;
  }
  void unsubscribe(SubscriberList& list, ChanSubscriber* s) noexcept {
    if (!list.contains(s)) return;
    RINGO_ASSERT(subs > 0, "subs counts the subscriptions in both lists");
    list.remove(s);
    --subs;
  }

  // Callers have found the operation would block (try_send / try_recv said so).
  void park_sender(SendWaiter<T>* w) {
    senders_waiting.push_back(w);
    changed();
    check();
  }
  void park_receiver(RecvWaiter<T>* w) {
    receivers_waiting.push_back(w);
    changed();
    check();
  }

  bool has_room() const noexcept { return buffer.size() + leased < capacity; }
  bool recv_ready() const noexcept { return !buffer.empty() || !senders_waiting.empty() || (closed && leased == 0); }
  bool send_ready() const noexcept { return closed || !receivers_waiting.empty() || has_room(); }

  // The invariants of the header comment. Side-effect free; compiled out with NDEBUG.
  void check() const noexcept {
    RINGO_ASSERT(buffer.size() + leased <= capacity, "buffer + leased <= capacity");
    RINGO_ASSERT(receivers_waiting.empty() || buffer.empty(), "a receiver waits only while nothing is buffered");
    RINGO_ASSERT(senders_waiting.empty() || (!closed && !has_room()),
                 "a sender waits only while the channel is open and full");
  }
  // The lease invariants alone: lend and write_off may run inside a wake (a remote
  // sender's answer takes a lease), in the middle of admit_waiting_senders' loop.
  void check_leases() const noexcept {
    RINGO_ASSERT(buffer.size() + leased <= capacity, "buffer + leased <= capacity");
    RINGO_ASSERT(leased == std::accumulate(leased_by.begin(), leased_by.end(), size_t{0}),
                 "leased is the sum of leased_by");
  }

  // Hands v to a waiting receiver or the buffer. On closed or would_block, v is untouched.
  Attempt try_send(T& v) {
    if (closed) return Attempt::closed;
    if (RecvWaiter<T>* w = receivers_waiting.pop_front()) {
      w->emplace(std::move(v));
      wake(w);
      check();
      return Attempt::done;
    }
    if (has_room()) {
      buffer.push_back(std::move(v));
      changed();
      check();
      return Attempt::done;
    }
    return Attempt::would_block;
  }

  // Takes the oldest value (buffer first, then a waiting sender), or reports the close.
  // out: a RecvWaiter or an optional<Result<T>> (anything with emplace).
  template <class Out>
  Attempt try_recv(Out& out) {
    if (!buffer.empty()) {
      out.emplace(std::move(buffer.front()));
      buffer.pop_front();
      if (!senders_waiting.empty()) admit_waiting_senders();
      changed();
      check();
      return Attempt::done;
    }
    if (SendWaiter<T>* w = senders_waiting.pop_front()) {
      out.emplace(std::move(w->value));
      wake(w);
      check();
      return Attempt::done;
    }
    if (closed && leased == 0) {
      fail_into(out, errc::channel_closed);
      return Attempt::closed;
    }
    return Attempt::would_block;
  }

  // Blocked senders move into the buffer while it has room.
  void admit_waiting_senders() {
    while (has_room()) {
      SendWaiter<T>* w = senders_waiting.pop_front();
      if (w == nullptr) return;
      buffer.push_back(std::move(w->value));
      wake(w);
    }
  }

  // Receivers learn of the close only once no leased value can still arrive. A select
  // with several cases the close makes ready picks among them in its wake
  // (select_case.hpp), not whichever queue is drained first.
  void settle_close() {
    if (!closed || leased != 0) return;
    while (RecvWaiter<T>* w = receivers_waiting.pop_front()) {
      w->fail(errc::channel_closed);
      wake(w);
    }
  }

  Result<void> close() {
    if (closed) return fail(errc::channel_closed);
    closed = true;
    while (SendWaiter<T>* w = senders_waiting.pop_front()) {
      w->fail(errc::channel_closed);
      wake(w);
    }
    for (uint32_t shard = 0; shard < leased_by.size(); ++shard) {
      if (leased_by[shard] > 0) post_revoke(shard);
    }
    settle_close();
    changed();
    check();
    return {};
  }

  // ---- leases (home shard only) ----
  // Lends `shard` up to kMaxLease slots, half of the free room at most, so other senders
  // keep room too. Nothing on a closed or unbuffered channel.
  uint32_t lend(uint32_t shard) {
    if (closed || !has_room()) return 0;
    const size_t room = capacity - buffer.size() - leased;
    const auto n = static_cast<uint32_t>(std::min<size_t>(kMaxLease, room / 2));
    leased += n;
    leased_by[shard] += n;
    check_leases();
    return n;
  }
  // Values sent under lease from `shard`, and slots it gives back unused.
  void take_shipment(uint32_t shard, std::vector<T>& values, uint32_t returned) {
    const size_t settled = values.size() + returned;
    RINGO_ASSERT(settled <= leased_by[shard], "a shard settles no more than it was lent");
    leased -= settled;
    leased_by[shard] -= static_cast<uint32_t>(settled);
    for (T& v : values) {
      if (RecvWaiter<T>* w = receivers_waiting.pop_front()) {
        w->emplace(std::move(v));
        wake(w);
      } else {
        buffer.push_back(std::move(v));  // the lease reserved this slot, even after a close
      }
    }
    if (!closed) admit_waiting_senders();
    settle_close();
    changed();
    check_leases();
    check();
  }
  // A lease that can never come back (its shard is gone).
  void write_off(uint32_t shard) {
    leased -= leased_by[shard];
    leased_by[shard] = 0;
    if (!closed) admit_waiting_senders();
    settle_close();
    changed();
    check_leases();
  }
  // Asks `shard` to give its lease back (Revoke, below); written off if it is gone.
  void post_revoke(uint32_t shard);
};

template <class T>
void release_state(ChanState<T>* s) {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
}

// Sent by the home shard on close: give back the lease now.
template <class T>
struct Revoke final : Envelope {
  ChanState<T>* st;
  explicit Revoke(ChanState<T>* s) : st(s) { st->refs.fetch_add(1, std::memory_order_relaxed); }
  ~Revoke() override { release_state(st); }
  void deliver(Shard& here) override {
    if (LeaseHolder* holder = st->outboxes[here.index()].get()) holder->give_back(here);
    delete this;
  }
  // reject: that shard is stopping; its final tick hooks give the lease back.
};

template <class T>
void ChanState<T>::post_revoke(uint32_t shard) {
  auto* env = new Revoke<T>(this);
  if (!home->post(shard, env)) {
    delete env;
    write_off(shard);  // that shard is gone: its lease cannot come back
  }
}

}  // namespace ringo::detail
