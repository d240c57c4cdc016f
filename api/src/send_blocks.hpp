// SendBlock and SendBlocks: the memory behind a SendBuffer and the per-shard list of blocks
// the kernel still reads (net.hpp: SendBuffer, StreamSocket::write_all_owned). Private to
// api/.
//
// A SendBlock is one allocation: this header, then the bytes. It is counted, not owned by
// one holder: one reference for the SendBuffer (moved into the write's frame), one per op
// of the write the kernel has not ended. The op's callback drops its reference at the op's
// last CQE (the zero-copy notification, OpDriver::submit_send_zc_early), so the bytes live
// exactly as long as the kernel may read them, however the write ended. The last reference
// frees the block, always on the socket's shard once an op was submitted (the routine and
// the CQEs are both there).
//
// SendBlocks, one per shard (Shard::send_blocks()), lists the blocks with ops in flight.
// A shard that stops before every notification came (shutdown_timeout passed, or the
// simulator ran out of events) frees them when it is destroyed: its ring is closing, no
// CQE will come, and the pages the kernel pinned stay pinned by the kernel itself (Linux
// takes page references for a zero-copy send; the process may free its mapping).
//
// Thread-safety: a block with ops in flight, and SendBlocks, belong to the home shard.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ringo/internal/core/intrusive_list.hpp"
#include "ringo/internal/core/kernel_op.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/net.hpp"

namespace ringo::net::detail {

using namespace ringo::detail;

class SendBlocks;

struct SendBlock {
  uint32_t refs = 1;  // the SendBuffer, plus one per op the kernel has not ended
  size_t capacity = 0;
  SendBlocks* home = nullptr;  // set while ops are in flight
  SendBlock* prev = nullptr;
  SendBlock* next = nullptr;
  // The op whose result the writing routine awaits (at most one: parts go one at a time).
  Routine* waiter = nullptr;
  int32_t res = 0;
  bool deadline_expired = false;

  char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
  static SendBlock* make(size_t capacity);
  // The op callback (OpDriver::submit_send_zc_early's contract).
  static void on_cqe(void* ctx, int32_t res, uint32_t flags);
};

class SendBlocks final : public Shard::Attachment {
 public:
  // The shard's list, made on first use.
  static SendBlocks* of(Shard* shard);
  // An op of block goes to the kernel: one more reference, listed here.
  void hold(SendBlock* block) noexcept;
  // The block is being freed.
  void forget(SendBlock* block) noexcept;
  size_t size() const noexcept { return size_; }
  ~SendBlocks() override;

 private:
  IntrusiveList<SendBlock, &SendBlock::prev, &SendBlock::next> live_;
  size_t size_ = 0;
};

// One part of write_all_owned: a SEND_ZC (or a send, where the ring has none) of
// [addr, addr + len) in block, resumed at its result.
struct OwnedSendAwaiter {
  SendBlock* block = nullptr;
  Sqe sqe;
  Instant deadline = kNoDeadline;
  std::error_code early{};
  Routine* me = this_routine();
  OpToken token{};

  OwnedSendAwaiter() = default;
  OwnedSendAwaiter(const OwnedSendAwaiter&) = delete;
  OwnedSendAwaiter& operator=(const OwnedSendAwaiter&) = delete;
  // Only a frame freed while parked (a runtime torn down) gets here with the op in flight.
  ~OwnedSendAwaiter() {
    if (block != nullptr && me != nullptr && block->waiter == me) block->waiter = nullptr;
  }
  bool await_ready() noexcept { return early || refuse_await(me, early); }
  void await_suspend(std::coroutine_handle<> h) noexcept;
  static void on_cancel(Routine* me, void* ctx);
  static WaitInfo describe(const void* ctx);
  static constexpr WaitKind kWait{&OwnedSendAwaiter::on_cancel, &OwnedSendAwaiter::describe};
  Result<size_t> await_resume() noexcept;
};

}  // namespace ringo::net::detail
