// RecvPool and BufReader (recv_pool.hpp), RecvBuffer, and StreamSocket::recv_buffered.
#include "recv_pool.hpp"

#include <algorithm>
#include <cerrno>

#include "ringo/deadline.hpp"
#include "ringo/internal/core/assert.hpp"

namespace ringo::net::detail {

// ---------------------------------------------------------------- RecvPool

RecvPool* RecvPool::of(Shard* shard) {
  auto& slot = shard->recv_pool();
  if (!slot) slot = std::make_unique<PoolOwner>(new RecvPool(shard->ring()));
  return static_cast<PoolOwner*>(slot.get())->pool;
}

Result<void> RecvPool::configure(RecvBufferOptions options) {
  const BufRingSpec spec{kGroup, options.count, options.size};
  if (!valid_buf_ring(spec) || options.count > kMaxRecvBuffers || options.size > kMaxRecvBufferSize) {
    return fail(errc::invalid_argument);
  }
  if (base_ != nullptr) return fail_errno(EBUSY);
  spec_ = spec;
  return {};
}

Result<void> RecvPool::ensure_registered() {
  if (base_ != nullptr) return {};
  if (!ring_->caps().recv_multishot) return fail_errno(EOPNOTSUPP);
  char* base = nullptr;
  if (const int32_t r = ring_->setup_buffer_ring(spec_, base); r < 0) return fail_errno(-r);
  base_ = base;
  return {};
}

void RecvPool::give_back(uint16_t id) noexcept {
  RINGO_ASSERT(outstanding_ > 0, "a buffer comes back once");
  --outstanding_;
  if (detached_) {
    RINGO_ASSERT(false, "a RecvBuffer outlived its Runtime");
    if (outstanding_ == 0) delete this;
    return;
  }
  ring_->recycle_buffer(spec_.group, id);
  if (starved_.empty()) return;
  std::vector<BufReader*> dry;
  dry.swap(starved_);
  for (BufReader* r : dry) r->on_buffers_back();
}

void RecvPool::forget(BufReader* r) noexcept { std::erase(starved_, r); }

void RecvPool::detach() noexcept {
  detached_ = true;
  starved_.clear();
  if (outstanding_ == 0) delete this;
}

// ---------------------------------------------------------------- BufReader

Result<BufReader*> BufReader::of(const io::Descriptor& d, Owner& owner, uint32_t name_room) {
  if (std::error_code e = d.check()) return std::unexpected(e);
  if (owner) return owner.get();
  RecvPool* pool = RecvPool::of(d.home());
  if (name_room != 0 && pool->buffer_size() <= sizeof(RecvMsgOut) + name_room) return fail(errc::invalid_argument);
  if (auto r = pool->ensure_registered(); !r) return std::unexpected(r.error());
  owner.reset(new BufReader(d.home(), d.fd(), pool, name_room));
  return owner.get();
}

bool BufReader::Next::await_ready() {
  me = this_routine();
  if (me == nullptr) return waiter.slot.emplace(fail(errc::not_in_runtime)), true;
  if (me->should_cancel()) return waiter.slot.emplace(fail(errc::cancelled)), true;
  return reader->take(waiter.slot);
}

WaitInfo BufReader::Next::describe(const void* ctx) {
  return {"recv_buffered", static_cast<uint64_t>(static_cast<const Next*>(ctx)->reader->fd_)};
}

void BufReader::Next::await_suspend(std::coroutine_handle<> h) {
  static constexpr WaitKind kWait{&Next::on_cancel, &Next::describe};
  waiter.routine = me;
  reader->waiters_.push_back(&waiter);
  reader->arm_if_wanted();
  reader->home_->park(me, h, kWait, this);
}

// The waiter leaves; the multishot stays armed and what it receives waits in the queue.
void BufReader::Next::on_cancel(Routine* r, void* ctx) {
  auto* self = static_cast<Next*>(ctx);
  self->reader->waiters_.remove(&self->waiter);
  self->waiter.slot.emplace(fail(errc::cancelled));
  r->shard->unpark(r);
}

// Queued data first, then the end (EOF or error), which stays for every later call of a
// stream; a datagram socket's error goes to this call only, and the next one re-arms.
bool BufReader::take(std::optional<Result<RecvBuffer>>& slot) {
  if (!queued_.empty()) {
    const Chunk c = queued_.take_front();
    slot.emplace(RecvBuffer(pool_, c.id, pool_->address(c.id), c.size));
    arm_if_wanted();
    return true;
  }
  if (error_ && datagrams()) {
    slot.emplace(std::unexpected(*std::exchange(error_, std::nullopt)));
    arm_if_wanted();  // for the waiters behind this one
    return true;
  }
  if (error_) return slot.emplace(std::unexpected(*error_)), true;
  if (eof_) return slot.emplace(RecvBuffer{}), true;
  return false;
}

Sqe BufReader::multishot_sqe() {
  Sqe sqe;
  sqe.opcode = Opcode::recv;
  sqe.fd = fd_;
  sqe.flags = kSqeBufferSelect;
  sqe.buf_group = pool_->group();
  sqe.ioprio = kRecvMultishot;
  if (datagrams()) {
    msg_ = msghdr{};
    msg_.msg_name = &name_;
    msg_.msg_namelen = name_room_;
    sqe.opcode = Opcode::recvmsg;
    sqe.addr = reinterpret_cast<uintptr_t>(&msg_);
    sqe.off = MSG_TRUNC;  // RecvMsgOut::payloadlen is then the datagram's full length
  }
  return sqe;
}

void BufReader::arm_if_wanted() {
  if (retired_ || state_ != State::idle || starved_ || eof_ || error_ || queued_.size() > kMaxQueued / 2) return;
  op_ = home_->submit_raw(multishot_sqe(), &BufReader::on_cqe, this);
  state_ = State::armed;
}

void BufReader::on_buffers_back() {
  starved_ = false;
  arm_if_wanted();
}

void BufReader::on_data(uint16_t id, int32_t size) {
  pool_->lent();
  if (retired_ || size <= 0) {
    pool_->give_back(id);
    return;
  }
  queued_.push_back(Chunk{id, static_cast<uint32_t>(size)});
  if (queued_.size() >= kMaxQueued && state_ == State::armed) {
    state_ = State::cancelling;
    home_->cancel(op_);
  }
}

// A result without a buffer: end of stream, the ring ran dry, our cancel, or an error.
void BufReader::on_end(int32_t res) {
  if (res == 0 && datagrams()) {
    // No backend posts this (after SHUT_RD Linux leaves a multishot RECVMSG silent, docs/io.md);
    // should one, a datagram socket has no end of stream: an error, not EOF.
    error_ = errno_code(ESHUTDOWN);
  } else if (res == 0) {
    eof_ = true;
  } else if (res == -ENOBUFS) {
    // Buffers that came back before this CQE was reaped found no one starved: re-arm now.
    if (pool_->has_free()) return;
    starved_ = true;
    if (!retired_) pool_->wait_for_buffers(this);
  } else if (!(res == -ECANCELED && state_ == State::cancelling)) {
    error_ = errno_code(-res);
  }
}

void BufReader::serve_waiters() {
  while (!waiters_.empty()) {
    ReadWaiter* w = waiters_.front();
    if (!take(w->slot)) return;
    waiters_.pop_front();
    home_->unpark(w->routine);
  }
}

void BufReader::on_cqe(void* ctx, int32_t res, uint32_t flags) {
  auto* self = static_cast<BufReader*>(ctx);
  if ((flags & kCqeBuffer) != 0) {
    self->on_data(cqe_buffer_id(flags), res);
  } else if (res > 0 || (flags & kCqeMore) != 0) {
    RINGO_ASSERT(false, "a multishot recv's data comes in a provided buffer");
  } else {
    self->on_end(res);
  }
  if ((flags & kCqeMore) != 0) {
    if (!self->retired_) self->serve_waiters();
    return;
  }
  self->state_ = State::idle;
  if (self->retired_) {
    self->home_->disown(self);
    delete self;
    return;
  }
  self->arm_if_wanted();  // the kernel may end a multishot at any time
  self->serve_waiters();
}

void BufReader::retire() noexcept {
  if (shard_tearing_down()) {
    delete this;  // no more CQEs will be reaped; waiting frames may be gone
    return;
  }
  if (current_shard() != home_) return;  // off its shard: left behind, as Acceptor::retire
  retired_ = true;
  pool_->forget(this);
  while (ReadWaiter* w = waiters_.pop_front()) {
    w->slot.emplace(fail_errno(EBADF));
    home_->unpark(w->routine);
  }
  while (!queued_.empty()) pool_->give_back(queued_.take_front().id);
  if (state_ == State::idle) {
    delete this;
    return;
  }
  // The op's last CQE frees this, or the shard if it is destroyed first (a shutdown cut
  // short), as in Acceptor::retire; adopted before the cancel, which may free this at once.
  home_->adopt(this);
  if (state_ == State::armed) {
    state_ = State::cancelling;
    home_->cancel(op_);
  }
}

BufReader::~BufReader() {
  pool_->forget(this);
  while (!queued_.empty()) pool_->give_back(queued_.take_front().id);
}

}  // namespace ringo::net::detail

namespace ringo::net {

using namespace ringo::detail;

void detail::BufReaderRetire::operator()(BufReader* r) const noexcept { r->retire(); }

void RecvBuffer::release() noexcept {
  if (pool_ == nullptr) return;
  std::exchange(pool_, nullptr)->give_back(id_);
  size_ = 0;
  data_ = nullptr;
}

Result<void> configure_recv_buffers(RecvBufferOptions options) {
  Shard* shard = current_shard();
  if (shard == nullptr) return fail(errc::not_in_runtime);
  return net::detail::RecvPool::of(shard)->configure(options);
}

size_t recv_buffers_outstanding() noexcept {
  Shard* shard = current_shard();
  if (shard == nullptr || !shard->recv_pool()) return 0;
  return net::detail::RecvPool::of(shard)->outstanding();
}

Task<Result<RecvBuffer>> StreamSocket::recv_buffered(Instant deadline) const {
  Result<net::detail::BufReader*> reader = net::detail::BufReader::of(d_, reader_, 0);
  if (!reader) co_return std::unexpected(reader.error());
  if (deadline == kNoDeadline) co_return co_await (*reader)->next();
  co_return co_await with_deadline(deadline, (*reader)->next());
}

}  // namespace ringo::net
