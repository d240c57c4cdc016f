// Cancelled and timed-out zero-copy writes in the simulator: writes aborted around the
// moment the peer takes their bytes (a cancel must not hurry the notification ahead of the
// result), a SEND_ZC cancelled while parked (it ends as the kernel's: -ECANCELED with
// kCqeMore, then a notification), and owned writes with a deadline aborted near it (each
// of cancelled, timed out and whole happens); the peer always gets what the writer says.
#include <gtest/gtest.h>

#include <string>

#include "sim_stream_pair.hpp"

namespace ringo {
using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace sim_stream_pair;

struct Outcomes {
  int whole = 0, cancelled = 0, timed_out = 0;
};

// The write's result against what the peer got: success means all of data, a failure a
// prefix of it (after `before` bytes written earlier).
void account(uint64_t seed, const Result<void>& w, const std::string& got, const std::string& all, size_t before,
             size_t len, Outcomes& out) {
  EXPECT_TRUE(got == all.substr(0, got.size())) << "seed " << seed << ": not a prefix of what was written";
  if (w) {
    EXPECT_EQ(got.size(), before + len) << "seed " << seed << ": success, yet bytes missing";
    ++out.whole;
    return;
  }
  EXPECT_LT(got.size(), before + len) << "seed " << seed << ": failed, yet every byte arrived";
  if (w.error() == make_error_code(errc::timed_out)) {
    ++out.timed_out;
  } else {
    EXPECT_EQ(w.error(), make_error_code(errc::cancelled)) << "seed " << seed;
    ++out.cancelled;
  }
}

// Op results slower than the network (up to 150 us against 5 to 50 us): the peer often
// takes the bytes, and the notification is released, before the result CQE is due.
sim::SimConfig slow_results(uint64_t seed) {
  sim::SimConfig c;
  c.seed = seed;
  c.faults.max_latency = 150us;
  return c;
}

Task<void> abort_as_the_peer_consumes(uint64_t seed, bool owned, const std::string& all, Outcomes& out,
                                      net::TcpStream* client, net::TcpStream* server) {
  const size_t alive = net::send_buffers_alive();
  const uint64_t stale = current_shard()->stats().stale_completions;
  auto reader = go(drain(server, 0us));
  auto writer = go([](const net::TcpStream* s, const std::string* data, bool owned) -> Task<Result<void>> {
    if (owned) co_return co_await s->write_all_owned(net::SendBuffer::copy_of(*data));
    co_return co_await s->write_all_zero_copy(*data);
  }(client, &all, owned));
  if (seed % 6 == 0) {
    co_await yield_now();  // before the op is submitted: cancelled, nothing sent
  } else {
    co_await sleep(Duration{static_cast<int64_t>(seed * 7919 % 160) * 1000});
  }
  (void)writer.abort();
  const Result<void> w = co_await writer.join();
  (void)co_await client->shutdown();
  account(seed, w, (co_await reader.join()).value_or(std::string()), all, 0, all.size(), out);
  co_await sleep(1ms);
  EXPECT_EQ(current_shard()->stats().stale_completions, stale) << "seed " << seed << ": a result came after its end";
  EXPECT_EQ(net::send_buffers_alive(), alive) << "seed " << seed;
}

TEST(OwnedSendSimCancel, WritesAbortedAsThePeerConsumesAccountForEveryByte) {
  const std::string all = pattern(6000);
  for (const bool owned : {true, false}) {
    Outcomes out;
    for (uint64_t seed = 1; seed <= 120; ++seed) {
      auto r = with_pair(slow_results(seed), [&, seed, owned](net::TcpStream* client, net::TcpStream* server) {
        return abort_as_the_peer_consumes(seed, owned, all, out, client, server);
      });
      ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    }
    EXPECT_GT(out.whole, 0) << (owned ? "owned" : "holding");
    EXPECT_GT(out.cancelled, 0) << (owned ? "owned" : "holding");
  }
}

// A SEND_ZC parked behind a full socket buffer and cancelled: the result -ECANCELED with
// kCqeMore, reported at once (OpDriver::report_early) and counted as cancelled by the kernel,
// then the notification frees the buffer.
TEST(OwnedSendSimCancel, AParkedSendZcCancelledEndsAsTheKernels) {
  auto r = with_pair(2, [](net::TcpStream* client, net::TcpStream* server) -> Task<void> {
    const size_t alive = net::send_buffers_alive();
    EXPECT_TRUE((co_await client->write_all(pattern(64 * 1024))).has_value());  // fills the socket buffer
    const ShardStats before = current_shard()->stats();
    auto writer = go([](const net::TcpStream* s) -> Task<Result<void>> {
      co_return co_await s->write_all_owned(net::SendBuffer::copy_of(pattern(1000)));
    }(client));
    co_await sleep(100us);  // parked: the peer reads nothing
    (void)writer.abort();
    const Result<void> w = co_await writer.join();
    EXPECT_EQ(w ? std::error_code() : w.error(), make_error_code(errc::cancelled));
    EXPECT_EQ(current_shard()->stats().ops_cancelled_by_kernel - before.ops_cancelled_by_kernel, 1u);
    co_await sleep(1ms);
    EXPECT_EQ(net::send_buffers_in_kernel(), 0u);
    EXPECT_EQ(net::send_buffers_alive(), alive);
    (void)server;
  });
  ASSERT_TRUE(r.ok()) << r.message;
}

// One seed: an owned write with a deadline, aborted near it, behind a socket buffer filled
// on even seeds. A deadline that fires while the write is parked (or with a cancel) is
// timed_out; a cancel after the result but before the link timeout's CQE completes anyway.
Task<void> abort_near_the_deadline(uint64_t seed, const std::string& all, Outcomes& out, uint64_t& expiries,
                                   net::TcpStream* client, net::TcpStream* server) {
  const size_t alive = net::send_buffers_alive();
  const size_t before = seed % 2 == 0 ? 64 * 1024 : 0;
  if (before > 0) {
    EXPECT_TRUE((co_await client->write_all(std::string_view(all).substr(0, before))).has_value());
  }
  const std::string_view data = std::string_view(all).substr(before, 16 * 1024);
  auto reader = go(drain(server, 40us));
  const ShardStats stats_before = current_shard()->stats();
  const Instant deadline = in(Duration{static_cast<int64_t>(seed * 37 % 100) * 1000});
  auto writer = go([](const net::TcpStream* s, net::SendBuffer b, Instant d) -> Task<Result<void>> {
    co_return co_await s->write_all_owned(std::move(b), d);
  }(client, net::SendBuffer::copy_of(data), deadline));
  co_await sleep(Duration{static_cast<int64_t>(seed * 53 % 100) * 1000});
  (void)writer.abort();
  const Result<void> w = co_await writer.join();
  (void)co_await client->shutdown();
  account(seed, w, (co_await reader.join()).value_or(std::string()), all, before, data.size(), out);
  expiries += current_shard()->stats().deadline_expiries - stats_before.deadline_expiries;
  co_await sleep(1ms);
  EXPECT_EQ(net::send_buffers_in_kernel(), 0u) << "seed " << seed;
  EXPECT_EQ(net::send_buffers_alive(), alive) << "seed " << seed;
}

TEST(OwnedSendSimCancel, AnOwnedWriteAbortedNearItsDeadlineEndsInEachOutcome) {
  const std::string all = pattern(80 * 1024);
  Outcomes out;
  uint64_t expiries = 0;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    auto r = with_pair(seed, [&, seed](net::TcpStream* client, net::TcpStream* server) {
      return abort_near_the_deadline(seed, all, out, expiries, client, server);
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
  }
  EXPECT_GT(out.whole, 0);
  EXPECT_GT(out.cancelled, 0);
  EXPECT_GT(out.timed_out, 0);
  EXPECT_GE(expiries, static_cast<uint64_t>(out.timed_out));
}

}  // namespace
}  // namespace ringo
