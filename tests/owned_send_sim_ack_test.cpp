// The simulator's delayed ACK (sim_net.hpp): a SEND_ZC notification comes at the latest a
// bounded delay after its bytes arrived, whether or not the peer reads them. Two peers that
// both write zero-copy before reading finish (as on Linux), a peer that shut its reading
// side holds nothing, and a run whose shutdown is cut short with a buffer still in the
// kernel abandons it (never freed, counted).
#include <gtest/gtest.h>

#include <string>

#include "sim_stream_pair.hpp"

namespace ringo {
using namespace ringo::detail;  // current_shard
namespace {

using namespace sim_stream_pair;

// Writes `data` zero-copy, then reads `n` bytes from the same stream ("" on a failure).
Task<std::string> write_then_read(const net::TcpStream* s, const std::string& data, size_t n) {
  const Result<void> w = co_await s->write_all_zero_copy(data, in(1s));
  EXPECT_TRUE(w.has_value()) << "the write: " << w.error().message();
  if (!w) co_return std::string();
  std::string got(n, '\0');
  const Result<void> r = co_await s->read_exact(got, in(1s));
  EXPECT_TRUE(r.has_value()) << "the read: " << r.error().message();
  co_return r ? got : std::string();
}

// Each side's write waits for the other's ACK, and neither reads before its write returns:
// with the notification held until the peer read, both waited forever.
TEST(OwnedSendSimAck, TwoPeersThatWriteZeroCopyBeforeReadingBothFinish) {
  const std::string a = pattern(24 * 1024);
  const std::string b = pattern(24 * 1024 + 7);
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto r = with_pair(seed, [&](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
      const Instant t0 = current_shard()->now();
      auto one = go(write_then_read(client, a, b.size()));
      auto two = go(write_then_read(server, b, a.size()));
      EXPECT_EQ((co_await one.join()).value_or(std::string()), b) << "seed " << seed;
      EXPECT_EQ((co_await two.join()).value_or(std::string()), a) << "seed " << seed;
      EXPECT_LT(current_shard()->now() - t0, 45ms) << "seed " << seed << ": longer than a delayed ACK";
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
}

// A peer that shut down its reading side never takes the bytes; its kernel still ACKs them.
TEST(OwnedSendSimAck, APeerThatShutItsReadingSideHoldsNoBuffer) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto r = with_pair(seed, [seed](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
      EXPECT_TRUE((co_await server->shutdown(SHUT_RD)).has_value());
      const size_t alive = net::send_buffers_alive();
      EXPECT_TRUE((co_await client->write_all_zero_copy(pattern(8192), in(100ms))).has_value()) << "seed " << seed;
      EXPECT_TRUE((co_await client->write_all_owned(net::SendBuffer::copy_of(pattern(8192)), in(1s))).has_value());
      co_await sleep(45ms);  // the delayed ACK's bound and the notification's latency
      EXPECT_EQ(net::send_buffers_in_kernel(), 0u) << "seed " << seed;
      EXPECT_EQ(net::send_buffers_alive(), alive) << "seed " << seed;
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
}

// A run whose shutdown stops before the notification came (no shutdown steps at all): the
// shard abandons the block, which stays allocated and is counted. (The listener's
// multishot accept is cut short too: the shard frees its acceptor, orphan.hpp.)
TEST(OwnedSendSimAck, ACutShortShutdownAbandonsTheBuffer) {
  const size_t alive = net::send_buffers_alive();
  const size_t abandoned = net::send_buffers_abandoned();
  sim::SimConfig c;
  c.shards = 1;
  c.shutdown_steps = 0;
  auto r = sim::run(c, []() -> Task<void> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    auto client = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()));
    auto server = co_await listener->accept();
    if (!client || !server) co_return ADD_FAILURE() << "no connection";
    EXPECT_TRUE((co_await client->write_all_owned(net::SendBuffer::copy_of(pattern(4096)), in(1s))).has_value());
    EXPECT_EQ(net::send_buffers_in_kernel(), 1u) << "the notification came with the result";
  });
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(net::send_buffers_abandoned(), abandoned + 1) << "the block the kernel held was not abandoned";
  EXPECT_EQ(net::send_buffers_alive(), alive + 1) << "the abandoned block was freed, or another leaked";
}

}  // namespace
}  // namespace ringo
