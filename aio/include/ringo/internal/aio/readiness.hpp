// Readiness: which descriptors an AioRing's socket ops wait on, through one epoll set.
//
// Each descriptor is registered once, edge-triggered for input and output, and stays
// registered until the ring closes it (or hands out its number again). Per direction the
// set remembers whether the descriptor may be ready: an edge says "maybe", an EAGAIN from
// the ring's own syscall says "no". So a recv that follows a send on an echo connection
// goes straight to waiting instead of paying a syscall that would say EAGAIN, and a wait
// costs no syscall of its own (an IOCB_CMD_POLL costs an io_submit and holds an AIO slot).
// docs/backends.md, "AIO", has the measurements behind the choice.
//
// Waiters are op references {index, gen}; wait() files one under its descriptor, and
// collect() hands back the ones an edge woke, with the events the kernel reported. The
// caller re-tries the op's syscall; a waiter woken by a stale edge simply waits again.
//
// Descriptors epoll refuses (regular files, directories: EPERM) are always ready, as
// poll(2) reports them; wait() says so and files nothing.
//
// Bounded: the table is indexed by descriptor number, up to max_fd (kMaxFd, 16 Mi, unless
// open() was given less); wait() on a higher number says EMFILE instead of growing it.
// Waiters are ops, so the ring's ops bound them.
//
// Thread-safety: one thread, the ring's.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <system_error>
#include <vector>

namespace ringo::aio {

struct OpRef {
  uint32_t index;
  uint32_t gen;
  friend bool operator==(OpRef, OpRef) = default;
};

class Readiness {
 public:
  struct Woken {
    OpRef op;
    uint32_t events;  // POLL* bits, as the kernel reported them
  };
  enum class Filed : uint8_t { waiting, always_ready };

  Readiness() = default;
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // Descriptor numbers the table grows to by default: a process with 16 Mi descriptors.
  static constexpr int kMaxFd = 1 << 24;

  // Creates the epoll set, with wake_fd (the ring's eventfd) in it, level-triggered.
  std::error_code open(int wake_fd, int max_fd = kMaxFd);

  // False only when the last syscall in that direction said EAGAIN and no edge came since
  // (for input: never once read_shut).
  bool may_be_ready(int fd, uint32_t mask) const;
  // The ring's syscall said EAGAIN: the descriptor is not ready in mask's directions.
  void saw_eagain(int fd, uint32_t mask);
  // An edge reported EPOLLRDHUP: the read side is shut (SHUT_RD, or a stream's peer's
  // end), which no later event undoes. A datagram socket so shut says EAGAIN to a
  // non-blocking receive where a blocking one (io_uring's) returns 0: AioRing uses this
  // to return 0 too. Such a descriptor is always "may be ready" for input.
  bool read_shut(int fd) const;

  // Files op as waiting for any of mask (POLLIN, POLLOUT, ...). An error (EBADF, ENOMEM)
  // is returned as a negative errno and nothing is filed.
  int wait(int fd, uint32_t mask, OpRef op, Filed& filed);
  // Takes op off fd's waiters; false when it was not there.
  bool cancel(int fd, OpRef op);
  // fd is being closed or was just handed out anew: unregisters it and moves its waiters
  // (ops that outlive their descriptor, as a recv does on io_uring) to orphans.
  void forget(int fd, std::vector<OpRef>& orphans);

  size_t waiting() const { return waiting_; }
  // Waits up to timeout_ns (0: just looks; negative: forever) and appends to woken every
  // waiter an edge woke. Returns false when the wait failed for another reason than EINTR.
  bool collect(int64_t timeout_ns, std::vector<Woken>& woken);

 private:
  struct Waiter {
    OpRef op;
    uint32_t mask;
  };
  struct Watch {
    bool registered = false;
    bool readable = true;  // may be: nothing said otherwise
    bool writable = true;
    bool read_shut = false;  // an edge said EPOLLRDHUP: for good, until the number is forgotten
    std::vector<Waiter> waiters;
  };
  Watch* find(int fd);
  const Watch* find(int fd) const;
  int register_fd(int fd, Watch& w);
  void on_event(const epoll_event& ev, std::vector<Woken>& woken);
  int epoll_wait_ns(int64_t timeout_ns);

  int epfd_ = -1;
  int wake_fd_ = -1;
  int max_fd_ = kMaxFd;
  size_t waiting_ = 0;          // the waiters of every watch
  bool pwait2_ = true;          // epoll_pwait2 (ns timeouts) until the kernel says ENOSYS
  std::vector<Watch> watches_;  // by descriptor number
  std::vector<epoll_event> events_;
};

}  // namespace ringo::aio
