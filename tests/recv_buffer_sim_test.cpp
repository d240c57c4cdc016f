// recv_buffered and zero-copy sends in the simulator only: readers aborted at seed-chosen
// moments while a stream arrives (with short reads and latency jitter from the seed) lose
// nothing and duplicate nothing, and both outcomes of an aborted wait happen across seeds;
// a stream closed while its multishot is armed and an aborted write_all_zero_copy each end
// in all three outcomes of docs/cancellation.md across seeds, losing no buffer and no byte
// order.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "byte_pattern.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"
#include "sim_stream_pair.hpp"

namespace ringo {
using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

Instant in(Duration d) { return current_shard()->now() + d; }

std::string pattern(size_t n) { return testing::byte_pattern(n, 777); }

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

// A reader that holds part of a small ring while a stream arrives under heavy faults
// (op latency up to 2 ms): the kernel's ENOBUFS is often reaped after the reader already
// gave buffers back. The reader must re-arm then, not wait for a give-back that happened
// (it did wait, and the stream stalled: found by UdpBufferedSim under the same faults).
TEST(RecvBufferedSim, AnEnobufsReapedAfterBuffersCameBackReArms) {
  const std::string sent = pattern(4000);
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    c.faults = sim::FaultConfig::heavy();
    c.faults.reset_ppm = 0;  // the stream must arrive whole
    auto r = sim::run(c, [&sent, seed]() -> Task<void> {
      EXPECT_TRUE(net::configure_recv_buffers({4, 64}).has_value());
      auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
      std::optional<net::TcpStream> client, server;
      for (int attempt = 0; attempt < 20 && !client; ++attempt) {  // heavy refuses some connects
        auto cl = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()));
        if (cl) client = std::move(*cl);
      }
      auto sv = co_await listener->accept();
      if (!client || !sv) co_return ADD_FAILURE() << "seed " << seed << ": no connection";
      server = std::move(*sv);
      auto writer = go([](net::TcpStream* st, const std::string* data) -> Task<Result<void>> {
        if (auto w = co_await st->write_all(*data, in(100s)); !w) co_return std::unexpected(w.error());
        co_return co_await st->shutdown();
      }(&*client, &sent));
      std::string got;
      std::vector<net::RecvBuffer> held;
      for (;;) {
        auto b = co_await server->recv_buffered(in(1s));
        if (!b) co_return ADD_FAILURE() << "seed " << seed << ": " << b.error().message() << " after " << got.size();
        if (b->empty()) break;
        got.append(b->view());
        held.push_back(std::move(*b));
        if (held.size() >= 1 + seed % 3) held.clear();
      }
      EXPECT_TRUE((co_await writer.join()).has_value()) << "seed " << seed;
      EXPECT_TRUE(got == sent) << "seed " << seed;
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
}

using sim_stream_pair::CancelCounts;
using sim_stream_pair::with_pair;

// A stream closed at a seed-chosen moment while its multishot is queued, armed, or ending
// (its ring ran dry, or end of stream): the multishot's cancel ends in each of the three
// outcomes across seeds, and every buffer comes back.
TEST(RecvBufferedSim, ClosingAStreamWhileItsMultishotIsArmedEndsInEachOutcome) {
  CancelCounts seen;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    auto r = with_pair(seed, [seed, &seen](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
      EXPECT_TRUE(net::configure_recv_buffers({4, 64}).has_value());
      const ShardStats before = current_shard()->stats();
      auto reader = go([](const net::TcpStream* s) -> Task<Result<net::RecvBuffer>> {
        co_return co_await s->recv_buffered(in(10s));
      }(server));
      if (seed % 4 == 0) {
        co_await yield_now();  // the reader armed its multishot; the ring has not taken it yet
      } else {
        const std::string data = pattern(static_cast<size_t>(seed % 3) * 150);
        if (!data.empty()) {
          EXPECT_TRUE((co_await client->write_all(data)).has_value());
        }
        if (seed % 5 == 0) (void)co_await client->shutdown();
        co_await sleep(Duration{static_cast<int64_t>(seed % 9) * 4000});
      }
      (void)co_await server->close();
      auto got = co_await reader.join();  // a buffer, or EBADF: the close failed the wait
      if (got) {
        got->release();
      } else {
        EXPECT_EQ(got.error(), std::make_error_code(std::errc::bad_file_descriptor)) << "seed " << seed;
      }
      co_await sleep(1ms);  // the multishot's last CQE
      seen.add(before, current_shard()->stats());
      EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "seed " << seed;
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
  EXPECT_GT(seen.before_submit, 0u);
  EXPECT_GT(seen.by_kernel, 0u);
  EXPECT_GT(seen.completed_anyway, 0u);
}

struct WriteOutcomes {
  int whole = 0;    // the write returned success although aborted (its op completed anyway)
  int partial = 0;  // aborted with some of its bytes sent: the peer has exactly that prefix
  int nothing = 0;  // aborted before any of its bytes went
};

// Reads everything until end of stream.
Task<std::string> drain(const net::TcpStream* s, Duration start_after) {
  co_await sleep(start_after);
  std::string got;
  for (;;) {
    auto b = co_await s->recv_buffered(in(10s));
    if (!b || b->empty()) co_return got;
    got.append(b->view());
  }
}

// write_all_zero_copy of 48 KiB (every part a SEND_ZC) aborted at a seed-chosen moment:
// before submission, while parked behind a full socket buffer (pre-filled with 64 KiB by a
// plain write_all on even seeds), while moving, or between its result and its
// notification. The peer always receives a prefix of what was written, all of it when the
// write reports success, and the three outcomes of the cancelled SEND_ZC (the only op
// cancelled in the window measured) each happen across seeds, and partial writes too.
TEST(RecvBufferedSim, AnAbortedZeroCopyWriteAllEndsInEachOutcomeAndThePeerGetsAPrefix) {
  CancelCounts seen;
  WriteOutcomes outcomes;
  const std::string all = pattern(112 * 1024);
  for (uint64_t seed = 1; seed <= 90; ++seed) {
    auto r =
        with_pair(seed, [seed, &seen, &outcomes, &all](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
          const size_t before = seed % 2 == 0 ? 64 * 1024 : 0;
          if (before > 0) {
            EXPECT_TRUE((co_await client->write_all(std::string_view(all).substr(0, before))).has_value());
          }
          const std::string_view data = std::string_view(all).substr(before, 48 * 1024);
          auto reader = go(drain(server, 60us));
          const ShardStats stats_before = current_shard()->stats();
          auto writer = go([](const net::TcpStream* s, std::string_view d) -> Task<Result<void>> {
            co_return co_await s->write_all_zero_copy(d);
          }(client, data));
          if (seed % 7 == 0) {
            co_await yield_now();
          } else {
            co_await sleep(Duration{static_cast<int64_t>(seed % 7) * 20000 + static_cast<int64_t>(seed % 5) * 3000});
          }
          (void)writer.abort();
          const Result<void> w = co_await writer.join();
          (void)co_await client->shutdown();
          const Result<std::string> read = co_await reader.join();
          EXPECT_TRUE(read.has_value()) << "seed " << seed;
          const std::string got = read.value_or(std::string());
          seen.add(stats_before, current_shard()->stats());
          EXPECT_TRUE(got == all.substr(0, got.size())) << "seed " << seed << ": not a prefix of what was written";
          EXPECT_GE(got.size(), before) << "seed " << seed;
          if (w) {
            EXPECT_EQ(got.size(), before + data.size()) << "seed " << seed << ": success, yet bytes missing";
            ++outcomes.whole;
          } else {
            EXPECT_EQ(w.error(), make_error_code(errc::cancelled)) << "seed " << seed;
            EXPECT_LT(got.size(), before + data.size()) << "seed " << seed;
            ++(got.size() > before ? outcomes.partial : outcomes.nothing);
          }
        });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
  EXPECT_GT(seen.before_submit, 0u);
  EXPECT_GT(seen.by_kernel, 0u);
  EXPECT_GT(seen.completed_anyway, 0u);
  EXPECT_GT(outcomes.whole, 0);
  EXPECT_GT(outcomes.partial, 0);
  EXPECT_GT(outcomes.nothing, 0);
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
