// send/recv on a channel homed on another shard, and the leases that make a stream of
// remote sends cheap. Internal to chan.hpp.
//
// A request travels to the home shard as one envelope in its inbox (a MSG_RING doorbell
// only if that shard sleeps), is tried at once, and if it must wait it parks in the
// channel's queue as an ordinary waiter (chan_waiter.hpp) whose wake answers it: no
// routine is spawned for it. The same envelope carries the answer back. Cancelling the
// caller posts a cancel by id; a request already answered ignores it, so the caller always
// gets exactly one answer: the result, cancelled, or shard_stopped. A send that did not
// happen brings its value back.
//
// Leases: a remote send that succeeds at home is answered with a lease of buffer slots
// (ChanState::lend). Later sends from that shard complete at once into its Outbox, which
// ships them home in one envelope at the end of the tick, and asks for the next lease
// (TopUp) when half of the last one is used. A shard gives back what it did not use after
// a tick without sends, when it must ask again (so its values stay in order), when it
// closes the channel, when the home shard revokes the lease on close (ChanState's Revoke,
// through the LeaseHolder interface), and when it stops. Receivers see a close only once
// every lease is back, so no value sent under a lease is lost or seen after the close.
#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "ringo/chan_types.hpp"
#include "ringo/cross_shard.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/chan_state.hpp"
#include "ringo/task.hpp"

namespace ringo::detail {

// What both remote requests share: the route there and back, parking, cancel and stop.
// Derived must provide `try_now()` (true: answered), `queue()` (its wait queue),
// `finish()` (on the caller's shard, fills the awaiter) and `fail_with(error)`.
// Waiter: SendWaiter<T> or RecvWaiter<T>, whose wake (on_wake) answers the request.
template <class T, class Derived, class Waiter>
struct RemoteRequest : Envelope, ParkedRequest {
  ChanState<T>* st;
  Routine* caller;
  uint32_t caller_shard;
  uint64_t id;
  Waiter waiter;
  bool answered = false;

  // waiter_args: what the waiter is made of (a send's value).
  template <class... A>
  RemoteRequest(ChanState<T>* s, Routine* r, uint32_t from, uint64_t call_id, A&&... waiter_args)
      : st(s), caller(r), caller_shard(from), id(call_id), waiter(std::forward<A>(waiter_args)...) {
    st->refs.fetch_add(1, std::memory_order_relaxed);
    waiter.prev = waiter.next = nullptr;
    waiter.wake = &RemoteRequest::on_wake;
    waiter.owner = this;
  }
  ~RemoteRequest() override { release_state(st); }

  Derived& self() { return static_cast<Derived&>(*this); }

  void deliver(Shard& here) override {
    if (answered) {  // back on the caller's shard
      self().finish();
      here.unpark(caller);
      delete this;
      return;
    }
    if (self().try_now()) return answer(here);
    if (!here.park_request(id, this)) {  // max_callers requests wait here already
      self().fail_with(errc::queue_full);
      return answer(here);
    }
    self().park();  // a parked request is also a counterpart for subscribed selects
  }
  void reject(Shard& here) override {
    if (answered) {
      self().answer_lost(here);  // the caller's shard is stopping with its routines
      delete this;
    } else {
      self().fail_with(errc::shard_stopped);
      answer(here);
    }
  }
  // The waiter's wake: the channel has settled the request.
  static void on_wake(ChanWaiter* w, Shard& home) {
    auto* self = static_cast<RemoteRequest*>(w->owner);
    home.unpark_request(self->id);
    self->answer(home);
  }
  void cancel(Shard& home) override { give_up(home, errc::cancelled); }
  void stop(Shard& home) override { give_up(home, errc::shard_stopped); }

  void give_up(Shard& home, errc why) {
    RINGO_ASSERT(self().queue().contains(&waiter), "a parked request is queued until it is woken");
    self().queue().remove(&waiter);
    home.unpark_request(id);
    self().fail_with(why);
    answer(home);
  }
  void answer(Shard& home) {
    self().before_answer(home);
    answered = true;
    if (!home.post(caller_shard, this)) {  // the caller's shard is gone
      self().answer_undeliverable(home);
      delete this;
    }
  }
  // Defaults: nothing to settle.
  void before_answer(Shard&) {}
  void answer_lost(Shard&) {}
  void answer_undeliverable(Shard&) {}
};

// Values a shard sent under lease, and lease slots it gives back, on their way home.
template <class T>
struct Shipment final : Envelope {
  ChanState<T>* st;
  uint32_t from;
  std::vector<T> values;
  uint32_t returned;

  Shipment(ChanState<T>* s, uint32_t shard, std::vector<T> v, uint32_t back)
      : st(s), from(shard), values(std::move(v)), returned(back) {
    st->refs.fetch_add(1, std::memory_order_relaxed);
  }
  ~Shipment() override { release_state(st); }
  void deliver(Shard&) override {
    st->take_shipment(from, values, returned);
    delete this;
  }
  // reject: the home shard is stopping, and the values go with its buffer.
};

// A shard's side of its lease on one channel: credit left, and what was sent under it.
// Owned by the channel's state (ChanState::outboxes[shard]); used by that shard only.
template <class T>
struct Outbox final : LeaseHolder {
  ChanState<T>* st;
  uint32_t credit = 0;
  std::vector<T> batch;
  bool registered = false;
  bool sent_this_tick = false;
  bool asking = false;      // a TopUp is on its way
  uint32_t last_lease = 0;  // the size of the last lease received

  explicit Outbox(ChanState<T>* s) : st(s) {}

  static Outbox& of(ChanState<T>* st, Shard& here) {
    std::unique_ptr<LeaseHolder>& slot = st->outboxes[here.index()];
    if (slot == nullptr) slot = std::make_unique<Outbox>(st);
    return static_cast<Outbox&>(*slot);
  }

  // A send under lease: done at once, shipped at the end of the tick. Half-way through a
  // lease the outbox asks for the next one, so a steady stream never waits a round trip.
  bool try_send(Shard& here, T& value) {
    if (credit == 0) return false;
    --credit;
    batch.push_back(std::move(value));
    sent_this_tick = true;
    hold(here);
    if (credit == last_lease / 2 && !asking) ask_more(here);
    return true;
  }
  void ask_more(Shard& here);
  void add_credit(Shard& here, uint32_t n) {
    if (n == 0) return;
    credit += n;
    last_lease = n;
    hold(here);
  }
  // Posts the batch home (and the unused credit, if give_back). Called before any other
  // message this shard sends about the channel, so the home shard sees sends in order.
  void ship(Shard& here, bool give_back) {
    const uint32_t back = give_back ? std::exchange(credit, 0) : 0;
    if (batch.empty() && back == 0) return;
    auto* env = new Shipment<T>(st, here.index(), std::move(batch), back);
    batch = {};
    if (!here.post(st->home->index(), env)) delete env;  // home gone, and its buffer with it
  }
  void give_back(Shard& here) override { ship(here, /*give_back=*/true); }

  bool at_tick_end(Shard& here, bool final) override {
    ship(here, final || !sent_this_tick);
    sent_this_tick = false;
    if (credit > 0 || !batch.empty()) return true;
    registered = false;
    release_state(st);  // may delete st, and this outbox with it
    return false;
  }

 private:
  void hold(Shard& here) {
    if (registered) return;
    registered = true;
    st->refs.fetch_add(1, std::memory_order_relaxed);  // an outbox with credit keeps st alive
    here.add_tick_hook(this);
  }
};

// Asks the home shard for more lease, and brings the answer back.
template <class T>
struct TopUp final : Envelope {
  ChanState<T>* st;
  uint32_t from;
  uint32_t lent = 0;
  bool answered = false;

  TopUp(ChanState<T>* s, uint32_t shard) : st(s), from(shard) { st->refs.fetch_add(1, std::memory_order_relaxed); }
  ~TopUp() override { release_state(st); }
  void deliver(Shard& here) override {
    if (!answered) {
      lent = st->lend(from);
      answered = true;
      if (!here.post(from, this)) {
        st->write_off(from);  // that shard is gone, with all it held
        delete this;
      }
      return;
    }
    Outbox<T>& ob = Outbox<T>::of(st, here);
    ob.asking = false;
    ob.add_credit(here, lent);
    delete this;
  }
  void reject(Shard& here) override {
    if (answered && lent > 0) {  // the asking shard is stopping: the lease goes back
      auto* back = new Shipment<T>(st, here.index(), {}, lent);
      if (!here.post(st->home->index(), back)) delete back;
    }
    delete this;
  }
};

template <class T>
void Outbox<T>::ask_more(Shard& here) {
  // The batch still goes at the end of the tick: shipping it here as well measured slower.
  auto* env = new TopUp<T>(st, here.index());
  if (here.post(st->home->index(), env)) {
    asking = true;
  } else {
    delete env;
  }
}

// What the two remote awaiters share: the channel, the request's id, posting the request
// and parking the caller, and the cancel that follows the request by id.
template <class T>
struct RemoteAwaiterBase {
  ChanState<T>* st;
  uint64_t id = 0;

  // On error the caller keeps env and is not parked.
  Result<void> post_and_park(Shard& here, Routine* me, std::coroutine_handle<> h, Envelope* env, const WaitKind& kind) {
    // New work for the home shard: queue_full when its inbox holds its limit.
    if (auto posted = here.post_request(st->home->index(), env); !posted) return posted;
    here.park(me, h, kind, this);
    return {};
  }
  static WaitInfo describe_send(const void* ctx) {
    return {"chan send (remote)", static_cast<const RemoteAwaiterBase*>(ctx)->st->id};
  }
  static WaitInfo describe_recv(const void* ctx) {
    return {"chan recv (remote)", static_cast<const RemoteAwaiterBase*>(ctx)->st->id};
  }
  // The answer always comes (the result, cancelled, or shard_stopped): keep waiting for it.
  static void on_cancel(Routine* me, void* ctx) {
    auto* self = static_cast<RemoteAwaiterBase*>(ctx);
    post_cancel_call(*me->shard, self->st->home->index(), self->id);
  }
  static constexpr WaitKind kSendWait{&RemoteAwaiterBase::on_cancel, &RemoteAwaiterBase::describe_send};
  static constexpr WaitKind kRecvWait{&RemoteAwaiterBase::on_cancel, &RemoteAwaiterBase::describe_recv};
};

template <class T>
struct RemoteSend;

// The value and the outcome travel in the waiter (SendWaiter), in place.
template <class T>
struct RemoteSendEnvelope final : RemoteRequest<T, RemoteSendEnvelope<T>, SendWaiter<T>> {
  using Base = RemoteRequest<T, RemoteSendEnvelope<T>, SendWaiter<T>>;
  RemoteSend<T>* awaiter;  // dereferenced only on the caller's shard
  uint32_t lease = 0;      // slots lent with a successful answer

  RemoteSendEnvelope(RemoteSend<T>* a, ChanState<T>* s, Routine* r, uint32_t from, uint64_t id, T v)
      : Base(s, r, from, id, std::move(v)), awaiter(a) {}
  WaiterQueue<SendWaiter<T>>& queue() { return this->st->senders_waiting; }
  void park() { this->st->park_sender(&this->waiter); }
  bool try_now() {
    switch (this->st->try_send(this->waiter.value)) {
      case Attempt::done: return true;
      case Attempt::closed: return this->waiter.fail(errc::channel_closed), true;
      case Attempt::would_block: return false;
    }
    return true;
  }
  void fail_with(errc why) { this->waiter.fail(why); }
  void before_answer(Shard&) {
    if (!this->waiter.failed()) lease = this->st->lend(this->caller_shard);
  }
  // A lease that never reaches its shard goes back at once.
  void answer_undeliverable(Shard&) {
    if (lease > 0) this->st->write_off(this->caller_shard);
  }
  void answer_lost(Shard& here) {
    if (lease == 0) return;
    auto* env = new Shipment<T>(this->st, here.index(), {}, lease);
    if (!here.post(this->st->home->index(), env)) delete env;
  }
  void finish();
};

template <class T>
struct RemoteSend : RemoteAwaiterBase<T> {
  T value;
  std::error_code error{};

  bool await_ready() {
    Routine* me = this_routine();
    if (me == nullptr) return error = make_error_code(errc::not_in_runtime), true;
    if (me->should_cancel()) return error = make_error_code(errc::cancelled), true;
    return Outbox<T>::of(this->st, *me->shard).try_send(*me->shard, value);
  }
  bool await_suspend(std::coroutine_handle<> h) {
    Routine* me = this_routine();
    Shard& here = *me->shard;
    Outbox<T>::of(this->st, here).ship(here, /*give_back=*/false);  // earlier sends go first
    this->id = here.next_call_id();
    auto* env = new RemoteSendEnvelope<T>(this, this->st, me, here.index(), this->id, std::move(value));
    if (auto parked = this->post_and_park(here, me, h, env, this->kSendWait); !parked) {
      value = std::move(env->waiter.value);
      error = parked.error();
      delete env;
      return false;
    }
    return true;
  }
  SendResult<T> await_resume() {
    if (error) return std::unexpected(Rejected<T>{error, std::move(value)});
    return {};
  }
};

template <class T>
void RemoteSendEnvelope<T>::finish() {
  if (this->waiter.failed()) {
    awaiter->error = make_error_code(this->waiter.outcome);
    awaiter->value = std::move(this->waiter.value);
  } else {
    awaiter->error = {};
  }
  Outbox<T>::of(this->st, *current_shard()).add_credit(*current_shard(), lease);
}

template <class T>
struct RemoteRecv;

template <class T>
struct RemoteRecvEnvelope final : RemoteRequest<T, RemoteRecvEnvelope<T>, RecvWaiter<T>> {
  using Base = RemoteRequest<T, RemoteRecvEnvelope<T>, RecvWaiter<T>>;
  RemoteRecv<T>* awaiter;  // dereferenced only on the caller's shard; the result is in the waiter

  RemoteRecvEnvelope(RemoteRecv<T>* a, ChanState<T>* s, Routine* r, uint32_t from, uint64_t id)
      : Base(s, r, from, id), awaiter(a) {}
  WaiterQueue<RecvWaiter<T>>& queue() { return this->st->receivers_waiting; }
  void park() { this->st->park_receiver(&this->waiter); }
  bool try_now() { return this->st->try_recv(this->waiter) != Attempt::would_block; }
  void fail_with(errc why) { this->waiter.fail(why); }
  void finish();
};

template <class T>
struct RemoteRecv : RemoteAwaiterBase<T> {
  std::optional<Result<T>> slot{};

  bool await_ready() {
    Routine* me = this_routine();
    if (me == nullptr) return slot.emplace(fail(errc::not_in_runtime)), true;
    if (me->should_cancel()) return slot.emplace(fail(errc::cancelled)), true;
    return false;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    Routine* me = this_routine();
    Shard& here = *me->shard;
    this->id = here.next_call_id();
    auto* env = new RemoteRecvEnvelope<T>(this, this->st, me, here.index(), this->id);
    if (auto parked = this->post_and_park(here, me, h, env, this->kRecvWait); !parked) {
      slot.emplace(std::unexpected(parked.error()));
      delete env;
      return false;
    }
    return true;
  }
  Result<T> await_resume() { return std::move(*slot); }
};

template <class T>
void RemoteRecvEnvelope<T>::finish() {
  awaiter->slot.emplace(this->waiter.take());
}

}  // namespace ringo::detail
