// SimNet's datagram sockets (sim_net.hpp): connect (fixes the peer, never waits), send
// (never waits: one datagram, routed at once), receive (one whole datagram, truncated to
// the buffer, or park). UDP faults: loss, duplication, reordering, each drawn from the
// seed per datagram.
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "fault_kind.hpp"
#include "op_buffers.hpp"
#include "ringo/internal/core/assert.hpp"
#include "ringo/internal/core/msghdr_checks.hpp"
#include "sim_net.hpp"

namespace ringo::sim::detail {

namespace {

// The largest UDP payload: 65,535 minus the IP and UDP headers (IPv6's header is not in
// its payload length, so its limit is higher).
// A Unix datagram is bounded by the socket buffer instead.
size_t max_payload(int domain) {
  if (domain == AF_UNIX) return kDatagramQueueBytes;
  return domain == AF_INET6 ? 65527 : 65507;
}

// The buffers a SENDMSG/RECVMSG's msghdr names, checked as the kernel checks them (its
// name's length first: msghdr_checks.hpp).
int32_t msg_buffers(const msghdr* msg, IoList& out) {
  out.clear();
  if (msg == nullptr) return -EFAULT;
  if (const int32_t e = ringo::detail::check_msg_name(*msg); e < 0) return e;
  if (msg->msg_iovlen > IOV_MAX) return -EMSGSIZE;
  if (msg->msg_iov == nullptr && msg->msg_iovlen > 0) return -EFAULT;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) {
    if (msg->msg_iov[i].iov_base == nullptr && msg->msg_iov[i].iov_len > 0) return -EFAULT;
    out.push_back(msg->msg_iov[i]);
  }
  return 0;
}

msghdr* msg_of(const Sqe& sqe) { return reinterpret_cast<msghdr*>(static_cast<uintptr_t>(sqe.addr)); }

}  // namespace

std::optional<int32_t> SimNet::try_datagram_op(uint64_t id, uint32_t ring, const std::shared_ptr<Socket>& sock,
                                               const Sqe& sqe) {
  switch (sqe.opcode) {
    case Opcode::connect: return connect_datagram(sock, sqe);
    case Opcode::send:
    case Opcode::sendmsg:
    case Opcode::write: return send_datagram(sock, sqe);
    case Opcode::recvmsg:
      if ((sqe.ioprio & kRecvMultishot) != 0) return try_recvmsg_multishot(id, ring, *sock, sqe);
      return try_recv_datagram(id, *sock, sqe);
    case Opcode::recv:
      if ((sqe.ioprio & kRecvMultishot) != 0) return -EINVAL;  // datagrams: RECVMSG (their sender)
      [[fallthrough]];
    case Opcode::read: return try_recv_datagram(id, *sock, sqe);
    case Opcode::shutdown: return shutdown_datagram(*sock, sqe);
    default: return -EOPNOTSUPP;  // accept, vectored I/O on a datagram socket
  }
}

// Fixes the peer (binding an unbound socket first); nothing travels.
int32_t SimNet::connect_datagram(const std::shared_ptr<Socket>& sock, const Sqe& sqe) {
  const void* addr = reinterpret_cast<const void*>(static_cast<uintptr_t>(sqe.addr));
  if (const int32_t e = valid_address(sock->domain, addr, sqe.len); e < 0) return e;
  if (sock->state == Socket::State::fresh) bind_ephemeral(sock);
  sock->peer = Address::of(addr, sqe.len);
  sock->state = Socket::State::connected;
  return 0;
}

// As Linux: a valid `how` always takes effect, and an unconnected UDP socket still says
// ENOTCONN (inet_shutdown shuts it all the same; a Unix one says 0). Reads then return 0
// once nothing is queued (datagrams still arrive: UDP queues them, a Unix sender gets
// EPIPE); a multishot RECVMSG stays armed and silent (kernel 6.18 posts nothing). Sends
// after SHUT_WR fail with EPIPE.
int32_t SimNet::shutdown_datagram(Socket& sock, const Sqe& sqe) {
  const auto how = static_cast<int>(sqe.len);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  sock.read_shut = sock.read_shut || how != SHUT_WR;
  sock.write_shut = sock.write_shut || how != SHUT_RD;
  host_.wake(sock.receivers);
  return sock.domain != AF_UNIX && sock.state != Socket::State::connected ? -ENOTCONN : 0;
}

// One datagram to the msghdr's name, else to the connected peer. An unbound sender gets
// an ephemeral port first (its datagrams need a source to be answered).
int32_t SimNet::send_datagram(const std::shared_ptr<Socket>& sock, const Sqe& sqe) {
  IoList iov;
  Address to = sock->peer;
  const bool with_msg = sqe.opcode == Opcode::sendmsg;
  if (const int32_t e = with_msg ? msg_buffers(msg_of(sqe), iov) : op_buffers(sqe, iov); e < 0) return e;
  if (with_msg && msg_of(sqe)->msg_name != nullptr && msg_of(sqe)->msg_namelen > 0) {
    const msghdr& m = *msg_of(sqe);
    const socklen_t len = std::min<socklen_t>(m.msg_namelen, sizeof(sockaddr_storage));  // the kernel's cap
    if (const int32_t e = valid_address(sock->domain, m.msg_name, len); e < 0) return e;
    to = Address::of(m.msg_name, len);
  } else if (sock->state != Socket::State::connected) {
    return -EDESTADDRREQ;
  }
  if (sock->write_shut) return -EPIPE;
  const size_t size = total_length(iov);
  if (size > max_payload(sock->domain)) return -EMSGSIZE;
  if (sock->state == Socket::State::fresh) {
    bind_ephemeral(sock);
    sock->state = Socket::State::bound;
  }
  Datagram d{sock->domain == AF_UNIX ? sock->local : loopback(sock->domain, sock->local.port()), gather(iov, size)};
  if (fabric_ != nullptr && sock->domain == AF_INET && fabric_->resolve(host_id_, to) != host_id_) {
    d.from = SimFabric::address(host_id_, sock->local.port());  // another host sees our address
  }
  if (sock->domain == AF_UNIX) {  // reliable: no faults; a name nobody holds is an error
    std::shared_ptr<Socket> target = datagram_target(to, *sock);
    if (!target) return unix_name(to).starts_with('\0') ? -ECONNREFUSED : -ENOENT;
    if (target->read_shut) return -EPIPE;  // as unix_dgram_sendmsg
    route(target, d);
    return static_cast<int32_t>(size);
  }
  if (host_.inject(faults_.udp_loss_ppm, fault::kDatagramLoss)) return static_cast<int32_t>(size);
  const int copies = host_.inject(faults_.udp_dup_ppm, fault::kDatagramDup) ? 2 : 1;
  std::shared_ptr<Socket> target = datagram_target(to, *sock);
  for (int i = 0; i < copies && target; ++i) route(target, d);
  return static_cast<int32_t>(size);
}

// The bound datagram socket on to's port (one picked by the seed when several share it),
// or null: nobody is there, or it is connected to someone else (Linux drops those).
std::shared_ptr<Socket> SimNet::datagram_target(const Address& to, const Socket& from) {
  int32_t error = 0;
  SimNet* net = route(to, &error);  // a datagram into a partition or nowhere is lost
  if (net == nullptr) return nullptr;
  std::vector<std::shared_ptr<Socket>> bound = net->bound_at(to, SOCK_DGRAM);
  std::erase_if(bound, [&](const auto& s) {
    return s->domain != from.domain || (s->state == Socket::State::connected && !same_endpoint(s->peer, from.local));
  });
  if (bound.empty()) return nullptr;
  return bound[host_.below(bound.size())];
}

// One copy of d travels to `to`: after the network's latency and its length at the
// link's bandwidth, in order behind what was sent to `to` before, unless the reorder
// fault holds it back (then later datagrams may overtake it). At a full socket it drops.
void SimNet::route(const std::shared_ptr<Socket>& to, const Datagram& d) {
  Instant arrives =
      host_.now() + net_latency() + Duration{static_cast<int64_t>(d.bytes.size()) * faults_.net_ns_per_byte};
  if (to->domain != AF_UNIX && host_.inject(faults_.udp_reorder_ppm, fault::kDatagramReorder)) {
    arrives =
        std::max(arrives, to->last_arrival) + host_.draw(Duration{1}, std::max(Duration{1}, faults_.udp_reorder_max));
  } else {
    arrives = std::max(arrives, to->last_arrival);
    to->last_arrival = arrives;
  }
  std::weak_ptr<Socket> weak = to;
  host_.at(arrives, [this, weak, d] {
    std::shared_ptr<Socket> s = weak.lock();
    // Linux drops UDP at a full socket; a Unix sender would wait instead (not modelled:
    // the simulated Unix queue is unbounded, docs/io.md).
    if (!s || s->closed || (s->domain != AF_UNIX && s->inbox_bytes + d.bytes.size() > kDatagramQueueBytes)) return;
    s->inbox_bytes += d.bytes.size();
    s->inbox.push_back(Datagram(d));
    host_.wake(s->receivers);
  });
}

// One whole datagram into the buffers: what does not fit is discarded and flagged
// (MSG_TRUNC in msg_flags; with MSG_TRUNC in the op's flags the result is the datagram's
// full length, as on Linux). RECVMSG also gets the sender's address.
std::optional<int32_t> SimNet::try_recv_datagram(uint64_t id, Socket& sock, const Sqe& sqe) {
  IoList iov;
  const bool with_msg = sqe.opcode == Opcode::recvmsg;
  if (const int32_t e = with_msg ? msg_buffers(msg_of(sqe), iov) : op_buffers(sqe, iov); e < 0) return e;
  if (sock.inbox.empty()) {
    if (sock.read_shut) return 0;
    sock.receivers.push_back(id);
    return std::nullopt;
  }
  const Datagram d = pop_datagram(sock);
  const size_t taken = scatter(iov, d.bytes.data(), std::min(d.bytes.size(), total_length(iov)));
  if (with_msg) {
    msghdr& m = *msg_of(sqe);
    if (m.msg_name != nullptr) copy_out(d.from, m.msg_name, &m.msg_namelen);
    m.msg_flags = taken < d.bytes.size() ? MSG_TRUNC : 0;
    m.msg_controllen = 0;
  }
  const size_t result = (sqe.off & MSG_TRUNC) != 0 ? d.bytes.size() : taken;
  return static_cast<int32_t>(std::min<size_t>(result, INT32_MAX));
}

Datagram SimNet::pop_datagram(Socket& sock) {
  Datagram d = sock.inbox.take_front();
  RINGO_ASSERT(sock.inbox_bytes >= d.bytes.size(), "inbox_bytes counts every datagram held");
  sock.inbox_bytes -= d.bytes.size();
  return d;
}

// Multishot RECVMSG into provided buffers: each datagram that has arrived fills one buffer
// of the ring's group in io_uring's layout (ring.hpp, RecvMsgOut), one CQE with kCqeMore |
// kCqeBuffer each, and the op stays parked for more. As io_uring, every try (the first,
// each wake-up, the one after each datagram) picks a buffer before it looks for a
// datagram, so it ends (a CQE without kCqeMore) with -ENOBUFS as soon as the group is
// empty, a datagram waiting or not (one waiting stays in the socket), and with -EFAULT when
// a buffer cannot hold the header and the rooms or there is no msghdr; -EINVAL / -EOVERFLOW
// for a msghdr the kernel refuses (msghdr_checks.hpp); or with a last datagram without kCqeMore: a
// zero-length one (Linux does that), or a fault. SHUT_RD does not end it (the kernel posts
// nothing): it waits for more datagrams, which UDP still queues.
std::optional<int32_t> SimNet::try_recvmsg_multishot(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe) {
  const msghdr* want = msg_of(sqe);
  if ((sqe.flags & kSqeBufferSelect) == 0 || sqe.deadline != kNoDeadline) return -EINVAL;
  if (want == nullptr) return -EFAULT;  // the kernel cannot copy it in (6.18), as AIO says
  size_t head = 0;
  if (const int32_t e = ringo::detail::multishot_recvmsg_head(*want, head); e < 0) return e;
  for (;;) {
    const std::optional<uint32_t> room = host_.next_buffer_size(ring, sqe.buf_group);
    if (!room) return -ENOBUFS;
    if (*room < head) return -EFAULT;  // the buffer is not consumed, as in io_uring
    if (sock.inbox.empty()) break;
    const auto buf = host_.take_buffer(ring, sqe.buf_group);
    RINGO_ASSERT(buf && buf->size == *room, "the buffer next_buffer_size described");
    const Datagram d = pop_datagram(sock);
    const size_t kept = std::min(d.bytes.size(), buf->size - head);
    socklen_t namelen = want->msg_namelen;
    copy_out(d.from, buf->data + sizeof(RecvMsgOut), &namelen);  // namelen: the full length
    const size_t payloadlen = (sqe.off & MSG_TRUNC) != 0 ? d.bytes.size() : kept;
    const RecvMsgOut out{namelen, 0, static_cast<uint32_t>(payloadlen),
                         kept < d.bytes.size() ? uint32_t{MSG_TRUNC} : 0u};
    std::memcpy(buf->data, &out, sizeof out);
    std::copy_n(d.bytes.data(), kept, buf->data + head);
    const auto res = static_cast<int32_t>(head + kept);
    const uint32_t flags = kCqeBuffer | (uint32_t{buf->id} << kCqeBufferShift);
    // As in Linux, a zero-length datagram ends the multishot (its CQE without kCqeMore).
    if (d.bytes.empty() || host_.inject(faults_.multishot_end_ppm, fault::kMultishotEnd)) {
      host_.final_flags(flags);
      return res;
    }
    host_.post_more(ring, sqe, res, flags);
  }
  sock.receivers.push_back(id);
  return std::nullopt;
}

}  // namespace ringo::sim::detail
