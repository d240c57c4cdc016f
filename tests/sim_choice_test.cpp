// Choice sequences: the ChoiceSource draws what the seeded PRNG drew before it existed,
// records what it decides, replays a recording exactly, reads 0 past the end or out of
// range; the text form round-trips and refuses malformed text; and a whole simulated run
// replayed from its recorded sequence gives the same trace as the seed run.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ringo/internal/sim/choice_source.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using sim::detail::ChoiceSource;

// A mix of every kind of decision, returning the raw choices made.
std::vector<uint64_t> decide(ChoiceSource& c) {
  std::vector<uint64_t> raw;
  for (uint64_t i = 0; i < 200; ++i) {
    raw.push_back(c.below(7 + i % 5));
    raw.push_back(c.below_from_top(1 + i % 4));
    raw.push_back(c.chance(1 + i % 3, 4) ? 1 : 0);
    auto rotate = [](uint64_t x) { return (x + 2) % 5; };
    auto unrotate = [](uint64_t v) { return (v + 3) % 5; };
    raw.push_back(c.choose(5, rotate, unrotate));
  }
  return raw;
}

TEST(ChoiceSource, SeededDrawsAreThePrngsDrawsRecordingOrNot) {
  for (bool recording : {false, true}) {
    ChoiceSource c(42);
    c.record(recording);
    Prng p(42);
    for (uint64_t i = 1; i < 300; ++i) {
      EXPECT_EQ(c.below(i), p.below(i));
      EXPECT_EQ(c.below_from_top(i), p.below(i));
      EXPECT_EQ(c.chance(i % 4, 3), p.chance(i % 4, 3));  // 0 draws nothing; 3 of 3 is sure
    }
    EXPECT_EQ(c.recorded().empty(), !recording);
  }
}

TEST(ChoiceSource, ReplayOfARecordingMakesTheSameChoicesAndRecordsTheSame) {
  ChoiceSource rec(9);
  rec.record(true);
  const std::vector<uint64_t> raw = decide(rec);
  ChoiceSource rep(12345);  // another seed: replay draws nothing from it
  rep.replay(sim::choice_values(rec.recorded()));
  rep.record(true);
  EXPECT_EQ(decide(rep), raw);
  EXPECT_EQ(rep.recorded(), rec.recorded());
  EXPECT_EQ(rep.consumed(), rec.recorded().size());
}

TEST(ChoiceSource, ValuesAreEncodedWithZeroTheSimplest) {
  ChoiceSource rec(3);
  rec.record(true);
  for (int i = 0; i < 50; ++i) {
    const uint64_t top = rec.below_from_top(10);
    EXPECT_EQ(rec.recorded().back(), (sim::Choice{9 - top, 10}));
    const bool yes = rec.chance(1, 2);
    EXPECT_EQ(rec.recorded().back(), (sim::Choice{yes ? 1u : 0u, 2}));
  }
  // No option, no choice: bound 1, a sure chance, an impossible one.
  const size_t before = rec.recorded().size();
  EXPECT_EQ(rec.below(1), 0u);
  EXPECT_TRUE(rec.chance(5, 5));
  EXPECT_FALSE(rec.chance(0, 5));
  EXPECT_EQ(rec.recorded().size(), before);
}

TEST(ChoiceSource, PastTheEndAndOutOfRangeReadAsZero) {
  ChoiceSource c(1);
  c.replay({3, 10, 1, 7});
  c.record(true);
  EXPECT_EQ(c.below(5), 3u);           // in range
  EXPECT_EQ(c.below(4), 0u);           // 10 >= 4: read as 0
  EXPECT_EQ(c.below_from_top(6), 4u);  // value 1 from the top of 6
  EXPECT_FALSE(c.chance(1, 2));        // 7 >= 2: read as 0, no fault
  EXPECT_EQ(c.below(9), 0u);           // past the end
  EXPECT_EQ(c.below_from_top(6), 5u);  // past the end: value 0, the top
  EXPECT_FALSE(c.chance(1, 2));
  EXPECT_TRUE(c.chance(2, 2));  // sure: no value read
  EXPECT_EQ(c.consumed(), 7u);
  const std::vector<sim::Choice> used = {{3, 5}, {0, 4}, {1, 6}, {0, 2}, {0, 9}, {0, 6}, {0, 2}};
  EXPECT_EQ(c.recorded(), used);  // what was used, not what was given
}

TEST(ChoiceSource, RecordingStopsAtItsLimitAndSaysSo) {
  ChoiceSource c(5);
  c.record(true);
  for (size_t i = 0; i < ChoiceSource::kMaxRecorded; ++i) (void)c.below(2);
  EXPECT_TRUE(c.recording_complete());
  (void)c.below(2);
  EXPECT_FALSE(c.recording_complete());
  EXPECT_EQ(c.recorded().size(), ChoiceSource::kMaxRecorded);
}

TEST(ChoiceText, RoundTripsAndRunsOfZerosAreCompact) {
  const std::vector<uint64_t> v = {0, 0, 0, 1, 0, 0xf4240, 0, 0, UINT64_MAX, 0};
  const std::string text = sim::encode_choices(v);
  EXPECT_EQ(text, "z3,1,0,f4240,z2,ffffffffffffffff,0");
  EXPECT_EQ(sim::decode_choices(text, 100).value(), v);
  EXPECT_EQ(sim::encode_choices({}), "");
  EXPECT_TRUE(sim::decode_choices("", 100).value().empty());
}

TEST(ChoiceText, MalformedTextIsRefused) {
  for (const char* bad : {",", "1,", ",1", "1,,2", "x", "F", "-1", "z", "z-1", "za", "1 ", " 1", "10000000000000000",
                          "z99999999999999999999"}) {
    EXPECT_FALSE(sim::decode_choices(bad, 100).has_value()) << bad;
  }
  EXPECT_FALSE(sim::decode_choices("z101", 100).has_value()) << "longer than the limit";
  EXPECT_FALSE(sim::decode_choices("z100,1", 100).has_value()) << "longer than the limit";
  EXPECT_EQ(sim::decode_choices("z100", 100).value().size(), 100u);
}

// Two shards passing values and sleeping: picks, deliveries and latencies all matter.
Task<void> busy_program() {
  auto [tx, rx] = std::move(*chan<int>(2));
  auto producer = spawn_on(1, [](Sender<int> t) -> Task<void> {
    for (int i = 0; i < 20; ++i) {
      co_await nop();
      (void)co_await t.send(i);
    }
  }(tx));
  for (int i = 0; i < 20; ++i) {
    (void)co_await rx.recv();
    co_await sleep(std::chrono::microseconds(i % 3));
  }
  co_await producer.join();
}

TEST(ChoiceReplay, ARunReplayedFromItsSequenceHasTheSeedRunsTrace) {
  for (sim::Strategy strategy : {sim::Strategy::random, sim::Strategy::pct}) {
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      sim::SimConfig c;
      c.seed = seed;
      c.strategy = strategy;
      c.faults = sim::FaultConfig::swarm(seed);
      c.buggify_ppm = 20000;
      const sim::Report plain = sim::run(c, busy_program);
      c.record_choices = true;
      const sim::Report recorded = sim::run(c, busy_program);
      EXPECT_EQ(recorded.trace_hash, plain.trace_hash) << "recording changes nothing, seed " << seed;
      ASSERT_TRUE(recorded.choices_complete);
      ASSERT_GT(recorded.choices.size(), 20u);
      c.replay_choices = sim::choice_values(recorded.choices);
      const sim::Report replayed = sim::run(c, busy_program);
      EXPECT_EQ(replayed.trace_hash, plain.trace_hash) << "seed " << seed;
      EXPECT_EQ(replayed.trace_events, plain.trace_events);
      EXPECT_EQ(replayed.choices, recorded.choices);
      EXPECT_EQ(replayed.context_switches, plain.context_switches);
    }
  }
}

// replay_wrap (fuzz_scenario): a value at or above its bound is read as value % bound, so
// a sequence with every value raised by a multiple of its bound replays the same run, and
// recording that run gives back the values below their bounds. Without wrap, the raised
// values are read as 0: another run.
TEST(ChoiceReplay, WrapReadsAValueAboveItsBoundModuloTheBound) {
  sim::SimConfig c;
  c.seed = 3;
  c.faults = sim::FaultConfig::swarm(3);
  c.record_choices = true;
  const sim::Report recorded = sim::run(c, busy_program);
  ASSERT_TRUE(recorded.choices_complete);
  std::vector<uint64_t> raised;
  for (size_t i = 0; i < recorded.choices.size(); ++i) {
    raised.push_back(recorded.choices[i].value + (i % 3 + 1) * recorded.choices[i].bound);
  }
  c.replay_choices = raised;
  c.replay_wrap = true;
  const sim::Report wrapped = sim::run(c, busy_program);
  EXPECT_EQ(wrapped.trace_hash, recorded.trace_hash);
  EXPECT_EQ(wrapped.choices, recorded.choices);
  c.replay_wrap = false;
  const sim::Report zeroed = sim::run(c, busy_program);
  EXPECT_NE(zeroed.trace_hash, recorded.trace_hash);
}

// Many routines on both shards whose ops all take the same time: completions fall due
// together, so the kernel (more to deliver) and a shard (a completion to run) are often
// runnable at once.
Task<void> crowd_program() {
  auto worker = []() -> Task<void> {
    for (int i = 0; i < 5; ++i) co_await nop();
  };
  std::vector<JoinHandle<void>> hs;
  for (uint32_t i = 0; i < 16; ++i) hs.push_back(spawn_on(i % 2, worker()));
  for (auto& h : hs) co_await h.join();
}

// All zeros: no fault and no preemption (a runner that can go on does), so fewer context
// switches too (measured: 19 against 118 a run for seeds 1-5, 69 of them preemptions).
TEST(ChoiceReplay, AllZerosIsTheSimplestRunNoFaultsNoPreemptions) {
  sim::SimConfig c;
  c.record_choices = true;
  c.faults.min_latency = c.faults.max_latency = Duration{1000};
  sim::SimConfig faulty = c;
  faulty.faults = sim::FaultConfig::heavy();
  uint64_t seeded_preemptions = 0, seeded_faults = 0, seeded_switches = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    c.seed = faulty.seed = seed;
    const sim::Report r = sim::run(c, crowd_program);
    seeded_preemptions += r.preemptions;
    seeded_switches += r.context_switches;
    seeded_faults += sim::run(faulty, busy_program).faults_injected;
  }
  c.replay_choices = faulty.replay_choices = std::vector<uint64_t>{};
  for (const sim::Report& zero : {sim::run(c, crowd_program), sim::run(faulty, busy_program)}) {
    EXPECT_TRUE(zero.ok()) << zero.message;
    EXPECT_EQ(zero.faults_injected, 0u);
    EXPECT_EQ(zero.preemptions, 0u);
    for (const sim::Choice& ch : zero.choices) EXPECT_EQ(ch.value, 0u);
  }
  EXPECT_GT(seeded_faults, 0u);
  EXPECT_GT(seeded_preemptions, 5u * 10);
  const sim::Report zero = sim::run(c, crowd_program);
  EXPECT_LT(zero.context_switches * 5, seeded_switches);
}

// Every fault that fires is a choice marked as one (the shrinker's fault pass removes
// them first), and no choice that fires nothing is counted.
TEST(ChoiceReplay, EveryFaultThatFiresIsAMarkedChoice) {
  uint64_t total = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.record_choices = true;
    c.faults = sim::FaultConfig::heavy();
    c.buggify_ppm = 50000;
    const sim::Report r = sim::run(c, busy_program);
    ASSERT_TRUE(r.choices_complete);
    const auto fired = std::count_if(r.choices.begin(), r.choices.end(), [](const sim::Choice& ch) {
      return ch.kind == sim::ChoiceKind::fault && ch.value != 0;
    });
    // Buggify's delays are marked too but are not counted in faults_injected.
    EXPECT_GE(static_cast<uint64_t>(fired), r.faults_injected) << "seed " << seed;
    total += r.faults_injected;
    c.buggify_ppm = 0;
    const sim::Report plain = sim::run(c, busy_program);
    const auto plain_fired = std::count_if(plain.choices.begin(), plain.choices.end(), [](const sim::Choice& ch) {
      return ch.kind == sim::ChoiceKind::fault && ch.value != 0;
    });
    EXPECT_EQ(static_cast<uint64_t>(plain_fired), plain.faults_injected) << "seed " << seed;
  }
  EXPECT_GT(total, 0u);
}

}  // namespace
}  // namespace ringo
