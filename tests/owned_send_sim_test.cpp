// Owned-buffer zero-copy sends in the simulator, whose SEND_ZC notification comes when the
// peer has taken the bytes or its delayed ACK came: write_all_zero_copy waits for a peer
// that reads late and write_all_owned does not; an aborted write_all_owned ends in each of
// the three outcomes of docs/cancellation.md across seeds, the peer always gets a prefix,
// and every buffer is freed; closing either end frees buffers whose bytes nobody will read.
#include <gtest/gtest.h>

#include <string>

#include "sim_stream_pair.hpp"

namespace ringo {
using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace sim_stream_pair;

// Reads `n` bytes, starting after `start_after`.
Task<std::string> read_late(const net::TcpStream* s, size_t n, Duration start_after) {
  co_await sleep(start_after);
  std::string got(n, '\0');
  EXPECT_TRUE((co_await s->read_exact(got, in(10s))).has_value());
  co_return got;
}

// The ACK stall of issue 19, in virtual time: the peer reads only after 50 ms (it waits for
// something else first), so its ACK is a delayed one, drawn by the seed up to 40 ms after
// the bytes arrived. write_all_zero_copy returns only at that ACK; write_all_owned returns
// when the bytes are queued, and its buffer is freed at the ACK.
TEST(OwnedSendSim, TheHoldingWriteWaitsForTheDelayedAckAndTheOwnedOneDoesNot) {
  const std::string data = pattern(32 * 1024);  // fits the simulated socket buffer (64 KiB)
  Duration longest{0};
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    for (const bool owned : {false, true}) {
      auto r = with_pair(seed, [&](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
        const size_t alive = net::send_buffers_alive();
        auto reader = go(read_late(server, data.size(), 50ms));
        const Instant t0 = current_shard()->now();
        Result<void> w;
        if (owned) {
          w = co_await client->write_all_owned(net::SendBuffer::copy_of(data), in(10s));
        } else {
          w = co_await client->write_all_zero_copy(data, in(10s));
        }
        const Duration took = current_shard()->now() - t0;
        EXPECT_TRUE(w.has_value());
        if (owned) {
          EXPECT_LT(took, 1ms) << "the owned write waited for the peer";
          EXPECT_EQ(net::send_buffers_in_kernel(), 1u) << "the buffer left the kernel before the bytes arrived";
        } else {
          EXPECT_LT(took, 42ms) << "seed " << seed << ": waited past the delayed ACK's bound (40 ms)";
          longest = std::max(longest, took);
        }
        EXPECT_EQ((co_await reader.join()).value_or(std::string()), data);
        co_await sleep(1ms);  // the notification's own latency
        EXPECT_EQ(net::send_buffers_in_kernel(), 0u);
        EXPECT_EQ(net::send_buffers_alive(), alive);
      });
      ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    }
  }
  EXPECT_GT(longest, 10ms) << "no seed showed the stall: the notification came at the bytes' arrival";
}

struct WriteOutcomes {
  int whole = 0, partial = 0, nothing = 0;
};

// One seed of the abort test: a write_all_owned of 48 KiB aborted at a seed-chosen moment
// (before submission, parked behind a socket buffer pre-filled on even seeds, or after its
// result); what the peer gets, and how the write and its cancel ended.
Task<void> aborted_owned_write(uint64_t seed, const std::string& all, CancelCounts& seen, WriteOutcomes& outcomes,
                               net::TcpStream* client, net::TcpStream* server) {
  const size_t alive = net::send_buffers_alive();
  const size_t before = seed % 2 == 0 ? 64 * 1024 : 0;
  if (before > 0) {
    EXPECT_TRUE((co_await client->write_all(std::string_view(all).substr(0, before))).has_value());
  }
  const std::string_view data = std::string_view(all).substr(before, 48 * 1024);
  auto reader = go(drain(server, 60us));
  const ShardStats stats_before = current_shard()->stats();
  auto writer = go([](const net::TcpStream* s, net::SendBuffer b) -> Task<Result<void>> {
    co_return co_await s->write_all_owned(std::move(b));
  }(client, net::SendBuffer::copy_of(data)));
  if (seed % 7 == 0) {
    co_await yield_now();
  } else {
    co_await sleep(Duration{static_cast<int64_t>(seed % 7) * 20000 + static_cast<int64_t>(seed % 5) * 3000});
  }
  (void)writer.abort();
  const Result<void> w = co_await writer.join();
  (void)co_await client->shutdown();
  const std::string got = (co_await reader.join()).value_or(std::string());
  seen.add(stats_before, current_shard()->stats());
  EXPECT_TRUE(got == all.substr(0, got.size())) << "seed " << seed << ": not a prefix of what was written";
  if (w) {
    EXPECT_EQ(got.size(), before + data.size()) << "seed " << seed << ": success, yet bytes missing";
    ++outcomes.whole;
  } else {
    EXPECT_EQ(w.error(), make_error_code(errc::cancelled)) << "seed " << seed;
    EXPECT_LT(got.size(), before + data.size()) << "seed " << seed;
    ++(got.size() > before ? outcomes.partial : outcomes.nothing);
  }
  co_await sleep(1ms);  // the last notification's latency
  EXPECT_EQ(net::send_buffers_in_kernel(), 0u) << "seed " << seed;
  EXPECT_EQ(net::send_buffers_alive(), alive) << "seed " << seed << ": a buffer leaked";
}

TEST(OwnedSendSim, AnAbortedOwnedWriteEndsInEachOutcomeAndThePeerGetsAPrefix) {
  CancelCounts seen;
  WriteOutcomes outcomes;
  const std::string all = pattern(112 * 1024);
  for (uint64_t seed = 1; seed <= 90; ++seed) {
    auto r = with_pair(seed, [seed, &seen, &outcomes, &all](net::TcpStream* client, net::TcpStream* server) {
      return aborted_owned_write(seed, all, seen, outcomes, client, server);
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

// Bytes nobody will read free their buffers: the reader closes without reading (a reset,
// as it had unread bytes), or the connection is still in the listener's queue when the
// listener closes. The owned write returned before either.
TEST(OwnedSendSim, ClosingThePeerFreesBuffersWhoseBytesNobodyReads) {
  for (const bool via_listener : {false, true}) {
    auto r = sim::run(sim::SimConfig{}, [via_listener]() -> Task<void> {
      const size_t alive = net::send_buffers_alive();
      auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
      auto client = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()));
      if (!client) co_return ADD_FAILURE() << "no connection";
      std::optional<net::TcpStream> server;
      if (!via_listener) server.emplace(std::move(*co_await listener->accept()));
      EXPECT_TRUE((co_await client->write_all_owned(net::SendBuffer::copy_of(pattern(20000)), in(1s))).has_value());
      co_await sleep(200us);  // the bytes arrived; nobody reads them, this seed's ACK is later
      EXPECT_EQ(net::send_buffers_in_kernel(), 1u);
      if (via_listener) {
        (void)co_await listener->close();
      } else {
        (void)co_await server->close();
      }
      co_await sleep(1ms);
      EXPECT_EQ(net::send_buffers_in_kernel(), 0u) << (via_listener ? "listener" : "reader") << " closed";
      EXPECT_EQ(net::send_buffers_alive(), alive);
    });
    ASSERT_TRUE(r.ok()) << r.message;
  }
}

// A run that ends while the peer still holds the bytes unread and open: the shard's
// shutdown cancels the peer's routine, its stream closes, and the buffer is freed; none
// outlives the run.
TEST(OwnedSendSim, ARunEndingWithBytesUnreadFreesTheBuffer) {
  const size_t alive = net::send_buffers_alive();
  auto r = with_pair(3, [](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
    // The peer's stream moves into a routine that waits forever; the run ends around it.
    go([](net::TcpStream s) -> Task<void> {
      co_await sleep(1h);
      (void)s;
    }(std::move(*server)))
        .detach();
    EXPECT_TRUE((co_await client->write_all_owned(net::SendBuffer::copy_of(pattern(10000)), in(1s))).has_value());
    co_await sleep(200us);  // the bytes arrived; this seed's delayed ACK is later
    EXPECT_EQ(net::send_buffers_in_kernel(), 1u);
  });
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(net::send_buffers_alive(), alive) << "a buffer outlived its run";
}

}  // namespace
}  // namespace ringo
