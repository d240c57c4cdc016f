// The checks Linux makes on a SENDMSG/RECVMSG's msghdr before anything is sent or received,
// for the backends that read the msghdr themselves (the simulator; AIO's multishot
// emulation). Measured on io_uring (kernel 6.18, conformance_test's
// RecvmsgNameLengthsAreCheckedAsTheKernelChecksThem):
// - msg_namelen is an int in the kernel: with a name, a length above INT_MAX is -EINVAL
//   (a null name's length is ignored). Lengths up to INT_MAX are accepted and capped at
//   sizeof(sockaddr_storage): a receive writes no more than the sender's address.
// - a multishot RECVMSG keeps msg_namelen bytes of room in each buffer, not capped, and
//   its header (RecvMsgOut + name room + control room) must fit in an int: -EOVERFLOW
//   otherwise, also for a null name's length above INT_MAX.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>

#include "ringo/internal/core/ring.hpp"

namespace ringo::detail {

// -EINVAL when a named msghdr's length is negative as the kernel's int, else 0.
inline int32_t check_msg_name(const msghdr& m) noexcept {
  return m.msg_name != nullptr && m.msg_namelen > static_cast<socklen_t>(INT_MAX) ? -EINVAL : 0;
}

// The bytes a multishot RECVMSG keeps before each payload (head), or the error io_uring
// gives such an op at once, before any buffer is picked.
inline int32_t multishot_recvmsg_head(const msghdr& m, size_t& head) noexcept {
  if (const int32_t e = check_msg_name(m); e < 0) return e;
  if (m.msg_namelen > static_cast<socklen_t>(INT_MAX) || m.msg_controllen > size_t{INT_MAX}) return -EOVERFLOW;
  const uint64_t h = uint64_t{sizeof(RecvMsgOut)} + m.msg_namelen + m.msg_controllen;
  if (h > uint64_t{INT_MAX}) return -EOVERFLOW;
  head = static_cast<size_t>(h);
  return 0;
}

}  // namespace ringo::detail
