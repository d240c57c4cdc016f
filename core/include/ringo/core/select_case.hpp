// What a select is made of, shared by its two engines: SelectCase (one channel case, in
// the selecting routine's frame), SelectCore (a select over one shard's channels, run on
// that shard) and ArmedCase (a case as its channel's home shard sees it in a select over
// several shards, select_shards.hpp). Internal to select.hpp.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "ringo/core/chan_state.hpp"

namespace ringo::detail {

struct ArmedCase;

struct SelectCase {
  SelectCase(Shard* home, const void* channel) noexcept : home_(home), channel_(channel) {}
  virtual ~SelectCase() = default;
  // The channel's shard (nullptr for an empty handle): a plain field, since select reads
  // it for every case before anything else.
  Shard* home() const noexcept { return home_; }
  const void* channel() const noexcept { return channel_; }  // identity only
  // A disabled case takes no part (Go's nil channel in a select): never ready, never
  // armed, its handle not even looked at.
  bool enabled() const noexcept { return enabled_; }
  void set_enabled(bool on) noexcept { enabled_ = on; }
  virtual bool ready() const noexcept = 0;
  virtual void execute() = 0;  // called only when ready()
  virtual void arm(SelectCore* core, uint32_t index, Routine* me) = 0;
  virtual void disarm() noexcept = 0;  // only after arm(): the waiter is unset before
  // While its channel closes (its queues half drained, so ready() would mislead): whether
  // the close makes this case ready, and completing it with channel_closed.
  virtual bool ready_on_close() const noexcept = 0;
  virtual void complete_closed() noexcept = 0;
  // For a select over several shards: this case, as its home shard will handle it.
  virtual std::unique_ptr<ArmedCase> arm_for_home() = 0;

 private:
  Shard* home_;
  const void* channel_;
  bool enabled_ = true;
};

struct SelectCore : TimerNode {
  Routine* me = nullptr;
  std::span<SelectCase*> cases;
  uint32_t chosen = UINT32_MAX;
  uint32_t timeout_index = UINT32_MAX;

  void disarm_all(uint32_t except) noexcept {
    for (uint32_t i = 0; i < cases.size(); ++i) {
      if (i != except) cases[i]->disarm();
    }
    if (linked()) me->shard->cancel_timer(this);
  }
};

inline void select_fire(SelectCore* core, uint32_t case_index) {
  core->chosen = case_index;
  core->disarm_all(case_index);
  core->me->shard->unpark(core->me);
}

// Two passes, so that the common case (one case on the channel) draws nothing from the PRNG.
inline uint32_t select_pick_on_close(SelectCore* core, uint32_t woken, const void* channel) {
  uint32_t ready = 0;
  for (SelectCase* c : core->cases) ready += c->channel() == channel && c->ready_on_close() ? 1 : 0;
  if (ready <= 1) return woken;
  uint64_t nth = core->me->shard->prng().below(ready);
  for (uint32_t i = 0; i < core->cases.size(); ++i) {
    SelectCase* c = core->cases[i];
    if (c->channel() == channel && c->ready_on_close() && nth-- == 0) return i;
  }
  return woken;
}

// Completes case_index (its channel is closing) in place of the case that was woken.
inline void select_complete_other(SelectCore* core, uint32_t case_index) {
  SelectCase* c = core->cases[case_index];
  c->disarm();
  c->complete_closed();
  select_fire(core, case_index);
}

// A case of a select over several shards, on its channel's home shard. It holds a
// reference to the channel, so its subscription can always be undone, and knows where
// the case's value lives in the selecting frame; it touches that frame only while it
// holds the select's lock (the owner waits for it then).
struct ArmedCase {
  SubWaiter sub{};
  SelectCase* frame_case;
  bool is_send;

  ArmedCase(SelectCase* c, bool send) noexcept : frame_case(c), is_send(send) {}
  virtual ~ArmedCase() = default;
  ArmedCase(const ArmedCase&) = delete;
  ArmedCase& operator=(const ArmedCase&) = delete;

  virtual bool ready() const noexcept = 0;  // without help from another select
  virtual void subscribe() = 0;
  virtual void unsubscribe() noexcept = 0;
  virtual SubList& counterparts() noexcept = 0;  // the other direction's subscriptions
  // Receive case only: the value of `sender`, a send case on the same channel.
  virtual void take_from(ArmedCase& sender) = 0;
};

template <class T>
struct ArmedChanCase final : ArmedCase {
  ChanState<T>* st;
  std::optional<Result<T>>* recv_slot;  // receive case: where the value goes
  T* send_value;                        // send case: the value

  ArmedChanCase(ChanState<T>* s, SelectCase* c, std::optional<Result<T>>* slot, T* value) noexcept
      : ArmedCase(c, value != nullptr), st(s), recv_slot(slot), send_value(value) {
    st->refs.fetch_add(1, std::memory_order_relaxed);
  }
  ~ArmedChanCase() override { release_state(st); }

  bool ready() const noexcept override { return is_send ? st->send_ready() : st->recv_ready(); }
  void subscribe() override {
    (is_send ? st->send_subs : st->recv_subs).push_back(&sub);
    ++st->subs;
  }
  void unsubscribe() noexcept override {
    SubList& list = is_send ? st->send_subs : st->recv_subs;
    if (!list.contains(&sub)) return;
    list.remove(&sub);
    --st->subs;
  }
  SubList& counterparts() noexcept override { return is_send ? st->recv_subs : st->send_subs; }
  void take_from(ArmedCase& sender) override {
    recv_slot->emplace(std::move(*static_cast<ArmedChanCase&>(sender).send_value));
  }
};

}  // namespace ringo::detail
