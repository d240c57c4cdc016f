// A FIFO doubly-linked list threaded through its elements (no allocation): the shard's
// live routines and a channel's waiting senders and receivers. Prev/Next name the
// element's link members. Removing an element that is not in the list is a no-op.
#pragma once

namespace ringo::detail {

template <class T, T* T::*Prev, T* T::*Next>
class IntrusiveList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  T* front() const noexcept { return head_; }
  static T* next(const T* n) noexcept { return n->*Next; }

  bool contains(const T* n) const noexcept { return n->*Prev != nullptr || n->*Next != nullptr || head_ == n; }

  void push_back(T* n) noexcept {
    n->*Prev = tail_;
    n->*Next = nullptr;
    if (tail_ != nullptr) {
      tail_->*Next = n;
    } else {
      head_ = n;
    }
    tail_ = n;
  }

  void remove(T* n) noexcept {
    if (!contains(n)) return;
    if (n->*Prev != nullptr) {
      n->*Prev->*Next = n->*Next;
    } else {
      head_ = n->*Next;
    }
    if (n->*Next != nullptr) {
      n->*Next->*Prev = n->*Prev;
    } else {
      tail_ = n->*Prev;
    }
    n->*Prev = n->*Next = nullptr;
  }

  T* pop_front() noexcept {
    T* n = head_;
    if (n != nullptr) remove(n);
    return n;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace ringo::detail
