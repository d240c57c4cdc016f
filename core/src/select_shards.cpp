// select over channels of several shards: the protocol of select_shards.hpp (the home
// side: ArmedCase, HomeArm, Claim; the owner side: SelectTicket; and the messages between
// them). Each function runs on the one shard that owns the object it works on; the
// assertions say which, and check that a ticket's state only moves forward.
#include "ringo/internal/core/select_shards.hpp"

#include <algorithm>

#include "ringo/internal/core/assert.hpp"

namespace ringo::detail {

// ---------------------------------------------------------------- messages

void TicketNote::deliver([[maybe_unused]] Shard& here) {
  RINGO_ASSERT(&here == ticket->shard, "a ticket is touched on its owner shard only");
  ticket->on_note(*this);
  delete this;
}

void ClaimMsg::deliver([[maybe_unused]] Shard& here) {
  if (answered) {
    RINGO_ASSERT(here.index() == home, "a claim's answer goes back to its home");
    return hand_over();
  }
  RINGO_ASSERT(&here == ticket->shard, "a ticket is touched on its owner shard only");
  ticket->on_claim(this);  // queued there, or answered at once
}

void ClaimMsg::reject(Shard& here) {
  // The home shard is stopping: its arms are retired by now, so a grant is given back.
  if (answered) return hand_over();
  // The owner is stopping (and its frames may be gone): refuse without looking.
  if (!answer(here, false)) delete this;
}

void ClaimMsg::hand_over() {
  Claim* c = claim;
  const bool g = granted;
  delete this;
  c->answered(g);
}

bool ClaimMsg::answer(Shard& owner, bool grant) {
  answered = true;
  granted = grant;
  return owner.post(home, this).has_value();
}

void ArmRetire::deliver(Shard&) {
  HomeArm* a = arm;
  delete this;
  a->retire(TicketNote::Kind::retired);
  a->free_if_idle();
}

// ---------------------------------------------------------------- home side

void ArmedCase::channel_changed() { arm->poke(); }

void HomeArm::deliver(Shard& here) {
  home = &here;
  park_id = here.next_call_id();
  if (!here.park_request(park_id, this)) return turn_away(here, TicketNote::Kind::refused);  // max_callers wait here
  for (uint32_t i = 0; i < cases.size(); ++i) {
    cases[i]->arm = this;
    cases[i]->index = i;
    // A select with a default never waits: its arm looks once and goes.
    if (!has_default) cases[i]->subscribe();
  }
  ready_scratch.reserve(cases.size());
  scan();
  free_if_idle();
}

void HomeArm::reject(Shard& here) { turn_away(here, TicketNote::Kind::stopped); }

// The arm never armed: its only word to the owner says why, and it is gone.
void HomeArm::turn_away(Shard& here, TicketNote::Kind why) {
  home = &here;
  retired = true;
  tell(why);
  delete this;
}

void HomeArm::cancel(Shard&) {
  retire(TicketNote::Kind::retired);
  free_if_idle();
}

void HomeArm::stop(Shard&) {
  retire(TicketNote::Kind::stopped);
  free_if_idle();
}

bool HomeArm::at_tick_end([[maybe_unused]] Shard& here, bool final) {
  RINGO_ASSERT(&here == home, "an arm is touched on its home shard only");
  hooked = false;
  if (!final && dirty) scan();
  free_if_idle();
  return false;  // this may be gone now
}

void HomeArm::poke() {
  if (retired) return;
  dirty = true;
  if (claim != nullptr || hooked) return;  // a claim looks again when it ends
  hooked = true;
  home->add_tick_hook(this);
}

// Claims a ready case (uniformly among this arm's ready ones), else pairs with another
// select's waiting case on the same channel, else (the first time) reports none ready.
void HomeArm::scan() {
  if (retired || claim != nullptr) return;
  dirty = false;
  ready_scratch.clear();
  for (uint32_t i = 0; i < cases.size(); ++i) {
    if (cases[i]->ready()) ready_scratch.push_back(i);
  }
  const auto ready = static_cast<uint32_t>(ready_scratch.size());
  const uint32_t pick = ready > 0 ? ready_scratch[home->prng().below(ready)] : 0;
  if (std::exchange(holds_lock, false)) {
    if (ready > 0) {
      cases[pick]->frame_case->execute();
      return retire(TicketNote::Kind::commit, numbers[pick]);
    }
    tell(TicketNote::Kind::abort);  // the lock goes back; this counts as the report
  }
  if (ready > 0) {
    (new Claim(*home, {this, pick}, ready))->start();
    return;
  }
  for (uint32_t i = 0; i < cases.size(); ++i) {
    for (ChanSubscriber* s = cases[i]->counterparts().front(); s != nullptr; s = SubscriberList::next(s)) {
      auto* other = static_cast<ArmedCase*>(s);  // every subscriber is an armed case
      // A counterpart ready alone claims for itself: pairing with it would abort at once,
      // and again after each rescan (a livelock chan_prop found).
      if (other->arm == this || !other->arm->pairable() || other->ready()) continue;
      (new Claim(*home, {this, i}, {other->arm, other->index}))->start();
      return;
    }
  }
  if (has_default) return retire(TicketNote::Kind::retired);  // counts as its report
  if (!reported) tell(TicketNote::Kind::report);
}

void HomeArm::tell(TicketNote::Kind kind, uint32_t case_number) {
  auto* note = new TicketNote(ticket, slot, case_number, kind, !std::exchange(reported, true));
  if (!home->post(owner, note)) delete note;  // the owner is stopping, with the select
}

void HomeArm::retire(TicketNote::Kind kind, uint32_t case_number) {
  if (retired) return;
  retired = true;
  for (auto& c : cases) c->unsubscribe();
  home->unpark_request(park_id);
  tell(kind, case_number);
}

bool HomeArm::free_if_idle() {
  if (!retired || claim != nullptr || hooked) return false;
  delete this;
  return true;
}

// ---------------------------------------------------------------- claims

Claim::Claim(Shard& h, Part only, uint32_t ready_cases) noexcept
    : home(h), parts{only, {}}, count(1), weight(ready_cases) {}

Claim::Claim(Shard& h, Part a, Part b) noexcept : home(h), parts{a, b}, count(2), weight(1) {
  RINGO_ASSERT(!b.arm->has_default, "a select with a default is never the waiting side of a pair");
  RINGO_ASSERT(a.arm->cases[a.index]->is_send != b.arm->cases[b.index]->is_send, "a pair is a receive and a send");
  if (b.arm->order < a.arm->order) std::swap(parts[0], parts[1]);  // the global lock order
}

void Claim::start() {
  for (uint32_t i = 0; i < count; ++i) {
    RINGO_ASSERT(parts[i].arm->claim == nullptr, "an arm is part of one claim at a time");
    parts[i].arm->claim = this;
  }
  // The later lock's owner hears from this arm now, not when the earlier lock is held:
  // it grants nothing before every arm reported, and the earlier lock's holder may be
  // waiting for that very grant (a deadlock, found by chan_prop). A case of that arm
  // that is ready after all is claimed later, as after any report.
  if (count == 2 && !parts[1].arm->reported) parts[1].arm->tell(TicketNote::Kind::report);
  ask();
}

void Claim::ask() {
  HomeArm* arm = parts[locked].arm;
  // A retired arm's select is decided, and its owner may have resumed: ask nothing.
  if (arm->retired) return finish(false, static_cast<int>(locked));
  auto* m = new ClaimMsg(this, arm->ticket, home.index(), weight, !std::exchange(arm->reported, true));
  if (!home.post(arm->owner, m)) {
    delete m;
    finish(false, static_cast<int>(locked));
  }
}

void Claim::answered(bool granted) {
  RINGO_ASSERT(locked < count, "one answer per lock asked");
  if (!granted) return finish(false, static_cast<int>(locked));
  ++locked;
  for (uint32_t i = 0; i < locked; ++i) {
    if (parts[i].arm->retired) return finish(false, kNoPart);  // the home shard is stopping
  }
  if (locked < count) return ask();
  execute();
}

// Every lock is held: look again, and act only on what is true now.
void Claim::execute() {
  RINGO_ASSERT(locked == count, "a claim acts only with every lock held");
  if (count == 1) {
    ArmedCase& c = armed(parts[0]);
    if (!c.ready()) return finish(false, kNoPart);
    c.frame_case->execute();
    return finish(true, kNoPart);
  }
  ArmedCase& a = armed(parts[0]);
  ArmedCase& b = armed(parts[1]);
  ArmedCase& receiver = a.is_send ? b : a;
  ArmedCase& sender = a.is_send ? a : b;
  // Either side ready alone means the channel has a buffer or a plain counterpart that
  // comes first (FIFO), or it closed: each select then claims for itself.
  if (receiver.ready() || sender.ready()) return finish(false, kNoPart);
  receiver.take_from(sender);
  finish(true, kNoPart);
}

// Commits or aborts every part that holds its lock; `refused` names the part whose owner
// said no (its select is decided elsewhere, and its retirement is on the way).
void Claim::finish(bool committed, int refused) {
  RINGO_ASSERT(!committed || locked == count, "a claim commits only with every lock held");
  for (uint32_t i = 0; i < count; ++i) {
    HomeArm* arm = parts[i].arm;
    RINGO_ASSERT(arm->claim == this, "an arm is part of one claim at a time");
    arm->claim = nullptr;
    if (committed) {
      arm->retire(TicketNote::Kind::commit, arm->numbers[parts[i].index]);
    } else if (i < locked) {
      arm->tell(TicketNote::Kind::abort);
    }
    if (committed || arm->retired) continue;
    if (arm->has_default) {
      arm->retire(TicketNote::Kind::retired);  // it looked once; its owner sends no retire
    } else if (static_cast<int>(i) != refused) {
      arm->poke();
    }
  }
  HomeArm* arms[2] = {parts[0].arm, count == 2 ? parts[1].arm : nullptr};
  delete this;
  for (HomeArm* arm : arms) {
    if (arm != nullptr) arm->free_if_idle();
  }
}

// ---------------------------------------------------------------- owner side

bool SelectTicket::start(Routine* routine, std::coroutine_handle<> h, std::span<SelectCase*> cases, bool with_default,
                         bool with_timeout, Duration timeout) {
  me = routine;
  shard = routine->shard;
  order = shard->next_call_id();
  has_default = with_default;
  make_arms(cases, with_default);
  pregrant_if_alone();
  if (!post_arms()) finish(kNoCase, errc::shard_stopped);
  if (state == State::done && arms_live == 0) return false;
  if (with_timeout && state != State::done) {
    fire = &SelectTicket::on_timeout;
    shard->add_timer(this, shard->now() + std::max(Duration{0}, timeout));
  }
  case_count = static_cast<uint32_t>(cases.size());
  shard->park(me, h, kWait, this);
  parked = true;
  return true;
}

// One arm per home shard, in the order the cases first name it.
void SelectTicket::make_arms(std::span<SelectCase*> cases, bool with_default) {
  for (uint32_t i = 0; i < cases.size(); ++i) {
    const uint32_t home = cases[i]->home()->index();
    uint32_t k = slot_of_home(home);
    if (k == kNoArm) {
      k = static_cast<uint32_t>(arms.size());
      arms.push_back(new HomeArm(this, shard->index(), k, order, with_default));
      arm_home.push_back(home);
    }
    arms[k]->cases.push_back(cases[i]->arm_for_home());
    arms[k]->numbers.push_back(i);
  }
  arm_state.assign(arms.size(), ArmState::live);
  reports_missing = arms_live = static_cast<uint32_t>(arms.size());
}

// Sends every arm to its home. False if some home is gone (that arm is dropped).
bool SelectTicket::post_arms() {
  bool all_posted = true;
  for (uint32_t k = 0; k < arms.size(); ++k) {
    if (!shard->post(arm_home[k], arms[k])) {
      delete arms[k];
      --reports_missing;
      arm_gone(k);
      all_posted = false;
    }
  }
  return all_posted;
}

uint32_t SelectTicket::slot_of_home(uint32_t home) const {
  for (uint32_t k = 0; k < arm_home.size(); ++k) {
    if (arm_home[k] == home) return k;
  }
  return kNoArm;
}

WaitInfo SelectTicket::describe(const void* ctx) {
  return {"select (shards)", static_cast<const SelectTicket*>(ctx)->case_count};
}
const WaitKind SelectTicket::kWait{&SelectTicket::on_cancel, &SelectTicket::describe};

// open <-> locked, then done for good.
void SelectTicket::move_to(State next) {
  RINGO_ASSERT(state != State::done, "a decided select stays decided");
  RINGO_ASSERT(next != state, "open and locked alternate: a lock is granted only when open");
  state = next;
}

// Over this shard's channels and one other shard's, none of this shard's cases ready:
// only the other shard can have a ready case, so its arm leaves with the lock. The choice
// is still uniform over the ready cases (they are all there).
void SelectTicket::pregrant_if_alone() {
  if (arms.size() != 2) return;
  const uint32_t here = shard->index();
  if (arm_home[0] != here && arm_home[1] != here) return;
  const uint32_t local = arm_home[0] == here ? 0 : 1;
  for (const auto& c : arms[local]->cases) {
    if (c->ready()) return;
  }
  pregranted = 1 - local;
  arms[pregranted]->holds_lock = true;
  move_to(State::locked);
  holder = pregranted;
}

void SelectTicket::on_claim(ClaimMsg* m) {
  if (m->first) {
    RINGO_ASSERT(reports_missing > 0, "each arm reports once");
    --reports_missing;
  }
  if (state == State::done) {
    if (!m->answer(*shard, false)) delete m;
    return;
  }
  queue.push_back(m);
  grant_next();
}

void SelectTicket::on_note(const TicketNote& n) {
  if (n.first) {
    RINGO_ASSERT(reports_missing > 0, "each arm reports once");
    --reports_missing;
  }
  switch (n.kind) {
    case TicketNote::Kind::report: grant_next(); break;
    case TicketNote::Kind::commit:
      RINGO_ASSERT(state == State::locked && n.slot == holder, "only the lock's holder commits");
      arm_gone(n.slot);
      finish(n.case_number, errc::ok);
      break;
    case TicketNote::Kind::abort:
      RINGO_ASSERT(state == State::locked && n.slot == holder, "only the lock's holder gives it back");
      lock_released();
      break;
    case TicketNote::Kind::retired:
      arm_gone(n.slot);
      grant_next();  // an arm of a select with a default retires itself: that is its report
      resume_if_settled();
      break;
    case TicketNote::Kind::stopped: on_arm_lost(n.slot, errc::shard_stopped); break;
    case TicketNote::Kind::refused: on_arm_lost(n.slot, errc::queue_full); break;
  }
}

void SelectTicket::on_arm_lost(uint32_t slot, errc why) {
  arm_gone(slot);
  if (state == State::locked && slot == pregranted) {  // it left with the lock, and never looked
    pregranted = holder = kNoArm;
    move_to(State::open);
  }
  if (state == State::open) {
    finish(kNoCase, why);
  } else if (state == State::locked && pending == errc::ok) {
    pending = why;
  }
  resume_if_settled();
}

// Grants the lock to one queued claim, once every arm has reported: weighted by the ready
// cases each claim stands for, so the choice is uniform over all ready cases. With no
// claim at that point, a default case wins.
void SelectTicket::grant_next() {
  while (state == State::open && reports_missing == 0) {
    if (queue.empty()) {
      if (has_default) finish(kDefaultCase, errc::ok);
      return;
    }
    uint64_t total = 0;
    for (ClaimMsg* m : queue) total += m->weight;
    uint64_t pick = shard->prng().below(total);
    size_t i = 0;
    while (pick >= queue[i]->weight) pick -= queue[i++]->weight;
    ClaimMsg* m = queue[i];
    queue.erase(queue.begin() + static_cast<ptrdiff_t>(i));
    move_to(State::locked);
    holder = slot_of_home(m->home);
    RINGO_ASSERT(holder != kNoArm, "a claim comes from one of this select's arms");
    if (m->answer(*shard, true)) return;
    delete m;  // that home is gone: its stop is on the way
    holder = kNoArm;
    move_to(State::open);
  }
}

void SelectTicket::lock_released() {
  move_to(State::open);
  pregranted = holder = kNoArm;
  if (pending == errc::ok) return grant_next();
  const errc why = std::exchange(pending, errc::ok);
  if (why == errc::timed_out) return finish(kTimeoutCase, errc::ok);
  finish(kNoCase, why);
}

// The select is decided: refuse the queue, retire every arm, resume once all answered.
void SelectTicket::finish(uint32_t chosen, errc why) {
  if (state == State::done) return;
  RINGO_ASSERT(winner == kNoCase, "a select is won at most once");
  move_to(State::done);
  winner = chosen;
  error = why;
  if (linked()) shard->cancel_timer(this);
  for (ClaimMsg* m : queue) {
    if (!m->answer(*shard, false)) delete m;
  }
  queue.clear();
  // The arms of a select with a default retire themselves once they have looked.
  for (uint32_t k = 0; k < arms.size() && !has_default; ++k) {
    if (arm_state[k] != ArmState::live) continue;
    arm_state[k] = ArmState::retiring;
    auto* env = new ArmRetire(arms[k]);
    if (!shard->post(arm_home[k], env)) {
      delete env;  // that shard is stopping: its stop() retires the arm
    }
  }
  resume_if_settled();
}

void SelectTicket::arm_gone(uint32_t slot) {
  if (arm_state[slot] == ArmState::gone) return;
  RINGO_ASSERT(arms_live > 0, "arms_live counts the arms not gone");
  arm_state[slot] = ArmState::gone;
  --arms_live;
}

void SelectTicket::resume_if_settled() {
  if (state != State::done || arms_live != 0 || !parked) return;
  parked = false;
  shard->unpark(me);
}

void SelectTicket::on_timeout(TimerNode* node) {
  auto* t = static_cast<SelectTicket*>(node);
  if (t->state == State::open) return t->finish(kTimeoutCase, errc::ok);
  if (t->state == State::locked && t->pending == errc::ok) t->pending = errc::timed_out;
}

// A cancel while a claim holds the lock waits for it: a case it commits is the result
// (its value was taken), as with any operation that completes despite a cancel.
void SelectTicket::on_cancel(Routine*, void* ctx) {
  auto* t = static_cast<SelectTicket*>(ctx);
  if (t->state == State::open) return t->finish(kNoCase, errc::cancelled);
  if (t->state == State::locked) t->pending = errc::cancelled;
}

}  // namespace ringo::detail
