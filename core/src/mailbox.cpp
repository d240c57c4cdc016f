// Lane B mail (mailbox.hpp): the thread-safe post into an inbox, and the owner's side
// that drains it, delivers, sleeps and closes.
#include "ringo/internal/core/mailbox.hpp"

#include <utility>

#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/shard.hpp"

namespace ringo::detail {

// ---------------------------------------------------------------- any thread

ShardGroup::ShardGroup(uint32_t shards, uint32_t inbox_limit) {
  RINGO_ASSERT(inbox_limit <= Inbox::kCountMax, "the inbox counts up to kCountMax");
  ports_.reserve(shards);
  pools_.reserve(shards);
  for (uint32_t i = 0; i < shards; ++i) {
    ports_.push_back(std::make_unique<ShardPort>());
    ports_.back()->inbox_limit = inbox_limit;
    pools_.push_back(std::make_unique<EnvelopePool>());
  }
}

void* Envelope::operator new(std::size_t size) {
  Shard* here = current_shard();
  return EnvelopePool::allocate(here != nullptr ? here->envelope_pool() : nullptr, size);
}

void Envelope::operator delete(void* block) noexcept {
  Shard* here = current_shard();
  EnvelopePool::release(block, here != nullptr ? here->envelope_pool() : nullptr);
}

Result<bool> ShardGroup::enqueue(uint32_t target, Envelope* env, Admission admission) {
  if (target >= size()) return fail(errc::invalid_shard);
  ShardPort& port = *ports_[target];
  // The limit is read from the head word the push loads anyway: no extra atomic.
  const uint32_t limit = admission == Admission::bounded ? port.inbox_limit : Inbox::kNoLimit;
  const Inbox::Pushed pushed = port.inbox.push(env, ShardPort::kClosed, limit);
  if (!pushed.ok) return fail(pushed.before == ShardPort::kClosed ? errc::shard_stopped : errc::queue_full);
  return pushed.before == ShardPort::kAsleep;
}

Result<void> ShardGroup::post_from_anywhere(uint32_t target, Envelope* env) {
  Shard* here = current_shard();
  if (here != nullptr && &here->group() == this) return here->post(target, env);
  auto ring = enqueue(target, env);
  if (!ring) return std::unexpected(ring.error());
  // Without a wake (or if it fails) the target finds the envelope when it next wakes up.
  if (*ring && external_wake_ != nullptr) (void)external_wake_(external_wake_ctx_, target);
  return {};
}

// ---------------------------------------------------------------- the owner's side

Result<void> Mailbox::post(Shard& here, uint32_t target, Envelope* env, Admission admission) {
  if (target == here.index()) return post_to_self(env);
  auto ring = here.group().enqueue(target, env, admission);
  if (!ring) return std::unexpected(ring.error());
  if (*ring) here.ops().ring_doorbell(here, target);
  return {};
}

// An envelope for this shard itself skips the port and its MSG_RING doorbell: it waits in
// a local FIFO that the same tick delivers (a select's own-shard arm, a call to self). It
// grows only from this shard's own work, so it has no limit of its own.
Result<void> Mailbox::post_to_self(Envelope* env) {
  if (port_.closed) return fail(errc::shard_stopped);  // written on this thread only
  env->next = nullptr;
  if (self_tail_ != nullptr) {
    self_tail_->next = env;
  } else {
    self_head_ = env;
  }
  self_tail_ = env;
  return {};
}

void Mailbox::drain_self(Shard& here) {
  Envelope* list = std::exchange(self_head_, nullptr);
  self_tail_ = nullptr;
  deliver_all(here, list);
}

void Mailbox::deliver_all(Shard& here, Envelope* list) {
  while (list != nullptr) {
    Envelope* env = list;
    list = env->next;
    env->next = nullptr;
    ++envelopes_delivered_;
    env->deliver(here);
  }
}

void Mailbox::drain_inbox(Shard& here) {
  const Inbox::Word head = port_.inbox.load(std::memory_order_relaxed);
  if (head == Inbox::kEmpty || head == ShardPort::kClosed) return;  // only this shard closes
  deliver_all(here, Inbox::oldest_first(port_.inbox.take_all()));
}

bool Mailbox::prepare_to_sleep() {
  // Asleep already: mail that came since is not seen until its doorbell wakes us.
  if (asleep_) return port_.work_request.load(std::memory_order_seq_cst) == 0;
  Inbox::Word head = Inbox::kEmpty;
  // seq_cst, paired with Balancer::request_work(): either a thief sees this mark and
  // withdraws, or we see its request below and stay awake to answer it.
  asleep_ = port_.inbox.try_mark(ShardPort::kAsleep, head, std::memory_order_seq_cst) || head == ShardPort::kClosed;
  return asleep_ && port_.work_request.load(std::memory_order_seq_cst) == 0;
}

void Mailbox::run_tick_hooks(Shard& here, bool final) {
  // Index-based: a hook may register another while we iterate.
  size_t kept = 0;
  for (size_t i = 0; i < tick_hooks_.size(); ++i) {
    TickHook* hook = tick_hooks_[i];
    if (hook->at_tick_end(here, final)) tick_hooks_[kept++] = hook;
  }
  tick_hooks_.resize(kept);
}

void Mailbox::close(Shard& here) {
  port_.closed = true;
  const Inbox::Word taken = port_.inbox.take_all(ShardPort::kClosed);
  // Closed twice (the destructor closes again): nothing can have arrived since.
  Envelope* list = taken == ShardPort::kClosed ? nullptr : Inbox::oldest_first(taken);
  reject_all(here, list);
  // post_to_self refuses from now on, so no reject can add to this list.
  self_tail_ = nullptr;
  reject_all(here, std::exchange(self_head_, nullptr));
  RINGO_ASSERT(self_head_ == nullptr, "a closed shard's own queue stays empty");
}

void Mailbox::reject_all(Shard& here, Envelope* list) {
  while (list != nullptr) {
    Envelope* env = list;
    list = env->next;
    env->next = nullptr;
    env->reject(here);
  }
}

}  // namespace ringo::detail
