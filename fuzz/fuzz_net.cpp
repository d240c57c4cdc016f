// fuzz_net: input bytes are a remote peer — what it sends, how it splits it, when it
// pauses, shuts down, slams the connection — against the echo server or the line
// protocol (examples/kv) in the simulator, under a fault preset chosen by the input.
// Invariants: the run ends; every echoed byte is a prefix of what was sent (all of it when
// the connection ended cleanly); every kv reply is a well-formed line; afterwards a
// well-behaved client is still served; shutdown leaves no routine or op behind.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
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

enum class Act : uint8_t { connect, send, pause, shut_write, slam, read };

struct Action {
  Act act;
  int conn;
  std::string bytes;  // send
  uint32_t arg;       // pause (us), send split size
};

struct Peer {
  bool kv = false;
  std::string faults;
  std::vector<Action> actions;
};

Peer decode(const uint8_t* data, size_t size) {
  Input in(data, size);
  Peer p;
  p.kv = in.below(2) == 1;
  static const char* kFaults[] = {"none", "none", "light", "heavy", "swarm"};
  p.faults = kFaults[in.below(5)];
  for (int n = 0; n < kMaxActions && !in.empty(); ++n) {
    Action a{static_cast<Act>(in.below(6)), static_cast<int>(in.below(kConns)), {}, 0};
    if (a.act == Act::send) {
      const uint32_t len = 1 + in.below(600);
      for (uint32_t i = 0; i < len && !in.empty(); ++i) a.bytes.push_back(static_cast<char>(in.take<uint8_t>()));
      // At most kMaxWrites writes per send: byte-sized writes of a 600-byte send cost
      // thousands of steps (four fifths of this target's time); short sends still go
      // byte by byte.
      const auto sent = static_cast<uint32_t>(a.bytes.size());
      a.arg = std::max<uint32_t>(1 + in.below(256), (sent + kMaxWrites - 1) / kMaxWrites);
    } else if (a.act == Act::pause) {
      a.arg = in.below(5000);
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
};

struct Outcome {
  std::string failure;  // empty: every invariant held
};

Instant soon(Duration d) { return current_shard()->now() + d; }

Task<void> drain(Conn& c) {
  std::vector<char> buf(4096);
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

Task<void> peer_main(const Peer* p, Outcome* out) {
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
        if (c.stream) {
          std::vector<char> buf(1024);
          auto n = co_await c.stream->read(buf, soon(100us));
          if (n) c.received.append(buf.data(), *n);
        }
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
  (void)server.abort();
  (void)co_await server.join();
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
