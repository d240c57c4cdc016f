#include "ringo/internal/core/op_slab.hpp"

#include "ringo/internal/core/assert.hpp"

namespace ringo::detail {

OpSlab::OpSlab(uint32_t initial_capacity) { records_.reserve(initial_capacity); }

uint32_t OpSlab::acquire(OpCallback callback, void* ctx) {
  uint32_t slot;
  if (free_head_ != kNone) {
    slot = free_head_;
    free_head_ = records_[slot].next_free;
  } else {
    slot = static_cast<uint32_t>(records_.size());
    records_.emplace_back();
  }
  OpRecord& r = records_[slot];
  RINGO_ASSERT(r.state == OpRecord::State::free, "acquire takes a free record");
  const uint32_t generation = (r.generation + 1) & UserData::kGenerationMask;
  r = OpRecord{};
  r.generation = generation;
  r.state = OpRecord::State::queued;
  r.callback = callback;
  r.ctx = ctx;
  ++live_;
  return slot;
}

void OpSlab::pushed(uint32_t slot, bool has_deadline, bool multishot) noexcept {
  OpRecord& r = records_[slot];
  RINGO_ASSERT(r.state == OpRecord::State::queued, "only a queued op is pushed, once");
  r.state = OpRecord::State::in_flight;
  r.has_deadline = has_deadline;
  r.multishot = multishot;
  r.cqes_outstanding = has_deadline ? 2 : 1;
}

void OpSlab::release(uint32_t slot) {
  OpRecord& r = records_[slot];
  RINGO_ASSERT(r.state != OpRecord::State::free, "a record is released once per use");
  RINGO_ASSERT(r.state == OpRecord::State::queued || r.cqes_outstanding == 0,
               "an op in flight is released only after its last CQE");
  RINGO_ASSERT(live_ > 0, "live counts the records not free");
  r.state = OpRecord::State::free;
  r.callback = nullptr;
  r.ctx = nullptr;
  r.next_free = free_head_;
  free_head_ = slot;
  --live_;
}

OpRecord* OpSlab::lookup(uint64_t user_data) noexcept {
  const uint32_t slot = UserData::slot(user_data);
  if (slot >= records_.size()) return nullptr;
  OpRecord& r = records_[slot];
  if (r.state == OpRecord::State::free) return nullptr;
  if (r.generation != UserData::generation(user_data)) return nullptr;
  return &r;
}

}  // namespace ringo::detail
