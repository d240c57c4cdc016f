// Orphan: an object whose owner let go of it while its kernel op was still in flight, so
// that op's last CQE is what frees it. A listener's Acceptor and a stream's recv_buffered
// reader (api/src/) are such objects once retired: their multishot op is being cancelled,
// and the kernel may post to it until its last CQE.
//
// A shard may be destroyed before that CQE comes: a Runtime whose shutdown_timeout passed,
// a simulated run whose SimConfig::shutdown_steps ran out, a Cluster host that crashed or
// was stopped. Then no CQE will ever be reaped, and nothing else points at the object: it
// was leaked (LeakSanitizer saw the Acceptor, its queue, and the connections queued in it
// stayed open). So the shard keeps its orphans on a list (Shard::adopt) and deletes those
// still on it when it is destroyed, as it does the frames of unfinished routines: while
// shard_tearing_down() holds (no more submissions; descriptors close synchronously) and
// its ring still exists. An orphan whose last CQE does come leaves the list
// (Shard::disown) before it frees itself.
//
// Freeing it then is safe: the kernel op names its record by a generation-checked handle,
// never by the object's address, and no CQE of a destroyed shard is dispatched.
//
// Thread-safety: the shard's own thread, as every Shard member.
#pragma once

#include "ringo/internal/core/intrusive_list.hpp"

namespace ringo::detail {

class Orphan {
 public:
  Orphan(const Orphan&) = delete;
  Orphan& operator=(const Orphan&) = delete;
  virtual ~Orphan() = default;

 protected:
  Orphan() = default;

 private:
  friend class Shard;
  Orphan* prev_ = nullptr;
  Orphan* next_ = nullptr;
  using List = IntrusiveList<Orphan, &Orphan::prev_, &Orphan::next_>;
};

}  // namespace ringo::detail
