// The Linux AIO system calls AioRing makes, and a look at the context's completion ring.
// glibc wraps none of them, and libaio's wrappers add nothing the ring needs
// (docs/backends.md says why no libaio). Each returns what syscall(2) returns: -1 with
// errno set on failure. Private to aio/.
#pragma once

#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace ringo::aio::sys {

inline long io_setup(unsigned nr, aio_context_t* ctx) { return syscall(__NR_io_setup, nr, ctx); }
inline long io_destroy(aio_context_t ctx) { return syscall(__NR_io_destroy, ctx); }
inline long io_submit(aio_context_t ctx, long n, iocb** cbs) { return syscall(__NR_io_submit, ctx, n, cbs); }
inline long io_cancel(aio_context_t ctx, iocb* cb, io_event* ev) { return syscall(__NR_io_cancel, ctx, cb, ev); }
inline long io_getevents(aio_context_t ctx, long min, long max, io_event* evs, timespec* ts) {
  return syscall(__NR_io_getevents, ctx, min, max, evs, ts);
}

// A syscall's result as a CQE's: the value, or -errno.
inline int32_t neg_errno(long r) { return r < 0 ? -errno : static_cast<int32_t>(r); }

// The context's completion ring, mapped into user space at ctx (a stable kernel ABI that
// fio's userspace_reap and others read). Only peeked at: io_getevents still consumes it.
struct CompletionRingHeader {
  unsigned id;
  unsigned nr;
  unsigned head;
  unsigned tail;
  unsigned magic;
  unsigned compat_features;
  unsigned incompat_features;
  unsigned header_length;
};
inline constexpr unsigned kCompletionRingMagic = 0xa10a10a1;

// False when the ring's header is not the one above: then nothing can be peeked.
inline bool can_peek(aio_context_t ctx) {
  return reinterpret_cast<const CompletionRingHeader*>(ctx)->magic == kCompletionRingMagic;
}

// May the context hold completions io_getevents would return? Costs no syscall; true when
// the ring cannot be peeked (then only the kernel knows).
inline bool may_have_events(aio_context_t ctx) {
  const auto* h = reinterpret_cast<const CompletionRingHeader*>(ctx);
  if (h->magic != kCompletionRingMagic) return true;
  const unsigned head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
  const unsigned tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
  return head != tail;
}

}  // namespace ringo::aio::sys
