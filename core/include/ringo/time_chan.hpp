// Go's time.After, time.NewTimer and time.NewTicker as channels: ordinary Receivers, so
// they are ordinary recv cases in a select. The value is the ring clock's Instant at
// delivery (virtual time in the simulator, so the same seed gives the same ticks).
//
//   auto deadline = ringo::timer_chan(50ms);                   // time.After
//   auto tick = std::move(*ringo::ticker(10ms));               // time.NewTicker
//   auto a = ringo::on_recv(work), b = ringo::on_recv(tick.chan()), c = ringo::on_recv(deadline);
//   switch (co_await ringo::select(a, b, c)) { ... }
//   tick.stop();
//
// (select's own timeout case is ringo::after(d), in select.hpp: cheaper when the timeout
// belongs to one select; timer_chan is for a deadline shared by many selects or routines.)
//
// Each is a routine on the creating shard sleeping on the shard's timer heap, feeding a
// channel of capacity 1 homed there. Like Go, a ticker drops ticks for a slow reader (at
// most one waits in the channel) and keeps to its grid (a late wake-up skips the ticks it
// missed). Stopping (any shard, any thread) ends the routine; a Timer or Ticker keeps its
// channel open until it is destroyed (Go: Stop does not close the channel, so a select
// case on it blocks instead of firing), and destroying it stops it and closes the
// channel. Differences from Go: a value already in the channel when stop() is called can
// still be received; timer_chan's channel closes after its one value (a second receive
// returns channel_closed rather than blocking forever), and a timer_chan nobody listens
// to any more still lives until it fires (Go before 1.23): for a timeout in a loop use
// after(d) or a Timer and stop() it.
#pragma once

#include <atomic>
#include <memory>
#include <stop_token>

#include "ringo/chan.hpp"
#include "ringo/deadline.hpp"
#include "ringo/task.hpp"

namespace ringo {

namespace detail {

struct TimerShared {
  enum : uint8_t { armed, fired, stopped };
  std::atomic<uint8_t> state{armed};
  std::stop_source stop;
};

inline Task<void> timer_routine(Sender<Instant> tx, Instant when, std::shared_ptr<TimerShared> shared) {
  auto wait = with_stop(shared->stop.get_token(), sleep_until(when));  // named: GCC 12, see architecture.md
  if (!co_await wait) co_return;                                       // stopped, or cancelled (shutdown)
  uint8_t armed = TimerShared::armed;
  if (shared->state.compare_exchange_strong(armed, TimerShared::fired, std::memory_order_acq_rel)) {
    (void)tx.try_send(current_shard()->now());
  }
}

inline Task<void> ticker_routine(Sender<Instant> tx, Instant first, Duration period, std::stop_token stop) {
  Shard& shard = *current_shard();
  for (Instant next = first;;) {
    auto wait = with_stop(stop, sleep_until(next));
    if (!co_await wait) co_return;
    const Instant now = shard.now();
    (void)tx.try_send(now);  // channel_full: the reader has not taken the last tick; drop this one
    next += period;
    if (next <= now) next += ((now - next) / period + 1) * period;  // keep to the grid
  }
}

}  // namespace detail

// time.NewTimer: one value on chan() at now + d.
class Timer {
 public:
  Timer() = default;
  Timer(Timer&&) noexcept = default;
  Timer& operator=(Timer&& o) noexcept {
    if (this != &o) {
      (void)stop();
      tx_ = std::move(o.tx_);
      rx_ = std::move(o.rx_);
      shared_ = std::move(o.shared_);
    }
    return *this;
  }
  ~Timer() { (void)stop(); }

  Receiver<Instant>& chan() noexcept { return rx_; }
  auto recv() { return rx_.recv(); }
  // True if this stopped the timer before it fired: no value will ever be sent. False if
  // it had fired (the value may still be in the channel) or was stopped already.
  bool stop() noexcept {
    if (!shared_) return false;
    uint8_t armed = detail::TimerShared::armed;
    const bool stopped =
        shared_->state.compare_exchange_strong(armed, detail::TimerShared::stopped, std::memory_order_acq_rel);
    shared_->stop.request_stop();
    return stopped;
  }

 private:
  friend Result<Timer> timer(Duration d);
  Sender<Instant> tx_;  // keeps the channel open while the Timer lives
  Receiver<Instant> rx_;
  std::shared_ptr<detail::TimerShared> shared_;
};

// Errors: not_in_runtime, spawn_limit.
inline Result<Timer> timer(Duration d) {
  detail::Shard* here = detail::current_shard();
  if (here == nullptr) return fail(errc::not_in_runtime);
  auto ch = chan<Instant>(1);
  if (!ch) return std::unexpected(ch.error());
  Timer t;
  t.tx_ = ch->first;
  t.rx_ = std::move(ch->second);
  t.shared_ = std::make_shared<detail::TimerShared>();
  const Instant when = d.count() > 0 ? here->now() + d : here->now();
  auto h = go(detail::timer_routine(std::move(ch->first), when, t.shared_));
  if (!h.valid()) return std::unexpected(h.spawn_error());
  h.detach();
  return t;
}

// time.After: a Receiver that gets one value at now + d, then closes. Outside a runtime
// (or at the routine limit) the Receiver is empty: recv() reports no_channel, and in a
// select it is a nil channel (never ready).
inline Receiver<Instant> timer_chan(Duration d) {
  detail::Shard* here = detail::current_shard();
  if (here == nullptr) return {};
  auto ch = chan<Instant>(1);
  if (!ch) return {};
  const Instant when = d.count() > 0 ? here->now() + d : here->now();
  auto h = go(detail::timer_routine(std::move(ch->first), when, std::make_shared<detail::TimerShared>()));
  if (!h.valid()) return {};
  h.detach();
  return std::move(ch->second);
}

// time.NewTicker: a value on chan() every `period`, starting at now + period.
class Ticker {
 public:
  Ticker() = default;
  Ticker(Ticker&&) noexcept = default;
  Ticker& operator=(Ticker&& o) noexcept {
    if (this != &o) {
      stop();
      tx_ = std::move(o.tx_);
      rx_ = std::move(o.rx_);
      stop_ = std::move(o.stop_);
    }
    return *this;
  }
  ~Ticker() { stop(); }

  Receiver<Instant>& chan() noexcept { return rx_; }
  auto recv() { return rx_.recv(); }
  // No tick is sent after the ticker's routine sees the stop (at once on its own shard,
  // one message away on another). Any shard, any thread; idempotent.
  void stop() noexcept { (void)stop_.request_stop(); }

 private:
  friend Result<Ticker> ticker(Duration period);
  Sender<Instant> tx_;  // keeps the channel open while the Ticker lives
  Receiver<Instant> rx_;
  std::stop_source stop_{std::nostopstate};
};

// Errors: invalid_argument (period <= 0, as Go panics), not_in_runtime, spawn_limit.
inline Result<Ticker> ticker(Duration period) {
  detail::Shard* here = detail::current_shard();
  if (here == nullptr) return fail(errc::not_in_runtime);
  if (period.count() <= 0) return fail(errc::invalid_argument);
  auto ch = chan<Instant>(1);
  if (!ch) return std::unexpected(ch.error());
  Ticker t;
  t.tx_ = ch->first;
  t.rx_ = std::move(ch->second);
  t.stop_ = std::stop_source();
  auto h = go(detail::ticker_routine(std::move(ch->first), here->now() + period, period, t.stop_.get_token()));
  if (!h.valid()) return std::unexpected(h.spawn_error());
  h.detach();
  return t;
}

}  // namespace ringo
