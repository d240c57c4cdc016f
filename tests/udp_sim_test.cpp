// UDP in the simulator only: the three outcomes of a cancelled recv_from across seeds,
// the UDP fault knobs at their configured rates and deterministic per seed, and the
// --faults string that sets them.
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

Instant in(Duration d) { return current_shard()->now() + d; }

// recv_from aborted at a seed-chosen moment while its datagram arrives: all three outcomes
// of docs/cancellation.md happen across seeds, and the datagram is always had exactly once.
TEST(UdpSim, AbortedRecvFromProducesAllThreeOutcomesAndLosesNothing) {
  ShardStats total;
  for (uint64_t seed = 1; seed <= 120; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.shards = 1;
    auto r = sim::run(c, [seed]() -> Task<void> {
      auto a = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
      auto b = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
      std::array<char, 8> buf{};
      auto reader = go([](const net::UdpSocket* s, char* p) -> Task<Result<net::ReceivedFrom<net::SocketAddr>>> {
        co_return co_await s->recv_from({p, 8});
      }(&*b, buf.data()));
      co_await yield_now();                     // the reader has queued its op; the ring has not taken it yet
      if (seed % 3 == 0) (void)reader.abort();  // cancelled before submission
      EXPECT_TRUE(co_await a->send_to(std::string_view("one"), *b->local_addr()));
      co_await sleep(Duration{static_cast<int64_t>(seed % 7) * 9000});  // around the network's latency
      (void)reader.abort();
      auto first = co_await reader.join();
      int had = first.has_value() ? 1 : 0;
      std::array<char, 8> again{};
      auto later = co_await b->recv_from(again, in(1ms));
      if (later) ++had;
      EXPECT_EQ(had, 1) << "seed " << seed << ": the datagram was had " << had << " times";
    });
    ASSERT_TRUE(r.ok()) << r.message << " " << r.replay_hint();
    total += r.stats;
  }
  EXPECT_GT(total.ops_cancelled_before_submit, 0u);
  EXPECT_GT(total.ops_cancelled_by_kernel, 0u);
  EXPECT_GT(total.ops_completed_despite_cancel, 0u);
}

struct Tally {
  int received = 0;
  int duplicates = 0;
  int reordered = 0;  // arrived after a datagram sent later
};

constexpr int kDatagrams = 3000;

// Sends kDatagrams numbered datagrams from one socket to another and counts what arrives.
sim::Report run_stream(uint64_t seed, const sim::FaultConfig& faults, Tally& out) {
  sim::SimConfig c;
  c.seed = seed;
  c.shards = 1;
  c.faults = faults;
  return sim::run(c, [&out]() -> Task<void> {
    auto a = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
    auto b = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
    auto sender = go([](const net::UdpSocket* s, net::SocketAddr to) -> Task<void> {
      for (int i = 0; i < kDatagrams; ++i) {
        const std::string n = std::to_string(i);
        EXPECT_TRUE(co_await s->send_to(n, to));
      }
    }(&*a, *b->local_addr()));
    std::set<int> seen;
    int highest = -1;
    std::array<char, 16> buf{};
    while (true) {
      auto got = co_await b->recv_from(buf, in(50ms));
      if (!got) break;
      const int n = std::stoi(std::string(buf.data(), got->size));
      ++out.received;
      if (!seen.insert(n).second) ++out.duplicates;
      if (n < highest) ++out.reordered;
      highest = std::max(highest, n);
    }
    co_await sender.join();
  });
}

// `rate` of kDatagrams, give or take a quarter of it plus a little (binomial spread).
void expect_about(int count, double rate, const char* what) {
  const double want = rate * kDatagrams;
  EXPECT_NEAR(count, want, want / 4 + 10) << what;
}

TEST(UdpSim, LossDuplicationAndReorderingHappenAtTheirRates) {
  sim::FaultConfig loss = sim::FaultConfig::none();
  loss.udp_loss_ppm = 100000;
  Tally lost;
  ASSERT_TRUE(run_stream(7, loss, lost).ok());
  expect_about(kDatagrams - lost.received, 0.10, "lost");
  EXPECT_EQ(lost.duplicates, 0);
  EXPECT_EQ(lost.reordered, 0);

  sim::FaultConfig dup = sim::FaultConfig::none();
  dup.udp_dup_ppm = 50000;
  Tally duplicated;
  ASSERT_TRUE(run_stream(7, dup, duplicated).ok());
  expect_about(duplicated.duplicates, 0.05, "duplicated");
  EXPECT_EQ(duplicated.received, kDatagrams + duplicated.duplicates);
  EXPECT_EQ(duplicated.reordered, 0);

  sim::FaultConfig reorder = sim::FaultConfig::none();
  reorder.udp_reorder_ppm = 100000;
  Tally reordered;
  ASSERT_TRUE(run_stream(7, reorder, reordered).ok());
  expect_about(reordered.reordered, 0.10, "reordered");
  EXPECT_EQ(reordered.received, kDatagrams);
  EXPECT_EQ(reordered.duplicates, 0);

  Tally clean;
  ASSERT_TRUE(run_stream(7, sim::FaultConfig::none(), clean).ok());
  EXPECT_EQ(clean.received, kDatagrams);
  EXPECT_EQ(clean.reordered, 0);
}

TEST(UdpSim, TheSameSeedLosesTheSameDatagrams) {
  sim::FaultConfig f = sim::FaultConfig::none();
  f.udp_loss_ppm = 100000;
  f.udp_dup_ppm = 50000;
  f.udp_reorder_ppm = 100000;
  Tally one, two, other;
  const sim::Report r1 = run_stream(11, f, one);
  const sim::Report r2 = run_stream(11, f, two);
  const sim::Report r3 = run_stream(12, f, other);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_EQ(r1.trace_hash, r2.trace_hash);
  EXPECT_EQ(one.received, two.received);
  EXPECT_EQ(one.reordered, two.reordered);
  EXPECT_NE(r1.trace_hash, r3.trace_hash);
}

TEST(UdpSim, FaultsStringSetsAndValidatesTheUdpKnobs) {
  sim::FaultConfig f;
  ASSERT_TRUE(sim::FaultConfig::parse("light,udp_loss_ppm=20000,udp_dup_ppm=0,udp_reorder_max_ns=7", 1, f));
  EXPECT_EQ(f.udp_loss_ppm, 20000u);
  EXPECT_EQ(f.udp_dup_ppm, 0u);
  EXPECT_EQ(f.udp_reorder_ppm, sim::FaultConfig::light().udp_reorder_ppm);
  EXPECT_EQ(f.udp_reorder_max, Duration{7});
  EXPECT_EQ(f.short_io_ppm, sim::FaultConfig::light().short_io_ppm);  // the preset underneath
  ASSERT_TRUE(sim::FaultConfig::parse("heavy", 1, f));
  EXPECT_EQ(f.udp_loss_ppm, sim::FaultConfig::heavy().udp_loss_ppm);
  const sim::FaultConfig before = f;
  for (const char* bad : {"udp_loss_ppm=5", "light,udp_loss_ppm=1000001", "light,udp_loss_ppm=-1",
                          "light,udp_loss_ppm=", "light,udp_loss_ppm", "light,udp_lose_ppm=5", "light,",
                          "light,udp_dup_ppm=1x", "nonsense"}) {
    std::string why;
    EXPECT_FALSE(sim::FaultConfig::parse(bad, 1, f, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
    EXPECT_EQ(f.udp_loss_ppm, before.udp_loss_ppm) << bad << " changed the config";
  }
}

}  // namespace
}  // namespace ringo
