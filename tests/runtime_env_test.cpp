// What Runtime::create takes from the environment and where a runtime's seed comes from:
// RINGO_BACKEND must name a backend, RINGO_SEED must be a whole number and replays what the
// simulator's hint says, and a real backend draws its seed from the OS unless told one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "ringo/ringo.hpp"
#include "scoped_env.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using testing::ScopedEnv;

struct Created {
  Result<Runtime> rt;
  std::string err;  // what create() printed
};

Created create(RuntimeConfig config) {
  ::testing::internal::CaptureStderr();
  auto rt = Runtime::create(config);
  return {std::move(rt), ::testing::internal::GetCapturedStderr()};
}

std::error_code err(const Result<Runtime>& r) { return r ? std::error_code{} : r.error(); }

TEST(RingoBackend, UnknownNamesAreRefusedWithTheValidOnes) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  for (const char* value : {"bogus", "URING", "Sim", "", "sim ", "automatic"}) {
    ScopedEnv env("RINGO_BACKEND", value);
    auto c = create({.shards = 1});
    EXPECT_EQ(err(c.rt), errc::invalid_argument) << "RINGO_BACKEND='" << value << "'";
    EXPECT_NE(c.err.find("RINGO_BACKEND=\"" + std::string(value) + "\""), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("uring"), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("sim"), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("aio"), std::string::npos) << c.err;
  }
}

TEST(RingoBackend, TheReasonCanGoToTheCallerInsteadOfStderr) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  ScopedEnv env("RINGO_BACKEND", "bogus");
  std::string why;
  ::testing::internal::CaptureStderr();
  auto rt = Runtime::create({.shards = 1}, why);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(err(rt), errc::invalid_argument);
  EXPECT_EQ(why,
            "RINGO_BACKEND=\"bogus\" names no backend: use uring, sim or aio, or leave it unset for io_uring (AIO "
            "where io_uring is refused)");
  auto bad = Runtime::create({.shards = 0, .backend = Backend::sim}, why);
  EXPECT_EQ(err(bad), errc::invalid_argument);
  EXPECT_NE(why.find("shards"), std::string::npos) << why;
}

TEST(RingoBackend, KnownNamesPickTheBackend) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  {
    ScopedEnv env("RINGO_BACKEND", "sim");
    auto c = create({.shards = 1});
    ASSERT_TRUE(c.rt.has_value()) << c.err;
    EXPECT_EQ(c.rt->backend(), Backend::sim);
  }
  {
    ScopedEnv env("RINGO_BACKEND", "uring");
    auto c = create({.shards = 1});
    ASSERT_TRUE(c.rt.has_value()) << c.err;
    EXPECT_EQ(c.rt->backend(), Backend::uring);
  }
  {
    ScopedEnv env("RINGO_BACKEND", "aio");
    auto c = create({.shards = 1});
    ASSERT_TRUE(c.rt.has_value()) << c.err;
    EXPECT_EQ(c.rt->backend(), Backend::aio);
  }
  {
    // An explicit backend in the config wins; the environment is not read.
    ScopedEnv env("RINGO_BACKEND", "bogus");
    auto c = create({.shards = 1, .backend = Backend::sim});
    ASSERT_TRUE(c.rt.has_value()) << c.err;
    EXPECT_EQ(c.rt->backend(), Backend::sim);
  }
}

TEST(RingoSeed, MalformedSeedsAreRefusedOnEveryBackend) {
  for (Backend backend : {Backend::sim, Backend::uring, Backend::aio}) {
    for (const char* value : {"abc", "12 ", " 12", "", "-1", "+1", "99999999999999999999999", "18446744073709551616",
                              "0x", "0x1ffffffffffffffff", "1e3", "012", "0x-1"}) {
      ScopedEnv env("RINGO_SEED", value);
      auto c = create({.shards = 1, .backend = backend});
      EXPECT_EQ(err(c.rt), errc::invalid_argument) << backend_name(backend) << " RINGO_SEED='" << value << "'";
      EXPECT_NE(c.err.find("RINGO_SEED=\"" + std::string(value) + "\""), std::string::npos) << c.err;
    }
  }
}

// Two shards trade messages and then deadlock: the trace depends on the seed, and the
// simulator prints its replay hint.
Task<void> trade_then_deadlock() {
  auto [tx, rx] = std::move(*chan<int>(0));
  auto peer = spawn_on(1, [](Receiver<int> rx) -> Task<void> {
    for (int i = 0; i < 8; ++i) (void)co_await rx.recv();
  }(std::move(rx)));
  for (int i = 0; i < 8; ++i) {
    co_await tx.send(i);
    co_await yield_now();
  }
  co_await peer.join();
  auto [never_tx, never_rx] = std::move(*chan<int>(0));
  (void)co_await never_rx.recv();  // its sender is ours and sends nothing: a deadlock
}

struct SimRun {
  uint64_t seed = 0;
  uint64_t hash = 0;
  std::string err;
  std::string hint;  // "RINGO_SEED=<n>" as printed
};

SimRun run_sim(RuntimeConfig config) {
  config.backend = Backend::sim;
  config.shards = 2;
  ::testing::internal::CaptureStderr();
  SimRun out;
  {
    auto rt = Runtime::create(config);
    if (rt) {
      auto r = rt->block_on(trade_then_deadlock());
      EXPECT_FALSE(r.has_value());
      out.hash = rt->trace_hash();
      out.seed = rt->seed();
    }
  }
  out.err = ::testing::internal::GetCapturedStderr();
  const size_t at = out.err.find("RINGO_SEED=");
  if (at != std::string::npos) out.hint = out.err.substr(at, out.err.find_first_of(")\n ", at) - at);
  return out;
}

TEST(RingoSeed, TheSimulatorsReplayHintReplays) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  const SimRun first = run_sim({.seed = 77});
  ASSERT_EQ(first.hint, "RINGO_SEED=77") << first.err;
  ASSERT_NE(run_sim({.seed = 78}).hash, first.hash) << "the program does not depend on the seed";
  // What the hint says, in the environment, with no seed in the config: the same run.
  const std::string value = first.hint.substr(first.hint.find('=') + 1);
  ScopedEnv env("RINGO_SEED", value.c_str());
  const SimRun again = run_sim({});
  EXPECT_EQ(again.seed, 77u);
  EXPECT_EQ(again.hash, first.hash) << again.err;
  EXPECT_EQ(again.hint, first.hint) << again.err;
  // The environment overrides the config's seed, so a hint replays whatever the program set.
  const SimRun overridden = run_sim({.seed = 5});
  EXPECT_EQ(overridden.seed, 77u);
  EXPECT_EQ(overridden.hash, first.hash) << overridden.err;
  // Hex is the same seed.
  ScopedEnv hex("RINGO_SEED", "0x4d");
  EXPECT_EQ(run_sim({}).hash, first.hash);
}

// The seed a runtime's report names: the number after "seed ".
std::optional<uint64_t> reported_seed(const std::string& report) {
  const size_t at = report.find("seed ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(report.c_str() + at + 5, nullptr, 10);
}

// 64 selects over four always-ready channels on one shard: the sequence of choices, which
// only the shard's PRNG decides.
Task<std::vector<int>> select_choices() {
  std::vector<Sender<int>> txs;
  std::vector<Receiver<int>> rxs;
  for (int i = 0; i < 4; ++i) {
    auto [tx, rx] = std::move(*chan<int>(unbounded));
    for (int j = 0; j < 64; ++j) co_await tx.send(j);
    txs.push_back(std::move(tx));
    rxs.push_back(std::move(rx));
  }
  std::vector<int> choices;
  for (int r = 0; r < 64; ++r) {
    Selector sel;
    for (auto& rx : rxs) sel.recv(rx);
    auto i = co_await sel.wait();
    choices.push_back(i ? static_cast<int>(*i) : -1);
  }
  co_return choices;
}

struct Seeded {
  std::optional<uint64_t> seed;
  std::string report;
  std::vector<int> choices;
};

Seeded run_uring(RuntimeConfig config) {
  config.backend = Backend::uring;
  config.shards = 1;
  Seeded out;
  auto rt = Runtime::create(config);
  if (!rt) {
    ADD_FAILURE() << rt.error().message();
    return out;
  }
  out.report = rt->backend_report();
  out.seed = reported_seed(out.report);
  EXPECT_EQ(out.seed, rt->seed()) << out.report;
  out.choices = rt->block_on(select_choices()).value_or(std::vector<int>{});
  return out;
}

TEST(OsSeed, TheSimulatorKeepsItsDefaultSeed) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  auto rt = Runtime::create({.shards = 1, .backend = Backend::sim});
  ASSERT_TRUE(rt.has_value());
  EXPECT_EQ(rt->seed(), 1u);
  EXPECT_EQ(reported_seed(rt->backend_report()), 1u) << rt->backend_report();
}

TEST(OsSeed, RealBackendsDrawTheirSeedFromTheOs) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  const Seeded a = run_uring({});
  const Seeded b = run_uring({});
  ASSERT_TRUE(a.seed && b.seed) << a.report;
  EXPECT_NE(a.report.find("from the OS"), std::string::npos) << a.report;
  EXPECT_NE(*a.seed, *b.seed) << a.report;
  EXPECT_NE(a.choices, b.choices) << "select made the same 64 choices under two OS seeds";
}

TEST(OsSeed, AnExplicitSeedIsHonouredAndReported) {
  ScopedEnv no_seed("RINGO_SEED", nullptr);
  const Seeded a = run_uring({.seed = 12345});
  const Seeded b = run_uring({.seed = 12345});
  EXPECT_EQ(a.seed, 12345u) << a.report;
  EXPECT_EQ(a.choices.size(), 64u);
  EXPECT_EQ(a.choices, b.choices);
  ScopedEnv env("RINGO_SEED", "12345");
  const Seeded from_env = run_uring({});
  EXPECT_EQ(from_env.seed, 12345u) << from_env.report;
  EXPECT_NE(from_env.report.find("RINGO_SEED"), std::string::npos) << from_env.report;
  EXPECT_EQ(from_env.choices, a.choices);
}

}  // namespace
}  // namespace ringo
