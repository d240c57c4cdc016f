// select over channel cases, with an optional default and an optional timeout, in two
// forms over one engine:
//
//   auto a = ringo::on_recv(rx1);  auto b = ringo::on_send(tx2, 7);
//   Result<size_t> i = co_await ringo::select(a, b, ringo::after(5ms));   // fixed, no allocation
//   if (*i == 0) use(*a.value);
//
//   ringo::Selector sel;                                                  // dynamic
//   auto& c = sel.recv(rx);  sel.default_case();
//   Result<size_t> j = co_await sel.wait();
//
// The index is the case's position (arguments in order; builder calls in order). When
// several cases are ready the choice is uniform at random from the shard's seeded PRNG.
// A select that wins one case leaves nothing in the others: no value consumed, no waiter
// left, its timer cancelled.
//
// Channels on another shard: when all of a select's channels live on one shard, the
// select runs there (a cross-shard call: two MSG_RING hops, and the choice uses that
// shard's PRNG). Over channels of several shards, each home shard watches its cases and
// claims the select before it takes anything (select_shards.hpp): the same semantics,
// including select against select, at one round trip (this shard's channels and one
// other shard's, this shard's cases not ready) or two (otherwise) to the shard whose
// case it takes.
//
// A case on an empty handle (a default-constructed or moved-from Sender or Receiver) is
// Go's nil channel: never ready, as `.when(false)`; a select whose every channel case is
// nil or disabled, with no default or timeout, waits until it is cancelled (Go's
// `select {}`). Plain send/recv on an empty handle are errc::no_channel instead.
//
// Errors: invalid_argument (no case), foreign_runtime (a
// channel of another Runtime), cancelled (the
// routine was aborted; nothing was consumed — unless a case had already been taken,
// which is then the result), not_in_runtime, shard_stopped (a channels' shard stopped),
// queue_full (a channel's home shard already holds ShardConfig::max_callers waiting
// requests from other shards, or its inbox is full).
// A send case on a closed channel is chosen with its error set and its value still in
// the case.
//
// Thread-safety: a select and its cases belong to the routine that awaits them.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <vector>

#include "ringo/chan.hpp"
#include "ringo/cross_shard.hpp"
#include "ringo/internal/core/select_case.hpp"
#include "ringo/internal/core/select_shards.hpp"

namespace ringo {

namespace detail {

struct SelectAwaiter;

// Runs a select on the shard its channels live on, for a routine on another shard.
struct RemoteSelectThunk {
  SelectAwaiter* outer;
  Task<Result<size_t>> operator()();
};

// The select engine over a span of channel cases. default_index / timeout_index are
// positions in the caller's numbering (kNoCase: absent); case i has position pos[i].
// When every channel case lives on one other shard, the whole select runs there as a
// cross-shard call (its cases stay in the caller's frame, which waits parked); channels
// on several shards go through the claim protocol of select_shards.hpp.
struct SelectAwaiter {
  using RemoteCall = decltype(submit_to(0u, std::declval<RemoteSelectThunk>()));

  SelectCore core;
  std::span<const uint32_t> positions;
  std::span<uint32_t> scratch;  // at least cases.size()
  uint32_t default_index = kNoCase;
  Duration timeout{};
  bool only_disabled_cases = false;     // cases were given, all disabled: wait until cancelled
  errc error = errc::ok;                // not a std::error_code: building one costs a call per select
  uint32_t result = kNoCase;            // the position chosen at once, in await_ready
  std::unique_ptr<RemoteCall> remote;   // only for a select over another shard's channels
  std::unique_ptr<SelectTicket> multi;  // only for a select over channels of several shards

  bool await_ready() {
    Routine* me = this_routine();
    if (me == nullptr) return error = errc::not_in_runtime, true;
    if (core.cases.empty() && default_index == kNoCase && core.timeout_index == kNoCase && !only_disabled_cases) {
      return error = errc::invalid_argument, true;
    }
    if (me->should_cancel()) return error = errc::cancelled, true;
    // One pass: every case on one shard, and (when that is this shard) which are ready.
    Shard* home = core.cases.empty() ? me->shard : core.cases[0]->home();
    RINGO_ASSERT(home != nullptr, "a case on an empty handle is disabled, never here");
    const bool local = home == me->shard;
    if (!local && !me->shard->same_runtime(*home)) return error = errc::foreign_runtime, true;
    size_t ready = 0;
    bool one_home = true;
    for (uint32_t i = 0; i < core.cases.size(); ++i) {
      SelectCase* c = core.cases[i];
      if (c->home() != home) {
        if (!me->shard->same_runtime(*c->home())) return error = errc::foreign_runtime, true;
        one_home = false;
      } else if (local && c->ready()) {  // never another shard's channel: that is a race
        scratch[ready++] = i;
      }
    }
    if (!one_home) {
      core.me = me;
      multi = std::make_unique<SelectTicket>();
      return false;
    }
    if (!local) {
      remote = std::make_unique<RemoteCall>(submit_to(home->index(), RemoteSelectThunk{this}));
      return remote->await_ready();
    }
    core.me = me;
    if (ready > 0) {
      const uint32_t pick = scratch[me->shard->prng().below(ready)];
      core.cases[pick]->execute();
      result = positions[pick];
      me->shard->trace(TraceKind::select_choice, me->id, result);
      return true;
    }
    if (default_index != kNoCase) {
      result = default_index;
      me->shard->trace(TraceKind::select_choice, me->id, result);
      return true;
    }
    return false;
  }

  bool await_suspend(std::coroutine_handle<> h) {
    if (remote) return remote->await_suspend(h);
    if (multi) {
      return multi->start(core.me, h, core.cases, default_index != kNoCase, core.timeout_index != kNoCase, timeout);
    }
    Shard& shard = *core.me->shard;
    arm_in_random_order(shard.prng());
    if (core.timeout_index != kNoCase) {
      core.fire = &SelectAwaiter::on_timeout;
      shard.add_timer(&core, shard.now() + std::max(Duration{0}, timeout));
    }
    shard.park(core.me, h, kWait, this);
    return true;
  }

  // The cases join their channels' wait queues in a seeded random order (Go's pollorder):
  // when one event can satisfy several of them (the same channel twice, a close), the
  // case queued first wins, so that choice is uniform too. In case order, a parked
  // select with two sends on one channel was completed at its first case every time.
  void arm_in_random_order(Prng& prng) {
    const auto n = static_cast<uint32_t>(core.cases.size());
    for (uint32_t i = 0; i < n; ++i) scratch[i] = i;
    for (uint32_t i = n; i > 1; --i) std::swap(scratch[i - 1], scratch[prng.below(i)]);
    for (uint32_t i = 0; i < n; ++i) core.cases[scratch[i]]->arm(&core, scratch[i]);
  }

  static void on_timeout(TimerNode* node) { static_cast<SelectCore*>(node)->decide(kTimeoutCase); }
  static void on_cancel(Routine* me, void* ctx) {
    auto* self = static_cast<SelectAwaiter*>(ctx);
    self->core.disarm_all(kNoCase);
    self->error = errc::cancelled;
    me->shard->unpark(me);
  }
  static WaitInfo describe(const void* ctx) {
    return {"select", static_cast<const SelectAwaiter*>(ctx)->core.cases.size()};
  }
  static constexpr WaitKind kWait{&SelectAwaiter::on_cancel, &SelectAwaiter::describe};

  Result<size_t> await_resume() {
    if (remote) return remote->await_resume();  // traced on the shard that chose
    if (error != errc::ok) return fail(error);
    if (result != kNoCase) return result;  // chosen at once (and traced) in await_ready
    if (multi && multi->error != errc::ok) return fail(multi->error);
    const size_t chosen = multi                         ? multi_position()
                          : core.chosen == kTimeoutCase ? core.timeout_index
                                                        : positions[core.chosen];
    core.me->shard->trace(TraceKind::select_choice, core.me->id, chosen);
    return chosen;
  }
  size_t multi_position() const {
    if (multi->winner == kTimeoutCase) return core.timeout_index;
    if (multi->winner == kDefaultCase) return default_index;
    return positions[multi->winner];
  }
};

// On the channels' shard: the same select, over the caller's cases.
inline Task<Result<size_t>> RemoteSelectThunk::operator()() {
  return [](SelectAwaiter* outer) -> Task<Result<size_t>> {
    SelectAwaiter here;
    here.core.cases = outer->core.cases;
    here.core.timeout_index = outer->core.timeout_index;
    here.positions = outer->positions;
    here.scratch = outer->scratch;
    here.default_index = outer->default_index;
    here.timeout = outer->timeout;
    co_return co_await here;
  }(outer);
}

}  // namespace detail

// A select case that receives from a channel (on_recv, Selector::recv); after the select,
// `value` holds what was received when this case was chosen.
template <class T>
class RecvCase final : public detail::SelectCase {
 public:
  explicit RecvCase(Receiver<T>& rx) noexcept
      : SelectCase(rx.state() != nullptr ? rx.state()->home : nullptr, rx.state()), st_(rx.state()) {}
  // Set when this case was chosen: the value, or channel_closed.
  std::optional<Result<T>> value;
  // when(false) disables the case, as a nil channel does in Go.
  RecvCase& when(bool on) & noexcept { return set_enabled(on), *this; }
  RecvCase&& when(bool on) && noexcept { return set_enabled(on), std::move(*this); }

  bool ready() const noexcept override { return st_->recv_ready(); }
  void execute() override { st_->try_recv(value); }
  void disarm() noexcept override { st_->receivers_waiting.remove(&waiter_); }
  bool ready_on_close() const noexcept override { return st_->leased == 0; }  // no value can still arrive
  void complete_closed() noexcept override { value.emplace(fail(errc::channel_closed)); }
  // Only a close fails a parked receiver (ChanState::settle_close).
  bool closed_in_waiter() const noexcept override { return waiter_.failed; }
  void accept_waiter_outcome() override { value.emplace(waiter_.take()); }
  std::unique_ptr<detail::ArmedCase> arm_for_home() override {
    return std::make_unique<detail::ArmedChanCase<T>>(st_, this, &value, nullptr);
  }

 protected:
  void park() override {
    waiter_.reset();  // a Selector's case parks once per wait
    waiter_.wake = &SelectCase::woken;
    waiter_.owner = static_cast<SelectCase*>(this);
    st_->park_receiver(&waiter_);
  }

 private:
  detail::ChanState<T>* st_;
  detail::RecvWaiter<T> waiter_;  // filled by the channel; its result moves to `value` if this case wins
};

// The case is its own waiter (a private SendWaiter base): the value the channel takes is
// the case's `value`, with no copy and no pointer to it.
template <class T>
class SendCase final : public detail::SelectCase, private detail::SendWaiter<T> {
  using Waiter = detail::SendWaiter<T>;

 public:
  SendCase(Sender<T>& tx, T v)
      : SelectCase(tx.state() != nullptr ? tx.state()->home : nullptr, tx.state()),
        Waiter(std::move(v)),
        st_(tx.state()) {}
  // Until the case is chosen and succeeds, the value stays here.
  using Waiter::value;
  std::error_code error;  // channel_closed if this case was chosen on a closed channel
  // when(false) disables the case, as a nil channel does in Go.
  SendCase& when(bool on) & noexcept { return set_enabled(on), *this; }
  SendCase&& when(bool on) && noexcept { return set_enabled(on), std::move(*this); }

  bool ready() const noexcept override { return st_->send_ready(); }
  void execute() override {
    if (st_->try_send(value) == detail::Attempt::closed) error = make_error_code(errc::channel_closed);
  }
  void disarm() noexcept override { st_->senders_waiting.remove(this); }
  bool ready_on_close() const noexcept override { return true; }
  void complete_closed() noexcept override { error = make_error_code(errc::channel_closed); }
  // Only a close fails a parked sender (ChanState::close).
  bool closed_in_waiter() const noexcept override { return Waiter::failed(); }
  void accept_waiter_outcome() override {
    if (Waiter::failed()) error = make_error_code(Waiter::outcome);
  }
  std::unique_ptr<detail::ArmedCase> arm_for_home() override {
    return std::make_unique<detail::ArmedChanCase<T>>(st_, this, nullptr, &value);
  }

 protected:
  void park() override {
    Waiter::outcome = errc::ok;  // a Selector's case parks once per wait
    this->wake = &SelectCase::woken;
    this->owner = static_cast<SelectCase*>(this);
    st_->park_sender(this);
  }

 private:
  detail::ChanState<T>* st_;
};

// A select case that fires when `after` has passed with no other case ready (after(d)).
struct TimeoutCase {
  Duration after;
};
struct DefaultCase {};

template <class T>
RecvCase<T> on_recv(Receiver<T>& rx) {
  return RecvCase<T>(rx);
}
template <class T, class V>
SendCase<T> on_send(Sender<T>& tx, V&& v) {
  return SendCase<T>(tx, T(std::forward<V>(v)));
}
inline TimeoutCase after(Duration d) noexcept { return {d}; }
inline DefaultCase default_case() noexcept { return {}; }

namespace detail {
template <class C>
constexpr bool is_channel_case = std::is_base_of_v<SelectCase, std::remove_cvref_t<C>>;

// What a case with a handler (select_handlers.hpp) derives from, so that the select below
// can refuse a mix of cases with and without handlers.
struct HandledCase {};
template <class C>
constexpr bool is_handled = std::is_base_of_v<HandledCase, C>;

template <size_t N>
struct FixedSelect : SelectAwaiter {
  // Not zeroed (a rep stos per select, measured): select() fills the first two, and
  // scratch is written before it is read.
  std::array<SelectCase*, N> case_ptrs;
  std::array<uint32_t, N> case_positions;
  std::array<uint32_t, N> scratch_storage;
  uint32_t count = 0;  // enabled channel cases: the first `count` of the arrays

  // The spans are set here, on the awaiter's final address (it may have been moved).
  bool await_ready() {
    core.cases = std::span(case_ptrs).first(count);
    positions = std::span(case_positions).first(count);
    scratch = scratch_storage;
    return SelectAwaiter::await_ready();
  }
};
}  // namespace detail

namespace detail {
// Fills s from the cases, in argument order: case i has position i. Disabled channel cases
// are left out (their positions stay taken).
template <size_t N, class... Cases>
void fill_select(FixedSelect<N>& s, Cases&... cases) {
  uint32_t position = 0;
  uint32_t n = 0;
  bool any_disabled = false;
  auto add = [&](auto& c) {
    using C = std::remove_cvref_t<decltype(c)>;
    if constexpr (std::is_same_v<C, TimeoutCase>) {
      s.core.timeout_index = position;
      s.timeout = c.after;
    } else if constexpr (std::is_same_v<C, DefaultCase>) {
      s.default_index = position;
    } else if (!c.enabled()) {
      any_disabled = true;
    } else {
      s.case_ptrs[n] = &c;
      s.case_positions[n] = position;
      ++n;
    }
    ++position;
  };
  (add(cases), ...);
  (void)add;  // unused when there are no cases
  s.count = n;
  s.only_disabled_cases = n == 0 && any_disabled;
}
}  // namespace detail

// Variadic select: channel cases (on_recv / on_send, passed as lvalues so their results
// can be read afterwards), at most one after(d), at most one default_case(). For case
// bodies instead of indices, give every case a handler (select_handlers.hpp).
template <class... Cases>
auto select(Cases&&... cases) {
  static_assert(!(detail::is_handled<std::remove_cvref_t<Cases>> || ...),
                "ringo::select: give every case a handler, or none (then read the results from the cases)");
  constexpr size_t kChannelCases = (size_t{0} + ... + (detail::is_channel_case<Cases> ? 1 : 0));
  detail::FixedSelect<kChannelCases> s;
  detail::fill_select(s, cases...);
  return s;
}

// Non-blocking send and receive from any shard of the channel's runtime, as Go's
// `select { case ch <- v: default: }`: try_send / try_recv where the channel lives (no
// round trip), else a select with a default run on its home shard (one round trip).
// channel_full / channel_empty when it would block; the value comes back on failure.
template <class T>
Task<SendResult<T>> send_now(Sender<T>& tx, T value) {
  if (tx.state() == nullptr || detail::current_shard() == tx.state()->home) co_return tx.try_send(std::move(value));
  auto c = on_send(tx, std::move(value));
  Result<size_t> picked = co_await select(c, default_case());
  std::error_code e = !picked ? picked.error() : *picked == 1 ? make_error_code(errc::channel_full) : c.error;
  if (e) co_return std::unexpected(Rejected<T>{e, std::move(c.value)});
  co_return SendResult<T>{};
}
template <class T>
Task<Result<T>> recv_now(Receiver<T>& rx) {
  if (rx.state() == nullptr || detail::current_shard() == rx.state()->home) co_return rx.try_recv();
  auto c = on_recv(rx);
  Result<size_t> picked = co_await select(c, default_case());
  if (!picked) co_return std::unexpected(picked.error());
  if (*picked == 1) co_return fail(errc::channel_empty);
  co_return std::move(*c.value);
}

// A select with cases chosen at run time; cases live as long as the Selector.
class Selector {
 public:
  template <class T>
  RecvCase<T>& recv(Receiver<T>& rx) {
    return add(std::make_unique<RecvCase<T>>(rx));
  }
  template <class T, class V>
  SendCase<T>& send(Sender<T>& tx, V&& v) {
    return add(std::make_unique<SendCase<T>>(tx, T(std::forward<V>(v))));
  }
  void timeout(Duration d) {
    timeout_index_ = next_position_++;
    timeout_ = d;
  }
  void default_case() { default_index_ = next_position_++; }

  detail::SelectAwaiter wait() {
    pointers_.clear();
    enabled_positions_.clear();
    for (size_t i = 0; i < cases_.size(); ++i) {
      if (!cases_[i]->enabled()) continue;  // when(false): out of this wait
      pointers_.push_back(cases_[i].get());
      enabled_positions_.push_back(positions_[i]);
    }
    scratch_.assign(cases_.size(), 0);
    detail::SelectAwaiter a;
    a.core.cases = pointers_;
    a.core.timeout_index = timeout_index_;
    a.only_disabled_cases = pointers_.empty() && !cases_.empty();
    a.positions = enabled_positions_;
    a.scratch = scratch_;
    a.default_index = default_index_;
    a.timeout = timeout_;
    return a;
  }

 private:
  template <class C>
  C& add(std::unique_ptr<C> c) {
    C& ref = *c;
    cases_.push_back(std::move(c));
    positions_.push_back(next_position_++);
    return ref;
  }
  std::vector<std::unique_ptr<detail::SelectCase>> cases_;
  std::vector<detail::SelectCase*> pointers_;
  std::vector<uint32_t> positions_;
  std::vector<uint32_t> enabled_positions_;
  std::vector<uint32_t> scratch_;
  uint32_t next_position_ = 0;
  uint32_t timeout_index_ = detail::kNoCase;
  uint32_t default_index_ = detail::kNoCase;
  Duration timeout_{};
};

}  // namespace ringo
