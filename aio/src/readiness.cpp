// Readiness (readiness.hpp): the epoll set an AioRing's socket ops wait in.
#include "ringo/internal/aio/readiness.hpp"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "ringo/internal/core/assert.hpp"

namespace ringo::aio {

namespace {
// Edges in both directions, and peer shutdown; errors and hang-ups are always reported.
constexpr uint32_t kWatchedEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
constexpr uint32_t kInputEvents = EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLERR | EPOLLHUP;
constexpr uint32_t kOutputEvents = EPOLLOUT | EPOLLERR | EPOLLHUP;
// Events one collect() takes from the kernel; a fuller set is read by the next one.
constexpr int kEventBatch = 256;
}  // namespace

Readiness::~Readiness() {
  if (epfd_ >= 0) ::close(epfd_);
}

std::error_code Readiness::open(int wake_fd, int max_fd) {
  max_fd_ = max_fd;
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return {errno, std::system_category()};
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: the ring resets the eventfd before it sleeps
  ev.data.fd = wake_fd;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd, &ev) < 0) return {errno, std::system_category()};
  wake_fd_ = wake_fd;
  events_.resize(kEventBatch);
  return {};
}

Readiness::Watch* Readiness::find(int fd) {
  return fd >= 0 && static_cast<size_t>(fd) < watches_.size() ? &watches_[static_cast<size_t>(fd)] : nullptr;
}

const Readiness::Watch* Readiness::find(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < watches_.size() ? &watches_[static_cast<size_t>(fd)] : nullptr;
}

bool Readiness::may_be_ready(int fd, uint32_t mask) const {
  const Watch* w = find(fd);
  if (w == nullptr || !w->registered) return true;
  return (mask & POLLOUT) != 0 ? w->writable : w->readable || w->read_shut;
}

bool Readiness::read_shut(int fd) const {
  const Watch* w = find(fd);
  return w != nullptr && w->registered && w->read_shut;
}

void Readiness::saw_eagain(int fd, uint32_t mask) {
  Watch* w = find(fd);
  if (w == nullptr || !w->registered) return;  // unregistered: nothing to trust yet
  ((mask & POLLOUT) != 0 ? w->writable : w->readable) = false;
}

// Registering reports the descriptor's current state as a first edge, so nothing that
// was ready before the registration is missed.
int Readiness::register_fd(int fd, Watch& w) {
  epoll_event ev{};
  ev.events = kWatchedEvents;
  ev.data.fd = fd;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
    // EEXIST: still registered through a duplicate of a descriptor closed elsewhere.
    if (errno != EEXIST || ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) return -errno;
  }
  w.registered = true;
  w.readable = true;
  w.writable = true;
  w.read_shut = false;  // registering reports the current state as an edge
  return 0;
}

int Readiness::wait(int fd, uint32_t mask, OpRef op, Filed& filed) {
  filed = Filed::waiting;
  if (fd < 0 || fd == wake_fd_) return -EBADF;
  if (fd >= max_fd_) return -EMFILE;
  if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1);
  Watch& w = watches_[static_cast<size_t>(fd)];
  if (!w.registered) {
    const int r = register_fd(fd, w);
    if (r == -EPERM) {
      filed = Filed::always_ready;  // a regular file or a directory
      return 0;
    }
    if (r < 0) return r;
  }
  RINGO_ASSERT(std::none_of(w.waiters.begin(), w.waiters.end(), [op](const Waiter& x) { return x.op == op; }),
               "an op is filed once: a second entry would wake it twice");
  w.waiters.push_back({op, mask});
  ++waiting_;
  return 0;
}

bool Readiness::cancel(int fd, OpRef op) {
  Watch* w = find(fd);
  if (w == nullptr) return false;
  auto it = std::find_if(w->waiters.begin(), w->waiters.end(), [op](const Waiter& x) { return x.op == op; });
  if (it == w->waiters.end()) return false;
  RINGO_ASSERT(waiting_ > 0, "waiting_ counts every filed waiter");
  w->waiters.erase(it);
  --waiting_;
  return true;
}

void Readiness::forget(int fd, std::vector<OpRef>& orphans) {
  Watch* w = find(fd);
  if (w == nullptr) return;
  if (w->registered) {
    // A duplicate of fd elsewhere would keep the registration alive after close.
    (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    w->registered = false;
  }
  w->readable = true;
  w->writable = true;
  w->read_shut = false;
  RINGO_ASSERT(waiting_ >= w->waiters.size(), "waiting_ counts every filed waiter");
  for (const Waiter& x : w->waiters) orphans.push_back(x.op);
  waiting_ -= w->waiters.size();
  w->waiters.clear();
}

void Readiness::on_event(const epoll_event& ev, std::vector<Woken>& woken) {
  Watch* w = find(ev.data.fd);
  if (w == nullptr || !w->registered) return;  // forgotten since the kernel queued it
  if ((ev.events & kInputEvents) != 0) w->readable = true;
  if ((ev.events & kOutputEvents) != 0) w->writable = true;
  if ((ev.events & EPOLLRDHUP) != 0) w->read_shut = true;
  // Wake, in the order they came, the waiters this edge concerns; keep the others.
  auto keep = w->waiters.begin();
  for (auto it = w->waiters.begin(); it != w->waiters.end(); ++it) {
    if (((it->mask | POLLERR | POLLHUP) & ev.events) != 0) {
      woken.push_back({it->op, ev.events});
    } else {
      *keep++ = *it;
    }
  }
  RINGO_ASSERT(waiting_ >= static_cast<size_t>(w->waiters.end() - keep), "waiting_ counts every filed waiter");
  waiting_ -= static_cast<size_t>(w->waiters.end() - keep);
  w->waiters.erase(keep, w->waiters.end());
}

int Readiness::epoll_wait_ns(int64_t timeout_ns) {
  const int max = static_cast<int>(events_.size());
  if (timeout_ns == 0) return ::epoll_wait(epfd_, events_.data(), max, 0);
  if (pwait2_) {
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000), static_cast<long>(timeout_ns % 1000000000)};
    const int r = ::epoll_pwait2(epfd_, events_.data(), max, timeout_ns < 0 ? nullptr : &ts, nullptr);
    if (r >= 0 || (errno != ENOSYS && errno != EPERM)) return r;
    pwait2_ = false;  // before Linux 5.11, or refused by a seccomp filter
  }
  // Milliseconds, rounded up: a timer may fire up to 1 ms late, never early.
  const int64_t ms = timeout_ns < 0 ? -1 : std::min<int64_t>((timeout_ns + 999999) / 1000000, INT_MAX);
  return ::epoll_wait(epfd_, events_.data(), max, static_cast<int>(ms));
}

bool Readiness::collect(int64_t timeout_ns, std::vector<Woken>& woken) {
  for (;;) {
    const int n = epoll_wait_ns(timeout_ns);
    if (n < 0) return errno == EINTR;
    for (int i = 0; i < n; ++i) {
      if (events_[static_cast<size_t>(i)].data.fd != wake_fd_) on_event(events_[static_cast<size_t>(i)], woken);
    }
    if (n < static_cast<int>(events_.size())) return true;
    timeout_ns = 0;  // a full batch: more may be queued
  }
}

}  // namespace ringo::aio
