#include "ringo/internal/core/envelope_pool.hpp"

#include <new>
#include <utility>

#include "pool_bypass.hpp"
#include "ringo/internal/core/assert.hpp"

namespace ringo::detail {

// Right before the caller's bytes of every block. While the block is free its first
// caller word links it into a list or the return stack.
struct alignas(16) EnvelopePool::Header {
  EnvelopePool* pool;   // nullptr: a system block
  uint32_t size_class;  // pooled blocks only
  Header*& next() noexcept { return *reinterpret_cast<Header**>(this + 1); }
};

EnvelopePool::Header*& EnvelopePool::link(Header& h) noexcept { return h.next(); }

namespace {
// A pooled block is one cache line of prefix, whose last bytes are the header, then the
// caller's bytes from a line boundary on: an envelope then spans as few lines as its size
// allows and shares none with another block's start. Measured against 16-byte alignment:
// a select across shards 10-15% faster, the round trip 0-3%.
constexpr std::size_t kLine = 64;

template <class Header>
Header* make_block(std::size_t bytes) {
  auto* raw = static_cast<std::byte*>(::operator new (kLine + bytes, std::align_val_t{kLine}));
  return reinterpret_cast<Header*>(raw + kLine) - 1;
}

template <class Header>
void free_block(Header* h) noexcept {
  ::operator delete (reinterpret_cast<std::byte*>(h + 1) - kLine, std::align_val_t{kLine});
}
}  // namespace

EnvelopePool::~EnvelopePool() {
  take_returned();
  for (Header*& head : lists_) {
    while (head != nullptr) free_block(std::exchange(head, head->next()));
  }
}

bool EnvelopePool::bypassed() noexcept {
#ifdef RINGO_POOL_BYPASS
  return true;
#else
  return false;
#endif
}

void* EnvelopePool::allocate(EnvelopePool* pool, std::size_t size) {
#ifdef RINGO_POOL_BYPASS
  pool = nullptr;
#endif
  const std::size_t c = Classes::of(size);
  if (pool == nullptr || !Classes::pooled(c)) {
    auto* h = static_cast<Header*>(::operator new(sizeof(Header) + size));
    h->pool = nullptr;
    return h + 1;
  }
  if (pool->lists_[c] == nullptr) pool->take_returned();
  Header* h = pool->lists_[c];
  if (h != nullptr) {
    pool->lists_[c] = h->next();
    --pool->counts_[c];
  } else {
    h = make_block<Header>(Classes::bytes(c));
    h->pool = pool;
    h->size_class = static_cast<uint32_t>(c);
    ++pool->made_;
  }
  return h + 1;
}

void EnvelopePool::release(void* block, EnvelopePool* here) noexcept {
  Header* h = static_cast<Header*>(block) - 1;
  if (h->pool == nullptr) return ::operator delete(h);
  if (h->pool == here) return here->keep(h);
  h->pool->give_back(h);
}

void EnvelopePool::keep(Header* h) noexcept {
  RINGO_ASSERT(h->pool == this && Classes::pooled(h->size_class), "a pool keeps only its own pooled blocks");
  const uint32_t c = h->size_class;
  if (counts_[c] >= kMaxCachedPerClass) return free_block(h);  // made on this thread
  h->next() = lists_[c];
  lists_[c] = h;
  ++counts_[c];
}

// The same lock-free stack as a shard's inbox (mpsc_stack.hpp): push by compare-exchange,
// the maker takes everything with one exchange (so a reused address cannot confuse a push).
// Never bounded: it holds at most the blocks this pool made.
void EnvelopePool::give_back(Header* h) noexcept { (void)returned_.push(h); }

void EnvelopePool::take_returned() noexcept {
  if (returned_.load(std::memory_order_relaxed) == ReturnStack::kEmpty) return;
  Header* list = ReturnStack::top(returned_.take_all());  // newest first: order does not matter here
  while (list != nullptr) keep(std::exchange(list, list->next()));
}

}  // namespace ringo::detail
