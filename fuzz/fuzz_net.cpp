// fuzz_net: input bytes are a remote peer — what it sends, how it splits it, when it
// pauses, shuts down, slams the connection, whether it reads with read() or through the
// shard's buffer ring (recv_buffered) — against the echo server or the line protocol
// (examples/kv) in the simulator, under a fault preset chosen by the input; and UDP
// datagrams from the input to a UDP echo server that receives with recv_from_buffered,
// read back with recv_from or recv_from_buffered. Invariants: the run ends; every echoed
// byte is a prefix of what was sent (all of it when the connection ended cleanly); every
// kv reply is a well-formed line; every echoed datagram is one that was sent, whole, from
// the server (without faults: all of them, once, in order); afterwards a well-behaved
// client is still served; shutdown leaves no routine or op behind.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "echo.hpp"
#include "fuzz_fingerprint.hpp"
#include "fuzz_input.hpp"
#include "kv.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo::fuzz {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

constexpr int kConns = 3;
constexpr int kMaxActions = 48;
constexpr uint32_t kMaxWrites = 8;  // per send
// Datagram actions per input (later ones are skipped): each costs about a dozen simulator
// steps (send, arrival, the echo's receive and send, arrival, the read); uncapped, inputs
// full of them cut this target below 2,000 inputs/s (docs/fuzzing.md, Speed).
constexpr int kMaxDatagramActs = 6;

enum class Act : uint8_t { connect, send, pause, shut_write, slam, read, read_buffered, datagram, datagram_read };
constexpr uint32_t kActs = 9;

struct Action {
  Act act;
  int conn;
  std::string_view bytes;  // send, datagram: part of the input (which outlives the run)
  uint32_t arg;            // pause (us), send split size, datagram_read: 1 = buffered
};

struct Peer {
  bool kv = false;
  std::string faults;
  std::vector<Action> actions;
};

Peer decode(const uint8_t* data, size_t size) {
  Input in(data, size);
  Peer p;
  p.actions.reserve(kMaxActions);
  p.kv = in.below(2) == 1;
  static const char* kFaults[] = {"none", "none", "light", "heavy", "swarm"};
  p.faults = kFaults[in.below(5)];
  for (int n = 0; n < kMaxActions && !in.empty(); ++n) {
    Action a{static_cast<Act>(in.below(kActs)), static_cast<int>(in.below(kConns)), {}, 0};
    if (a.act == Act::send) {
      a.bytes = in.bytes(1 + in.below(600));
      // At most kMaxWrites writes per send: byte-sized writes of a 600-byte send cost
      // thousands of steps (four fifths of this target's time); short sends still go
      // byte by byte.
      const auto sent = static_cast<uint32_t>(a.bytes.size());
      a.arg = std::max<uint32_t>(1 + in.below(256), (sent + kMaxWrites - 1) / kMaxWrites);
    } else if (a.act == Act::pause) {
      a.arg = in.below(5000);
    } else if (a.act == Act::datagram) {
      a.bytes = in.bytes(in.below(600));  // 0: an empty datagram
    } else if (a.act == Act::datagram_read) {
      a.arg = in.below(2);
    }
    p.actions.push_back(std::move(a));
  }
  return p;
}

struct Conn {
  std::optional<net::TcpStream> stream;
  std::string sent, received;
  bool broken = false;  // an error or a slam: the byte accounting stops being exact
  bool shut = false;
  bool buffered = false;      // reads through recv_buffered (read() is then refused)
  std::vector<char> scratch;  // read()'s buffer, made once per connection

  std::span<char> buffer(size_t size) {
    if (scratch.size() < size) scratch.resize(size);
    return std::span(scratch).first(size);
  }
};

// The UDP side, set up by the first datagram action: a client socket, the echo server's
// routine, what was sent and what came back.
struct Udp {
  bool started = false;
  int acts = 0;
  std::optional<net::UdpSocket> client;
  std::optional<JoinHandle<Result<void>>> server_routine;
  net::SocketAddr server;
  bool buffered = false;  // the client reads with recv_from_buffered (chosen by its first read)
  bool read_yet = false;
  std::vector<std::string> sent, echoed;
  std::string failure;
  std::vector<char> scratch;  // recv_from's buffer, made once
};

struct Outcome {
  std::string failure;  // empty: every invariant held
};

Instant soon(Duration d) { return current_shard()->now() + d; }

// One read of whatever is there (read() or recv_buffered, as the connection reads); false
// on an error.
Task<bool> read_some(Conn& c, Duration wait) {
  if (c.buffered) {
    auto b = co_await c.stream->recv_buffered(soon(wait));
    if (b) c.received.append(b->view());
    co_return b.has_value() || b.error() == errc::timed_out;
  }
  const std::span<char> buf = c.buffer(1024);
  auto n = co_await c.stream->read(buf, soon(wait));
  if (n) c.received.append(buf.data(), *n);
  co_return n.has_value() || n.error() == errc::timed_out;
}

Task<void> drain(Conn& c) {
  while (c.stream && c.buffered) {
    auto b = co_await c.stream->recv_buffered(soon(200ms));
    if (!b) c.broken = true;
    if (!b || b->empty()) co_return;
    c.received.append(b->view());
  }
  const std::span<char> buf = c.buffer(4096);
  while (c.stream) {
    auto n = co_await c.stream->read(buf, soon(200ms));
    if (!n) {
      c.broken = true;
      break;
    }
    if (*n == 0) break;
    c.received.append(buf.data(), *n);
  }
}

bool well_formed_kv(const std::string& replies) {
  size_t start = 0;
  for (size_t nl; (nl = replies.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = replies.substr(start, nl - start);
    if (line != "OK" && line != "NONE" && line.rfind("VALUE ", 0) != 0 && line.rfind("ERR ", 0) != 0) return false;
  }
  return true;
}

// A well-behaved client, retried through injected refusals and resets.
Task<bool> still_served(uint16_t port, bool kv) {
  const std::string request = kv ? "SET probe 1\n" : "probe";
  const std::string expect = kv ? "OK\n" : "probe";
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto s = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(port), soon(1s));
    if (!s) continue;
    if (!co_await s->write_all(request, soon(1s))) continue;
    std::string got(expect.size(), '\0');
    if (!co_await s->read_exact(got, soon(1s))) continue;
    co_return got == expect;
  }
  co_return false;
}

// The UDP echo server: every datagram back to its sender, received through the buffer ring.
Task<Result<void>> udp_echo(net::UdpSocket s) {
  for (;;) {
    auto d = co_await s.recv_from_buffered();
    if (!d) co_return d.error() == errc::cancelled ? Result<void>{} : std::unexpected(d.error());
    if (d->truncated()) co_return std::unexpected(make_error_code(std::errc::message_size));
    (void)co_await s.send_to(d->span(), d->from(), soon(1s));
  }
}

void start_udp(Udp& u) {
  if (u.started) return;
  u.started = true;
  auto server = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
  auto client = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
  if (!server || !client) {
    u.failure = "udp bind failed";
    return;
  }
  u.server = *server->local_addr();
  u.client = std::move(*client);
  u.server_routine = go(udp_echo(std::move(*server)));
}

Task<void> send_datagram(Udp& u, std::string_view bytes) {
  start_udp(u);
  if (!u.client) co_return;
  if (auto n = co_await u.client->send_to(bytes, u.server, soon(1s)); n) u.sent.emplace_back(bytes);
}

// One echo if it comes within `wait`; anything but a timeout or an echo is a failure.
Task<bool> read_datagram(Udp& u, bool buffered, Duration wait) {
  start_udp(u);
  if (!u.client) co_return false;
  if (!u.read_yet) u.buffered = buffered;
  u.read_yet = true;
  std::string got;
  Result<void> r{};
  if (u.buffered) {
    auto d = co_await u.client->recv_from_buffered(soon(wait));
    if (d && (d->truncated() || d->from().port() != u.server.port())) u.failure = "udp: a cut or foreign echo";
    if (d) got = d->view();
    if (!d) r = std::unexpected(d.error());
  } else {
    std::vector<char>& buf = u.scratch;
    buf.resize(1024);
    auto d = co_await u.client->recv_from(buf, soon(wait));
    if (d && (d->truncated || d->from.port() != u.server.port())) u.failure = "udp: a cut or foreign echo";
    if (d) got.assign(buf.data(), d->size);
    if (!d) r = std::unexpected(d.error());
  }
  if (r) u.echoed.push_back(std::move(got));
  if (!r && r.error() != errc::timed_out) u.failure = "udp read: " + r.error().message();
  co_return r.has_value();
}

// Every echo is a datagram that was sent (faults may lose, duplicate and reorder: each
// way, so at most four copies); without faults, all of them, once, in order.
Task<std::string> check_udp(Udp& u, bool exact) {
  if (!u.started || !u.failure.empty()) co_return u.failure;
  while (co_await read_datagram(u, false, 20ms)) {
  }
  if (!u.failure.empty()) co_return u.failure;
  if (exact && u.echoed != u.sent) co_return "udp: without faults the echoes differ from what was sent";
  std::map<std::string, size_t> sent;
  for (const std::string& d : u.sent) ++sent[d];
  std::map<std::string, size_t> echoed;
  for (const std::string& d : u.echoed) {
    if (++echoed[d] > 4 * sent[d]) co_return "udp: an echo that was not sent (or too many copies)";
  }
  co_return std::string();
}

Task<void> peer_main(const Peer* p, Outcome* out) {
  // A small receive ring: it runs dry often (ENOBUFS and re-arm paths), and it costs 8 KiB
  // per input instead of the default 1 MiB, whose zeroing and page faults cut this target
  // from ~2,200 to ~640 inputs/s (measured). A datagram (at most 600 bytes) fits a buffer.
  if (auto c = net::configure_recv_buffers({8, 1024}); !c) out->failure = "configure_recv_buffers";
  auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
  if (!listener) {
    out->failure = "bind: " + listener.error().message();
    co_return;
  }
  const uint16_t port = listener->local_addr()->port();
  auto server = p->kv ? go(kv::serve(std::move(*listener))) : go([](net::TcpListener l) -> Task<Result<void>> {
    while (true) {
      auto c = co_await l.accept();
      if (!c) co_return c.error() == errc::cancelled ? Result<void>{} : std::unexpected(c.error());
      go(echo::echo_connection(std::move(*c))).detach();
    }
  }(std::move(*listener)));

  Udp udp;
  Conn conns[kConns];
  for (const Action& a : p->actions) {
    Conn& c = conns[a.conn];
    switch (a.act) {
      case Act::connect:
        if (!c.stream) {
          auto s = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(port), soon(1s));
          if (s) c.stream = std::move(*s);
        }
        break;
      case Act::send:
        if (c.stream && !c.shut) {
          // Counted write by write: a write that times out half way has still sent its
          // first part (write_all would not say how much).
          for (size_t at = 0; at < a.bytes.size() && !c.broken;) {
            const std::string_view part = std::string_view(a.bytes).substr(at, a.arg);
            auto n = co_await c.stream->write(part, soon(1s));
            if (!n) {
              c.broken = true;
              break;
            }
            c.sent += part.substr(0, *n);
            at += *n;
          }
        }
        break;
      case Act::pause: co_await sleep(std::chrono::microseconds(a.arg)); break;
      case Act::shut_write:
        if (c.stream && !c.shut) c.shut = (co_await c.stream->shutdown(SHUT_WR)).has_value();
        break;
      case Act::slam:
        if (c.stream) {
          c.stream.reset();  // dropped: closed at once, unread data makes it a reset
          c.broken = true;
        }
        break;
      case Act::read:
      case Act::read_buffered:
        if (c.stream) {
          c.buffered = c.buffered || a.act == Act::read_buffered;
          (void)co_await read_some(c, 100us);
        }
        break;
      case Act::datagram:
        if (++udp.acts <= kMaxDatagramActs) co_await send_datagram(udp, a.bytes);
        break;
      case Act::datagram_read:
        if (++udp.acts <= kMaxDatagramActs) (void)co_await read_datagram(udp, a.arg == 1, 100us);
        break;
    }
  }
  for (Conn& c : conns) {
    if (!c.stream) continue;
    if (!c.shut && !(co_await c.stream->shutdown(SHUT_WR))) c.broken = true;
    co_await drain(c);
  }
  for (int i = 0; i < kConns; ++i) {
    const Conn& c = conns[i];
    if (p->kv) {
      if (!well_formed_kv(c.received)) out->failure = "conn " + std::to_string(i) + ": malformed kv reply";
    } else if (c.sent.compare(0, c.received.size(), c.received) != 0 || c.received.size() > c.sent.size()) {
      out->failure = "conn " + std::to_string(i) + ": echo is not a prefix of what was sent";
    } else if (!c.broken && c.received != c.sent) {
      out->failure = "conn " + std::to_string(i) + ": clean connection lost echoed bytes";
    }
  }
  if (out->failure.empty() && !co_await still_served(port, p->kv)) out->failure = "the server stopped serving";
  if (out->failure.empty()) out->failure = co_await check_udp(udp, p->faults == "none");
  (void)server.abort();
  (void)co_await server.join();
  if (udp.server_routine) {
    (void)udp.server_routine->abort();
    if (auto u = co_await udp.server_routine->join(); !u && out->failure.empty()) {
      out->failure = "udp echo server: " + u.error().message();
    }
  }
}

}  // namespace
}  // namespace ringo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringo;
  const fuzz::Peer peer = fuzz::decode(data, size);
  sim::SimConfig config;
  config.seed = size > 1 ? data[1] : 1;
  config.shards = 1;
  if (!sim::FaultConfig::parse(peer.faults, config.seed, config.faults)) std::abort();
  config.max_steps = 5'000'000;
  config.time_budget = std::chrono::seconds(120);
  fuzz::Outcome outcome;
  sim::Simulation sim(config);
  sim::Report r = sim.drive(fuzz::peer_main(&peer, &outcome));
  if (!r.ok() || !outcome.failure.empty()) {
    std::fprintf(stderr, "fuzz_net (%s, faults %s): %s\n%s\n%s\n", peer.kv ? "kv" : "echo", peer.faults.c_str(),
                 outcome.failure.c_str(), r.summary().c_str(), r.message.c_str());
    std::abort();
  }
  sim.shutdown(r);
  fuzz::print_fingerprint("fuzz_net", r, false);
  for (uint32_t s = 0; s < sim.shard_count(); ++s) {
    if (sim.shard(s).stats().routines_live != 0 || sim.shard(s).live_ops() != 0) {
      std::fprintf(stderr, "fuzz_net: shard %u kept routines or ops after shutdown\n%s", s,
                   sim.describe_blocked().c_str());
      std::abort();
    }
  }
  return 0;
}
