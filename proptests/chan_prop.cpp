// Channel and select properties on the simulator:
//  - fairness: k always-ready cases are chosen uniformly (chi-square, p > 0.001), also
//    with a default case present (which must then never win);
//  - sequential model: try_send / try_recv / close on one channel match a deque model;
//  - no loss, no duplication: random multi-shard producers, consumers (plain, select with
//    timeout, select with default), closes and aborts; every value whose send succeeded
//    is received exactly once or drained at the end;
//  - rendezvous: on an unbuffered channel no send succeeds before a receiver took its value
//    (plain sends and selects, receivers plain and by select, on any shards);
//  - timeouts: a select's timeout fires at exactly its virtual deadline on one shard, and
//    across shards returns no earlier than it and within one round trip after;
//  - the same two across shards: a select over channels of several shards chooses
//    uniformly among ready cases, and random producers (plain sends and selects over
//    every channel, so select meets select) and consumers (selects with timeouts,
//    defaults, aborts) on several shards lose, duplicate and reorder nothing, and leave
//    no subscription behind.
// Failures print the seed; RINGO_SEED=<n> replays the fairness runs.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

// Upper critical value of chi-square with df degrees of freedom at p = 0.001
// (Wilson-Hilferty; accurate to well under 1% for df >= 1).
double chi_square_critical_p001(int df) {
  const double z = 3.0902;
  const double k = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - k + z * std::sqrt(k), 3.0);
}

// k channels with `rounds` values each, channel i homed on shard i % shards; the select
// runs on shard 0 (over one shard's channels, or across shards).
Task<std::vector<int>> count_choices(int k, int rounds, bool with_default, uint32_t shards) {
  std::vector<Sender<int>> txs;
  std::vector<Receiver<int>> rxs;
  for (int i = 0; i < k; ++i) {
    const uint32_t home = static_cast<uint32_t>(i) % shards;
    auto made = chan<int>(unbounded);  // not `?:` around a co_await: GCC 12 miscompiles it
    if (home != 0) made = co_await submit_to(home, [] { return chan<int>(unbounded); });
    if (!made) co_return std::vector<int>{};
    auto& [tx, rx] = *made;
    for (int j = 0; j < rounds; ++j) co_await tx.send(j);
    txs.push_back(std::move(tx));
    rxs.push_back(std::move(rx));
  }
  std::vector<int> counts(static_cast<size_t>(k) + 1, 0);
  for (int r = 0; r < rounds; ++r) {
    Selector sel;
    for (auto& rx : rxs) sel.recv(rx);
    if (with_default) sel.default_case();
    auto i = co_await sel.wait();
    if (!i) co_return std::vector<int>{};
    ++counts[*i];
  }
  co_return counts;
}

// k = 2..max_k always-ready cases, with and without a default: chi-square at p > 0.001.
void expect_uniform_choices(uint64_t seed, uint32_t shards, int max_k, int rounds_per_case) {
  for (bool with_default : {false, true}) {
    for (int k = 2; k <= max_k; ++k) {
      const int rounds = rounds_per_case * k;
      std::vector<int> counts;
      sim::SimConfig c;
      c.seed = seed + static_cast<uint64_t>(k);
      c.shards = shards;
      auto report =
          sim::run(c, [&]() -> Task<void> { counts = co_await count_choices(k, rounds, with_default, shards); });
      ASSERT_TRUE(report.ok()) << report.message << " " << report.replay_hint();
      ASSERT_EQ(counts.size(), static_cast<size_t>(k) + 1);
      EXPECT_EQ(counts[static_cast<size_t>(k)], 0) << "default won while cases were ready";
      const double expected = static_cast<double>(rounds) / k;
      double chi2 = 0;
      for (int i = 0; i < k; ++i) chi2 += std::pow(counts[static_cast<size_t>(i)] - expected, 2) / expected;
      EXPECT_LT(chi2, chi_square_critical_p001(k - 1))
          << "k=" << k << " default=" << with_default << " " << report.replay_hint();
    }
  }
}

TEST(SelectFairness, ChiSquareAcrossTwoToSixteenReadyCases) {
  expect_uniform_choices(sim::seed_from_env(20261122), 1, 16, 400);
}

// The ready channels are homed round-robin on three shards.
TEST(SelectFairness, ChiSquareAcrossShards) { expect_uniform_choices(sim::seed_from_env(20261201), 3, 8, 300); }

// ---------------------------------------------------------------- sequential model

enum class Op : uint8_t { try_send, try_recv, close };

RC_GTEST_PROP(ChannelModel, TryOpsAndCloseMatchADequeModel, ()) {
  const Capacity capacity = *rc::gen::element<Capacity>(0, 1, 2, 5, unbounded);
  const auto ops = *rc::gen::container<std::vector<Op>>(
      rc::gen::element(Op::try_send, Op::try_send, Op::try_recv, Op::try_recv, Op::close));
  bool ok = true;
  std::string where;
  auto report = sim::run({}, [&]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(capacity));
    std::deque<int> model;
    bool closed = false;
    int next = 0;
    for (size_t i = 0; i < ops.size() && ok; ++i) {
      switch (ops[i]) {
        case Op::try_send: {
          auto r = tx.try_send(next);
          std::error_code want{};
          if (closed) {
            want = make_error_code(errc::channel_closed);
          } else if (!capacity.is_unbounded() && model.size() >= capacity.slots()) {
            want = make_error_code(errc::channel_full);
          }
          const std::error_code got = r ? std::error_code{} : r.error().error;
          if (got != want || (!r && r.error().value != next)) ok = false, where = "try_send " + std::to_string(i);
          if (r) model.push_back(next);
          ++next;
          break;
        }
        case Op::try_recv: {
          auto r = rx.try_recv();
          if (!model.empty()) {
            if (!r || *r != model.front()) ok = false, where = "try_recv value " + std::to_string(i);
            model.pop_front();
          } else if (r || r.error() != (closed ? errc::channel_closed : errc::channel_empty)) {
            ok = false, where = "try_recv empty " + std::to_string(i);
          }
          break;
        }
        case Op::close: {
          auto r = tx.close();
          if (r.has_value() == closed) ok = false, where = "close " + std::to_string(i);
          closed = true;
          break;
        }
      }
      if (ok && (rx.len() != model.size() || rx.is_closed() != closed)) ok = false, where = "len " + std::to_string(i);
    }
    co_return;
  });
  RC_ASSERT(report.ok());
  RC_LOG() << where << "\n";
  RC_ASSERT(ok);
}

// ---------------------------------------------------------------- no loss, no duplication

enum class ConsumerMode : uint8_t { recv, select_timeout, select_default };

struct ConsumerPlan {
  uint32_t shard;
  ConsumerMode mode;
  int abort_after_us;  // < 0: never
};

struct FlowPlan {
  uint32_t shards;
  Capacity capacity;
  std::vector<std::pair<uint32_t, int>> producers;  // (shard, values)
  std::vector<ConsumerPlan> consumers;
  int close_after_us;  // < 0: the channel closes when the last producer is done
};

Task<void> consume(Receiver<int> rx, ConsumerMode mode, std::vector<int>* got) {
  for (;;) {
    if (mode == ConsumerMode::recv) {
      auto v = co_await rx.recv();
      if (!v) co_return;
      got->push_back(*v);
      continue;
    }
    // On another shard than the channel's, the select runs on the channel's shard.
    auto c = on_recv(rx);
    Result<size_t> i =
        mode == ConsumerMode::select_timeout ? co_await select(c, after(30us)) : co_await select(c, default_case());
    if (!i) co_return;  // cancelled
    if (*i == 0) {
      if (!c.value->has_value()) co_return;  // closed and drained
      got->push_back(**c.value);
    } else if (mode == ConsumerMode::select_default) {
      if (!co_await sleep(5us)) co_return;
    }
  }
}

RC_GTEST_PROP(ChannelFlow, EverySentValueIsReceivedExactlyOnce, ()) {
  FlowPlan plan;
  plan.shards = *rc::gen::inRange<uint32_t>(1, 4);
  plan.capacity = *rc::gen::element<Capacity>(0, 1, 3, 16, 16, unbounded, unbounded);
  const auto n_producers = *rc::gen::inRange(1, 5);
  for (int p = 0; p < n_producers; ++p) {
    plan.producers.emplace_back(*rc::gen::inRange<uint32_t>(0, plan.shards), *rc::gen::inRange(0, 30));
  }
  const auto n_consumers = *rc::gen::inRange(1, 4);
  for (int c = 0; c < n_consumers; ++c) {
    plan.consumers.push_back(
        {*rc::gen::inRange<uint32_t>(0, plan.shards),
         *rc::gen::element(ConsumerMode::recv, ConsumerMode::select_timeout, ConsumerMode::select_default),
         *rc::gen::element(-1, -1, 0, 20, 200)});
  }
  plan.close_after_us = *rc::gen::element(-1, 0, 2, 5, 10, 50);
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = plan.shards;
  config.faults = *rc::gen::arbitrary<bool>() ? sim::FaultConfig::light() : sim::FaultConfig::none();

  std::vector<int> sent_ok, received, drained;
  std::vector<std::vector<int>> per_consumer(plan.consumers.size());
  auto report = sim::run(config, [&]() -> Task<void> {
    auto [tx, rx] = std::move(*chan<int>(plan.capacity));
    std::vector<JoinHandle<void>> producers;
    for (size_t p = 0; p < plan.producers.size(); ++p) {
      const auto [shard, count] = plan.producers[p];
      producers.push_back(spawn_on(shard, [](Sender<int> t, int base, int n, std::vector<int>* ok) -> Task<void> {
        for (int i = 0; i < n; ++i) {
          if (co_await t.send(base + i)) ok->push_back(base + i);
        }
      }(tx, static_cast<int>(p) * 1000, count, &sent_ok)));
    }
    // An early close races with remote producers that may hold leases of buffer slots.
    std::optional<Sender<int>> closer;
    if (plan.close_after_us >= 0) closer = tx;
    tx = Sender<int>();
    std::vector<JoinHandle<void>> consumers;
    for (size_t c = 0; c < plan.consumers.size(); ++c) {
      consumers.push_back(spawn_on(plan.consumers[c].shard, consume(rx, plan.consumers[c].mode, &per_consumer[c])));
    }
    for (size_t c = 0; c < plan.consumers.size(); ++c) {
      if (plan.consumers[c].abort_after_us < 0) continue;
      co_await sleep(std::chrono::microseconds(plan.consumers[c].abort_after_us));
      (void)consumers[c].abort();
    }
    if (closer) {
      co_await sleep(std::chrono::microseconds(plan.close_after_us));
      (void)closer->close();
      closer.reset();
    }
    // Main drains what is left (unblocking producers) until the last sender is gone.
    for (;;) {
      auto v = co_await rx.recv();
      if (!v) break;
      drained.push_back(*v);
    }
    for (auto& p : producers) co_await p.join();
    for (auto& c : consumers) co_await c.join();
  });
  RC_LOG() << report.summary() << " " << report.replay_hint() << "\n";
  RC_ASSERT(report.ok());
  // FIFO: each receiver sees every producer's values in the order they were sent, also
  // when they crossed shards under a lease.
  per_consumer.push_back(drained);
  for (const auto& got : per_consumer) {
    std::map<int, int> last;  // producer -> last value seen
    for (int v : got) {
      auto [it, first] = last.try_emplace(v / 1000, v);
      RC_ASSERT(first || it->second < v);
      it->second = v;
    }
  }
  for (auto& v : per_consumer) received.insert(received.end(), v.begin(), v.end());
  std::sort(received.begin(), received.end());
  std::sort(sent_ok.begin(), sent_ok.end());
  RC_ASSERT(received == sent_ok);
}

// ---------------------------------------------------------------- across shards

enum class SendMode : uint8_t { plain, select, select_timeout };
enum class MultiRecvMode : uint8_t { select, select_timeout, select_default };

struct Delivery {
  uint32_t channel;
  int value;
};

// Sends n values: plainly on channel `own`, or by select over every channel.
Task<void> produce_across(std::vector<Sender<int>> txs, SendMode mode, uint32_t own, int base, int n,
                          std::vector<Delivery>* sent) {
  for (int i = 0; i < n; ++i) {
    const int v = base + i;
    if (mode == SendMode::plain) {
      if (co_await txs[own].send(v)) sent->push_back({own, v});
      continue;
    }
    Selector sel;
    std::vector<SendCase<int>*> cases;
    for (auto& tx : txs) cases.push_back(&sel.send(tx, v));
    if (mode == SendMode::select_timeout) sel.timeout(20us);
    auto chosen = co_await sel.wait();
    if (!chosen) co_return;  // cancelled
    if (*chosen < cases.size() && !cases[*chosen]->error) sent->push_back({static_cast<uint32_t>(*chosen), v});
  }
}

// Receives by select over the channels still open, until all are closed or it is aborted.
Task<void> consume_across(std::vector<Receiver<int>> rxs, MultiRecvMode mode, std::vector<Delivery>* got) {
  std::vector<bool> open(rxs.size(), true);
  for (size_t left = rxs.size(); left > 0;) {
    Selector sel;
    std::vector<std::pair<uint32_t, RecvCase<int>*>> cases;
    for (uint32_t c = 0; c < rxs.size(); ++c) {
      if (open[c]) cases.emplace_back(c, &sel.recv(rxs[c]));
    }
    if (mode == MultiRecvMode::select_timeout) sel.timeout(30us);
    if (mode == MultiRecvMode::select_default) sel.default_case();
    auto chosen = co_await sel.wait();
    if (!chosen) co_return;  // cancelled
    if (*chosen >= cases.size()) {
      if (mode == MultiRecvMode::select_default && !co_await sleep(5us)) co_return;
      continue;
    }
    auto [channel, rc] = cases[*chosen];
    if (rc->value->has_value()) {
      got->push_back({channel, **rc->value});
    } else {
      open[channel] = false;  // closed and drained
      --left;
    }
  }
}

RC_GTEST_PROP(ChannelFlow, SelectsAcrossShardsLoseNothing, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(2, 4);
  const auto n_channels = *rc::gen::inRange<uint32_t>(2, 4);
  std::vector<Capacity> capacities;
  for (uint32_t c = 0; c < n_channels; ++c) capacities.push_back(*rc::gen::element<Capacity>(0, 0, 1, 4, unbounded));
  struct Producer {
    uint32_t shard;
    SendMode mode;
    uint32_t own;
    int count;
  };
  struct Consumer {
    uint32_t shard;
    MultiRecvMode mode;
    int abort_after_us;
  };
  std::vector<Producer> producers;
  for (int p = *rc::gen::inRange(1, 5); p > 0; --p) {
    producers.push_back({*rc::gen::inRange<uint32_t>(0, shards),
                         *rc::gen::element(SendMode::plain, SendMode::select, SendMode::select_timeout),
                         *rc::gen::inRange<uint32_t>(0, n_channels), *rc::gen::inRange(0, 25)});
  }
  std::vector<Consumer> consumers;
  for (int c = *rc::gen::inRange(0, 4); c > 0; --c) {
    consumers.push_back(
        {*rc::gen::inRange<uint32_t>(0, shards),
         *rc::gen::element(MultiRecvMode::select, MultiRecvMode::select_timeout, MultiRecvMode::select_default),
         *rc::gen::element(-1, -1, 0, 15, 100)});
  }
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = shards;
  config.faults = *rc::gen::arbitrary<bool>() ? sim::FaultConfig::light() : sim::FaultConfig::none();
  config.max_steps = 2'000'000;  // a livelock fails fast (a passing run takes a few thousand)
  config.time_budget = std::chrono::seconds(10);

  std::vector<std::vector<Delivery>> sent(producers.size());
  std::vector<std::vector<Delivery>> got(consumers.size() + 1);  // the last: main's drain
  bool clean = true;
  auto report = sim::run(config, [&]() -> Task<void> {
    std::vector<Sender<int>> txs;
    std::vector<Receiver<int>> rxs;
    for (uint32_t c = 0; c < n_channels; ++c) {
      const Capacity cap = capacities[c];
      auto made = co_await submit_to(c % shards, [cap] { return chan<int>(cap); });
      if (!made) co_return;
      txs.push_back(std::move(made->first));
      rxs.push_back(std::move(made->second));
    }
    std::vector<JoinHandle<void>> ps;
    for (size_t p = 0; p < producers.size(); ++p) {
      const Producer& pr = producers[p];
      ps.push_back(
          spawn_on(pr.shard, produce_across(txs, pr.mode, pr.own, static_cast<int>(p) * 1000, pr.count, &sent[p])));
    }
    txs.clear();  // the channels close when the last producer is done
    std::vector<JoinHandle<void>> cs;
    for (size_t c = 0; c < consumers.size(); ++c) {
      cs.push_back(spawn_on(consumers[c].shard, consume_across(rxs, consumers[c].mode, &got[c])));
    }
    for (size_t c = 0; c < consumers.size(); ++c) {
      if (consumers[c].abort_after_us < 0) continue;
      co_await sleep(std::chrono::microseconds(consumers[c].abort_after_us));
      (void)cs[c].abort();
    }
    co_await consume_across(rxs, MultiRecvMode::select, &got.back());
    for (auto& p : ps) co_await p.join();
    for (auto& c : cs) co_await c.join();
    for (auto& rx : rxs) clean = clean && rx.state()->subs == 0 && rx.len() == 0;
  });
  RC_LOG() << report.summary() << " " << report.replay_hint() << "\n" << report.message << "\n";
  RC_ASSERT(report.ok());
  RC_ASSERT(clean);
  // Per receiver and channel, each producer's values arrive in the order they were sent.
  for (const auto& g : got) {
    std::map<std::pair<uint32_t, int>, int> last;
    for (const Delivery& d : g) {
      auto [it, first] = last.try_emplace({d.channel, d.value / 1000}, d.value);
      RC_ASSERT(first || it->second < d.value);
      it->second = d.value;
    }
  }
  auto key = [](const Delivery& d) { return std::pair(d.value, d.channel); };
  std::vector<std::pair<int, uint32_t>> want, have;
  for (const auto& s : sent) {
    for (const Delivery& d : s) want.push_back(key(d));
  }
  for (const auto& g : got) {
    for (const Delivery& d : g) have.push_back(key(d));
  }
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  RC_ASSERT(have == want);
}

// ---------------------------------------------------------------- rendezvous

// The simulator runs every shard on one thread, so plain counters give one global order.
struct RendezvousLedger {
  int sends_succeeded = 0;
  int receives_succeeded = 0;
  int receives_in_progress = 0;  // started, not yet resumed
  bool broken = false;
  // A send that succeeded was taken by a receiver that has either resumed with it or is
  // about to: more successful sends than that means a sender resumed alone.
  void send_succeeded() {
    ++sends_succeeded;
    if (sends_succeeded > receives_succeeded + receives_in_progress) broken = true;
  }
};

RC_GTEST_PROP(ChannelRendezvous, NoSenderResumesBeforeItsValueWasTaken, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const uint32_t home = *rc::gen::inRange<uint32_t>(0, shards);
  struct Actor {
    uint32_t shard;
    bool by_select;  // select with a timeout (and a second, idle channel on shard 0)
    int count;
    int pause_us;
  };
  auto actors = [&] {
    std::vector<Actor> out;
    for (int n = *rc::gen::inRange(1, 4); n > 0; --n) {
      out.push_back({*rc::gen::inRange<uint32_t>(0, shards), *rc::gen::arbitrary<bool>(), *rc::gen::inRange(0, 12),
                     *rc::gen::element(0, 0, 3, 40)});
    }
    return out;
  };
  const std::vector<Actor> senders = actors();
  const std::vector<Actor> receivers = actors();
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = shards;
  config.faults = *rc::gen::arbitrary<bool>() ? sim::FaultConfig::light() : sim::FaultConfig::none();
  config.max_steps = 2'000'000;

  RendezvousLedger ledger;
  auto report = sim::run(config, [&]() -> Task<void> {
    auto made = co_await submit_to(home, [] { return chan<int>(0); });
    if (!made) co_return;
    auto [idle_tx, idle_rx] = std::move(*chan<int>(0));  // never used: makes selects span shards
    std::vector<JoinHandle<void>> hs;
    for (const Actor& a : senders) {
      hs.push_back(spawn_on(a.shard, [](Sender<int> tx, Sender<int> idle, Actor me, RendezvousLedger* l) -> Task<void> {
        for (int i = 0; i < me.count; ++i) {
          if (!co_await sleep(std::chrono::microseconds(me.pause_us))) co_return;
          bool sent = false;
          if (me.by_select) {
            auto sc = on_send(tx, i);
            auto ic = on_send(idle, i);
            auto r = co_await select(sc, ic, after(50us));
            if (!r) co_return;
            sent = *r == 0 && !sc.error;
          } else {
            sent = (co_await with_timeout(50us, tx.send(i))).has_value();
          }
          if (sent) l->send_succeeded();
        }
      }(made->first, idle_tx, a, &ledger)));
    }
    for (const Actor& a : receivers) {
      hs.push_back(
          spawn_on(a.shard, [](Receiver<int> rx, Receiver<int> idle, Actor me, RendezvousLedger* l) -> Task<void> {
            for (int i = 0; i < me.count; ++i) {
              if (!co_await sleep(std::chrono::microseconds(me.pause_us))) co_return;
              ++l->receives_in_progress;
              bool got = false;
              if (me.by_select) {
                auto rc = on_recv(rx);
                auto ic = on_recv(idle);
                auto r = co_await select(rc, ic, after(50us));
                got = r && *r == 0 && rc.value->has_value();
              } else {
                got = (co_await with_timeout(50us, rx.recv())).has_value();
              }
              --l->receives_in_progress;
              if (got) ++l->receives_succeeded;
            }
          }(made->second, idle_rx, a, &ledger)));
    }
    for (auto& h : hs) co_await h.join();
  });
  RC_LOG() << report.summary() << " " << report.replay_hint() << "\n" << report.message << "\n";
  RC_ASSERT(report.ok());
  RC_ASSERT(!ledger.broken);
  RC_ASSERT(ledger.sends_succeeded == ledger.receives_succeeded);
}

// ---------------------------------------------------------------- timeouts

RC_GTEST_PROP(SelectTimeout, FiresAtItsVirtualDeadline, ()) {
  const uint32_t shards = *rc::gen::inRange<uint32_t>(1, 4);
  const uint32_t selector = *rc::gen::inRange<uint32_t>(0, shards);
  std::vector<uint32_t> homes;  // of the channels nobody sends on
  for (int n = *rc::gen::inRange(1, 4); n > 0; --n) homes.push_back(*rc::gen::inRange<uint32_t>(0, shards));
  const auto timeouts = *rc::gen::container<std::vector<int>>(*rc::gen::inRange(1, 6), rc::gen::inRange(0, 500));
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = shards;
  bool one_shard = true;
  for (uint32_t h : homes) one_shard = one_shard && h == selector;
  std::vector<std::pair<Duration, Duration>> seen;  // (asked, took)
  auto report = sim::run(config, [&]() -> Task<void> {
    std::vector<Receiver<int>> rxs;
    std::vector<Sender<int>> txs;  // kept open: the channels never close
    for (uint32_t h : homes) {
      auto made = co_await submit_to(h, [] { return chan<int>(0); });
      if (!made) co_return;
      txs.push_back(std::move(made->first));
      rxs.push_back(std::move(made->second));
    }
    auto run = spawn_on(selector,
                        [](std::vector<Receiver<int>> in, std::vector<int> ts,
                           std::vector<std::pair<Duration, Duration>>* out) -> Task<void> {
                          for (int us : ts) {
                            Selector sel;
                            for (auto& rx : in) sel.recv(rx);
                            sel.timeout(std::chrono::microseconds(us));
                            const Instant t0 = current_shard()->now();
                            auto r = co_await sel.wait();
                            if (!r || *r != in.size()) co_return;
                            out->emplace_back(std::chrono::microseconds(us), current_shard()->now() - t0);
                          }
                        }(rxs, timeouts, &seen));
    co_await run.join();
  });
  RC_LOG() << report.summary() << " " << report.replay_hint() << "\n";
  RC_ASSERT(report.ok());
  RC_ASSERT(seen.size() == timeouts.size());
  for (auto [asked, took] : seen) {
    if (one_shard) {
      RC_ASSERT(took == asked);  // the shard's own timer: exactly at the deadline
    } else {
      // The owner's timer fires at the deadline; the select returns once every other shard
      // has let go of its cases (one round trip of simulated MSG_RING latency).
      RC_ASSERT(took >= asked);
      RC_ASSERT(took <= asked + std::chrono::milliseconds(1));
    }
  }
}

}  // namespace
}  // namespace ringo
