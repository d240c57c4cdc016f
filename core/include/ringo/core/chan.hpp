// Channels with Go semantics: chan<T>(0) is an unbuffered rendezvous, chan<T>(n) is bounded,
// chan<T>(unbounded) never blocks a sender. Sender and Receiver are cloneable (MPMC) and
// usable from any shard.
//
//   auto ch = ringo::chan<int>(8);            // Result<Channel<int>>
//   auto [tx, rx] = std::move(*ch);
//   co_await tx.send(1);                      // SendResult<int>: ok or Rejected{error, value}
//   ringo::Result<int> v = co_await rx.recv(); // value, or errc::channel_closed once drained
//
// Every channel lives on its home shard (the shard that created it): its buffer and wait
// queues are touched by that shard only, with no lock or atomic on the path. send/recv
// from another shard travel to the home shard as a cross-shard call (MSG_RING doorbell)
// and obey the same cancellation contract: a value already taken is delivered.
//
// Errors: channel_closed (send after close: the value is handed back in Rejected; recv
// after close once the buffer is drained), channel_full / channel_empty (try_*),
// no_channel (empty handle), invalid_argument (capacity above kMaxChannelCapacity),
// not_in_runtime, cancelled, wrong_shard (try_* or select off the home shard),
// shard_stopped (home shard gone; the value of a send in flight is then lost).
//
// Element types must be movable and default-constructible (the default stands in for a
// value lost with a failed cross-shard send).
//
// Thread-safety: handles may be copied, moved and dropped on any shard (the reference
// counts are atomic); operations follow the rules above. The channel closes itself when
// its last Sender is dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "ringo/core/cross_shard.hpp"
#include "ringo/core/intrusive_list.hpp"
#include "ringo/core/ring_buffer.hpp"
#include "ringo/core/task.hpp"

namespace ringo {

inline constexpr size_t unbounded = SIZE_MAX;
inline constexpr size_t kMaxChannelCapacity = size_t{1} << 30;

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

template <class T>
struct ChanWaiter {
  ChanWaiter* prev = nullptr;
  ChanWaiter* next = nullptr;
  Routine* routine = nullptr;
  SelectCore* select = nullptr;  // non-null: this waiter is one case of a select
  uint32_t case_index = 0;
  std::optional<Result<T>>* recv_slot = nullptr;  // receiver: where the value goes
  T* send_value = nullptr;                        // sender: the value to hand over
  std::error_code* send_error = nullptr;          // sender: set on close
};

template <class T>
using WaiterList = IntrusiveList<ChanWaiter<T>, &ChanWaiter<T>::prev, &ChanWaiter<T>::next>;

enum class Attempt { done, closed, would_block };

template <class T>
struct ChanState {
  Shard* home;
  size_t capacity;
  uint64_t id;
  RingBuffer<T> buffer;
  bool closed = false;
  WaiterList<T> receivers_waiting;
  WaiterList<T> senders_waiting;
  std::atomic<uint32_t> senders{0};
  std::atomic<uint32_t> refs{0};

  ChanState(Shard* h, size_t cap) : home(h), capacity(cap), id(h->next_call_id()) {}

  void wake(ChanWaiter<T>* w) {
    if (w->select != nullptr) {
      select_fire(w->select, w->case_index);
    } else {
      home->unpark(w->routine);
    }
  }

  bool recv_ready() const noexcept { return !buffer.empty() || !senders_waiting.empty() || closed; }
  bool send_ready() const noexcept { return closed || !receivers_waiting.empty() || buffer.size() < capacity; }

  // Hands v to a waiting receiver or the buffer. On closed or would_block, v is untouched.
  Attempt try_send(T& v) {
    if (closed) return Attempt::closed;
    if (ChanWaiter<T>* w = receivers_waiting.pop_front()) {
      w->recv_slot->emplace(std::move(v));
      wake(w);
      return Attempt::done;
    }
    if (buffer.size() < capacity) {
      buffer.push_back(std::move(v));
      return Attempt::done;
    }
    return Attempt::would_block;
  }

  // Takes the oldest value (buffer first, then a waiting sender), or reports the close.
  Attempt try_recv(std::optional<Result<T>>& out) {
    if (!buffer.empty()) {
      out.emplace(std::move(buffer.front()));
      buffer.pop_front();
      if (ChanWaiter<T>* w = senders_waiting.pop_front()) {
        buffer.push_back(std::move(*w->send_value));
        wake(w);
      }
      return Attempt::done;
    }
    if (ChanWaiter<T>* w = senders_waiting.pop_front()) {
      out.emplace(std::move(*w->send_value));
      wake(w);
      return Attempt::done;
    }
    if (closed) {
      out.emplace(fail(errc::channel_closed));
      return Attempt::closed;
    }
    return Attempt::would_block;
  }

  Result<void> close() {
    if (closed) return fail(errc::channel_closed);
    closed = true;
    while (ChanWaiter<T>* w = receivers_waiting.pop_front()) {
      w->recv_slot->emplace(fail(errc::channel_closed));
      wake(w);
    }
    while (ChanWaiter<T>* w = senders_waiting.pop_front()) {
      *w->send_error = make_error_code(errc::channel_closed);
      wake(w);
    }
    return {};
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

// Runs the home-shard awaiter A(args...) as a Task there (the remote path of send/recv).
template <class A, class R, class... Args>
Task<R> run_at_home(Args... args) {
  A awaiter{std::move(args)...};  // its own statement: see spawn_on_proxy about GCC 12
  co_return co_await awaiter;
}

// The home-shard half of send: try now, else park until a receiver takes the value.
template <class T>
struct LocalSend {
  ChanState<T>* st;
  T value;
  Routine* me = nullptr;
  ChanWaiter<T> waiter{};
  std::error_code error{};

  bool await_ready() {
    if (st == nullptr) return error = make_error_code(errc::no_channel), true;
    me = this_routine();
    if (me == nullptr) return error = make_error_code(errc::not_in_runtime), true;
    if (me->should_cancel()) return error = make_error_code(errc::cancelled), true;
    switch (st->try_send(value)) {
      case Attempt::done: return true;
      case Attempt::closed: return error = make_error_code(errc::channel_closed), true;
      case Attempt::would_block: return false;
    }
    return true;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter.routine = me;
    waiter.send_value = &value;
    waiter.send_error = &error;
    st->senders_waiting.push_back(&waiter);
    st->home->park(me, h, "chan send", st->id, &LocalSend::on_cancel, this);
  }
  static void on_cancel(Routine* r, void* ctx) {
    auto* self = static_cast<LocalSend*>(ctx);
    self->st->senders_waiting.remove(&self->waiter);
    self->error = make_error_code(errc::cancelled);
    r->shard->unpark(r);
  }
  SendResult<T> await_resume() {
    if (error) return std::unexpected(Rejected<T>{error, std::move(value)});
    return {};
  }
};

template <class T>
struct LocalRecv {
  ChanState<T>* st;
  Routine* me = nullptr;
  ChanWaiter<T> waiter{};
  std::optional<Result<T>> slot{};

  bool await_ready() {
    if (st == nullptr) return slot.emplace(fail(errc::no_channel)), true;
    me = this_routine();
    if (me == nullptr) return slot.emplace(fail(errc::not_in_runtime)), true;
    if (me->should_cancel()) return slot.emplace(fail(errc::cancelled)), true;
    return st->try_recv(slot) != Attempt::would_block;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter.routine = me;
    waiter.recv_slot = &slot;
    st->receivers_waiting.push_back(&waiter);
    st->home->park(me, h, "chan recv", st->id, &LocalRecv::on_cancel, this);
  }
  static void on_cancel(Routine* r, void* ctx) {
    auto* self = static_cast<LocalRecv*>(ctx);
    self->st->receivers_waiting.remove(&self->waiter);
    self->slot.emplace(fail(errc::cancelled));
    r->shard->unpark(r);
  }
  Result<T> await_resume() { return std::move(*slot); }
};

template <class T>
struct RemoteSendThunk {
  ChanState<T>* st;
  T value;
  Task<SendResult<T>> operator()() { return run_at_home<LocalSend<T>, SendResult<T>>(st, std::move(value)); }
};
template <class T>
struct RemoteRecvThunk {
  ChanState<T>* st;
  Task<Result<T>> operator()() { return run_at_home<LocalRecv<T>, Result<T>>(st); }
};

// One awaiter for both paths: local (home shard) or forwarded (other shard).
template <class Local, class Thunk, class Out>
struct EitherAwaiter {
  using Remote = decltype(submit_to(0u, std::declval<Thunk>()));
  std::optional<Local> local;
  std::unique_ptr<Remote> remote;  // heap only on the (slow) cross-shard path

  bool await_ready() { return local ? local->await_ready() : remote->await_ready(); }
  auto await_suspend(std::coroutine_handle<> h) {
    if (local) {
      local->await_suspend(h);
      return true;
    }
    return remote->await_suspend(h);
  }
  Out await_resume() {
    if (local) return local->await_resume();
    auto r = remote->await_resume();
    if constexpr (std::is_same_v<decltype(r), Out>) {
      return r;
    } else {
      // A send whose call failed (home shard stopped, or cancelled before it ran there):
      // the value was lost with the call, so a default value stands in.
      if (r) return std::move(*r);
      return std::unexpected(typename Out::error_type{r.error(), {}});
    }
  }
};

// What Sender and Receiver share: the state pointer and the read-only observers.
template <class T>
class ChanHandle {
 public:
  bool valid() const noexcept { return st_ != nullptr; }
  bool is_closed() const noexcept { return st_ == nullptr || st_->closed; }
  size_t capacity() const noexcept { return st_ != nullptr ? st_->capacity : 0; }
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
    EitherAwaiter<LocalSend<T>, RemoteSendThunk<T>, SendResult<T>> a;
    if (st_ == nullptr || current_shard() == nullptr || current_shard() == st_->home) {
      a.local.emplace(LocalSend<T>{st_, std::move(value)});
    } else {
      a.remote = std::make_unique<typename decltype(a)::Remote>(
          submit_to(st_->home->index(), RemoteSendThunk<T>{st_, std::move(value)}));
    }
    return a;
  }

  // Home shard only: sends if it can without waiting.
  SendResult<T> try_send(T value) {
    if (st_ == nullptr) return std::unexpected(Rejected<T>{make_error_code(errc::no_channel), std::move(value)});
    if (current_shard() != st_->home) {
      return std::unexpected(Rejected<T>{make_error_code(errc::wrong_shard), std::move(value)});
    }
    switch (st_->try_send(value)) {
      case detail::Attempt::done: return {};
      case detail::Attempt::closed:
        return std::unexpected(Rejected<T>{make_error_code(errc::channel_closed), std::move(value)});
      case detail::Attempt::would_block: break;
    }
    return std::unexpected(Rejected<T>{make_error_code(errc::channel_full), std::move(value)});
  }

  // Home shard: closes now. Another shard: the close is posted to the home shard.
  Result<void> close() {
    if (st_ == nullptr) return fail(errc::no_channel);
    Shard* here = current_shard();
    if (here == st_->home) return st_->close();
    if (here == nullptr) return fail(errc::not_in_runtime);
    st_->refs.fetch_add(1, std::memory_order_relaxed);
    auto* env = new detail::CloseEnvelope<T>(st_);
    if (auto posted = here->post(st_->home->index(), env); !posted) {
      delete env;
      detail::release_state(st_);
      return posted;
    }
    return {};
  }

 private:
  template <class U>
  friend Result<std::pair<Sender<U>, Receiver<U>>> chan(size_t);
  explicit Sender(detail::ChanState<T>* st) noexcept : detail::ChanHandle<T>(st) { retain(); }

  void retain() noexcept {
    if (st_ == nullptr) return;
    st_->senders.fetch_add(1, std::memory_order_relaxed);
    st_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void drop() noexcept {
    if (st_ == nullptr) return;
    detail::ChanState<T>* st = std::exchange(st_, nullptr);
    if (st->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The last sender closes the channel, on its home shard.
      Shard* here = current_shard();
      if (here == st->home || here == nullptr) {
        if (here == st->home) {
          (void)st->close();
        } else {
          st->closed = true;  // no runtime on this thread: nobody can be waiting here
        }
      } else {
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
    EitherAwaiter<LocalRecv<T>, RemoteRecvThunk<T>, Result<T>> a;
    if (st_ == nullptr || current_shard() == nullptr || current_shard() == st_->home) {
      a.local.emplace(LocalRecv<T>{st_});
    } else {
      a.remote = std::make_unique<typename decltype(a)::Remote>(submit_to(st_->home->index(), RemoteRecvThunk<T>{st_}));
    }
    return a;
  }

  // Home shard only: a value if one is ready now.
  Result<T> try_recv() {
    if (st_ == nullptr) return fail(errc::no_channel);
    if (current_shard() != st_->home) return fail(errc::wrong_shard);
    std::optional<Result<T>> out;
    if (st_->try_recv(out) == detail::Attempt::would_block) return fail(errc::channel_empty);
    return std::move(*out);
  }

 private:
  template <class U>
  friend Result<std::pair<Sender<U>, Receiver<U>>> chan(size_t);
  explicit Receiver(detail::ChanState<T>* st) noexcept : detail::ChanHandle<T>(st) { retain(); }
  void retain() noexcept {
    if (st_ != nullptr) st_->refs.fetch_add(1, std::memory_order_relaxed);
  }
};

// A new channel homed on the current shard. capacity: 0 (unbuffered), n, or unbounded.
template <class T>
Result<std::pair<Sender<T>, Receiver<T>>> chan(size_t capacity) {
  Shard* here = current_shard();
  if (here == nullptr) return fail(errc::not_in_runtime);
  if (capacity != unbounded && capacity > kMaxChannelCapacity) return fail(errc::invalid_argument);
  auto* st = new detail::ChanState<T>(here, capacity);
  return std::pair<Sender<T>, Receiver<T>>(Sender<T>(st), Receiver<T>(st));
}

}  // namespace ringo
