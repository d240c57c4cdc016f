// SimNet (sim_net.hpp): stream sockets on one virtual host. Connections are two one-way
// pipes with latency, bandwidth and a buffer limit; faults (refused connects, resets,
// short transfers) are drawn from the seed.
#include "sim_net.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "fault_kind.hpp"
#include "op_buffers.hpp"
#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

namespace {

// Moves what has arrived into the reader's buffer.
void arrive(Pipe& pipe, Instant now) {
  while (!pipe.in_flight.empty() && pipe.in_flight.front().arrives <= now) {
    const size_t n = pipe.in_flight.take_front().size;
    RINGO_ASSERT(pipe.in_flight_data.size() >= n, "in_flight_data holds every segment's bytes");
    pipe.in_flight_data.move_to(pipe.unread, n);
  }
  RINGO_ASSERT(!pipe.in_flight.empty() || pipe.in_flight_data.empty(), "in_flight_data holds every segment's bytes");
}

// The first n bytes of the buffers, appended to `to` (no copy on the way).
void append_gathered(ByteQueue& to, std::span<const iovec> iov, size_t n) {
  for (const iovec& v : iov) {
    const size_t take = std::min(v.iov_len, n);
    to.append(std::string_view(static_cast<const char*>(v.iov_base), take));
    n -= take;
    if (n == 0) break;
  }
}

}  // namespace

void SimNet::reset_connection(Pipe& a, Pipe& b) {
  for (Pipe* p : {&a, &b}) {
    p->reset = true;
    p->unread.clear();
    p->in_flight.clear();
    p->in_flight_data.clear();
    release_notifs(*p, true);  // the bytes are gone: the kernel lets go of the pages
  }
}

// ---------------------------------------------------------------- SEND_ZC notifications

void SimNet::hold_notif(Pipe& tx, uint32_t ring, const Sqe& sqe) {
  RINGO_ASSERT(tx.notifs.empty() || tx.notifs.back().upto <= tx.sent_total, "notifications wait in send order");
  tx.notifs.push_back({tx.sent_total, host_.hold_final(), ring, sqe});
}

// Ends the held SEND_ZCs whose bytes the reader has taken or acknowledged (all of them: the
// bytes are gone).
void SimNet::release_notifs(Pipe& pipe, bool all) {
  const uint64_t done = std::max(pipe.consumed_total, pipe.acked_total);
  while (!pipe.notifs.empty() && (all || pipe.notifs.front().upto <= done)) {
    const Pipe::HeldNotif n = pipe.notifs.front();
    pipe.notifs.pop_front();
    host_.release_held(n.ring, n.sqe, 0, kCqeNotif, n.result_at);
  }
}

// Bytes that arrived are acknowledged a seeded delay later at most (Linux's delayed ACK:
// 40 ms on a quiet connection; a reader taking them sooner answers sooner, consumed()),
// whether or not the reader ever reads them: a peer that waits for more, shut its reading
// side, or has no ring buffers (ENOBUFS) holds a notification that long, not forever.
void SimNet::ack_later(const std::shared_ptr<Pipe>& pipe) {
  const uint64_t upto = pipe->sent_total - pipe->in_flight_data.size();
  host_.at(host_.now() + host_.draw(Duration{0}, kAckDelay), [this, pipe, upto] {
    pipe->acked_total = std::max(pipe->acked_total, upto);
    release_notifs(*pipe, false);
  });
}

void SimNet::consumed(Pipe& rx, size_t n) {
  rx.consumed_total += n;
  release_notifs(rx, false);
}

// ---------------------------------------------------------------- set-up calls

int64_t SimNet::sys(SysCall& call) {
  if (call.op == SysOp::socket) {
    if (call.arg != AF_INET && call.arg != AF_INET6 && call.arg != AF_UNIX) return -EAFNOSUPPORT;
    const int type = socket_type(call.arg2);
    if (type < 0) return type;
    auto sock = std::make_shared<Socket>();
    sock->domain = call.arg;
    sock->type = type;
    return fds_.allocate(std::move(sock));
  }
  auto sock = fds_.get<Socket>(call.fd);
  if (!sock) return fds_.find(call.fd) != nullptr ? -ENOTSOCK : -EBADF;
  switch (call.op) {
    case SysOp::bind: return bind(sock, call);
    case SysOp::listen: return listen(sock, call);
    case SysOp::local_addr:
    case SysOp::peer_addr: return address(*sock, call);
    case SysOp::set_option: return set_option(*sock, call);
    default: return -EINVAL;
  }
}

int64_t SimNet::bind(const std::shared_ptr<Socket>& sock, const SysCall& call) {
  if (sock->state != Socket::State::fresh) return -EINVAL;
  if (const int32_t e = valid_address(sock->domain, call.addr, call.addr_len); e < 0) return e;
  Address a = Address::of(call.addr, call.addr_len);
  if (sock->domain == AF_UNIX) return bind_unix(sock, a);
  uint16_t port = a.port();
  if (port == 0) port = next_ephemeral_++;
  for (auto [it, end] = ports_.equal_range(port); it != end; ++it) {
    auto other = it->second.lock();
    if (!other || other->closed || other->type != sock->type) continue;  // UDP and TCP ports are apart
    if (!(other->reuse_port && sock->reuse_port)) return -EADDRINUSE;
  }
  set_port(a, port);
  sock->local = a;
  sock->state = Socket::State::bound;
  ports_.emplace(port, sock);
  return 0;
}

// A name in the simulator's Unix namespace: taken while a socket bound to it is open.
int64_t SimNet::bind_unix(const std::shared_ptr<Socket>& sock, const Address& a) {
  const std::string name = unix_name(a);
  auto it = names_.find(name);
  if (it != names_.end()) {
    auto other = it->second.lock();
    if (other && !other->closed) return -EADDRINUSE;
  }
  names_[name] = sock;
  sock->local = a;
  sock->state = Socket::State::bound;
  return 0;
}

std::vector<std::shared_ptr<Socket>> SimNet::bound_at(const Address& a, int type) {
  std::vector<std::shared_ptr<Socket>> out;
  auto keep = [&](const std::weak_ptr<Socket>& w) {
    auto s = w.lock();
    if (s && !s->closed && s->type == type) out.push_back(std::move(s));
  };
  if (a.storage.ss_family == AF_UNIX) {
    if (auto it = names_.find(unix_name(a)); it != names_.end()) keep(it->second);
    return out;
  }
  for (auto [it, end] = ports_.equal_range(a.port()); it != end; ++it) keep(it->second);
  return out;
}

// A socket that connects or listens unbound gets a loopback address on the next
// ephemeral port (a Unix one stays unnamed).
void SimNet::bind_ephemeral(const std::shared_ptr<Socket>& sock) {
  RINGO_ASSERT(sock->state == Socket::State::fresh, "only an unbound socket gets an ephemeral port");
  if (sock->domain == AF_UNIX) {
    sock->local = loopback(AF_UNIX, 0);
    return;
  }
  sock->local = loopback(sock->domain, next_ephemeral_++);
  ports_.emplace(sock->local.port(), sock);
}

int64_t SimNet::listen(const std::shared_ptr<Socket>& sock, const SysCall& call) {
  if (sock->datagram()) return -EOPNOTSUPP;
  if (sock->state == Socket::State::connected) return -EINVAL;
  if (sock->state == Socket::State::fresh) bind_ephemeral(sock);
  sock->state = Socket::State::listening;
  sock->backlog = static_cast<uint32_t>(std::clamp(call.arg, 1, 4096));
  return 0;
}

int64_t SimNet::address(const Socket& sock, SysCall& call) {
  if (call.op == SysOp::peer_addr && sock.state != Socket::State::connected) return -ENOTCONN;
  Address a = call.op == SysOp::peer_addr ? sock.peer : sock.local;
  if (a.length == 0) a = loopback(sock.domain, 0);
  socklen_t len = call.addr_len;
  if (call.addr == nullptr) return -EFAULT;
  copy_out(a, call.addr, &len);
  call.addr_len = len;
  return 0;
}

int64_t SimNet::set_option(Socket& sock, const SysCall& call) {
  switch (static_cast<SockOption>(call.arg)) {
    case SockOption::reuse_addr: sock.reuse_addr = call.arg2 != 0; return 0;
    case SockOption::reuse_port: sock.reuse_port = call.arg2 != 0; return 0;
    case SockOption::nodelay: sock.nodelay = call.arg2 != 0; return 0;
  }
  return -EINVAL;
}

// ---------------------------------------------------------------- ops

std::optional<int32_t> SimNet::try_op(uint64_t id, uint32_t ring, const Sqe& sqe) {
  auto sock = fds_.get<Socket>(sqe.fd);
  if (!sock) return fds_.find(sqe.fd) != nullptr ? -ENOTSOCK : -EBADF;
  if (sock->datagram()) return try_datagram_op(id, ring, sock, sqe);
  if (sqe.opcode == Opcode::accept) return try_accept(id, ring, *sock, sqe);
  if (sqe.opcode == Opcode::connect) return try_connect(id, sock, sqe);
  if (sqe.opcode == Opcode::shutdown) return shutdown(*sock, sqe);
  const bool reading = sqe.opcode == Opcode::recv || sqe.opcode == Opcode::read || sqe.opcode == Opcode::readv;
  const bool writing = sqe.opcode == Opcode::send || sqe.opcode == Opcode::send_zc || sqe.opcode == Opcode::write ||
                       sqe.opcode == Opcode::writev;
  if (!reading && !writing) return -EOPNOTSUPP;
  if (sqe.opcode == Opcode::send_zc && sock->domain == AF_UNIX) {
    // As Linux 6.18's (checked): AF_UNIX has no zero-copy; SEND_ZC's result is -EOPNOTSUPP
    // with kCqeMore, then its notification.
    host_.post_more(ring, sqe, -EOPNOTSUPP);
    host_.final_flags(kCqeNotif);
    return 0;
  }
  if (sock->state != Socket::State::connected) return -ENOTCONN;
  RINGO_ASSERT(sock->rx && sock->tx, "a connected socket has both pipes");
  if (sqe.opcode == Opcode::recv && (sqe.ioprio & kRecvMultishot) != 0) return try_recv_multishot(id, ring, *sock, sqe);
  IoList iov;
  if (const int32_t e = op_buffers(sqe, iov); e < 0) return e;
  const size_t limit = std::min<size_t>(total_length(iov), INT32_MAX);
  if (reading) return try_recv(id, *sock, iov, limit);
  std::optional<int32_t> sent = try_send(id, *sock, iov, limit);
  if (!sent || sqe.opcode != Opcode::send_zc) return sent;
  // SEND_ZC: the result (kCqeMore) after the usual latency, the notification as the op's
  // final CQE when the peer has taken the bytes; after an error or an empty send, the
  // result now and the notification a latency later.
  if (*sent > 0) {
    hold_notif(*sock->tx, ring, sqe);
    return sent;
  }
  host_.post_more(ring, sqe, *sent);
  host_.final_flags(kCqeNotif);
  return 0;
}

// Multishot recv into provided buffers: what has arrived is cut into buffers taken from the
// ring's group, one CQE with kCqeMore | kCqeBuffer each, and the op stays parked for more.
// It ends (a CQE without kCqeMore) with 0 at end of stream, ECONNRESET, -ENOBUFS when data
// waits and the group is empty (the data stays unread, as in the kernel), or, a fault, a
// last buffer without kCqeMore (the kernel may end a multishot at any time).
std::optional<int32_t> SimNet::try_recv_multishot(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe) {
  if ((sqe.flags & kSqeBufferSelect) == 0 || sqe.deadline != kNoDeadline) return -EINVAL;
  Pipe& rx = *sock.rx;
  if (rx.reset) return -ECONNRESET;
  if (sock.read_shut) return 0;
  while (!rx.unread.empty()) {
    const auto buf = host_.take_buffer(ring, sqe.buf_group);
    if (!buf) return -ENOBUFS;
    size_t n = std::min<size_t>(buf->size, rx.unread.size());
    if (n > 1 && host_.inject(faults_.short_io_ppm, fault::kShortIo)) n = 1 + host_.below(n - 1);
    rx.unread.front(n).copy(buf->data, n);
    rx.unread.take(n);
    consumed(rx, n);
    host_.wake(rx.writers);
    const uint32_t flags = kCqeBuffer | (uint32_t{buf->id} << kCqeBufferShift);
    if (host_.inject(faults_.multishot_end_ppm, fault::kMultishotEnd)) {
      host_.final_flags(flags);
      return static_cast<int32_t>(n);
    }
    host_.post_more(ring, sqe, static_cast<int32_t>(n), flags);
  }
  if (rx.at_eof()) return 0;
  rx.readers.push_back(id);
  return std::nullopt;
}

// A single accept takes one connection or waits. A multishot accept posts one CQE with
// kCqeMore per connection and stays parked; it ends with an error, a cancel, or (a fault)
// a last connection without kCqeMore.
std::optional<int32_t> SimNet::try_accept(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe) {
  if (sock.state != Socket::State::listening) return -EINVAL;
  const bool multishot = (sqe.ioprio & kAcceptMultishot) != 0;
  if (multishot && (!faults_.multishot_accept || sqe.deadline != kNoDeadline)) return -EINVAL;
  while (!sock.accept_queue.empty()) {
    const int32_t fd = fds_.allocate(sock.accept_queue.front());
    if (fd < 0) return fd;  // EMFILE: the connection stays in the backlog
    const std::shared_ptr<Socket> conn = sock.accept_queue.take_front();
    copy_out(conn->peer, reinterpret_cast<void*>(static_cast<uintptr_t>(sqe.addr)),
             reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(sqe.off)));
    host_.wake(sock.connecters);
    if (!multishot || host_.inject(faults_.multishot_end_ppm, fault::kMultishotEnd)) return fd;
    host_.post_more(ring, sqe, fd);
  }
  sock.accepters.push_back(id);
  return std::nullopt;
}

// Connects to a listener on the target's port (one picked by the seed when several share
// it: SO_REUSEPORT), or waits for room in its backlog.
std::optional<int32_t> SimNet::try_connect(uint64_t id, const std::shared_ptr<Socket>& sock, const Sqe& sqe) {
  if (sock->state == Socket::State::connected) return -EISCONN;
  if (sock->state == Socket::State::listening) return -EINVAL;
  const void* addr = reinterpret_cast<const void*>(static_cast<uintptr_t>(sqe.addr));
  if (const int32_t e = valid_address(sock->domain, addr, sqe.len); e < 0) return e;
  const Address target = Address::of(addr, sqe.len);
  int32_t error = 0;
  SimNet* net = route(target, &error);
  if (net == nullptr) return error < 0 ? std::optional<int32_t>(error) : syn_lost(id, sock);
  sock->syn_tries = 0;
  std::vector<std::shared_ptr<Socket>> listeners = net->bound_at(target, SOCK_STREAM);
  std::erase_if(listeners, [](const auto& l) { return l->state != Socket::State::listening; });
  if (listeners.empty() && target.storage.ss_family == AF_UNIX && !unix_name(target).starts_with('\0')) {
    return names_.contains(unix_name(target)) ? -ECONNREFUSED : -ENOENT;  // a path nobody bound: no file
  }
  if (listeners.empty() || host_.inject(faults_.connect_refused_ppm, fault::kRefused)) return -ECONNREFUSED;
  std::shared_ptr<Socket> listener = listeners[host_.below(listeners.size())];  // SO_REUSEPORT spread
  if (listener->accept_queue.size() >= listener->backlog) {
    listener->connecters.push_back(id);
    return std::nullopt;
  }
  if (sock->state == Socket::State::fresh) bind_ephemeral(sock);
  auto server = std::make_shared<Socket>();
  server->domain = listener->domain;
  server->state = Socket::State::connected;
  server->local = listener->local;
  server->peer = sock->local;
  server->nodelay = listener->nodelay;  // as Linux: an accepted socket inherits TCP_NODELAY
  sock->peer = target;
  sock->state = Socket::State::connected;
  sock->tx = server->rx = std::make_shared<Pipe>();
  sock->rx = server->tx = std::make_shared<Pipe>();
  if (net != this) link_hosts(*sock, *server, *net);
  listener->accept_queue.push_back(std::move(server));
  RINGO_ASSERT(listener->accept_queue.size() <= listener->backlog, "a connection waits for room in the backlog");
  host_.wake(listener->accepters);
  return 0;
}

int32_t SimNet::shutdown(Socket& sock, const Sqe& sqe) {
  if (sock.state != Socket::State::connected) return -ENOTCONN;
  const auto how = static_cast<int>(sqe.len);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  if (how != SHUT_WR) {
    sock.read_shut = true;
    host_.wake(sock.rx->readers);
  }
  if (how != SHUT_RD) {
    sock.tx->fin = true;
    host_.wake(sock.tx->readers);
  }
  return 0;
}

std::optional<int32_t> SimNet::try_recv(uint64_t id, Socket& sock, std::span<const iovec> iov, size_t limit) {
  Pipe& rx = *sock.rx;
  if (rx.reset) return -ECONNRESET;
  if (limit == 0 || sock.read_shut) return 0;
  if (rx.unread.empty()) {
    if (rx.at_eof()) return 0;
    rx.readers.push_back(id);
    return std::nullopt;
  }
  size_t n = std::min(limit, rx.unread.size());
  if (n > 1 && host_.inject(faults_.short_io_ppm, fault::kShortIo)) n = 1 + host_.below(n - 1);
  scatter(iov, rx.unread.front(n).data(), n);
  rx.unread.take(n);
  consumed(rx, n);
  host_.wake(rx.writers);
  return static_cast<int32_t>(n);
}

// Takes as many bytes as the buffer has room for (a fault may take fewer, or reset the
// connection); they arrive after the one-way latency plus their length at the link's
// bandwidth, never before bytes sent earlier.
std::optional<int32_t> SimNet::try_send(uint64_t id, Socket& sock, std::span<const iovec> iov, size_t limit) {
  std::shared_ptr<Pipe> tx = sock.tx;
  if (tx->reset) return -ECONNRESET;
  if (tx->fin || tx->reader_gone) return -EPIPE;
  if (limit == 0) return 0;
  const size_t room = faults_.socket_buffer > tx->queued() ? faults_.socket_buffer - tx->queued() : 0;
  if (room == 0) {
    tx->writers.push_back(id);
    return std::nullopt;
  }
  if (host_.inject(faults_.reset_ppm, fault::kReset)) {
    reset_connection(*tx, *sock.rx);
    host_.wake(tx->readers);
    host_.wake(tx->writers);
    host_.wake(sock.rx->readers);
    host_.wake(sock.rx->writers);
    return -ECONNRESET;
  }
  size_t n = std::min(limit, room);
  if (n > 1 && host_.inject(faults_.short_io_ppm, fault::kShortIo)) n = 1 + host_.below(n - 1);
  const Instant arrives = std::max(
      tx->last_arrival, host_.now() + net_latency() + Duration{static_cast<int64_t>(n) * faults_.net_ns_per_byte});
  RINGO_ASSERT(tx->in_flight.empty() || tx->in_flight.back().arrives <= arrives,
               "bytes arrive in the order they were sent");
  tx->last_arrival = arrives;
  append_gathered(tx->in_flight_data, iov, n);
  tx->sent_total += n;
  tx->in_flight.push_back({arrives, n});
  RINGO_ASSERT(tx->queued() <= faults_.socket_buffer, "in flight plus unread never exceeds the socket buffer");
  schedule_arrival(tx, arrives);
  return static_cast<int32_t>(n);
}

// Bytes due at `at` arrive then, unless a partition lies between the hosts: then they
// are lost and sent again kRetransmit later (so they arrive, in order, after it heals).
void SimNet::schedule_arrival(const std::shared_ptr<Pipe>& tx, Instant at) {
  host_.at(at, [this, tx] {
    if (fabric_ != nullptr && !tx->reset && !fabric_->reachable(tx->from_host, tx->to_host)) {
      return schedule_arrival(tx, host_.now() + kRetransmit);
    }
    arrive(*tx, host_.now());
    if (!tx->notifs.empty()) ack_later(tx);  // only then: other runs' draws stay as they were
    host_.wake(tx->readers);
  });
}

// The one-way latency of a segment. Draws even when the range is one value (the draw
// order is part of every seed's replay).
Duration SimNet::net_latency() {
  const auto lo = faults_.net_min_latency.count();
  const auto hi = std::max(lo, faults_.net_max_latency.count());
  return Duration{lo + static_cast<int64_t>(host_.below(static_cast<uint64_t>(hi - lo) + 1))};
}

// ---------------------------------------------------------------- close

void SimNet::closed(const std::shared_ptr<Socket>& sock) {
  sock->closed = true;
  if (sock->datagram()) {
    sock->inbox.clear();
    sock->inbox_bytes = 0;
    host_.wake(sock->receivers);  // they retry and find the descriptor gone: EBADF
  } else if (sock->state == Socket::State::connected) {
    RINGO_ASSERT(sock->rx && sock->tx, "a connected socket has both pipes");
    // Unread data at close makes Linux send RST instead of FIN.
    if (!sock->rx->unread.empty()) reset_connection(*sock->rx, *sock->tx);
    sock->tx->fin = true;
    sock->rx->reader_gone = true;
    release_notifs(*sock->rx, true);  // nobody will take those bytes
    host_.wake(sock->tx->readers);
    host_.wake(sock->rx->writers);
  } else if (sock->state == Socket::State::listening) {
    for (size_t i = 0; i < sock->accept_queue.size(); ++i) {
      const std::shared_ptr<Socket>& conn = sock->accept_queue[i];
      reset_connection(*conn->rx, *conn->tx);
      host_.wake(conn->tx->readers);
      host_.wake(conn->rx->writers);
    }
    sock->accept_queue.clear();
    host_.wake(sock->connecters);  // they retry and find no listener
  }
  std::erase_if(names_, [&](const auto& entry) {
    auto s = entry.second.lock();
    return !s || s == sock;
  });
  std::erase_if(ports_, [&](const auto& entry) {
    auto s = entry.second.lock();
    return !s || s == sock;
  });
}

// ---------------------------------------------------------------- cluster

SimNet* SimNet::route(const Address& target, int32_t* error) {
  if (fabric_ == nullptr) return this;
  const std::optional<uint32_t> to = fabric_->resolve(host_id_, target);
  if (!to) {
    *error = -ENETUNREACH;
    return nullptr;
  }
  *error = 0;
  return fabric_->reachable(host_id_, *to) ? &fabric_->net(*to) : nullptr;
}

// The SYN was lost: the connect waits on its own socket and tries again kSynInterval
// later, until kSynRetries are lost (ETIMEDOUT) or its deadline comes.
std::optional<int32_t> SimNet::syn_lost(uint64_t id, const std::shared_ptr<Socket>& sock) {
  if (sock->syn_tries >= kSynRetries) {
    sock->syn_tries = 0;
    return -ETIMEDOUT;
  }
  ++sock->syn_tries;
  sock->connecters.push_back(id);
  std::weak_ptr<Socket> weak = sock;
  host_.at(host_.now() + kSynInterval, [this, weak] {
    if (auto s = weak.lock()) host_.wake(s->connecters);
  });
  return std::nullopt;
}

// A connection between two hosts: each end names the other by its cluster address, and
// each pipe knows which hosts it joins (partitions stall it).
void SimNet::link_hosts(Socket& client, Socket& server, const SimNet& net) {
  client.local = SimFabric::address(host_id_, client.local.port());
  server.local = SimFabric::address(net.host_id_, server.local.port());
  server.peer = client.local;
  client.tx->from_host = client.rx->to_host = host_id_;
  client.tx->to_host = client.rx->from_host = net.host_id_;
}

void SimNet::crash() {
  for (int32_t fd = DescriptorTable::kFirstFd; fd < fds_.end(); ++fd) {
    auto sock = fds_.get<Socket>(fd);
    if (!sock || sock->datagram() || sock->state != Socket::State::connected) continue;
    reset_connection(*sock->rx, *sock->tx);
    for (Pipe* p : {sock->rx.get(), sock->tx.get()}) {
      host_.wake(p->readers);
      host_.wake(p->writers);
    }
  }
}

}  // namespace ringo::sim::detail
