// AioRing::Mailbox and the registry of mailboxes (mailbox.hpp), and AioRing's
// send_message, which any thread may call.
#include "mailbox.hpp"

#include <unistd.h>

#include <cerrno>
#include <shared_mutex>
#include <unordered_map>

#include "ringo/internal/core/assert.hpp"

namespace ringo::aio {
namespace {

// Maps msg_ring ids (each ring's eventfd) to mailboxes; looked up, never iterated.
struct Registry {
  std::shared_mutex mu;
  std::unordered_map<int32_t, AioRing::Mailbox*> map;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: senders may run during exit
  return *r;
}

}  // namespace

int AioRing::Mailbox::deliver(int32_t target, const Cqe& c) noexcept {
  std::shared_lock lock(registry().mu);
  auto it = registry().map.find(target);
  if (it == registry().map.end()) return -EBADF;
  Mailbox& m = *it->second;
  bool wake;
  {
    std::lock_guard mlock(m.mu_);
    if (m.queue_.size() >= m.limit_ && (c.flags & kDiskReadResult) == 0) return -EOVERFLOW;
    m.queue_.push_back(c);
    m.pending_.store(true, std::memory_order_release);
    wake = m.sleeping_;
    m.sleeping_ = false;
  }
  if (wake) {
    const uint64_t one = 1;
    (void)!::write(m.efd_, &one, sizeof one);
  }
  return 0;
}

void AioRing::Mailbox::publish(int32_t id) {
  std::unique_lock lock(registry().mu);
  RINGO_ASSERT(registry().map.count(id) == 0, "one mailbox per msg_ring id");
  registry().map[id] = this;
}

void AioRing::Mailbox::withdraw(int32_t id) {
  std::unique_lock lock(registry().mu);
  RINGO_ASSERT(registry().map.find(id) != registry().map.end() && registry().map.find(id)->second == this,
               "a ring withdraws the mailbox it published");
  registry().map.erase(id);
}

void AioRing::Mailbox::take_all(std::vector<Cqe>& out) {
  RINGO_ASSERT(out.empty(), "the owner handled the last batch");
  std::lock_guard lock(mu_);
  out.swap(queue_);
  pending_.store(false, std::memory_order_relaxed);
}

bool AioRing::Mailbox::begin_sleep() {
  std::lock_guard lock(mu_);
  if (!queue_.empty()) return false;
  sleeping_ = true;
  return true;
}

void AioRing::Mailbox::end_sleep() {
  std::lock_guard lock(mu_);
  sleeping_ = false;
}

int AioRing::send_message(int32_t target, int32_t res, uint64_t user_data) noexcept {
  return Mailbox::deliver(target, Cqe{user_data, res, 0});
}

}  // namespace ringo::aio
