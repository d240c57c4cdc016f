// The simulation tooling: every catalogued bug is found by exploring seeds under both
// strategies and replays exactly; ringo's own scenarios pass and are deterministic; the
// trace exports are well formed; the ringo-sim command line refuses what it does not
// understand and says when it could not write a file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "ringo/sim/scenario.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
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

// The ringo-sim command line, run in this process (the shipped scenarios are linked in).
struct CliRun {
  int status = -1;
  std::string out, err;
};

CliRun ringo_sim(std::vector<std::string> args) {
  std::vector<char*> argv;
  std::string program = "ringo-sim";
  argv.push_back(program.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  CliRun r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  r.status = sim::ringo_sim_main(static_cast<int>(argv.size() - 1), argv.data());
  std::fflush(stdout);
  std::clearerr(stdout);  // a run that failed to write must not poison the next capture
  r.err = ::testing::internal::GetCapturedStderr();
  r.out = ::testing::internal::GetCapturedStdout();
  return r;
}

std::string describe(const CliRun& r) {
  return "status " + std::to_string(r.status) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

TEST(Cli, NoArgumentsPrintsTheUsage) {
  auto r = ringo_sim({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("usage: ringo-sim list"), std::string::npos) << describe(r);
}

TEST(Cli, BadUsageExitsTwoAndSaysWhat) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--scenario", "pipeline", "--seed"}, "--seed"},
      {{"run", "--scenario", "pipeline", "--sead", "5"}, "--sead"},
      {{"run", "--scenario", "pipeline", "--seed", "5", "stray"}, "stray"},
      {{"run", "--scenario", "pipeline", "--seed", "5", "--scenario", "echo"}, "--scenario"},
      {{"run", "--scenario", "pipeline", "--seed", "--check-determinism"}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", "-1"}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", " 5"}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", "5 "}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", ""}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", "99999999999999999999999"}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", "0x1ffffffffffffffff"}, "--seed"},
      {{"run", "--scenario", "pipeline", "--seed", "5", "--depth", "-3"}, "--depth"},
      {{"run", "--scenario", "pipeline", "--seed", "5", "--buggify", "10abc"}, "--buggify"},
      {{"run", "--scenario", "pipeline", "--seed", "5", "--trace-format", "xml", "--trace", "/nonexistent/t"},
       "--trace-format"},
      {{"run", "--scenario", "pipeline", "--seed", "5", "--seeds", "1..2"}, "--seeds"},
      {{"explore", "--scenario", "pipeline", "--seeds", "1..-2"}, "--seeds"},
      {{"explore", "--scenario", "pipeline", "--seeds", "1..2", "--stop-after", "-1"}, "--stop-after"},
      {{"explore", "--scenario", "pipeline", "--seeds", "1..2", "--time-budget", "1.5"}, "--time-budget"},
      {{"explore", "--scenario", "pipeline", "--seeds", "1..2", "--seed", "3"}, "--seed"},
      {{"list", "extra"}, "extra"},
      {{"replay"}, "replay"},
      {{"bogus"}, "bogus"},
  };
  for (const auto& [args, named] : cases) {
    auto r = ringo_sim(args);
    std::string line;
    for (const auto& a : args) line += "'" + a + "' ";
    EXPECT_EQ(r.status, 2) << line << describe(r);
    EXPECT_NE(r.err.find(named), std::string::npos) << line << describe(r);
    EXPECT_EQ(r.out.find("pipeline ok"), std::string::npos) << line << "ran anyway";
  }
}

TEST(Cli, SeedsAreDecimalOrHex) {
  auto dec = ringo_sim({"run", "--scenario", "pipeline", "--seed", "26"});
  auto hex = ringo_sim({"run", "--scenario", "pipeline", "--seed", "0x1a"});
  EXPECT_EQ(dec.status, 0) << describe(dec);
  EXPECT_EQ(hex.status, 0) << describe(hex);
  EXPECT_NE(dec.out.find("seed=26 "), std::string::npos) << describe(dec);
  EXPECT_EQ(dec.out, hex.out);
  auto max = ringo_sim({"run", "--scenario", "pipeline", "--seed", "18446744073709551615"});
  EXPECT_EQ(max.status, 0) << describe(max);
}

TEST(Cli, TraceWrittenWhereAsked) {
  const std::string path = ::testing::TempDir() + "ringo_sim_cli_trace.jsonl";
  std::remove(path.c_str());
  auto r = ringo_sim({"run", "--scenario", "pipeline", "--seed", "3", "--trace", path, "--trace-format", "jsonl"});
  EXPECT_EQ(r.status, 0) << describe(r);
  std::ifstream in(path);
  std::string first;
  EXPECT_TRUE(std::getline(in, first));
  EXPECT_EQ(first.rfind("{\"i\":0,", 0), 0u) << first;
  std::remove(path.c_str());
}

TEST(Cli, UnwritableTraceIsAnError) {
  for (const char* path : {"/nonexistent/dir/t.json", "/dev/full"}) {
    auto r = ringo_sim({"run", "--scenario", "pipeline", "--seed", "3", "--trace", path});
    EXPECT_EQ(r.status, 3) << path << " " << describe(r);
    EXPECT_NE(r.err.find(path), std::string::npos) << describe(r);
  }
}

TEST(Cli, UnwritableSaveDirectoryIsAnError) {
  // Refused before exploring when the directory is not there...
  auto r = ringo_sim({"explore", "--scenario", "pipeline", "--seeds", "1..2", "--save", "/nonexistent/dir"});
  EXPECT_EQ(r.status, 3) << describe(r);
  EXPECT_NE(r.err.find("/nonexistent/dir"), std::string::npos) << describe(r);
  EXPECT_EQ(r.out.find("explored"), std::string::npos) << describe(r);
  // ...and a failure that cannot be saved (a directory is in the file's way) is said, and
  // beats "a run failed".
  const std::vector<std::string> explore = {"explore",    "--scenario", "lost_wakeup",  "--seeds", "1..20",
                                            "--strategy", "pct",        "--stop-after", "1"};
  auto found = ringo_sim(explore);
  ASSERT_EQ(found.status, 1) << describe(found);
  const size_t at = found.out.find("FAIL seed=");
  ASSERT_NE(at, std::string::npos);
  const std::string seed = found.out.substr(at + 10, found.out.find(':', at) - at - 10);
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "ringo_sim_cli_blocked";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / ("lost_wakeup-" + seed + ".failure"));
  auto args = explore;
  args.insert(args.end(), {"--save", dir.string()});
  auto blocked = ringo_sim(args);
  EXPECT_EQ(blocked.status, 3) << describe(blocked);
  EXPECT_NE(blocked.out.find("FAIL seed=" + seed), std::string::npos) << describe(blocked);
  EXPECT_NE(blocked.err.find("lost_wakeup-" + seed + ".failure"), std::string::npos) << describe(blocked);
  std::filesystem::remove_all(dir);
}

TEST(Cli, SavedFailureReplays) {
  const std::string dir = ::testing::TempDir();
  auto r = ringo_sim({"explore", "--scenario", "lost_wakeup", "--seeds", "1..20", "--strategy", "pct", "--stop-after",
                      "1", "--save", dir});
  ASSERT_EQ(r.status, 1) << describe(r);
  const size_t at = r.out.find("saved ");
  ASSERT_NE(at, std::string::npos) << describe(r);
  const std::string file = r.out.substr(at + 6, r.out.find('\n', at) - at - 6);
  auto again = ringo_sim({"replay", file});
  EXPECT_EQ(again.status, 1) << describe(again);
  EXPECT_NE(again.out.find("lost_wakeup FAILED"), std::string::npos) << describe(again);
  std::remove(file.c_str());
}

}  // namespace
}  // namespace ringo
