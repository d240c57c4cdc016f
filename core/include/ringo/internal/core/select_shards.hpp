// select over channels that live on several shards. select.hpp hands a select here when
// its cases' home shards differ; a select over one shard's channels never comes here.
//
// The protocol (docs/channels-and-select.md, "select across shards"):
//
// - The selecting shard (the owner) keeps a SelectTicket: open, locked or done. It sends
//   every home shard of its cases one HomeArm, which subscribes those cases on their
//   channels there. A subscription takes nothing: the channel only tells its arm that it
//   may have become ready.
// - An arm that finds a case ready claims the ticket (ClaimMsg). The owner grants one
//   claim at a time (locked); the arm then looks again and, if the case is still ready,
//   executes it and commits, otherwise aborts and waits for the next change. Nothing is
//   taken before the lock is held, so a select that loses leaves every channel as it was.
// - Fairness: the owner grants nothing until every arm has reported once, then picks
//   among the queued claims weighted by how many cases each arm found ready, so a choice
//   among ready cases is uniform over all of them, as on one shard (Go's rule).
// - Select against select on one channel (both subscribed, neither ready alone) is a
//   pair claim at the channel's home: it locks both tickets in one global order (owner
//   shard, then sequence), so two homes can never wait for each other.
// - Once the ticket is done (a commit, the timeout, the default, a cancel) the owner
//   retires every other arm and resumes only when each has answered, so no home shard
//   touches the selecting frame after the select returns. The arms of a select with a
//   default subscribe nothing and retire themselves after one look (one round trip when
//   no case is ready).
// - A select over its own shard's channels and one other shard's whose own cases are not
//   ready sends that shard's arm out holding the lock: only that shard can have a ready
//   case, so it takes one at once and commits (one round trip instead of two), or gives
//   the lock back with its report.
//
// Thread-safety: each object below is touched by one shard at a time: ArmedCase, HomeArm
// and Claim by the home shard, SelectTicket by the owner; the messages carry them across.
//
// The ticket's state only moves forward: open <-> locked (one grant at a time), then done,
// which is final; a ticket is won (winner set) at most once. Assertions in
// select_shards.cpp check every transition.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ringo/internal/core/chan_state.hpp"
#include "ringo/internal/core/select_case.hpp"

namespace ringo::detail {

struct SelectTicket;
struct Claim;
struct HomeArm;

// A case of a select over several shards, on its channel's home shard: subscribed to its
// channel (it takes nothing by itself; the channel tells it when it may have become ready,
// and its arm claims the select before it acts). It holds a reference to the channel, so
// its subscription can always be undone, and knows where the case's value lives in the
// selecting frame; it touches that frame only while its arm holds the select's lock (the
// owner waits for it then).
struct ArmedCase : ChanSubscriber {
  SelectCase* frame_case;
  HomeArm* arm = nullptr;  // set when the arm arrives at the home shard
  uint32_t index = 0;      // the case within its arm
  bool is_send;

  ArmedCase(SelectCase* c, bool send) noexcept : frame_case(c), is_send(send) {}
  virtual ~ArmedCase() = default;
  ArmedCase(const ArmedCase&) = delete;
  ArmedCase& operator=(const ArmedCase&) = delete;

  void channel_changed() override;          // pokes the arm (select_shards.cpp)
  virtual bool ready() const noexcept = 0;  // without help from another select
  virtual void subscribe() = 0;
  virtual void unsubscribe() noexcept = 0;
  virtual SubscriberList& counterparts() noexcept = 0;  // the other direction's subscriptions
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
  void subscribe() override { st->subscribe(is_send ? st->send_subs : st->recv_subs, this); }
  void unsubscribe() noexcept override { st->unsubscribe(is_send ? st->send_subs : st->recv_subs, this); }
  SubscriberList& counterparts() noexcept override { return is_send ? st->recv_subs : st->send_subs; }
  void take_from(ArmedCase& sender) override {
    RINGO_ASSERT(!is_send && sender.is_send, "a pair hands a sender's value to a receiver");
    recv_slot->emplace(std::move(*static_cast<ArmedChanCase&>(sender).send_value));
  }
};

// Home -> owner: what an arm has to say about its select.
struct TicketNote final : Envelope {
  // stopped: the arm's shard is stopping; refused: that shard holds max_callers parked
  // requests and could not take the arm. Both end the select with an error.
  enum class Kind : uint8_t { report, commit, abort, retired, stopped, refused };
  SelectTicket* ticket;  // dereferenced on the owner shard only
  uint32_t slot;         // which arm
  uint32_t case_number;  // commit: the winning case
  Kind kind;
  bool first;  // the arm's first word about this select: it counts as its report

  TicketNote(SelectTicket* t, uint32_t s, uint32_t c, Kind k, bool f) noexcept
      : ticket(t), slot(s), case_number(c), kind(k), first(f) {}
  void deliver(Shard& here) override;
  // reject (the owner is stopping): its routines go with it.
};

// A request for a select's lock, from a home to the owner and back with the answer.
struct ClaimMsg final : Envelope {
  Claim* claim;          // dereferenced on the home shard only
  SelectTicket* ticket;  // dereferenced on the owner shard only
  uint32_t home;
  uint32_t weight;  // how many of the arm's cases were ready (fairness)
  bool first;
  bool answered = false;
  bool granted = false;

  ClaimMsg(Claim* c, SelectTicket* t, uint32_t h, uint32_t w, bool f) noexcept
      : claim(c), ticket(t), home(h), weight(w), first(f) {}
  void deliver(Shard& here) override;
  void reject(Shard& here) override;
  // On the owner: sends the answer home. False if the home shard is gone.
  bool answer(Shard& owner, bool grant);

 private:
  void hand_over();  // on the home shard: the answer to the claim (deletes this)
};

// One select's cases on one home shard. Sent there by the owner; lives there until
// retired and no claim needs it.
struct HomeArm final : Envelope, ParkedRequest, TickHook {
  SelectTicket* ticket;  // the owner's; never dereferenced here
  uint32_t owner;
  uint32_t slot;   // this arm's place in the ticket
  uint64_t order;  // the ticket's place in the global lock order
  // Such a select never waits: its arm subscribes nothing, looks once, claims at most
  // what it found ready, and retires itself; it is nobody's counterpart.
  bool has_default;
  std::vector<std::unique_ptr<ArmedCase>> cases;
  std::vector<uint32_t> numbers;  // case i is case numbers[i] of the select

  Shard* home = nullptr;
  uint64_t park_id = 0;
  Claim* claim = nullptr;  // the one claim this arm is part of, if any
  bool reported = false;
  bool retired = false;
  bool hooked = false;      // a scan is due at the end of the tick
  bool holds_lock = false;  // granted before it left the owner (SelectTicket::pregrant_if_alone)
  bool dirty = false;       // something changed since the last scan
  std::vector<uint32_t> ready_scratch;

  HomeArm(SelectTicket* t, uint32_t owner_index, uint32_t arm_slot, uint64_t lock_order, bool with_default) noexcept
      : ticket(t), owner(owner_index), slot(arm_slot), order(lock_order), has_default(with_default) {}

  void deliver(Shard& here) override;  // arrival: subscribe and look
  void reject(Shard& here) override;   // the home shard is stopping
  void cancel(Shard& here) override;
  void stop(Shard& here) override;
  bool at_tick_end(Shard& here, bool final) override;

  void poke();
  void scan();
  void turn_away(Shard& here, TicketNote::Kind why);  // refused or stopped before arming
  void tell(TicketNote::Kind kind, uint32_t case_number = 0);
  void retire(TicketNote::Kind kind, uint32_t case_number = 0);
  // A free counterpart for another select's pair claim.
  bool pairable() const noexcept { return !retired && claim == nullptr && !has_default; }
  // Deletes this arm once nothing can reach it any more. Returns whether it did.
  bool free_if_idle();
};

// Owner -> home: the select is decided; drop the subscriptions and say so.
struct ArmRetire final : Envelope {
  HomeArm* arm;  // dereferenced on the home shard only
  explicit ArmRetire(HomeArm* a) noexcept : arm(a) {}
  void deliver(Shard& here) override;
  // reject: that shard is stopping, and stop() retires its arms.
};

// On a home shard: the locks one attempt needs (one select's, or two for select against
// select), taken one at a time in the global order, then the attempt itself.
struct Claim {
  struct Part {
    HomeArm* arm;
    uint32_t index;  // the case within the arm
  };
  Shard& home;
  Part parts[2];
  uint32_t count;
  uint32_t locked = 0;
  uint32_t weight;

  static constexpr int kNoPart = -1;  // finish(): no part's owner refused

  Claim(Shard& h, Part only, uint32_t ready_cases) noexcept;
  Claim(Shard& h, Part a, Part b) noexcept;  // a pair: one receive case, one send case
  void start();
  void answered(bool granted);

 private:
  void ask();
  void execute();
  void finish(bool committed, int refused);
  ArmedCase& armed(const Part& p) const { return *p.arm->cases[p.index]; }
};

// The owner's side of a select over several shards; lives in the selecting awaiter.
struct SelectTicket : TimerNode {
  enum class State : uint8_t { open, locked, done };
  enum class ArmState : uint8_t { live, retiring, gone };
  static constexpr uint32_t kNoArm = UINT32_MAX;  // no arm slot (pregranted, holder)

  Shard* shard = nullptr;
  Routine* me = nullptr;
  uint64_t order = 0;
  State state = State::open;
  bool has_default = false;
  bool parked = false;
  errc pending = errc::ok;    // while locked: timed_out, cancelled or shard_stopped, for after
  uint32_t winner = kNoCase;  // a case number, kTimeoutCase or kDefaultCase once decided
  errc error = errc::ok;
  uint32_t reports_missing = 0;
  uint32_t arms_live = 0;
  uint32_t pregranted = kNoArm;  // the arm that left holding the lock, until it answers
  uint32_t holder = kNoArm;      // the arm whose claim (or pregrant) holds the lock
  uint32_t case_count = 0;       // for deadlock reports
  // The arms, once posted, belong to their home shards: the owner never dereferences
  // them (one may be freed while its last note is on the way), it keeps their homes.
  std::vector<HomeArm*> arms;
  std::vector<uint32_t> arm_home;
  std::vector<ArmState> arm_state;
  std::vector<ClaimMsg*> queue;  // claims waiting for the lock, in arrival order

  // Sends the arms and parks. False: nothing was sent (winner/error say why).
  bool start(Routine* routine, std::coroutine_handle<> h, std::span<SelectCase*> cases, bool with_default,
             bool with_timeout, Duration timeout);
  void on_claim(ClaimMsg* m);
  void on_note(const TicketNote& n);

 private:
  void make_arms(std::span<SelectCase*> cases, bool with_default);
  bool post_arms();
  void pregrant_if_alone();
  void move_to(State next);
  void on_arm_lost(uint32_t slot, errc why);
  uint32_t slot_of_home(uint32_t home) const;
  void grant_next();
  void finish(uint32_t chosen, errc why);
  void lock_released();
  void arm_gone(uint32_t slot);
  void resume_if_settled();
  static void on_timeout(TimerNode* node);
  static void on_cancel(Routine* r, void* ctx);
  static WaitInfo describe(const void* ctx);
  static const WaitKind kWait;
};

}  // namespace ringo::detail
