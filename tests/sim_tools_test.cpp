// The simulation tooling: every catalogued bug is found by exploring seeds under both
// strategies and replays exactly; ringo's own scenarios pass and are deterministic; the
// trace exports are well formed.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "ringo/sim/scenario.hpp"

namespace ringo {
namespace {

struct Bug {
  const char* scenario;
  uint64_t within;  // seeds explore needs at most, from seed 1 (stated in docs/simulation.md)
};

class Catalogue : public ::testing::TestWithParam<std::tuple<Bug, sim::Strategy>> {};

TEST_P(Catalogue, ExploreFindsTheBugAndTheSeedReplaysIt) {
  const auto [bug, strategy] = GetParam();
  const sim::Scenario* s = sim::find_scenario(bug.scenario);
  ASSERT_NE(s, nullptr);
  sim::RunOptions o;
  o.strategy = strategy;
  uint64_t found = 0;
  sim::ScenarioResult first;
  for (uint64_t seed = 1; seed <= bug.within && found == 0; ++seed) {
    o.seed = seed;
    auto r = sim::run_scenario(*s, o);
    ASSERT_TRUE(r.has_value());
    if (r->failed()) {
      found = seed;
      first = *r;
    }
  }
  ASSERT_NE(found, 0u) << bug.scenario << " not found within " << bug.within << " seeds";
  // The replay is exact: same failure, same trace; and the kept trace shows the run.
  o.seed = found;
  o.keep_trace = true;
  auto again = sim::run_scenario(*s, o);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->failed());
  EXPECT_EQ(again->why, first.why);
  EXPECT_EQ(again->report.trace_hash, first.report.trace_hash);
  EXPECT_EQ(again->report.trace.size(), first.report.trace_events);
  EXPECT_NE(sim::replay_command("ringo-sim", *s, o).find("--seed " + std::to_string(found)), std::string::npos);
}

const Bug kBugs[] = {{"lost_wakeup", 20},
                     {"racing_receivers_leak", 20},
                     {"abandoned_child_writes_buffer", 20},
                     {"request_after_shutdown", 20},
                     {"lock_order_deadlock", 20},
                     {"ordering_assumption", 40}};

INSTANTIATE_TEST_SUITE_P(Bugs, Catalogue,
                         ::testing::Combine(::testing::ValuesIn(kBugs),
                                            ::testing::Values(sim::Strategy::random, sim::Strategy::pct)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).scenario) + "_" +
                                  sim::strategy_name(std::get<1>(info.param));
                         });

TEST(Scenarios, ShippedScenariosPassAndAreDeterministic) {
  for (const char* name : {"echo", "pipeline", "fan_in"}) {
    const sim::Scenario* s = sim::find_scenario(name);
    ASSERT_NE(s, nullptr) << name;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      for (const char* faults : {"none", "light"}) {
        sim::RunOptions o;
        o.seed = seed;
        o.faults = faults;
        o.keep_trace = true;
        auto a = sim::run_scenario(*s, o);
        auto b = sim::run_scenario(*s, o);
        ASSERT_TRUE(a && b);
        EXPECT_FALSE(a->failed()) << name << " seed " << seed << " " << faults << ": " << a->why;
        EXPECT_EQ(sim::first_divergence(a->report.trace, b->report.trace), SIZE_MAX) << name << " seed " << seed;
      }
    }
  }
}

TEST(Scenarios, FirstDivergenceNamesTheEvent) {
  std::vector<TraceEvent> a = {{0, 0, TraceKind::spawn, 1, 0}, {5, 0, TraceKind::resume, 1, 0}};
  auto b = a;
  EXPECT_EQ(sim::first_divergence(a, b), SIZE_MAX);
  b[1].a = 2;
  EXPECT_EQ(sim::first_divergence(a, b), 1u);
  b.pop_back();
  EXPECT_EQ(sim::first_divergence(a, b), 1u);
  EXPECT_NE(sim::describe_event(a[1]).find("resume"), std::string::npos);
}

TEST(Scenarios, TraceExportsAreWellFormed) {
  const sim::Scenario* s = sim::find_scenario("lock_order_deadlock");
  ASSERT_NE(s, nullptr);
  sim::RunOptions o;
  o.keep_trace = true;
  auto r = sim::run_scenario(*s, o);
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->report.trace.empty());
  std::ostringstream jsonl, chrome;
  sim::write_trace_jsonl(r->report.trace, jsonl);
  sim::write_trace_chrome(r->report.trace, chrome);
  const std::string lines = jsonl.str();
  EXPECT_EQ(static_cast<size_t>(std::count(lines.begin(), lines.end(), '\n')), r->report.trace.size());
  EXPECT_EQ(lines.rfind("{\"i\":0,\"t_ns\":", 0), 0u);
  const std::string c = chrome.str();
  EXPECT_EQ(c.rfind("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 0), 0u);
  EXPECT_NE(c.find("\"thread_name\""), std::string::npos);
  EXPECT_NE(c.find("routine 2"), std::string::npos);
  EXPECT_EQ(c.substr(c.size() - 4), "\n]}\n");
}

TEST(Scenarios, ACheckFailureCarriesItsText) {
  EXPECT_TRUE(sim::check(true, "unused").has_value());
  auto r = sim::check(false, "why it failed");
  EXPECT_EQ(r.error(), errc::check_failed);
}

TEST(Scenarios, BuggifyChangesTheScheduleButNotTheOutcomeOfCorrectPrograms) {
  for (const char* name : {"echo", "pipeline", "fan_in"}) {
    const sim::Scenario* s = sim::find_scenario(name);
    ASSERT_NE(s, nullptr);
    size_t changed = 0;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      sim::RunOptions plain;
      plain.seed = seed;
      sim::RunOptions bug = plain;
      bug.buggify_ppm = 50'000;
      bug.keep_trace = true;
      auto a = sim::run_scenario(*s, plain);
      auto b = sim::run_scenario(*s, bug);
      auto c = sim::run_scenario(*s, bug);
      ASSERT_TRUE(a && b && c);
      EXPECT_FALSE(b->failed()) << name << " seed " << seed << ": " << b->why;
      EXPECT_EQ(sim::first_divergence(b->report.trace, c->report.trace), SIZE_MAX) << "buggify is seeded";
      changed += a->report.trace_hash != b->report.trace_hash;
    }
    EXPECT_GT(changed, 5u) << name << ": buggify hardly ever took a branch";
  }
}

TEST(Scenarios, DeadlockReportNamesWhoAwaitsWhom) {
  const sim::Scenario* s = sim::find_scenario("lock_order_deadlock");
  ASSERT_NE(s, nullptr);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::RunOptions o;
    o.seed = seed;
    auto r = sim::run_scenario(*s, o);
    ASSERT_TRUE(r.has_value());
    if (!r->failed()) continue;
    EXPECT_EQ(r->report.error, errc::deadlock);
    EXPECT_NE(r->why.find("chan send"), std::string::npos) << r->why;
    EXPECT_NE(r->why.find("awaited by #1"), std::string::npos) << r->why;
    return;
  }
  FAIL() << "no deadlock in 20 seeds";
}

}  // namespace
}  // namespace ringo
