// raw::Lane: lane A as a stream of events, for servers written as explicit state machines.
//
// The owner submits kernel ops (raw/op.hpp) each with a token of its own, and takes what
// happens on its shard as raw::Event values (raw/event.hpp), in the order the shard
// reaped them: raw::Io{token, result, flags} for every completion of its ops and
// raw::RingMsg{from, tag, value} for every RemoteShard::send_raw to this shard (raw
// messages promise no order among themselves: the simulator delivers them in a seeded
// order; use a channel or submit_to for ordered messages). One loop,
// no callbacks, no allocation per op or event, the same in the simulator.
//
//   auto lane = raw::Lane::open();                  // this shard's lane
//   lane->submit(raw::accept(fd, true), kAccept);   // multishot: one event per connection
//   std::array<raw::Event, 64> batch;
//   for (;;) {
//     auto n = co_await lane->next(batch);          // waits for at least one event
//     if (!n) break;
//     for (const raw::Event& e : std::span(batch).first(*n)) { ... }
//   }
//
// Contract:
//  - One lane per shard at a time (it takes the shard's lane-A message handler): a second
//    open() fails with EBUSY (std::errc::device_or_resource_busy) until the first closes.
//  - Every submitted op produces events until one without raw::kMore: exactly one for a
//    single-shot op. cancel(id) ends it with one of the three outcomes of
//    docs/cancellation.md: -ECANCELED before it reached the kernel or cancelled there, or
//    its real result (it completed first). A deadline that wins gives -ETIME with
//    raw::kDeadlineExpired.
//  - Buffers named by ops must stay valid until their op's last event. Dropping the lane
//    cancels what is in flight, but the kernel may still write until those cancels land:
//    to free buffers, cancel_all() and take events until in_flight() is 0 first.
//  - Limits: LaneOptions::max_ops ops in flight (submit: errc::queue_full beyond, nothing
//    submitted); events never drop while the lane is open (the queue grows past
//    2 * max_ops only if the owner falls behind, counted by queue_growths()).
//  - Errors: errc::not_in_runtime outside a routine; errc::wrong_shard from another shard;
//    EBADF on a moved-from lane; errc::invalid_argument for an empty span, a max_ops out of
//    range, or an id that names no live op; errc::cancelled when the waiting routine is
//    aborted with no event to hand over.
//
// Thread-safety: the lane belongs to the shard that opened it (a routine that opened one
// never moves: started routines stay on their shard). Dropped elsewhere, it is closed on
// its home shard by message.
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>

#include "ringo/clock.hpp"
#include "ringo/error.hpp"
#include "ringo/internal/core/raw_lane_state.hpp"
#include "ringo/internal/core/routine.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/raw/event.hpp"
#include "ringo/raw/op.hpp"
#include "ringo/task.hpp"

namespace ringo::raw {

struct LaneOptions {
  uint32_t max_ops = 256;  // ops in flight at once, 1 .. 65536
};

class Lane {
 public:
  static Result<Lane> open(LaneOptions options = {}) {
    detail::Shard* here = detail::current_shard();
    if (here == nullptr) return fail(errc::not_in_runtime);
    if (options.max_ops == 0 || options.max_ops > detail::RawLaneState::kMaxOpsLimit) {
      return fail(errc::invalid_argument);
    }
    if (here->has_message_handler()) return std::unexpected(std::make_error_code(std::errc::device_or_resource_busy));
    return Lane(new detail::RawLaneState(*here, options.max_ops));
  }

  Lane(Lane&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Lane& operator=(Lane&& other) noexcept {
    if (this != &other) {
      drop();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  ~Lane() { drop(); }

  // Queues op for this tick's submission; its events carry `token`.
  Result<OpId> submit(const Op& op, uint64_t token, Instant deadline = kNoDeadline) {
    if (auto ok = check(); !ok) return std::unexpected(ok.error());
    return state_->submit(op.sqe, token, deadline);
  }
  // Asks the kernel to end the op (its one last event says how: see the contract).
  Result<void> cancel(OpId id) {
    if (auto ok = check(); !ok) return ok;
    return state_->cancel(id);
  }
  Result<void> cancel_all() {
    if (auto ok = check(); !ok) return ok;
    state_->cancel_all();
    return {};
  }
  // Moves waiting events into out without waiting; 0 when there are none.
  Result<size_t> poll(std::span<Event> out) {
    if (auto ok = check(); !ok) return std::unexpected(ok.error());
    if (out.empty()) return fail(errc::invalid_argument);
    return state_->take(out);
  }
  // Waits for at least one event, then moves up to out.size() into out.
  class NextAwaiter;
  NextAwaiter next(std::span<Event> out) noexcept;

  uint32_t in_flight() const noexcept { return state_ == nullptr ? 0 : state_->in_flight(); }
  uint64_t queue_growths() const noexcept { return state_ == nullptr ? 0 : state_->queue_growths(); }

 private:
  explicit Lane(detail::RawLaneState* state) noexcept : state_(state) {}
  Result<void> check() const noexcept {
    if (state_ == nullptr) return std::unexpected(std::make_error_code(std::errc::bad_file_descriptor));
    if (detail::current_shard() != &state_->home()) return fail(errc::wrong_shard);
    return {};
  }
  void drop() noexcept {
    if (state_ != nullptr) std::exchange(state_, nullptr)->close_anywhere();
  }

  detail::RawLaneState* state_ = nullptr;
};

class Lane::NextAwaiter {
 public:
  NextAwaiter(detail::RawLaneState* state, std::span<Event> out, std::error_code early) noexcept
      : state_(state), out_(out), early_(early) {}
  NextAwaiter(const NextAwaiter&) = delete;
  NextAwaiter& operator=(const NextAwaiter&) = delete;
  // A frame destroyed while it waits here (a runtime torn down mid-flight) leaves the lane.
  ~NextAwaiter() {
    if (parked_) {
      state_->forget_waiter(me_);
      state_->waiter_left();
    }
  }

  bool await_ready() noexcept {
    if (early_ || detail::refuse_await(me_, early_)) return true;
    if (state_->has_waiter()) return early_ = make_error_code(errc::invalid_argument), true;
    return state_->has_events();
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    state_->park_waiter(me_);
    parked_ = true;
    me_->shard->scheduler().park(me_, h, kWait, this);
  }
  Result<size_t> await_resume() noexcept {
    if (early_) return std::unexpected(early_);
    const bool closed = state_->closed();
    const size_t n = closed ? 0 : state_->take(out_);
    if (parked_) {
      parked_ = false;
      state_->waiter_left();  // may delete the state: nothing reads it below
    }
    if (n > 0) return n;  // events that arrived are handed over, even to a cancelled wait
    if (closed) return std::unexpected(std::make_error_code(std::errc::bad_file_descriptor));
    return fail(errc::cancelled);
  }

 private:
  static void on_cancel(detail::Routine* me, void* ctx) {
    auto* a = static_cast<NextAwaiter*>(ctx);
    a->state_->forget_waiter(me);
    me->shard->scheduler().unpark(me);
  }
  static detail::WaitInfo describe(const void* ctx) {
    return {"raw lane events", static_cast<const NextAwaiter*>(ctx)->state_->in_flight()};
  }
  static constexpr detail::WaitKind kWait{&NextAwaiter::on_cancel, &NextAwaiter::describe};

  detail::RawLaneState* state_;
  std::span<Event> out_;
  std::error_code early_;
  detail::Routine* me_ = detail::this_routine();
  bool parked_ = false;
};

inline Lane::NextAwaiter Lane::next(std::span<Event> out) noexcept {
  std::error_code early;
  if (auto ok = check(); !ok) {
    early = ok.error();
  } else if (out.empty()) {
    early = make_error_code(errc::invalid_argument);
  }
  return NextAwaiter(state_, out, early);
}

}  // namespace ringo::raw
