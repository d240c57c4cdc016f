// What a select is made of: SelectCase (one channel case, in the selecting routine's
// frame; RecvCase and SendCase in select.hpp) and SelectCore (a select over one shard's
// channels, run on that shard: its cases parked as waiters in their channels' queues).
// Internal to select.hpp.
//
// Contract of a parked select: each enabled case's waiter sits in its channel's queue
// (arm). The first channel that completes one of them wakes it through the ordinary
// waiter wake (chan_waiter.hpp), which lands in SelectCase::woken: the select is decided
// there, in the same step, so there is no claim race on one shard. The winner's result
// moves from its waiter into the case; every other case is taken out of its queue
// (disarm) and the timer cancelled, so the losers leave no trace. A select is decided at
// most once.
//
// A close may make several cases of one select ready at once (a receive and a send on
// the channel, or the same channel twice), and a close drains senders before receivers.
// So a wake that comes from a close picks uniformly among the select's cases that close
// makes ready (one PRNG draw, only when there are several), not whichever queue the
// channel drained first (docs/channels-and-select.md).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/chan_waiter.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {

// Case numbers that name no channel case: in SelectCore::chosen, and as an absent
// default or timeout position. Values no select can reach (it has at most 2^32 - 3 cases).
inline constexpr uint32_t kNoCase = UINT32_MAX;           // nothing chosen yet; absent
inline constexpr uint32_t kTimeoutCase = UINT32_MAX - 1;  // the timeout fired
inline constexpr uint32_t kDefaultCase = UINT32_MAX - 2;  // nothing was ready: the default

struct SelectCore;
struct ArmedCase;  // a case as a home shard sees it in a select over several shards (select_shards.hpp)

struct SelectCase {
  SelectCase(Shard* home, const void* channel) noexcept : home_(home), channel_(channel) {}
  virtual ~SelectCase() = default;
  // The channel's shard (nullptr for an empty handle): a plain field, since select reads
  // it for every case before anything else.
  Shard* home() const noexcept { return home_; }
  const void* channel() const noexcept { return channel_; }  // identity only
  // A disabled case takes no part (Go's nil channel in a select): never ready, never
  // armed, its handle not even looked at. A case on an empty handle is disabled too: it
  // is Go's nil channel itself (`c = nil` to drop a case from a select loop).
  bool enabled() const noexcept { return enabled_ && home_ != nullptr; }
  void set_enabled(bool on) noexcept { enabled_ = on; }
  virtual bool ready() const noexcept = 0;
  virtual void execute() = 0;  // called only when ready()

  // Parks this case as case `index` of `core`: its waiter joins its channel's queue, with
  // woken() as its wake and this case as its owner.
  void arm(SelectCore* core, uint32_t index) {
    core_ = core;
    index_ = index;
    park();
  }
  virtual void disarm() noexcept = 0;  // only after arm(); a no-op once the waiter left its queue
  // While its channel closes (its queues half drained, so ready() would mislead): whether
  // the close makes this case ready, and completing it with channel_closed.
  virtual bool ready_on_close() const noexcept = 0;
  virtual void complete_closed() noexcept = 0;
  // After a wake: whether the channel failed this case's waiter (only a close does), and
  // moving the waiter's outcome into the case (the case won).
  virtual bool closed_in_waiter() const noexcept = 0;
  virtual void accept_waiter_outcome() = 0;
  // For a select over several shards: this case, as its home shard will handle it.
  virtual std::unique_ptr<ArmedCase> arm_for_home() = 0;

  // The wake of every case's waiter (its owner is the case).
  static void woken(ChanWaiter* w, Shard& home);

 protected:
  virtual void park() = 0;  // the waiter joins the queue (see arm)

 private:
  Shard* home_;
  const void* channel_;
  // Set by arm(), read only by woken(): left unset before (most selects never park, and
  // each store here is paid by every select).
  SelectCore* core_;
  uint32_t index_;
  bool enabled_ = true;
};

struct SelectCore : TimerNode {
  Routine* me = nullptr;
  std::span<SelectCase*> cases;
  uint32_t chosen = kNoCase;
  uint32_t timeout_index = kNoCase;

  void disarm_all(uint32_t except) noexcept {
    for (uint32_t i = 0; i < cases.size(); ++i) {
      if (i != except) cases[i]->disarm();
    }
    if (linked()) me->shard->cancel_timer(this);
  }

  // The select is decided: case `which` (or kTimeoutCase). Once only.
  void decide(uint32_t which) {
    RINGO_ASSERT(chosen == kNoCase, "a parked select is decided at most once");
    RINGO_ASSERT(which < cases.size() || which == kTimeoutCase, "the winner is a case or the timeout");
    chosen = which;
    disarm_all(which);
    me->shard->unpark(me);
  }

  // Case `woken`'s channel completed it (by_close: with channel_closed, from a close).
  void case_woken(uint32_t woken, bool by_close) {
    const uint32_t pick = by_close ? pick_on_close(woken) : woken;
    SelectCase* c = cases[pick];
    if (pick == woken) {
      c->accept_waiter_outcome();
    } else {  // the close made another case of this select ready too, and the draw chose it
      c->disarm();
      c->complete_closed();
    }
    decide(pick);
  }

  // Uniform among the cases on woken's channel that the close makes ready. Two passes, so
  // that the common case (one case on the channel) draws nothing from the PRNG.
  uint32_t pick_on_close(uint32_t woken) {
    const void* channel = cases[woken]->channel();
    uint32_t ready = 0;
    for (SelectCase* c : cases) ready += c->channel() == channel && c->ready_on_close() ? 1 : 0;
    if (ready <= 1) return woken;
    uint64_t nth = me->shard->prng().below(ready);
    for (uint32_t i = 0; i < cases.size(); ++i) {
      SelectCase* c = cases[i];
      if (c->channel() == channel && c->ready_on_close() && nth-- == 0) return i;
    }
    return woken;
  }
};

inline void SelectCase::woken(ChanWaiter* w, Shard&) {
  auto* self = static_cast<SelectCase*>(w->owner);
  self->core_->case_woken(self->index_, self->closed_in_waiter());
}

}  // namespace ringo::detail
