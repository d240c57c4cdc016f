// recv_buffered in the simulator only: readers aborted at seed-chosen moments while a
// stream arrives (with short reads and latency jitter from the seed) lose nothing and
// duplicate nothing, and both outcomes of an aborted wait happen across seeds.
#include <gtest/gtest.h>

#include <string>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {
using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

Instant in(Duration d) { return current_shard()->now() + d; }

std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 777;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

struct Outcomes {
  int cancelled = 0;  // the aborted wait reported cancelled, nothing taken
  int completed = 0;  // it had a buffer first: handed over
};

// One reader routine per buffer, each aborted after a seed-chosen pause; what its join
// hands back (a buffer or `cancelled`) is the whole truth about what it took.
Task<Result<std::string>> read_with_aborts(const net::TcpStream* s, uint64_t seed, Outcomes& seen) {
  std::string got;
  for (uint64_t turn = 0;; ++turn) {
    auto reader = go([](const net::TcpStream* st) -> Task<Result<net::RecvBuffer>> {
      co_return co_await st->recv_buffered(in(10s));
    }(s));
    co_await sleep(Duration{static_cast<int64_t>((seed * 7 + turn * 13) % 11) * 3000});
    (void)reader.abort();
    auto b = co_await reader.join();
    if (!b) {
      if (b.error() != make_error_code(errc::cancelled)) co_return std::unexpected(b.error());
      ++seen.cancelled;
      continue;
    }
    ++seen.completed;
    if (b->empty()) co_return got;  // end of stream
    got.append(b->view());
  }
}

TEST(RecvBufferedSim, AbortedReadersLoseNothingAcrossSeeds) {
  Outcomes seen;
  const std::string sent = pattern(6000);
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    c.faults = sim::FaultConfig::light();
    auto r = sim::run(c, [&]() -> Task<void> {
      EXPECT_TRUE(net::configure_recv_buffers({8, 256}).has_value());
      auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
      auto client = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()));
      auto server = co_await listener->accept();
      if (!client || !server) co_return ADD_FAILURE() << "seed " << seed << ": no connection";
      auto writer = go([](net::TcpStream* st, const std::string* data) -> Task<Result<void>> {
        if (auto w = co_await st->write_all(*data, in(10s)); !w) co_return std::unexpected(w.error());
        co_return co_await st->shutdown();
      }(&*client, &sent));
      auto got = co_await read_with_aborts(&*server, seed, seen);
      EXPECT_TRUE((co_await writer.join()).has_value()) << "seed " << seed;
      EXPECT_TRUE(got.has_value()) << "seed " << seed << ": " << (got ? "" : got.error().message());
      if (got) {
        EXPECT_TRUE(*got == sent) << "seed " << seed << ": " << got->size() << " of " << sent.size()
                                  << " bytes, or out of order";
      }
      EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "seed " << seed;
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
  EXPECT_GT(seen.cancelled, 0);
  EXPECT_GT(seen.completed, 0);
}

// How many SEND_ZC and plain sends a traced run submitted.
struct SendCounts {
  size_t zero_copy = 0, plain = 0;
};
SendCounts sends_in(const sim::Report& r) {
  SendCounts n;
  for (const TraceEvent& e : r.trace) {
    if (e.kind != TraceKind::op_submit) continue;
    n.zero_copy += e.b == static_cast<uint64_t>(Opcode::send_zc);
    n.plain += e.b == static_cast<uint64_t>(Opcode::send);
  }
  return n;
}

// write_all never uses SEND_ZC, whatever the size: a zero-copy part completes only at the
// kernel's notification, which waits for the peer's ACK, so an echo of 32 KiB or more
// stalled on the peer's delayed ACK (366 against 7,085 requests/s at 64 KiB; docs/io.md).
// write_all_zero_copy is the opt-in.
TEST(ZeroCopySim, OnlyTheOptInWriteUsesSendZc) {
  const std::string data = pattern(256 * 1024);
  for (const bool opt_in : {false, true}) {
    sim::SimConfig c;
    c.shards = 1;
    c.keep_trace = true;
    auto r = sim::run(c, [&]() -> Task<void> {
      auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
      auto client = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()));
      auto server = co_await listener->accept();
      if (!client || !server) co_return ADD_FAILURE() << "no connection";
      auto writer = go([](net::TcpStream* st, const std::string* d, bool zc) -> Task<Result<void>> {
        Result<void> w;
        if (zc) {
          w = co_await st->write_all_zero_copy(*d, in(10s));
        } else {
          w = co_await st->write_all(*d, in(10s));
        }
        if (!w) co_return w;
        co_return co_await st->shutdown();
      }(&*client, &data, opt_in));
      std::string got(data.size(), '\0');
      EXPECT_TRUE((co_await server->read_exact(got, in(10s))).has_value());
      EXPECT_TRUE(got == data);
      EXPECT_TRUE((co_await writer.join()).has_value());
    });
    ASSERT_TRUE(r.ok()) << r.message;
    const SendCounts n = sends_in(r);
    if (opt_in) {
      EXPECT_GT(n.zero_copy, 0u);
    } else {
      EXPECT_EQ(n.zero_copy, 0u) << "write_all went zero-copy";
      EXPECT_GT(n.plain, 0u);
    }
  }
}

}  // namespace
}  // namespace ringo
