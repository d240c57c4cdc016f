// The op slab: every kernel operation a shard has queued or in flight owns a record here.
// Its user_data is a generation-checked handle, never a pointer: a completion for a
// freed, reused, duplicated or forged handle fails lookup and is counted, not followed.
//
// user_data layout (64 bits):
//   [63..56] kind   (op, link timeout, cancel request, doorbell; 0xFF = ring message)
//   [55..32] generation (24 bits, bumped on every reuse of the slot)
//   [31..0]  slot index
// Ring messages instead carry [63..56] = 0xFF and a 56-bit payload.
//
// A record's states: free -> queued (acquire) -> in_flight (pushed) -> free (release),
// or queued -> free (cancelled before it was pushed). Each step asserts the state it
// leaves (op_driver.hpp walks an op through them).
#pragma once

#include <cstdint>
#include <vector>

#include "ringo/internal/core/ring.hpp"

namespace ringo::detail {

// doorbell: a MSG_RING doorbell sent with kSqeSkipSuccess, slot = the target shard; it has
// no slab record, and only its failure posts a CQE.
enum class UdKind : uint8_t { op = 1, link_timeout = 2, cancel = 3, doorbell = 4, message = 0xFF };

struct UserData {
  static constexpr uint64_t kPayloadMask = (uint64_t{1} << 56) - 1;
  static constexpr uint32_t kGenerationMask = (1u << 24) - 1;

  static uint64_t make(UdKind kind, uint32_t generation, uint32_t slot) noexcept {
    return (uint64_t{static_cast<uint8_t>(kind)} << 56) | (uint64_t{generation & kGenerationMask} << 32) | slot;
  }
  static uint64_t message(uint64_t payload) noexcept { return (uint64_t{0xFF} << 56) | (payload & kPayloadMask); }
  static UdKind kind(uint64_t ud) noexcept { return static_cast<UdKind>(ud >> 56); }
  static uint32_t generation(uint64_t ud) noexcept { return static_cast<uint32_t>(ud >> 32) & kGenerationMask; }
  static uint32_t slot(uint64_t ud) noexcept { return static_cast<uint32_t>(ud); }
  static uint64_t payload(uint64_t ud) noexcept { return ud & kPayloadMask; }
  static uint64_t with_kind(uint64_t ud, UdKind kind) noexcept {
    return (ud & ~(uint64_t{0xFF} << 56)) | (uint64_t{static_cast<uint8_t>(kind)} << 56);
  }
};

// Lane A completion callback: res is the kernel's result (negative errno on failure;
// -ECANCELED when it was cancelled; -ETIME with kOpDeadlineExpired in flags when the op's
// deadline won). flags are the CQE's flags plus ringo's own two bits, 31 and 30, which
// lie in the CQE's buffer-id field (bits 16 to 31, kCqeBufferShift) and are safe there by
// construction: bit 31 because no buffer id reaches 2^15 (kMaxBufRingEntries), bit 30
// because it is only set on ops that select no buffer (submit_send_zc_early asserts it).
using OpCallback = void (*)(void* ctx, int32_t res, uint32_t flags);
inline constexpr uint32_t kOpDeadlineExpired = 1u << 31;
static_assert(kMaxBufRingEntries <= (kOpDeadlineExpired >> kCqeBufferShift),
              "a buffer id never sets kOpDeadlineExpired's bit");
// On the last callback of an op submitted with OpDriver::submit_send_zc_early: its result
// was reported by an earlier callback (with kCqeMore); this one only says the op ended.
inline constexpr uint32_t kOpResultReported = 1u << 30;

// How a cancelled op ended. The contract: exactly one of these per cancelled op.
enum class CancelOutcome : uint8_t {
  before_submit,     // never reached the kernel
  kernel_cancelled,  // the kernel reported -ECANCELED
  completed_anyway,  // it completed first; its real result was delivered
  deadline_expired,  // its deadline fired too: it reports -ETIME
};

struct OpRecord {
  enum class State : uint8_t { free, queued, in_flight };
  uint32_t generation = 0;
  State state = State::free;
  uint8_t cqes_outstanding = 0;  // 2 while an op and its link timeout are both pending
  bool cancel_requested = false;
  bool deadline_fired = false;
  bool op_cqe_seen = false;
  bool timeout_cqe_seen = false;
  bool has_deadline = false;
  bool multishot = false;       // CQEs with kCqeMore go to the callback; the last one ends it
  bool zero_copy = false;       // SEND_ZC: the result (kCqeMore) is kept until the kCqeNotif CQE
  bool zc_result_seen = false;  // that result arrived
  bool zc_early = false;        // ... but reported at once (submit_send_zc_early), the end later
  bool zc_result_reported = false;
  bool cancel_settled = false;  // its CancelOutcome was counted (once)
  bool is_close = false;        // a CLOSE: never cancelled (the descriptor is the ring's already)
  int32_t res = 0;
  uint32_t cqe_flags = 0;
  OpCallback callback = nullptr;
  void* ctx = nullptr;
  uint32_t next_free = 0;
};

class OpSlab {
 public:
  explicit OpSlab(uint32_t initial_capacity = 256);

  // Returns the slot of a fresh record in state queued.
  uint32_t acquire(OpCallback callback, void* ctx);
  // queued -> in_flight: the ring took its Sqe. It will post one CQE, two with a deadline
  // (the op's and its link timeout's).
  void pushed(uint32_t slot, bool has_deadline, bool multishot) noexcept;
  // queued or in_flight -> free; the handle names nothing from now on.
  void release(uint32_t slot);

  // The record for user_data if its slot exists, its generation matches and it is live.
  OpRecord* lookup(uint64_t user_data) noexcept;
  OpRecord& at(uint32_t slot) noexcept { return records_[slot]; }
  uint64_t handle(uint32_t slot, UdKind kind = UdKind::op) const noexcept {
    return UserData::make(kind, records_[slot].generation, slot);
  }
  size_t live() const noexcept { return live_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  std::vector<OpRecord> records_;
  uint32_t free_head_ = kNone;
  size_t live_ = 0;
};

}  // namespace ringo::detail
