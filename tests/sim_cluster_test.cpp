// Several hosts in one simulation (ringo/sim/cluster.hpp): a seed replays, and so does
// its recorded choice sequence; a partition carries no traffic across and heals; a crash
// destroys the host's routines, resets its peers' connections and leaves its disk as the
// durability model says, and the host restarts from scratch; each host's clock has its
// own offset and drift; and the election example's correct variant passes while its
// planted bug is found.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ringo/fs.hpp"
#include "ringo/net.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim/cluster.hpp"
#include "ringo/sim/scenario.hpp"
#include "ringo/udp.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using sim::Cluster;
using sim::ClusterConfig;
using sim::ClusterEvent;
using sim::HostContext;

net::SocketAddr at(uint32_t host, uint16_t port) {
  return *net::SocketAddr::parse(HostContext::address(host) + ":" + std::to_string(port));
}

ClusterConfig quiet(uint32_t hosts, Duration run_for) {
  ClusterConfig c;
  c.sim.seed = 3;
  c.hosts = hosts;
  c.run_for = run_for;
  c.max_clock_offset = Duration{0};
  c.max_drift_ppm = 0;
  return c;
}

// ---------------------------------------------------------------- determinism

sim::RunOptions election_options(uint64_t seed) {
  sim::RunOptions o;
  o.seed = seed;
  return o;
}

// A config outside the limits runs nothing and says which field is wrong; asking about a
// host that does not exist answers "no" instead of reading past the hosts.
TEST(Cluster, ABadConfigIsRefusedWithItsReasonAndRunsNothing) {
  struct Bad {
    void (*spoil)(ClusterConfig&);
    const char* names;
  };
  const Bad cases[] = {
      {[](ClusterConfig& c) { c.hosts = 0; }, "hosts"},
      {[](ClusterConfig& c) { c.hosts = ClusterConfig::kMaxHosts + 1; }, "hosts"},
      {[](ClusterConfig& c) { c.shards_per_host = 0; }, "shards_per_host"},
      {[](ClusterConfig& c) { c.run_for = Duration{0}; }, "run_for"},
      {[](ClusterConfig& c) { c.max_drift_ppm = -1; }, "max_drift_ppm"},
      {[](ClusterConfig& c) { c.restart_min = 2s, c.restart_max = 1s; }, "restart_min"},
      {[](ClusterConfig& c) { c.crashes = true, c.nemesis_min_gap = Duration{0}; }, "nemesis_min_gap"},
      {[](ClusterConfig& c) { c.partitions = true, c.nemesis_min_gap = c.nemesis_max_gap = 1us; }, "kMaxNemesisEvents"},
      {[](ClusterConfig& c) {
         c.script.push_back({1ms, ClusterEvent::Kind::crash, {}, 3});
       },
       "script[0].host"},
      {[](ClusterConfig& c) {
         c.script.push_back({1ms, ClusterEvent::Kind::partition, {0, 1, 0, 1}, 0});
       },
       "script[0].side"},
      {[](ClusterConfig& c) {
         c.script.push_back({-1ms, ClusterEvent::Kind::heal, {}, 0});
       },
       "script[0].at"},
  };
  for (const Bad& bad : cases) {
    ClusterConfig c = quiet(3, 1s);
    bad.spoil(c);
    bool ran = false;
    Cluster cluster(c, [&ran](HostContext&) -> Task<Result<void>> {
      ran = true;
      co_return Result<void>{};
    });
    const sim::Report r = cluster.run();
    EXPECT_EQ(r.error, make_error_code(errc::invalid_argument)) << bad.names;
    EXPECT_NE(r.message.find(bad.names), std::string::npos) << r.message;
    EXPECT_FALSE(ran) << bad.names;
  }
  Cluster fine(quiet(3, 10ms), [](HostContext&) -> Task<Result<void>> { co_return Result<void>{}; });
  EXPECT_TRUE(fine.run().ok());
  EXPECT_FALSE(fine.up(3));
  EXPECT_EQ(fine.restarts(7), 0u);
  EXPECT_EQ(fine.clock_offset(99), Duration{0});
  EXPECT_EQ(fine.clock_drift_ppm(99), 0);
  EXPECT_FALSE(fine.file(5, "/x").has_value());
}

TEST(Cluster, ASeedAndItsRecordedChoicesReplayTheSameRun) {
  const sim::Scenario* s = sim::find_scenario("election");
  ASSERT_NE(s, nullptr);
  for (uint64_t seed : {1, 2}) {
    sim::RunOptions o = election_options(seed);
    o.record_choices = true;
    auto a = sim::run_scenario(*s, o);
    auto b = sim::run_scenario(*s, o);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->report.trace_hash, b->report.trace_hash);
    EXPECT_GT(a->report.trace_events, 1000u);
    ASSERT_TRUE(a->report.choices_complete);
    o.record_choices = false;
    o.choices = sim::choice_values(a->report.choices);
    auto replayed = sim::run_scenario(*s, o);
    ASSERT_TRUE(replayed);
    EXPECT_EQ(replayed->report.trace_hash, a->report.trace_hash) << "seed " << seed;
    o.choices.reset();
    o.seed = seed + 100;
    auto other = sim::run_scenario(*s, o);
    EXPECT_NE(other->report.trace_hash, a->report.trace_hash) << "another seed, another run";
  }
}

// The all-zero sequence is the simplest cluster run: no clock offset or drift, a nemesis
// that does nothing; even the buggy election then keeps one leader per term.
TEST(Cluster, AllZeroChoicesMeanNoFaultsAndNoSkew) {
  const sim::Scenario* s = sim::find_scenario("election_unsynced_vote");
  ASSERT_NE(s, nullptr);
  sim::RunOptions o = election_options(9);
  o.choices = std::vector<uint64_t>{};
  o.keep_trace = true;
  auto r = sim::run_scenario(*s, o);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->failed()) << r->why;
  size_t faults = 0;
  for (const auto& e : r->report.trace) faults += e.kind == TraceKind::fault;
  EXPECT_EQ(faults, 0u);
}

// ---------------------------------------------------------------- partitions

struct PartitionLog {
  Instant first_byte{-1};
  Instant second_byte{-1};
  std::error_code connect_across;
  std::error_code connect_after;
  std::vector<std::string> datagrams;
};

Task<Result<void>> partition_receiver(HostContext& host, std::shared_ptr<PartitionLog> log) {
  auto udp = net::UdpSocket::bind(net::SocketAddr::any_v4(7002));
  auto listener = net::TcpListener::bind(net::SocketAddr::any_v4(7001));
  if (!udp || !listener) co_return fail(errc::invalid_argument);
  go([](net::UdpSocket u, std::shared_ptr<PartitionLog> l) -> Task<void> {
    std::array<char, 16> buf;
    for (;;) {
      auto got = co_await u.recv_from(buf);
      if (!got) co_return;
      l->datagrams.emplace_back(buf.data(), got->size);
    }
  }(std::move(*udp), log))
      .detach();
  auto conn = co_await listener->accept();
  if (!conn) co_return std::unexpected(conn.error());
  std::array<char, 1> b;
  if (!co_await conn->read_exact(b)) co_return fail(errc::invalid_argument);
  log->first_byte = host.now();
  if (!co_await conn->read_exact(b)) co_return fail(errc::invalid_argument);
  log->second_byte = host.now();
  co_await sleep(10s);
  co_return Result<void>{};
}

Task<Result<void>> partition_sender(HostContext& host, std::shared_ptr<PartitionLog> log) {
  auto conn = co_await net::TcpStream::connect(at(1, 7001));
  if (!conn) co_return std::unexpected(conn.error());
  auto udp = net::UdpSocket::bind(net::SocketAddr::any_v4(0));
  if (!udp) co_return std::unexpected(udp.error());
  (void)co_await conn->write_all(std::string_view("a"));
  (void)co_await udp->send_to(std::string_view("before"), at(1, 7002));
  co_await sleep(200ms);  // the partition starts at 100 ms and heals at 500 ms
  (void)co_await conn->write_all(std::string_view("b"));
  (void)co_await udp->send_to(std::string_view("during"), at(1, 7002));
  auto across = co_await net::TcpStream::connect(at(1, 7001), host.now() + 100ms);
  log->connect_across = across ? std::error_code{} : across.error();
  co_await sleep(400ms);
  (void)co_await udp->send_to(std::string_view("after"), at(1, 7002));
  auto after = co_await net::TcpStream::connect(at(1, 7001));
  log->connect_after = after ? std::error_code{} : after.error();
  co_await sleep(10s);
  co_return Result<void>{};
}

TEST(Cluster, APartitionCarriesNoTrafficAcrossUntilItHeals) {
  ClusterConfig c = quiet(3, 2s);
  c.script.push_back({100ms, ClusterEvent::Kind::partition, {0, 1, 1}, 0});
  c.script.push_back({500ms, ClusterEvent::Kind::heal, {}, 0});
  auto log = std::make_shared<PartitionLog>();
  Cluster cluster(c, [log](HostContext& host) -> Task<Result<void>> {
    if (host.id() == 1) return partition_receiver(host, log);
    if (host.id() == 0) return partition_sender(host, log);
    return []() -> Task<Result<void>> { co_return Result<void>{}; }();
  });
  sim::Report r = cluster.run();
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_FALSE(cluster.verdict()) << cluster.why();
  EXPECT_LT(log->first_byte, Instant{100ms});
  // The byte sent at 200 ms crosses only after the heal, on a retransmission.
  EXPECT_GE(log->second_byte, Instant{500ms});
  EXPECT_LE(log->second_byte, Instant{500ms} + 200ms + 1ms);  // SimNet::kRetransmit
  EXPECT_EQ(log->connect_across, make_error_code(errc::timed_out)) << log->connect_across.message();
  EXPECT_FALSE(log->connect_after) << log->connect_after.message();
  EXPECT_EQ(log->datagrams, (std::vector<std::string>{"before", "after"}));
}

// ---------------------------------------------------------------- crashes

struct CrashLog {
  Instant last_tick{-1};  // of the first incarnation's ticker
  uint32_t ticks_after_crash = 0;
  std::optional<std::string> file_after_restart;
  std::vector<uint32_t> incarnations;
  std::error_code peer_read;
  Instant peer_read_at{-1};
};

constexpr std::string_view kDurable = "durable|";
constexpr std::string_view kVolatile = "volatile";

Task<void> ticker(HostContext& host, std::shared_ptr<CrashLog> log) {
  for (;;) {
    co_await sleep(10ms);
    log->last_tick = host.now();
    if (host.now() > Instant{300ms}) ++log->ticks_after_crash;
  }
}

Task<Result<void>> crash_victim(HostContext& host, std::shared_ptr<CrashLog> log) {
  log->incarnations.push_back(host.incarnation());
  if (host.incarnation() > 0) {
    auto f = co_await fs::File::open("/f", O_RDONLY);
    if (!f) co_return std::unexpected(f.error());
    std::string back(64, '\0');
    auto n = co_await f->read_at(back, 0);
    if (!n) co_return std::unexpected(n.error());
    back.resize(*n);
    log->file_after_restart = back;
    co_return Result<void>{};
  }
  auto f = co_await fs::File::create("/f");
  if (!f) co_return std::unexpected(f.error());
  if (!co_await f->write_all_at(kDurable, 0) || !co_await f->fsync()) co_return fail(errc::invalid_argument);
  if (!co_await f->write_all_at(kVolatile, kDurable.size())) co_return fail(errc::invalid_argument);
  go(ticker(host, log)).detach();
  auto listener = net::TcpListener::bind(net::SocketAddr::any_v4(7001));
  if (!listener) co_return std::unexpected(listener.error());
  auto conn = co_await listener->accept();
  if (!conn) co_return std::unexpected(conn.error());
  co_await sleep(10s);  // crashed at 300 ms
  co_return Result<void>{};
}

Task<Result<void>> crash_peer(HostContext& host, std::shared_ptr<CrashLog> log) {
  co_await sleep(1ms);
  auto conn = co_await net::TcpStream::connect(at(1, 7001));
  if (!conn) co_return std::unexpected(conn.error());
  std::array<char, 1> b;
  auto r = co_await conn->read(b);
  log->peer_read = r ? std::error_code{} : r.error();
  log->peer_read_at = host.now();
  co_return Result<void>{};
}

std::shared_ptr<CrashLog> run_crash(uint64_t seed) {
  ClusterConfig c = quiet(2, 1s);
  c.sim.seed = seed;
  c.script.push_back({300ms, ClusterEvent::Kind::crash, {}, 1});
  c.script.push_back({400ms, ClusterEvent::Kind::restart, {}, 1});
  auto log = std::make_shared<CrashLog>();
  auto cluster = std::make_unique<Cluster>(c, [log](HostContext& host) -> Task<Result<void>> {
    return host.id() == 1 ? crash_victim(host, log) : crash_peer(host, log);
  });
  sim::Report r = cluster->run();
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_FALSE(cluster->verdict()) << cluster->why();
  EXPECT_EQ(cluster->restarts(1), 1u);
  EXPECT_TRUE(cluster->up(1));
  return log;
}

TEST(Cluster, ACrashEndsTheHostsRoutinesResetsItsPeersAndKeepsWhatWasFsynced) {
  std::set<std::string> outcomes;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    auto log = run_crash(seed);
    EXPECT_EQ(log->incarnations, (std::vector<uint32_t>{0, 1}));
    // The ticker was destroyed with its host: no tick after the crash, none restarted.
    EXPECT_LE(log->last_tick, Instant{300ms});
    EXPECT_EQ(log->ticks_after_crash, 0u);
    EXPECT_EQ(log->peer_read, std::make_error_code(std::errc::connection_reset)) << log->peer_read.message();
    EXPECT_GE(log->peer_read_at, Instant{300ms});
    EXPECT_LT(log->peer_read_at, Instant{301ms});
    // The fsynced bytes, then the unsynced write kept, lost or torn (a prefix of it).
    ASSERT_TRUE(log->file_after_restart.has_value());
    const std::string& f = *log->file_after_restart;
    ASSERT_GE(f.size(), kDurable.size()) << f;
    EXPECT_EQ(f.substr(0, kDurable.size()), kDurable);
    EXPECT_EQ(f.substr(kDurable.size()), kVolatile.substr(0, f.size() - kDurable.size())) << f;
    outcomes.insert(f.size() == kDurable.size()                      ? "lost"
                    : f.size() == kDurable.size() + kVolatile.size() ? "kept"
                                                                     : "torn");
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"kept", "lost", "torn"}));
}

// ---------------------------------------------------------------- clocks

struct ClockLog {
  std::vector<Instant> at_boot;
  std::vector<Instant> after_sleep;
  std::vector<Instant> true_after_sleep;
  Cluster* cluster = nullptr;
};

Task<Result<void>> clock_reader(HostContext& host, std::shared_ptr<ClockLog> log) {
  log->at_boot[host.id()] = host.now();
  co_await sleep(1s);
  log->after_sleep[host.id()] = host.now();
  log->true_after_sleep[host.id()] = log->cluster->kernel().now();
  co_return Result<void>{};
}

TEST(Cluster, EachHostsClockHasItsOwnOffsetAndDrift) {
  ClusterConfig c = quiet(3, 3s);
  c.sim.seed = 11;
  c.max_clock_offset = 50ms;
  c.max_drift_ppm = 500;
  auto log = std::make_shared<ClockLog>();
  log->at_boot.resize(3);
  log->after_sleep.resize(3);
  log->true_after_sleep.resize(3);
  Cluster cluster(c, [log](HostContext& host) { return clock_reader(host, log); });
  log->cluster = &cluster;
  ASSERT_TRUE(cluster.run().ok());
  std::set<int64_t> offsets, drifts;
  for (uint32_t h = 0; h < 3; ++h) {
    const Duration offset = cluster.clock_offset(h);
    const int64_t drift = cluster.clock_drift_ppm(h);
    offsets.insert(offset.count());
    drifts.insert(drift);
    EXPECT_LE(offset, 50ms);
    EXPECT_LE(std::abs(drift), 500);
    EXPECT_EQ(log->at_boot[h], Instant{0} + offset) << "host " << h << " boots at true time 0";
    // A 1 s sleep on the host's clock lasts 1 s / (1 + drift) of true time.
    const int64_t want_true = (1'000'000'000LL * 1'000'000 + (1'000'000 + drift) - 1) / (1'000'000 + drift);
    const int64_t slept_true = log->true_after_sleep[h].count();
    EXPECT_NEAR(static_cast<double>(slept_true), static_cast<double>(want_true), 2'000.0) << "host " << h;
    EXPECT_GE(log->after_sleep[h] - log->at_boot[h], 1s);
  }
  EXPECT_EQ(offsets.size(), 3u) << "three hosts, three offsets";
  EXPECT_GT(drifts.size(), 1u);
}

// ---------------------------------------------------------------- the election example

TEST(Cluster, TheElectionKeepsOneLeaderPerTermUnderPartitionsAndCrashes) {
  const sim::Scenario* s = sim::find_scenario("election");
  ASSERT_NE(s, nullptr);
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto r = sim::run_scenario(*s, election_options(seed));
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->failed()) << "seed " << seed << ": " << r->why;
  }
}

TEST(Cluster, TheUnsyncedVoteBugIsFoundWithinEightySeeds) {
  const sim::Scenario* s = sim::find_scenario("election_unsynced_vote");
  ASSERT_NE(s, nullptr);
  uint64_t found = 0;
  for (uint64_t seed = 1; seed <= 80 && found == 0; ++seed) {
    auto r = sim::run_scenario(*s, election_options(seed));
    ASSERT_TRUE(r);
    if (r->failed()) {
      found = seed;
      EXPECT_EQ(r->check, make_error_code(errc::check_failed));
      EXPECT_NE(r->why.find("two leaders in term"), std::string::npos) << r->why;
    }
  }
  EXPECT_NE(found, 0u) << "no double leader in 80 seeds";
}

}  // namespace
}  // namespace ringo
