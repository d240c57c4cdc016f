// A channel's state on its home shard: the buffer, the wait queues and the home-shard
// awaiters. Internal to chan.hpp; only the home shard touches anything here except the
// reference counts.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "ringo/core/intrusive_list.hpp"
#include "ringo/core/ring_buffer.hpp"
#include "ringo/core/task.hpp"

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

namespace detail {

struct SelectCore;
void select_fire(SelectCore* core, uint32_t case_index);
// A close made case `woken` of a parked select ready: the case to complete, uniform among
// its cases on `channel` that are ready now (a recv and a send, or duplicates).
uint32_t select_pick_on_close(SelectCore* core, uint32_t woken, const void* channel);
void select_complete_other(SelectCore* core, uint32_t case_index);

// A case of a select over channels of several shards, subscribed on its channel's home
// shard (select_shards.hpp). It takes nothing by itself: the channel tells its arm when
// it may have become ready, and the arm claims the select before it acts.
struct HomeArm;
struct SubWaiter {
  SubWaiter* prev;
  SubWaiter* next;
  HomeArm* arm;
  uint32_t index;  // the case within its arm
};
using SubList = IntrusiveList<SubWaiter, &SubWaiter::prev, &SubWaiter::next>;
void sub_poked(HomeArm* arm);

// A waiter that stands for a request from another shard (chan_remote.hpp): woken() runs
// on the home shard when the waiter is satisfied or the channel closes.
struct RemoteWaiter {
  virtual void woken(Shard& home) = 0;

 protected:
  ~RemoteWaiter() = default;
};

// Who a waiter stands for: a routine, one case of a select, or a request from another shard.
enum class WaiterKind : uint8_t { routine, select, remote };

// One blocked operation in a channel's wait queue. Only what every waiter needs: the
// links, the owner (one word: a waiter has exactly one kind of owner) and, in the
// padding, the select's case index, the kind and a receiver's `full` bit. What a side
// hands over lives in the derived waiters below: a sender's value and error
// (SendWaiter), a receiver's result (RecvWaiter: in place; SelectRecvWaiter: a pointer
// to the case's optional). senders_waiting holds SendWaiters, receivers_waiting the
// other two. No default member initialisers on purpose: the awaiters leave theirs unset
// until they park (most sends, receives and selects finish at once, and zeroing the
// waiter each time was a measurable part of them).
template <class T>
struct ChanWaiter {
  ChanWaiter* prev;
  ChanWaiter* next;
  union {
    Routine* routine;      // kind routine
    SelectCore* select;    // kind select: this waiter is case `case_index` of a select
    RemoteWaiter* remote;  // kind remote: a request from another shard
  };
  union {
    uint32_t case_index;  // kind select
    errc error;           // kind routine, failed: why (SendWaiter, RecvWaiter)
  };
  WaiterKind kind;
  bool full;    // RecvWaiter: its result is there
  bool failed;  // RecvWaiter: and it is an error; SendWaiter: the send failed
};

// A routine's sender: the value in place, and on failure the reason in the base (a
// close is the only one the channel writes). The base is left unset.
template <class T>
struct SendWaiter : ChanWaiter<T> {
  T value;
  SendWaiter(T v, errc refusal) noexcept(std::is_nothrow_move_constructible_v<T>) : value(std::move(v)) {
    this->failed = refusal != errc::ok;
    this->error = refusal;
  }
  // Awaiters move (with_deadline) only before they park.
  SendWaiter(SendWaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : value(std::move(o.value)) {
    this->failed = o.failed;
    this->error = o.error;
  }
  SendWaiter& operator=(const SendWaiter&) = delete;
  ~SendWaiter() = default;
};

// A select's send case, or a request from another shard: the value and the error where
// their owner keeps them.
template <class T>
struct SendWaiterRef : ChanWaiter<T> {
  T* value;
  std::error_code* error;
};

// A select's receive case: the value goes to the case's optional.
template <class T>
struct SelectRecvWaiter : ChanWaiter<T> {
  std::optional<Result<T>>* slot;
};

// A routine's (or a remote request's) receiver: the result is written in place, next to
// the links, as a value or an errc (every error a receive can end with is one of ours),
// not as a Result<T>, whose error_code takes 16 bytes; `full` and `failed` (in the
// base's padding) say which. The base is left unset.
template <class T>
struct RecvWaiter : ChanWaiter<T> {
  union {
    T value;     // full && !failed
    errc error;  // full && failed
  };
  RecvWaiter() noexcept {
    this->full = false;
    this->failed = false;  // read by the move below: never leave a bool unset (UBSan)
  }
  // Awaiters move (with_deadline takes them by value) only before they park: the result
  // moves, the rest stays unset.
  RecvWaiter(RecvWaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    this->full = o.full;
    this->failed = o.full && o.failed;
    if (o.full && !o.failed) {
      std::construct_at(&value, std::move(o.value));
    } else if (o.full) {
      error = o.error;
    }
  }
  RecvWaiter& operator=(const RecvWaiter&) = delete;
  // Trivial when T is (as the optional it replaces): the awaiter's variant then needs no
  // destructor dispatch on every receive.
  ~RecvWaiter() requires std::is_trivially_destructible_v<T>
  = default;
  ~RecvWaiter() { clear(); }

  template <class... A>
  void emplace(A&&... a) {
    clear();
    std::construct_at(&value, std::forward<A>(a)...);
    this->full = true;
    this->failed = false;
  }
  void fail(errc e) noexcept {
    clear();
    error = e;
    this->full = true;
    this->failed = true;
  }
  // The result (full only).
  Result<T> take() {
    if (!this->failed) return Result<T>(std::in_place, std::move(value));
    return ringo::fail(error);
  }

 private:
  void clear() noexcept {
    if constexpr (!std::is_trivially_destructible_v<T>) {
      if (this->full && !this->failed) value.~T();
    }
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

template <class T>
using WaiterList = IntrusiveList<ChanWaiter<T>, &ChanWaiter<T>::prev, &ChanWaiter<T>::next>;

enum class Attempt { done, closed, would_block };

template <class T>
struct Outbox;
template <class T>
struct ChanState;
template <class T>
void post_revoke(ChanState<T>* st, uint32_t shard);

// Up to this many sends a remote shard may complete on its own before asking again.
inline constexpr uint32_t kMaxLease = 256;

template <class T>
struct ChanState {
  // Three cache lines' worth of roles, so that a request from another shard does not pull
  // the home shard's working line across: what never changes (read from every shard),
  // what the home shard changes, and the counts other shards change.
  Shard* home;
  size_t capacity;
  uint64_t id;
  std::vector<Outbox<T>*> outboxes;  // slot i is created and used by shard i only

  alignas(64) RingBuffer<T> buffer;
  bool closed = false;
  // Subscriptions of selects over several shards, in both lists below: next to `closed`,
  // so that a channel nobody subscribed to pays one test of a line it reads anyway.
  uint32_t subs = 0;
  WaiterList<T> receivers_waiting;
  WaiterList<T> senders_waiting;
  // Buffer slots leased to other shards (chan_remote.hpp): values sent there, or that may
  // be sent there, without asking. buffer.size() + leased <= capacity always holds.
  size_t leased = 0;
  std::vector<uint32_t> leased_by;  // per shard; home only
  SubList recv_subs;
  SubList send_subs;

  alignas(64) std::atomic<uint32_t> senders{0};
  std::atomic<uint32_t> refs{0};

  ChanState(Shard* h, size_t cap)
      : home(h),
        capacity(cap),
        id(h->next_call_id()),
        outboxes(h->group().size(), nullptr),
        leased_by(h->group().size(), 0) {}
  ~ChanState();

  [[gnu::always_inline]] void wake(ChanWaiter<T>* w) {
    if (w->kind == WaiterKind::routine) [[likely]] {
      home->unpark(w->routine);
    } else if (w->kind == WaiterKind::select) {
      select_fire(w->select, w->case_index);
    } else {
      w->remote->woken(*home);
    }
  }
  // Hands a receiver its result (before wake: the woken may free the waiter).
  template <class... A>
  [[gnu::always_inline]] static void fill(ChanWaiter<T>* w, A&&... a) {
    if (w->kind == WaiterKind::select) [[unlikely]] {
      static_cast<SelectRecvWaiter<T>*>(w)->slot->emplace(std::forward<A>(a)...);
    } else {
      static_cast<RecvWaiter<T>*>(w)->emplace(std::forward<A>(a)...);
    }
  }
  static void fill_error(ChanWaiter<T>* w, errc e) {
    if (w->kind == WaiterKind::select) [[unlikely]] {
      static_cast<SelectRecvWaiter<T>*>(w)->slot->emplace(ringo::fail(e));
    } else {
      static_cast<RecvWaiter<T>*>(w)->fail(e);
    }
  }
  [[gnu::always_inline]] static T& sent_value(ChanWaiter<T>* w) noexcept {
    if (w->kind == WaiterKind::routine) [[likely]]
      return static_cast<SendWaiter<T>*>(w)->value;
    return *static_cast<SendWaiterRef<T>*>(w)->value;
  }
  static void fail_sender(ChanWaiter<T>* w, errc e) noexcept {
    if (w->kind == WaiterKind::routine) {
      w->error = e;
      w->failed = true;
    } else {
      *static_cast<SendWaiterRef<T>*>(w)->error = make_error_code(e);
    }
  }

  // Anything that may make a case ready calls this: subscribed selects look again.
  void changed() {
    if (subs != 0) [[unlikely]]
      poke_subs();
  }
  [[gnu::noinline, gnu::cold]] void poke_subs() {
    for (SubWaiter* s = recv_subs.front(); s != nullptr; s = SubList::next(s)) sub_poked(s->arm);
    for (SubWaiter* s = send_subs.front(); s != nullptr; s = SubList::next(s)) sub_poked(s->arm);
  }
  void park_sender(ChanWaiter<T>* w) {
    senders_waiting.push_back(w);
    changed();
  }
  void park_receiver(ChanWaiter<T>* w) {
    receivers_waiting.push_back(w);
    changed();
  }

  bool has_room() const noexcept { return buffer.size() + leased < capacity; }
  bool recv_ready() const noexcept { return !buffer.empty() || !senders_waiting.empty() || (closed && leased == 0); }
  bool send_ready() const noexcept { return closed || !receivers_waiting.empty() || has_room(); }

  // Hands v to a waiting receiver or the buffer. On closed or would_block, v is untouched.
  Attempt try_send(T& v) {
    if (closed) return Attempt::closed;
    if (ChanWaiter<T>* w = receivers_waiting.pop_front()) {
      fill(w, std::move(v));
      wake(w);
      return Attempt::done;
    }
    if (has_room()) {
      buffer.push_back(std::move(v));
      changed();
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
      return Attempt::done;
    }
    if (ChanWaiter<T>* w = senders_waiting.pop_front()) {
      out.emplace(std::move(sent_value(w)));
      wake(w);
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
      ChanWaiter<T>* w = senders_waiting.pop_front();
      if (w == nullptr) return;
      buffer.push_back(std::move(sent_value(w)));
      wake(w);
    }
  }

  // Receivers learn of the close only once no leased value can still arrive.
  void settle_close() {
    if (!closed || leased != 0) return;
    while (ChanWaiter<T>* w = receivers_waiting.front()) {
      if (close_chose_another_case(w)) continue;
      receivers_waiting.remove(w);
      fill_error(w, errc::channel_closed);
      wake(w);
    }
  }

  // A select waiting here with several cases this close makes ready completes one of them
  // chosen uniformly (select_case.hpp), not whichever queue is drained first. True when
  // it did; the waiter w (still queued) was then withdrawn with the select's other cases.
  bool close_chose_another_case(ChanWaiter<T>* w) {
    if (w->kind != WaiterKind::select) return false;
    const uint32_t pick = select_pick_on_close(w->select, w->case_index, this);
    if (pick == w->case_index) return false;
    select_complete_other(w->select, pick);
    return true;
  }

  Result<void> close() {
    if (closed) return fail(errc::channel_closed);
    closed = true;
    while (ChanWaiter<T>* w = senders_waiting.front()) {
      if (close_chose_another_case(w)) continue;
      senders_waiting.remove(w);
      fail_sender(w, errc::channel_closed);
      wake(w);
    }
    for (uint32_t shard = 0; shard < leased_by.size(); ++shard) {
      if (leased_by[shard] > 0) post_revoke(this, shard);
    }
    settle_close();
    changed();
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
    return n;
  }
  // Values sent under lease from `shard`, and slots it gives back unused.
  void take_shipment(uint32_t shard, std::vector<T>& values, uint32_t returned) {
    const size_t settled = values.size() + returned;
    leased -= settled;
    leased_by[shard] -= static_cast<uint32_t>(settled);
    for (T& v : values) {
      if (ChanWaiter<T>* w = receivers_waiting.pop_front()) {
        fill(w, std::move(v));
        wake(w);
      } else {
        buffer.push_back(std::move(v));  // the lease reserved this slot, even after a close
      }
    }
    if (!closed) admit_waiting_senders();
    settle_close();
    changed();
  }
  // A lease that can never come back (its shard is gone).
  void write_off(uint32_t shard) {
    leased -= leased_by[shard];
    leased_by[shard] = 0;
    if (!closed) admit_waiting_senders();
    settle_close();
    changed();
  }
};

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

template <class T>
void release_state(ChanState<T>* s) {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
}

// The home-shard half of send: try now, else park until a receiver takes the value. The
// value and the outcome live in the waiter: a blocked send holds the channel pointer,
// four words of waiter and the value.
template <class T>
struct LocalSend {
  // A constructor, not aggregate initialisation, so that the waiter's links are left unset.
  // refusal: the error when s is null (a channel of another runtime is refused this way).
  LocalSend(ChanState<T>* s, T v, errc refusal = errc::no_channel) noexcept(std::is_nothrow_move_constructible_v<T>)
      : st(s), waiter(std::move(v), s == nullptr ? refusal : errc::ok) {}

  ChanState<T>* st;
  SendWaiter<T> waiter;  // value and outcome now; routine: set by await_ready; the rest when it parks

  bool await_ready() {
    if (st == nullptr) return true;  // the waiter holds the refusal
    Routine* me = this_routine();
    if (me == nullptr) return fail(errc::not_in_runtime), true;
    if (me->should_cancel()) return fail(errc::cancelled), true;
    waiter.routine = me;
    switch (st->try_send(waiter.value)) {
      case Attempt::done: return true;
      case Attempt::closed: return fail(errc::channel_closed), true;
      case Attempt::would_block: return false;
    }
    return true;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter.kind = WaiterKind::routine;
    st->park_sender(&waiter);
    st->home->park(waiter.routine, h, kWait, this);
  }
  void fail(errc e) noexcept {
    waiter.error = e;
    waiter.failed = true;
  }
  static WaitInfo describe(const void* ctx) { return {"chan send", static_cast<const LocalSend*>(ctx)->st->id}; }
  static void on_cancel(Routine* r, void* ctx) {
    auto* self = static_cast<LocalSend*>(ctx);
    self->st->senders_waiting.remove(&self->waiter);
    self->fail(errc::cancelled);
    r->shard->unpark(r);
  }
  static constexpr WaitKind kWait{&LocalSend::on_cancel, &LocalSend::describe};
  SendResult<T> await_resume() {
    if (waiter.failed) return std::unexpected(Rejected<T>{make_error_code(waiter.error), std::move(waiter.value)});
    return {};
  }
};

// The home-shard half of recv. The result is written into the waiter (RecvWaiter), so a
// blocked receive holds the channel pointer, four words of waiter and the value.
template <class T>
struct LocalRecv {
  // Leaves `waiter` unset. refusal: the error when s is null.
  explicit LocalRecv(ChanState<T>* s, errc refusal = errc::no_channel) noexcept : st(s) {
    if (s == nullptr) waiter.fail(refusal);
  }

  ChanState<T>* st;
  RecvWaiter<T> waiter;  // routine: set by await_ready; the links and kind when it parks

  bool await_ready() {
    if (st == nullptr) return true;  // the refusal is in the waiter
    Routine* me = this_routine();
    if (me == nullptr) return waiter.fail(errc::not_in_runtime), true;
    if (me->should_cancel()) return waiter.fail(errc::cancelled), true;
    waiter.routine = me;
    return st->try_recv(waiter) != Attempt::would_block;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter.kind = WaiterKind::routine;
    st->park_receiver(&waiter);
    st->home->park(waiter.routine, h, kWait, this);
  }
  static WaitInfo describe(const void* ctx) { return {"chan recv", static_cast<const LocalRecv*>(ctx)->st->id}; }
  static void on_cancel(Routine* r, void* ctx) {
    auto* self = static_cast<LocalRecv*>(ctx);
    self->st->receivers_waiting.remove(&self->waiter);
    self->waiter.fail(errc::cancelled);
    r->shard->unpark(r);
  }
  static constexpr WaitKind kWait{&LocalRecv::on_cancel, &LocalRecv::describe};
  // Field by field, not one copy of a whole Result: try_recv has just written it with
  // narrow stores, and a wide load over them misses store forwarding (perf: most of
  // SPSC's receive loop stalled on that load).
  Result<T> await_resume() { return waiter.take(); }
};

}  // namespace detail
}  // namespace ringo
