// prometheus_text: the strict checker (prom_text.hpp) on hand-written text, valid and
// not, so that it can fail; then the exposition of a real runtime after some work, on
// every backend: valid, with values equal to RuntimeStats; and every metric documented.
#include "ringo/metrics.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "backends.hpp"
#include "prom_text.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::OnEveryBackend;

// ---------------------------------------------------------------- the checker

TEST(PromText, AcceptsValidText) {
  const std::string text =
      "# A comment, then an empty line\n"
      "\n"
      "# HELP a_total Things, with a \\\\ and a\\nnewline.\n"
      "# TYPE a_total counter\n"
      "a_total{shard=\"0\",path=\"C:\\\\x \\\"q\\\"\\n\"} 3\n"
      "a_total{shard=\"1\"} 4.5e3 1712345678000\n"
      "# TYPE b gauge\n"
      "# HELP b\n"
      "b -Inf\n"
      "b{x=\"\"} NaN\n"
      "b{y=\"1\"}\t+Inf\n"
      "b{z=\"2\"} -0.25\n"
      "# HELP c:d Untyped.\n"
      "# TYPE c:d untyped\n"
      "c:d{} +7\n";
  auto e = promtext::parse(text);
  ASSERT_TRUE(e) << e.error();
  ASSERT_EQ(e->families.size(), 3u);
  EXPECT_EQ(e->families[0].help, "Things, with a \\ and a\nnewline.");
  EXPECT_EQ(e->families[1].help, "");
  const auto* s = e->sample("a_total", {{"path", "C:\\x \"q\"\n"}, {"shard", "0"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 3);
  s = e->sample("a_total", {{"shard", "1"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 4500);
  EXPECT_EQ(s->timestamp_ms, 1712345678000);
  EXPECT_EQ(e->sample("b")->value, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(e->sample("b", {{"x", ""}})->value));
  EXPECT_EQ(e->sample("b", {{"z", "2"}})->value, -0.25);
  EXPECT_EQ(e->sample("c:d")->value, 7);
  EXPECT_TRUE(promtext::parse(""));
}

struct Bad {
  const char* why;
  const char* text;
  const char* error;  // a part of the checker's message
};

constexpr const char* kHead = "# HELP m_total M.\n# TYPE m_total counter\n";

const Bad kBad[] = {
    {"no final newline", "# HELP g G.\n# TYPE g gauge\ng 1", "newline"},
    {"name starts with a digit", "# HELP 1g G.\n# TYPE 1g gauge\n1g 1\n", "bad metric name"},
    {"name with a dash", "# HELP g-h G.\n# TYPE g-h gauge\ng-h 1\n", "bad metric name"},
    {"sample name with a dash", "# HELP g G.\n# TYPE g gauge\ng-h 1\n", "expected a blank"},
    {"label name with a colon", "# HELP g G.\n# TYPE g gauge\ng{a:b=\"1\"} 1\n", "label a has no"},
    {"reserved label name", "# HELP g G.\n# TYPE g gauge\ng{__a=\"1\"} 1\n", "bad label name"},
    {"label name starts with a digit", "# HELP g G.\n# TYPE g gauge\ng{1a=\"1\"} 1\n", "bad label name"},
    {"unquoted label value", "# HELP g G.\n# TYPE g gauge\ng{a=1} 1\n", "label a has no"},
    {"unterminated label value", "# HELP g G.\n# TYPE g gauge\ng{a=\"1} 1\n", "unterminated"},
    {"bad escape in a label value", "# HELP g G.\n# TYPE g gauge\ng{a=\"\\t\"} 1\n", "bad escape"},
    {"duplicate label", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n", "appears twice"},
    {"comma before the brace", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\",} 1\n", "comma"},
    {"space between labels", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\", b=\"2\"} 1\n", "bad label name"},
    {"unclosed label set", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\" 1\n", "expected ','"},
    {"bad escape in HELP", "# HELP g a\\tb\n# TYPE g gauge\ng 1\n", "bad escape in HELP"},
    {"value is a word", "# HELP g G.\n# TYPE g gauge\ng one\n", "not a float"},
    {"value with trailing junk", "# HELP g G.\n# TYPE g gauge\ng 1.5x\n", "not a float"},
    {"value in lowercase inf", "# HELP g G.\n# TYPE g gauge\ng inf\n", "not a float"},
    {"value with two signs", "# HELP g G.\n# TYPE g gauge\ng +-1\n", "not a float"},
    {"no value", "# HELP g G.\n# TYPE g gauge\ng\n", "expected a blank"},
    {"timestamp not an integer", "# HELP g G.\n# TYPE g gauge\ng 1 2.5\n", "timestamp"},
    {"sample before TYPE", "# HELP g G.\ng 1\n# TYPE g gauge\n", "before its HELP and TYPE"},
    {"sample before HELP", "# TYPE g gauge\ng 1\n# HELP g G.\n", "before its HELP and TYPE"},
    {"sample without a family", "x 1\n", "without HELP and TYPE"},
    {"family without HELP", "# TYPE g gauge\n", "has no HELP"},
    {"family without TYPE", "# HELP g G.\n", "has no TYPE"},
    {"two TYPEs", "# HELP g G.\n# TYPE g gauge\n# TYPE g gauge\ng 1\n", "a second TYPE"},
    {"two HELPs", "# HELP g G.\n# HELP g G.\n# TYPE g gauge\ng 1\n", "a second HELP"},
    {"unknown type", "# HELP g G.\n# TYPE g meter\ng 1\n", "unknown type"},
    {"counter without _total", "# HELP c C.\n# TYPE c counter\nc 1\n", "does not end in _total"},
    {"negative counter", "# HELP c_total C.\n# TYPE c_total counter\nc_total -1\n", "not >= 0"},
    {"NaN counter", "# HELP c_total C.\n# TYPE c_total counter\nc_total NaN\n", "not >= 0"},
    {"duplicate series", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 2\n", "twice"},
    {"family split in two",
     "# HELP g G.\n# TYPE g gauge\ng{a=\"1\"} 1\n# HELP h H.\n# TYPE h gauge\nh 1\ng{a=\"2\"} 1\n",
     "apart from its family"},
    {"family declared again", "# HELP g G.\n# TYPE g gauge\ng 1\n# HELP h H.\n# TYPE h gauge\n# HELP g G.\n",
     "not contiguous"},
    {"carriage return", "# HELP g G.\r\n# TYPE g gauge\ng 1\n", "carriage return"},
    {"leading blank", "# HELP g G.\n# TYPE g gauge\n g 1\n", "starts with a blank"},
    {"trailing blank", "# HELP g G.\n# TYPE g gauge\ng 1 \n", "ends with a blank"},
};

TEST(PromText, RejectsMalformedText) {
  for (const Bad& b : kBad) {
    auto e = promtext::parse(b.text);
    ASSERT_FALSE(e) << b.why << ": accepted";
    EXPECT_NE(e.error().find(b.error), std::string::npos) << b.why << ": " << e.error();
  }
  // A counter sample with a value added after its head is still checked.
  EXPECT_FALSE(promtext::parse(std::string(kHead) + "m_total{a=\"1\"} 1\nm_total{a=\"1\"} 1\n"));
  EXPECT_TRUE(promtext::parse(std::string(kHead) + "m_total{a=\"1\"} 1\nm_total{a=\"2\"} 1\n"));
}

// ---------------------------------------------------------------- the exposition

TEST(PrometheusText, FixedStatsGiveFixedText) {
  RuntimeStats stats;
  stats.shards.resize(2);
  stats.shards[0].routines_spawned = 5;
  stats.shards[1].routines_spawned = 7;
  stats.shards[1].routines_live = 2;
  stats.shards[0].ticks = uint64_t{1} << 60;  // beyond a double's integers: printed exactly
  stats.blocking.calls_accepted = 3;
  stats.blocking.threads_alive = 1;
  for (const auto& s : stats.shards) stats.total += s;
  const RuntimeInfo info{Backend::aio, 18446744073709551615u};
  std::string text;
  append_prometheus_text(text, stats, &info);
  auto e = promtext::parse(text);
  ASSERT_TRUE(e) << e.error() << "\n" << text;
  EXPECT_EQ(text, [&] {
    std::string again;
    append_prometheus_text(again, stats, &info);
    return again;
  }());
  EXPECT_TRUE(text.starts_with("# HELP ringo_runtime_info "));
  EXPECT_NE(text.find("\n# TYPE ringo_runtime_info gauge\n"
                      "ringo_runtime_info{backend=\"aio\",seed=\"18446744073709551615\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("\n# TYPE ringo_routines_spawned_total counter\n"
                      "ringo_routines_spawned_total{shard=\"0\"} 5\n"
                      "ringo_routines_spawned_total{shard=\"1\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("\n# TYPE ringo_routines_live gauge\n"), std::string::npos);
  EXPECT_NE(text.find("\nringo_ticks_total{shard=\"0\"} 1152921504606846976\n"), std::string::npos);
  EXPECT_NE(text.find("\n# TYPE ringo_blocking_pool_calls_accepted_total counter\n"
                      "ringo_blocking_pool_calls_accepted_total 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("\n# TYPE ringo_blocking_pool_threads gauge\nringo_blocking_pool_threads 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("\nringo_shards 2\n"), std::string::npos);
  // Without info: no ringo_runtime_info, and the rest is the same text.
  const std::string bare = prometheus_text(stats);
  EXPECT_TRUE(promtext::parse(bare));
  EXPECT_EQ(bare.find("ringo_runtime_info"), std::string::npos);
  EXPECT_TRUE(text.ends_with(bare));
  // Every family has a HELP and a TYPE, gauges and counters alike.
  size_t gauges = 0;
  for (const auto& f : e->families) {
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_TRUE(f.name.starts_with("ringo_")) << f.name;
    gauges += f.type == "gauge";
  }
  EXPECT_EQ(gauges, 5u);  // runtime_info, shards, routines_live, blocking_pool_threads(_peak)
  EXPECT_EQ(e->families.size(), 2 + sizeof(ShardStats) / sizeof(uint64_t) + 8u);  // one per counter
}

TEST(PrometheusText, NoShardsStillValid) {
  auto e = promtext::parse(prometheus_text(RuntimeStats{}));
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->sample("ringo_shards")->value, 0);
  EXPECT_TRUE(e->family("ringo_routines_spawned_total")->samples.empty());
}

// Every metric the text has is in docs/metrics.md, and the doc names no other.
TEST(PrometheusText, EveryMetricIsDocumented) {
  std::ifstream in(RINGO_SOURCE_DIR "/docs/metrics.md");
  ASSERT_TRUE(in) << "docs/metrics.md";
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  std::set<std::string> documented;
  const std::regex row(R"(\n\| `(ringo_[a-z_]+)` \| (counter|gauge) \|)");
  std::map<std::string, std::string> types;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), row); it != std::sregex_iterator(); ++it) {
    documented.insert((*it)[1]);
    types[(*it)[1]] = (*it)[2];
  }
  const RuntimeInfo info{Backend::sim, 1};
  std::string exposition;
  append_prometheus_text(exposition, RuntimeStats{}, &info);
  auto e = promtext::parse(exposition);
  ASSERT_TRUE(e) << e.error();
  std::set<std::string> exported;
  for (const auto& f : e->families) {
    exported.insert(f.name);
    EXPECT_TRUE(documented.contains(f.name)) << f.name << " is not in docs/metrics.md's tables";
    EXPECT_EQ(types[f.name], f.type) << f.name << ": the doc says another type";
  }
  for (const auto& name : documented) EXPECT_TRUE(exported.contains(name)) << "docs/metrics.md names " << name;
}

// ---------------------------------------------------------------- a real runtime

Task<Result<void>> nap() { co_return co_await sleep(1ms); }

int seven() { return 7; }

// Routines on every shard, timers, a channel and a blocking call.
Task<Result<void>> some_work(uint32_t shards) {
  std::vector<JoinHandle<Result<void>>> naps;
  for (uint32_t i = 0; i < 8 * shards; ++i) naps.push_back(spawn_on(i % shards, nap()));
  for (auto& h : naps) {
    if (auto r = co_await h.join(); !r) co_return std::unexpected(r.error());
  }
  auto ch = chan<int>(4);
  if (!ch) co_return std::unexpected(ch.error());
  auto [tx, rx] = std::move(*ch);
  for (int i = 0; i < 4; ++i) {
    if (auto s = co_await tx.send(i); !s) co_return std::unexpected(s.error().error);
  }
  for (int i = 0; i < 4; ++i) {
    if (auto r = co_await rx.recv(); !r) co_return std::unexpected(r.error());
  }
  auto b = co_await blocking(&seven);
  if (!b) co_return std::unexpected(b.error());
  co_return Result<void>{};
}

// The exposition, taken inside a routine while the runtime runs (as metrics_server does).
Task<Result<std::string>> scrape_inside(const Runtime* rt) {
  if (auto w = co_await some_work(rt->shard_count()); !w) co_return std::unexpected(w.error());
  co_return prometheus_text(*rt);
}

class Metrics : public OnEveryBackend {};

TEST_P(Metrics, ExpositionOfARealRuntimeIsValidAndMatchesItsStats) {
  constexpr uint32_t kShards = 3;
  auto rt = Runtime::create(config(kShards));
  ASSERT_TRUE(rt);
  Result<std::string> during = rt->block_on(scrape_inside(&*rt));
  ASSERT_TRUE(during) << during.error().message();
  auto live = promtext::parse(*during);
  ASSERT_TRUE(live) << live.error() << "\n" << *during;
  EXPECT_NE(
      live->sample("ringo_runtime_info", {{"backend", backend_name(GetParam())}, {"seed", std::to_string(rt->seed())}}),
      nullptr)
      << *during;

  ASSERT_FALSE(rt->shutdown().error);
  // After shutdown the stats stand still: the text must say exactly what they say.
  const RuntimeStats stats = rt->stats();
  const std::string text = prometheus_text(*rt);
  auto e = promtext::parse(text);
  ASSERT_TRUE(e) << e.error() << "\n" << text;
  const auto* info =
      e->sample("ringo_runtime_info", {{"backend", backend_name(GetParam())}, {"seed", std::to_string(rt->seed())}});
  ASSERT_NE(info, nullptr) << text;
  EXPECT_EQ(info->value, 1);
  EXPECT_EQ(e->sample("ringo_shards")->value, kShards);
  double spawned = 0;
  for (uint32_t i = 0; i < kShards; ++i) {
    const std::vector<std::pair<std::string, std::string>> shard{{"shard", std::to_string(i)}};
    const auto* s = e->sample("ringo_routines_spawned_total", shard);
    ASSERT_NE(s, nullptr) << "shard " << i;
    EXPECT_EQ(s->value, static_cast<double>(stats.shards[i].routines_spawned));
    spawned += s->value;
    EXPECT_EQ(e->sample("ringo_routines_live", shard)->value, static_cast<double>(stats.shards[i].routines_live));
    EXPECT_EQ(e->sample("ringo_ticks_total", shard)->value, static_cast<double>(stats.shards[i].ticks));
    EXPECT_EQ(e->sample("ringo_timers_fired_total", shard)->value, static_cast<double>(stats.shards[i].timers_fired));
    EXPECT_EQ(e->sample("ringo_blocking_calls_total", shard)->value,
              static_cast<double>(stats.shards[i].blocking_calls));
  }
  EXPECT_EQ(spawned, static_cast<double>(stats.total.routines_spawned));
  EXPECT_GE(stats.total.routines_spawned, 8u * kShards + 1);  // the naps and the main task
  EXPECT_GE(stats.total.timers_fired, 8u * kShards);
  EXPECT_EQ(stats.total.blocking_calls, 1u);
  EXPECT_EQ(e->sample("ringo_blocking_pool_calls_started_total")->value,
            static_cast<double>(stats.blocking.calls_started));
  EXPECT_EQ(stats.blocking.calls_started, 1u);
  // Counters never went down between the scrape inside and the one after shutdown.
  for (const auto& f : live->families) {
    if (f.type != "counter") continue;
    for (const auto& s : f.samples) {
      const auto* after = e->sample(s.name, s.labels);
      ASSERT_NE(after, nullptr) << s.name;
      EXPECT_GE(after->value, s.value) << s.name;
    }
  }
}

RINGO_ON_EVERY_BACKEND(Metrics);

}  // namespace
}  // namespace ringo
