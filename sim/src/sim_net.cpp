// The simulated network: TCP-like stream sockets on one virtual host. Connections are
// two one-way pipes with latency, bandwidth and a buffer limit; faults (refused connects,
// resets, short transfers) are drawn from the seed.
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sim_objects.hpp"

namespace ringo::sim {

using namespace detail::fault;
using detail::Pipe;
using detail::Socket;

namespace detail {

uint16_t Address::port() const noexcept {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(storage).sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
  return 0;
}

Address Address::of(const void* addr, uint32_t len) noexcept {
  Address a;
  a.length = static_cast<socklen_t>(std::min<size_t>(len, sizeof a.storage));
  std::memcpy(&a.storage, addr, a.length);
  return a;
}

}  // namespace detail

namespace {

detail::Address loopback(int domain, uint16_t port) {
  detail::Address a;
  if (domain == AF_INET6) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.storage);
    in6.sin6_family = AF_INET6;
    in6.sin6_addr = in6addr_loopback;
    in6.sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  } else {
    auto& in = reinterpret_cast<sockaddr_in&>(a.storage);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in.sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  }
  return a;
}

void set_port(detail::Address& a, uint16_t port) {
  if (a.storage.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6&>(a.storage).sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in&>(a.storage).sin_port = htons(port);
  }
}

// Checks a user-supplied address the way bind/connect do.
int32_t valid_address(int domain, const void* addr, uint32_t len) {
  if (addr == nullptr) return -EFAULT;
  if (len < sizeof(sa_family_t)) return -EINVAL;
  sa_family_t family;
  std::memcpy(&family, addr, sizeof family);
  if (family != domain) return -EAFNOSUPPORT;
  const size_t need = domain == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return len < need ? -EINVAL : 0;
}

// Writes an address to the caller's (addr, *len) as getsockname/accept do: truncated to
// the room given, *len set to the full size.
void copy_out(const detail::Address& a, void* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return;
  std::memcpy(addr, &a.storage, std::min<size_t>(*len, a.length));
  *len = a.length;
}

}  // namespace

Duration SimKernel::net_latency() {
  const auto lo = faults_.net_min_latency.count();
  const auto hi = std::max(lo, faults_.net_max_latency.count());
  return Duration{lo + static_cast<int64_t>(prng_.below(static_cast<uint64_t>(hi - lo) + 1))};
}

int64_t SimKernel::net_sys(SysCall& call) {
  if (call.op == SysOp::socket) {
    if (call.arg != AF_INET && call.arg != AF_INET6) return -EAFNOSUPPORT;
    auto sock = std::make_shared<Socket>();
    sock->domain = call.arg;
    return os_->allocate(std::move(sock));
  }
  auto sock = os_->get<Socket>(call.fd);
  if (!sock) return os_->find(call.fd) != nullptr ? -ENOTSOCK : -EBADF;
  switch (call.op) {
    case SysOp::bind: {
      if (sock->state != Socket::State::fresh) return -EINVAL;
      if (const int32_t e = valid_address(sock->domain, call.addr, call.addr_len); e < 0) return e;
      detail::Address a = detail::Address::of(call.addr, call.addr_len);
      uint16_t port = a.port();
      if (port == 0) port = os_->next_ephemeral++;
      for (auto [it, end] = os_->ports.equal_range(port); it != end; ++it) {
        auto other = it->second.lock();
        if (other && !other->closed && !(other->reuse_port && sock->reuse_port)) return -EADDRINUSE;
      }
      set_port(a, port);
      sock->local = a;
      sock->state = Socket::State::bound;
      os_->ports.emplace(port, sock);
      return 0;
    }
    case SysOp::listen: {
      if (sock->state == Socket::State::connected) return -EINVAL;
      if (sock->state == Socket::State::fresh) {
        sock->local = loopback(sock->domain, os_->next_ephemeral++);
        os_->ports.emplace(sock->local.port(), sock);
      }
      sock->state = Socket::State::listening;
      sock->backlog = static_cast<uint32_t>(std::clamp(call.arg, 1, 4096));
      return 0;
    }
    case SysOp::local_addr:
    case SysOp::peer_addr: {
      if (call.op == SysOp::peer_addr && sock->state != Socket::State::connected) return -ENOTCONN;
      detail::Address a = call.op == SysOp::peer_addr ? sock->peer : sock->local;
      if (a.length == 0) a = loopback(sock->domain, 0);
      socklen_t len = call.addr_len;
      if (call.addr == nullptr) return -EFAULT;
      copy_out(a, call.addr, &len);
      call.addr_len = len;
      return 0;
    }
    case SysOp::set_option:
      switch (static_cast<SockOption>(call.arg)) {
        case SockOption::reuse_addr: sock->reuse_addr = call.arg2 != 0; return 0;
        case SockOption::reuse_port: sock->reuse_port = call.arg2 != 0; return 0;
        case SockOption::nodelay: sock->nodelay = call.arg2 != 0; return 0;
      }
      return -EINVAL;
    default: return -EINVAL;
  }
}

// Moves what has arrived into the reader's buffer and wakes the reader.
static void arrive(Pipe& pipe, Instant now) {
  while (!pipe.in_flight.empty() && pipe.in_flight.front().arrives <= now) {
    const std::string& bytes = pipe.in_flight.front().bytes;
    pipe.unread.insert(pipe.unread.end(), bytes.begin(), bytes.end());
    pipe.in_flight_bytes -= bytes.size();
    pipe.in_flight.pop_front();
  }
}

static void reset_connection(Pipe& a, Pipe& b) {
  for (Pipe* p : {&a, &b}) {
    p->reset = true;
    p->unread.clear();
    p->in_flight.clear();
    p->in_flight_bytes = 0;
  }
}

// A single accept takes one connection or waits. A multishot accept posts one CQE with
// kCqeMore per connection and stays parked; it ends with an error, a cancel, or (a fault)
// a last connection without kCqeMore.
std::optional<int32_t> SimKernel::try_accept(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe) {
  if (sock.state != Socket::State::listening) return -EINVAL;
  const bool multishot = (sqe.ioprio & kAcceptMultishot) != 0;
  if (multishot && (!faults_.multishot_accept || sqe.deadline != kNoDeadline)) return -EINVAL;
  while (!sock.accept_queue.empty()) {
    std::shared_ptr<Socket> conn = sock.accept_queue.front();
    const int32_t fd = os_->allocate(conn);
    if (fd < 0) return fd;  // EMFILE: the connection stays in the backlog
    sock.accept_queue.pop_front();
    copy_out(conn->peer, reinterpret_cast<void*>(static_cast<uintptr_t>(sqe.addr)),
             reinterpret_cast<socklen_t*>(static_cast<uintptr_t>(sqe.off)));
    wake(sock.connecters);
    if (!multishot || inject(faults_.multishot_end_ppm, kMultishotEnd)) return fd;
    schedule(now_, ring, Cqe{sqe.user_data, fd, kCqeMore}, sqe.user_data, false);
  }
  sock.accepters.push_back(id);
  return std::nullopt;
}

std::optional<int32_t> SimKernel::try_net(uint64_t id, uint32_t ring, const Sqe& sqe) {
  auto sock = os_->get<Socket>(sqe.fd);
  if (!sock) return os_->find(sqe.fd) != nullptr ? -ENOTSOCK : -EBADF;
  const bool reading = sqe.opcode == Opcode::recv || sqe.opcode == Opcode::read || sqe.opcode == Opcode::readv;
  const bool writing = sqe.opcode == Opcode::send || sqe.opcode == Opcode::write || sqe.opcode == Opcode::writev;
  const bool connected = sock->state == Socket::State::connected;

  if (sqe.opcode == Opcode::accept) return try_accept(id, ring, *sock, sqe);

  if (sqe.opcode == Opcode::connect) {
    if (connected) return -EISCONN;
    if (sock->state == Socket::State::listening) return -EINVAL;
    const void* addr = reinterpret_cast<const void*>(static_cast<uintptr_t>(sqe.addr));
    if (const int32_t e = valid_address(sock->domain, addr, sqe.len); e < 0) return e;
    const detail::Address target = detail::Address::of(addr, sqe.len);
    std::vector<std::shared_ptr<Socket>> listeners;
    for (auto [it, end] = os_->ports.equal_range(target.port()); it != end; ++it) {
      auto l = it->second.lock();
      if (l && !l->closed && l->state == Socket::State::listening) listeners.push_back(l);
    }
    if (listeners.empty() || inject(faults_.connect_refused_ppm, kRefused)) return -ECONNREFUSED;
    std::shared_ptr<Socket> listener = listeners[prng_.below(listeners.size())];  // SO_REUSEPORT spread
    if (listener->accept_queue.size() >= listener->backlog) {
      listener->connecters.push_back(id);
      return std::nullopt;
    }
    if (sock->state == Socket::State::fresh) {
      sock->local = loopback(sock->domain, os_->next_ephemeral++);
      os_->ports.emplace(sock->local.port(), sock);
    }
    auto server = std::make_shared<Socket>();
    server->domain = listener->domain;
    server->state = Socket::State::connected;
    server->local = listener->local;
    server->peer = sock->local;
    sock->peer = target;
    sock->state = Socket::State::connected;
    sock->tx = server->rx = std::make_shared<Pipe>();
    sock->rx = server->tx = std::make_shared<Pipe>();
    listener->accept_queue.push_back(std::move(server));
    wake(listener->accepters);
    return 0;
  }

  if (sqe.opcode == Opcode::shutdown) {
    if (!connected) return -ENOTCONN;
    const auto how = static_cast<int>(sqe.len);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
    if (how != SHUT_WR) {
      sock->read_shut = true;
      wake(sock->rx->readers);
    }
    if (how != SHUT_RD) {
      sock->tx->fin = true;
      wake(sock->tx->readers);
    }
    return 0;
  }

  if (!reading && !writing) return -EOPNOTSUPP;
  if (!connected) return -ENOTCONN;
  std::vector<iovec> iov;
  if (const int32_t e = detail::op_buffers(sqe, iov); e < 0) return e;
  size_t limit = std::min<size_t>(detail::total_length(iov), INT32_MAX);

  if (reading) {
    Pipe& rx = *sock->rx;
    if (rx.reset) return -ECONNRESET;
    if (limit == 0 || sock->read_shut) return 0;
    if (rx.unread.empty()) {
      if (rx.at_eof()) return 0;
      rx.readers.push_back(id);
      return std::nullopt;
    }
    size_t n = std::min(limit, rx.unread.size());
    if (n > 1 && inject(faults_.short_io_ppm, kShortIo)) n = 1 + prng_.below(n - 1);
    const std::string bytes(rx.unread.begin(), rx.unread.begin() + static_cast<std::ptrdiff_t>(n));
    rx.unread.erase(rx.unread.begin(), rx.unread.begin() + static_cast<std::ptrdiff_t>(n));
    detail::scatter(iov, bytes.data(), n);
    wake(rx.writers);
    return static_cast<int32_t>(n);
  }

  std::shared_ptr<Pipe> tx = sock->tx;
  if (tx->reset) return -ECONNRESET;
  if (tx->fin || tx->reader_gone) return -EPIPE;
  if (limit == 0) return 0;
  const size_t room = faults_.socket_buffer > tx->queued() ? faults_.socket_buffer - tx->queued() : 0;
  if (room == 0) {
    tx->writers.push_back(id);
    return std::nullopt;
  }
  if (inject(faults_.reset_ppm, kReset)) {
    reset_connection(*tx, *sock->rx);
    wake(tx->readers);
    wake(tx->writers);
    wake(sock->rx->readers);
    wake(sock->rx->writers);
    return -ECONNRESET;
  }
  size_t n = std::min(limit, room);
  if (n > 1 && inject(faults_.short_io_ppm, kShortIo)) n = 1 + prng_.below(n - 1);
  std::string bytes = detail::gather(iov, n);
  const Instant arrives =
      std::max(tx->last_arrival, now_ + net_latency() + Duration{static_cast<int64_t>(n) * faults_.net_ns_per_byte});
  tx->last_arrival = arrives;
  tx->in_flight_bytes += n;
  tx->in_flight.push_back({arrives, std::move(bytes)});
  at(arrives, [this, tx] {
    arrive(*tx, now_);
    wake(tx->readers);
  });
  return static_cast<int32_t>(n);
}

int32_t SimKernel::do_close(int32_t fd) {
  detail::Object* object = os_->find(fd);
  if (object == nullptr) return -EBADF;
  detail::Object gone = std::move(*object);
  *object = std::monostate{};
  --os_->open;
  auto* sock_ptr = std::get_if<std::shared_ptr<Socket>>(&gone);
  if (sock_ptr == nullptr) return 0;
  std::shared_ptr<Socket> sock = *sock_ptr;
  sock->closed = true;
  if (sock->state == Socket::State::connected) {
    // Unread data at close makes Linux send RST instead of FIN.
    if (!sock->rx->unread.empty()) reset_connection(*sock->rx, *sock->tx);
    sock->tx->fin = true;
    sock->rx->reader_gone = true;
    wake(sock->tx->readers);
    wake(sock->rx->writers);
  } else if (sock->state == Socket::State::listening) {
    for (auto& conn : sock->accept_queue) {
      reset_connection(*conn->rx, *conn->tx);
      wake(conn->tx->readers);
      wake(conn->rx->writers);
    }
    sock->accept_queue.clear();
    wake(sock->connecters);  // they retry and find no listener
  }
  std::erase_if(os_->ports, [&](const auto& entry) {
    auto s = entry.second.lock();
    return !s || s == sock;
  });
  return 0;
}

}  // namespace ringo::sim
