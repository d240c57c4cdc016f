// A listener's multishot accept: one IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT stays
// armed and each connection it posts goes to the first routine waiting in accept(), or
// waits in the listener's queue. Accepting a connection therefore costs one CQE, not a
// submission plus a CQE.
//
// Rules that keep it safe:
// - Nothing is lost to cancellation: a waiter that is aborted or times out just leaves
//   the queue; connections keep arriving in the listener for the next accept().
// - Bounded: at kMaxQueued queued connections the multishot is cancelled, so the rest
//   stay in the kernel's backlog (whose bound the user chose); it re-arms once half of
//   the queue is taken.
// - The Acceptor outlives its listener while its op is in flight: retire() cancels the
//   op and fails the waiters, and the op's last CQE frees it. Connections still queued
//   then are closed. Until that CQE it is its shard's orphan (orphan.hpp), so a shard
//   destroyed before the CQE came (a shutdown cut short) frees it instead.
//
// Thread-safety: the listener's home shard only.
#pragma once

#include <optional>

#include "ringo/internal/core/intrusive_list.hpp"
#include "ringo/internal/core/orphan.hpp"
#include "ringo/internal/core/ring_buffer.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/net.hpp"

namespace ringo::net::detail {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

struct AcceptWaiter {
  AcceptWaiter* prev = nullptr;
  AcceptWaiter* next = nullptr;
  Routine* routine = nullptr;
  std::optional<Result<int>> slot;
};

class Acceptor final : public Orphan {
 public:
  static constexpr size_t kMaxQueued = 128;

  Acceptor(Shard* home, int listen_fd) noexcept : home_(home), fd_(listen_fd) {}
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Awaitable: the next connection's fd, or the multishot's error, or errc::cancelled.
  struct Next {
    Acceptor* acceptor;
    Routine* me = nullptr;
    AcceptWaiter waiter{};

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<int> await_resume() { return std::move(*waiter.slot); }
    static void on_cancel(Routine* r, void* ctx);
    static WaitInfo describe(const void* ctx);
  };
  Next next() noexcept { return Next{this}; }

  // The listener is gone. Frees this now or at the op's last CQE.
  void retire() noexcept;

 private:
  enum class State : uint8_t { idle, armed, cancelling };
  using Waiters = ringo::detail::IntrusiveList<AcceptWaiter, &AcceptWaiter::prev, &AcceptWaiter::next>;

  ~Acceptor() override;
  // Fills slot from the queue or a stored error; false when the caller must wait.
  bool take(std::optional<Result<int>>& slot);
  void arm_if_wanted();
  void stop_pulling();
  void on_connection(int fd);
  void on_failure(int err);
  void close_quietly(int fd) noexcept;
  static void on_cqe(void* ctx, int32_t res, uint32_t flags);

  Shard* home_;
  int fd_;
  State state_ = State::idle;
  OpToken op_{};
  bool retired_ = false;
  RingBuffer<int> queued_;
  std::optional<std::error_code> error_;  // the multishot's failure, for the next accept()
  Waiters waiters_;
};

}  // namespace ringo::net::detail
