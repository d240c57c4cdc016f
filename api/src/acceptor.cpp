// Acceptor (acceptor.hpp): a listener's multishot accept, its queue and its waiters.
#include "acceptor.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace ringo::net::detail {

bool Acceptor::Next::await_ready() {
  me = this_routine();
  if (me == nullptr) return waiter.slot.emplace(fail(errc::not_in_runtime)), true;
  if (me->should_cancel()) return waiter.slot.emplace(fail(errc::cancelled)), true;
  return acceptor->take(waiter.slot);
}

WaitInfo Acceptor::Next::describe(const void* ctx) {
  return {"accept", static_cast<uint64_t>(static_cast<const Next*>(ctx)->acceptor->fd_)};
}

void Acceptor::Next::await_suspend(std::coroutine_handle<> h) {
  static constexpr WaitKind kWait{&Next::on_cancel, &Next::describe};
  waiter.routine = me;
  acceptor->waiters_.push_back(&waiter);
  acceptor->arm_if_wanted();
  acceptor->home_->park(me, h, kWait, this);
}

// The waiter leaves; the multishot stays armed and what it accepts waits in the queue.
void Acceptor::Next::on_cancel(Routine* r, void* ctx) {
  auto* self = static_cast<Next*>(ctx);
  self->acceptor->waiters_.remove(&self->waiter);
  self->waiter.slot.emplace(fail(errc::cancelled));
  r->shard->unpark(r);
}

bool Acceptor::take(std::optional<Result<int>>& slot) {
  if (!queued_.empty()) {
    slot.emplace(queued_.take_front());
    arm_if_wanted();
    return true;
  }
  if (error_) {
    slot.emplace(std::unexpected(*error_));
    error_.reset();
    return true;
  }
  return false;
}

// Armed while someone may want a connection and the queue has room; after a failure,
// only once that failure has been reported (an EMFILE would otherwise spin).
void Acceptor::arm_if_wanted() {
  if (retired_ || state_ != State::idle || error_ || queued_.size() > kMaxQueued / 2) return;
  Sqe sqe;
  sqe.opcode = Opcode::accept;
  sqe.fd = fd_;
  sqe.len = SOCK_CLOEXEC;
  sqe.ioprio = kAcceptMultishot;
  op_ = home_->submit_raw(sqe, &Acceptor::on_cqe, this);
  state_ = State::armed;
}

void Acceptor::stop_pulling() {
  if (state_ != State::armed) return;
  state_ = State::cancelling;
  home_->cancel(op_);
}

void Acceptor::on_connection(int fd) {
  if (retired_) {
    close_quietly(fd);
    return;
  }
  if (AcceptWaiter* w = waiters_.pop_front()) {
    w->slot.emplace(fd);
    home_->unpark(w->routine);
    return;
  }
  queued_.push_back(fd);
  if (queued_.size() >= kMaxQueued) stop_pulling();
}

void Acceptor::on_failure(int err) {
  if (retired_) return;
  if (AcceptWaiter* w = waiters_.pop_front()) {
    w->slot.emplace(fail_errno(err));
    home_->unpark(w->routine);
    return;
  }
  error_ = errno_code(err);
}

void Acceptor::on_cqe(void* ctx, int32_t res, uint32_t flags) {
  auto* self = static_cast<Acceptor*>(ctx);
  const bool last = (flags & kCqeMore) == 0;
  const bool we_cancelled = self->state_ == State::cancelling;
  if (res >= 0) {
    self->on_connection(res);
  } else if (!(res == -ECANCELED && we_cancelled)) {
    self->on_failure(res);
  }
  if (!last) return;
  self->state_ = State::idle;
  if (self->retired_) {
    self->home_->disown(self);
    delete self;
    return;
  }
  // The kernel may end a multishot at any time; waiters left behind need it re-armed.
  self->arm_if_wanted();
}

void Acceptor::retire() noexcept {
  if (shard_tearing_down()) {
    // No more CQEs will be reaped, and waiting frames may be freed already: just go.
    delete this;
    return;
  }
  if (current_shard() != home_) {
    // Off its shard (a documented misuse: I/O objects belong to their shard) nothing here
    // may be touched from this thread, not even to free it: the home shard may be using
    // it. It is left behind, and its op ends with the ring.
    return;
  }
  retired_ = true;
  while (AcceptWaiter* w = waiters_.pop_front()) {
    w->slot.emplace(fail_errno(EBADF));
    home_->unpark(w->routine);
  }
  if (state_ == State::idle) {
    delete this;
    return;
  }
  // The op's last CQE frees this. Should the shard be destroyed before that CQE is reaped
  // (its drain cut short by shutdown_timeout or shutdown_steps), nothing else would: the
  // shard frees its orphans. Adopted first: a cancel before submission runs on_cqe, and
  // so frees this, at once.
  home_->adopt(this);
  stop_pulling();
}

Acceptor::~Acceptor() {
  while (!queued_.empty()) close_quietly(queued_.take_front());
}

void Acceptor::close_quietly(int fd) noexcept {
  io::Descriptor owner(fd, home_);  // its release closes it, through the ring when it can
}

}  // namespace ringo::net::detail

namespace ringo::net {

void detail::AcceptorRetire::operator()(Acceptor* a) const noexcept { a->retire(); }

}  // namespace ringo::net
