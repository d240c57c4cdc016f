// An echo server written as an explicit state machine over raw::Lane (raw/lane.hpp): one
// loop takes the shard's events, each connection is a slot with a state, and every step is
// "an event came in, submit the next op". A raw::RingMsg from another shard stops it.
//
//   raw_echo [--addr 127.0.0.1:7001]          serve on shard 0 until killed
//   raw_echo --self-test [--connections 64]   serve, load itself from shard 1, check, exit
//
// RINGO_BACKEND=aio or sim runs it on the AIO fallback or in the simulator, unchanged.
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "echo.hpp"
#include "ringo/ringo.hpp"

using namespace ringo;

namespace {

constexpr uint16_t kStopTag = 1;
constexpr uint32_t kMaxConnections = 1024;
constexpr size_t kBufferSize = 4096;
constexpr uint64_t kAcceptToken = UINT64_MAX;

// One connection: its descriptor, its buffer and where it is in recv -> send -> recv.
struct Conn {
  enum class State : uint8_t { free, receiving, sending, closing };
  State state = State::free;
  int fd = -1;
  uint32_t pending = 0;  // bytes received and not yet sent back
  uint32_t sent = 0;
  std::array<std::byte, kBufferSize> buf{};
};

class RawEchoServer {
 public:
  RawEchoServer(raw::Lane& lane, int listen_fd) : lane_(lane), listen_fd_(listen_fd), conns_(kMaxConnections) {}

  Result<void> arm_accept() {
    auto armed = lane_.submit(raw::accept(listen_fd_, true), kAcceptToken);
    if (!armed) return std::unexpected(armed.error());
    return {};
  }

  // The loop: events in, next ops out, until a stop message arrives.
  Task<Result<void>> run() {
    std::array<raw::Event, 64> batch;
    while (!stopping_) {
      auto n = co_await lane_.next(batch);
      if (!n) co_return std::unexpected(n.error());
      for (size_t i = 0; i < *n; ++i) {
        if (const auto* io = std::get_if<raw::Io>(&batch[i])) on_io(*io);
        if (const auto* m = std::get_if<raw::RingMsg>(&batch[i])) stopping_ = m->tag == kStopTag;
      }
    }
    co_return co_await drain();
  }

 private:
  void on_io(const raw::Io& io) {
    if (io.token == kAcceptToken) return on_accept(io);
    Conn& c = conns_[io.token];
    switch (c.state) {
      case Conn::State::receiving: return on_received(io.token, c, io.result);
      case Conn::State::sending: return on_sent(io.token, c, io.result);
      case Conn::State::closing: c = Conn{}; return;
      case Conn::State::free: return;
    }
  }
  void on_accept(const raw::Io& io) {
    if (io.result >= 0) {
      const uint64_t slot = free_slot();
      if (slot == kMaxConnections) {
        (void)lane_.submit(raw::close(io.result), kAcceptToken - 1);  // full: turn it away
      } else {
        conns_[slot] = Conn{Conn::State::receiving, io.result};
        receive(slot);
      }
    }
    if (!io.more() && !stopping_) (void)arm_accept();  // the kernel ended the multishot
  }
  void on_received(uint64_t slot, Conn& c, int32_t res) {
    if (res <= 0) return close(slot);  // the peer is done (0) or the connection failed
    c.pending = static_cast<uint32_t>(res);
    c.sent = 0;
    c.state = Conn::State::sending;
    send(slot);
  }
  void on_sent(uint64_t slot, Conn& c, int32_t res) {
    if (res < 0) return close(slot);
    c.sent += static_cast<uint32_t>(res);
    if (c.sent < c.pending) return send(slot);  // a short send: the rest
    c.state = Conn::State::receiving;
    receive(slot);
  }
  void receive(uint64_t slot) {
    if (!lane_.submit(raw::recv(conns_[slot].fd, conns_[slot].buf), slot)) close(slot);
  }
  void send(uint64_t slot) {
    Conn& c = conns_[slot];
    const std::span<const std::byte> rest(c.buf.data() + c.sent, c.pending - c.sent);
    if (!lane_.submit(raw::send(c.fd, rest), slot)) close(slot);
  }
  void close(uint64_t slot) {
    conns_[slot].state = Conn::State::closing;
    if (!lane_.submit(raw::close(conns_[slot].fd), slot)) conns_[slot] = Conn{};
  }
  uint64_t free_slot() const {
    for (uint64_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].state == Conn::State::free) return i;
    }
    return kMaxConnections;
  }
  // Stop: cancel what is in flight and take events until nothing is (the buffers are ours
  // until then), then close what is still open.
  Task<Result<void>> drain() {
    (void)lane_.cancel_all();
    std::array<raw::Event, 64> batch;
    while (lane_.in_flight() > 0) {
      if (auto n = co_await lane_.next(batch); !n) co_return std::unexpected(n.error());
    }
    for (uint64_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].state != Conn::State::free) (void)lane_.submit(raw::close(conns_[i].fd), i);
    }
    while (lane_.in_flight() > 0) (void)co_await lane_.next(batch);
    co_return Result<void>{};
  }

  raw::Lane& lane_;
  int listen_fd_;
  std::vector<Conn> conns_;
  bool stopping_ = false;
};

Task<Result<void>> serve(net::TcpListener listener) {
  auto lane = raw::Lane::open({.max_ops = 2 * kMaxConnections + 2});
  if (!lane) co_return std::unexpected(lane.error());
  RawEchoServer server(*lane, listener.fd());
  if (auto armed = server.arm_accept(); !armed) co_return armed;
  co_return co_await server.run();
}

// Server mode: binds on this shard (a listener belongs to the shard that made it), says
// its port (the scripts that start it read the line), and serves until stopped.
Task<Result<void>> listen_and_serve(net::SocketAddr addr) {
  // TCP_NODELAY for every connection, inherited from the listener: without it Nagle holds
  // the tail of a large echo for the client's delayed ACK (measured: 44 ms a request, 369
  // against 28,000 requests/s at 16 KiB, C=16).
  auto listener = net::TcpListener::bind(addr, {.nodelay = true});
  if (!listener) co_return std::unexpected(listener.error());
  auto where = listener->local_addr();
  if (!where) co_return std::unexpected(where.error());
  std::printf("raw_echo: listening on port %u\n", where->port());
  std::fflush(stdout);
  co_return co_await serve(std::move(*listener));
}

// Loads the server from shard 1 with ringo's echo client, then stops it by raw message.
Task<echo::LoadReport> load_then_stop(net::SocketAddr target, uint32_t connections) {
  echo::LoadConfig load;
  load.target = target;
  load.connections = connections;
  load.message_size = 512;
  load.requests_per_connection = 20;
  load.duration = std::chrono::seconds(60);
  echo::LoadReport report = co_await echo::run_load(load);
  (void)RemoteShard(0).send_raw(kStopTag, 0);
  co_return report;
}

Task<Result<echo::LoadReport>> self_test(net::SocketAddr addr, uint32_t connections) {
  auto listener = net::TcpListener::bind(addr.with_port(0), {.nodelay = true});
  if (!listener) co_return std::unexpected(listener.error());
  auto where = listener->local_addr();
  if (!where) co_return std::unexpected(where.error());
  auto server = go(serve(std::move(*listener)));
  auto load = spawn_on(1, load_then_stop(*where, connections));
  auto report = co_await load.join();
  if (!report) co_return std::unexpected(report.error());
  if (auto served = co_await server.join(); !served) co_return std::unexpected(served.error());
  co_return *report;
}

struct Options {
  std::string addr = "127.0.0.1:7001";
  bool self_test = false;
  uint32_t connections = 64;
};

int usage(const std::string& why) {
  std::fprintf(stderr, "raw_echo: %s\nusage: raw_echo [--addr IP:PORT] [--self-test [--connections 1..%u]]\n",
               why.c_str(), kMaxConnections);
  return 2;
}

// Fills o from argv; returns what is wrong, or "".
std::string parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--self-test") {
      o.self_test = true;
    } else if ((a == "--addr" || a == "--connections") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--addr") {
        o.addr = v;
        continue;
      }
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), o.connections);
      if (ec != std::errc{} || end != v.data() + v.size() || o.connections == 0 || o.connections > kMaxConnections) {
        return "bad --connections '" + v + "'";
      }
    } else {
      return "unknown or incomplete flag '" + a + "'";
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (std::string why = parse(argc, argv, o); !why.empty()) return usage(why);
  Result<net::SocketAddr> addr = net::SocketAddr::parse(o.addr);
  if (!addr) return usage("bad address '" + o.addr + "'");
  auto rt = Runtime::create(RuntimeConfig{.shards = 2});
  if (!rt) {
    std::fprintf(stderr, "raw_echo: %s (see RINGO_BACKEND)\n", rt.error().message().c_str());
    return 1;
  }
  if (!o.self_test) {
    auto r = rt->block_on(listen_and_serve(*addr));
    if (!r) std::fprintf(stderr, "raw_echo: %s\n", r.error().message().c_str());
    return r ? 0 : 1;
  }
  auto r = rt->block_on(self_test(*addr, o.connections));
  if (!r) {
    std::fprintf(stderr, "raw_echo self-test: %s\n", r.error().message().c_str());
    return 1;
  }
  const echo::LoadReport& report = *r;
  std::printf("raw_echo self-test on %s: %u connections, %s\n", backend_name(rt->backend()), o.connections,
              report.summary().c_str());
  const bool all =
      report.corrupted == 0 && report.failed_connections == 0 && report.requests == uint64_t{o.connections} * 20;
  return all ? 0 : 1;
}
