// MpscStack: the one lock-free stack of ringo, pushed by any thread and taken whole by
// one (its owner). Two things use it: a shard's inbox (ShardPort, mailbox.hpp) and an
// envelope pool's return stack (envelope_pool.hpp).
//
// Contract:
//  - push, from any thread, is one compare-exchange; a failed exchange means another
//    pusher got in first, and it retries on top.
//  - The owner never pops one node: it takes everything with one exchange (newest first),
//    and oldest_first() reverses what it took, so each pusher's nodes come out in the
//    order it pushed them. Taking whole is what makes the stack ABA-free: a node a pusher
//    saw on top cannot come back under it, because nodes are only ever taken all at once.
//  - The head word holds the newest node's address in its low 48 bits and, in its high 16,
//    how many nodes were pushed since the last take (saturating at kCountMax). A bounded
//    push reads the count in the word its compare-exchange already loads, so the limit
//    costs no extra atomic and no extra cache line: the owner's exchange resets it.
//    (A separate counter would add a locked read-modify-write per push, and per take, on
//    the path of every cross-shard message.) Needs user-space addresses below 2^48, as on
//    x86-64 and AArch64 Linux without tagged pointers; push asserts it.
//  - Marks are small words no node can have (1..kMarkMax), set by the owner on an empty
//    stack or by take_all: the inbox's `asleep` and `closed`. A push replaces any mark but
//    the one it is told to refuse; nothing pushed is ever a mark, nor is a mark ever read
//    as a node.
//
// Memory order: push and take_all are acq_rel (what a pusher wrote into its node is seen
// by the owner that takes it); the inbox's sleep handshake adds its own seq_cst operations
// (try_mark, load) on top, see Mailbox::prepare_to_sleep.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "ringo/internal/core/assert.hpp"

namespace ringo::detail {

// Node: the element type; Link(node) is its `next` field (any pointer-sized word of it
// that is free while the node is in the stack).
template <class Node, Node*& (*Link)(Node&) noexcept>
class MpscStack {
  static_assert(sizeof(void*) == 8, "the head word packs a 48-bit address with a 16-bit count");

 public:
  using Word = uint64_t;
  static constexpr Word kEmpty = 0;
  static constexpr Word kMarkMax = 15;
  static constexpr uint32_t kCountMax = 0xFFFF;     // saturates: a count, not an index
  static constexpr uint32_t kNoLimit = UINT32_MAX;  // above any count
  static constexpr Word kRefuseNothing = ~Word{0};  // no head is this word

  static constexpr Word mark(Word k) noexcept { return k; }
  static bool is_mark(Word w) noexcept { return w != kEmpty && w <= kMarkMax; }
  // The newest node in a head word, or nullptr (empty, or a mark).
  static Node* top(Word w) noexcept { return is_mark(w) ? nullptr : reinterpret_cast<Node*>(w & kAddressMask); }
  // Nodes pushed since the last take (0 on an empty stack or a mark).
  static uint32_t count(Word w) noexcept { return static_cast<uint32_t>(w >> kAddressBits); }

  struct Pushed {
    bool ok;      // the node is in the stack
    Word before;  // the head the push found (replaced when ok; the reason when not)
  };

  // Any thread. Pushes n unless the head is `refuse` or already counts `limit` nodes.
  Pushed push(Node* n, Word refuse = kRefuseNothing, uint32_t limit = kNoLimit) noexcept {
    const auto address = reinterpret_cast<Word>(n);
    RINGO_ASSERT(address > kMarkMax && (address & ~kAddressMask) == 0, "a node's address fits in 48 bits");
    Word head = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (head == refuse || count(head) >= limit) return {false, head};
      Link(*n) = top(head);
      const Word counted = Word{std::min(count(head) + 1, kCountMax)} << kAddressBits;
      if (head_.compare_exchange_weak(head, address | counted, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        return {true, head};
      }
    }
  }

  // Owner: takes every node, leaving `leave` (kEmpty or a mark). Returns the word taken.
  Word take_all(Word leave = kEmpty) noexcept { return head_.exchange(leave, std::memory_order_acq_rel); }

  // Owner: puts mark m on an empty stack. False, with `found` the head, if it was not empty.
  bool try_mark(Word m, Word& found, std::memory_order order) noexcept {
    RINGO_ASSERT(is_mark(m), "only a mark replaces an empty stack");
    found = kEmpty;
    return head_.compare_exchange_strong(found, m, order);
  }

  Word load(std::memory_order order) const noexcept { return head_.load(order); }

  // The nodes of a taken word, oldest first (a mark or kEmpty gives nullptr).
  static Node* oldest_first(Word taken) noexcept {
    Node* newest = top(taken);
    Node* list = nullptr;
    while (newest != nullptr) {
      Node* older = Link(*newest);
      Link(*newest) = list;
      list = newest;
      newest = older;
    }
    return list;
  }

 private:
  static constexpr unsigned kAddressBits = 48;
  static constexpr Word kAddressMask = (Word{1} << kAddressBits) - 1;

  std::atomic<Word> head_{kEmpty};
};

}  // namespace ringo::detail
