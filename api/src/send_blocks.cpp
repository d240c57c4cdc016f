// SendBlock and SendBlocks (send_blocks.hpp), SendBuffer, and StreamSocket::write_all_owned.
#include "send_blocks.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

#include "ringo/internal/core/assert.hpp"

namespace ringo::net {

namespace detail {

namespace {
std::atomic<size_t> g_alive{0};  // blocks made and not yet freed (send_buffers_alive)
}  // namespace

// ---------------------------------------------------------------- SendBlock

SendBlock* SendBlock::make(size_t capacity) {
  void* memory = ::operator new(sizeof(SendBlock) + capacity);
  auto* block = new (memory) SendBlock;
  block->capacity = capacity;
  g_alive.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void unref(SendBlock* block) noexcept {
  if (block == nullptr || --block->refs > 0) return;
  if (block->home != nullptr) block->home->forget(block);
  block->~SendBlock();
  ::operator delete(static_cast<void*>(block));
  g_alive.fetch_sub(1, std::memory_order_relaxed);
}

// A call with kCqeMore is the op's result; one without is its end (and, without
// kOpResultReported, its result too). Only a result wakes the writer.
void SendBlock::on_cqe(void* ctx, int32_t res, uint32_t flags) {
  auto* block = static_cast<SendBlock*>(ctx);
  if ((flags & kOpResultReported) == 0 && block->waiter != nullptr) {
    block->res = res;
    block->deadline_expired = (flags & kOpDeadlineExpired) != 0;
    Routine* waiter = std::exchange(block->waiter, nullptr);
    waiter->shard->scheduler().unpark(waiter);
  }
  if ((flags & kCqeMore) == 0) unref(block);
}

// ---------------------------------------------------------------- SendBlocks

SendBlocks* SendBlocks::of(Shard* shard) {
  auto& slot = shard->send_blocks();
  if (!slot) slot = std::make_unique<SendBlocks>();
  return static_cast<SendBlocks*>(slot.get());
}

void SendBlocks::hold(SendBlock* block) noexcept {
  ++block->refs;
  if (block->home == this) return;
  RINGO_ASSERT(block->home == nullptr, "a block's ops all go to one shard");
  block->home = this;
  live_.push_back(block);
  ++size_;
}

void SendBlocks::forget(SendBlock* block) noexcept {
  RINGO_ASSERT(block->home == this && size_ > 0, "a listed block leaves its list once");
  live_.remove(block);
  block->home = nullptr;
  --size_;
}

// The shard stopped with notifications outstanding: no CQE will come to end those ops.
SendBlocks::~SendBlocks() {
  while (SendBlock* block = live_.front()) {
    forget(block);
    block->refs = 1;
    unref(block);
  }
}

// ---------------------------------------------------------------- OwnedSendAwaiter

void OwnedSendAwaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  Shard& shard = *me->shard;
  SendBlocks::of(&shard)->hold(block);
  block->waiter = me;
  token = shard.ops().submit_send_zc_early(sqe, &SendBlock::on_cqe, block, deadline);
  shard.scheduler().park(me, h, kWait, this);
}

// The routine stays parked until the op's result: the kernel decides the outcome.
void OwnedSendAwaiter::on_cancel(Routine* me, void* ctx) {
  Shard& shard = *me->shard;
  shard.ops().cancel(shard, static_cast<OwnedSendAwaiter*>(ctx)->token);
}

WaitInfo OwnedSendAwaiter::describe(const void* ctx) {
  const auto* a = static_cast<const OwnedSendAwaiter*>(ctx);
  return {opcode_name(a->sqe.opcode), a->token.user_data};
}

Result<size_t> OwnedSendAwaiter::await_resume() noexcept {
  if (early) return std::unexpected(early);
  const int32_t res = block->res;
  if (res >= 0) return static_cast<size_t>(res);
  if (block->deadline_expired) return fail(errc::timed_out);
  if (res == -ECANCELED && me->cancel_requested) return fail(errc::cancelled);
  return fail_errno(res);
}

}  // namespace detail

// ---------------------------------------------------------------- SendBuffer

SendBuffer::SendBuffer(size_t size)
    : block_(detail::SendBlock::make(size)), data_(block_->bytes()), size_(size), capacity_(size) {}

SendBuffer SendBuffer::copy_of(std::span<const char> bytes) {
  SendBuffer b(bytes.size());
  if (!bytes.empty()) std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

Result<void> SendBuffer::resize(size_t size) noexcept {
  if (size > capacity_) return fail(errc::invalid_argument);
  size_ = size;
  return {};
}

size_t send_buffers_in_kernel() noexcept {
  ringo::detail::Shard* shard = ringo::detail::current_shard();
  if (shard == nullptr || !shard->send_blocks()) return 0;
  return detail::SendBlocks::of(shard)->size();
}

size_t send_buffers_alive() noexcept { return detail::g_alive.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- write_all_owned

// Each part is one op; the write holds buf (one reference) until it returns, each op one
// more until its notification.
Task<Result<void>> StreamSocket::write_all_owned(SendBuffer buf, Instant deadline) const {
  using namespace ringo::detail;
  Shard* home = d_.home();
  const Opcode op = home != nullptr && home->ring().caps().send_zc ? Opcode::send_zc : Opcode::send;
  size_t done = 0;
  while (done < buf.size()) {
    detail::OwnedSendAwaiter part;
    part.block = buf.block_;
    part.sqe = io::transfer_sqe(op, buf.data() + done, buf.size() - done, MSG_NOSIGNAL);
    part.sqe.fd = d_.fd();
    part.deadline = deadline;
    part.early = d_.check();
    Result<size_t> n = co_await part;
    if (!n) co_return std::unexpected(n.error());
    done += *n;  // a send of a non-empty buffer never returns 0: the loop goes on
  }
  co_return Result<void>{};
}

}  // namespace ringo::net
