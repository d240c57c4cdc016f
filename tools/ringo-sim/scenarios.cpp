// Scenarios that must pass on every seed: CI runs them with --check-determinism.
//
// Each has a small form (RunOptions::size, `--size small`; sim::sized picks the numbers):
// the same program with fewer connections, items and routines, so one run is a few
// hundred steps. fuzz_scenario runs only small runs (docs/fuzzing.md, "fuzz_scenario").
#include "echo.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim/scenario.hpp"

using namespace ringo;
using namespace ringo::detail;  // white-box: the engine's internals
using namespace std::chrono_literals;

RINGO_SCENARIO(echo, 2, "echo server on both shards, 8 clients x 10 requests (small: 2 x 2), every byte checked") {
  auto server = co_await echo::start_server(net::SocketAddr::loopback_v4(0));
  if (!server) co_return std::unexpected(server.error());
  echo::LoadConfig load;
  load.target = net::SocketAddr::loopback_v4(server->port);
  load.connections = sim::sized(8u, 2u);
  load.requests_per_connection = sim::sized(10u, 2u);
  load.message_size = 300;
  load.duration = 1h;
  load.op_timeout = 60s;
  echo::LoadReport r = co_await echo::run_load(load);
  server->stop();
  co_return sim::check(r.corrupted == 0, "an echoed byte was wrong");
}

RINGO_SCENARIO(pipeline, 3, "three stages on three shards with select, a timeout and close; 50 items (small: 6)") {
  const int items = sim::sized(50, 6);
  auto [in_tx, in_rx] = std::move(*chan<int>(4));
  auto [out_tx, out_rx] = std::move(*chan<int>(0));
  auto stage = spawn_on(1, [](Receiver<int> in, Sender<int> out) -> Task<void> {
    while (auto v = co_await in.recv()) (void)co_await out.send(*v * 2);
    out.close();
  }(in_rx, std::move(out_tx)));
  auto feeder = spawn_on(2, [](Sender<int> out, int n) -> Task<void> {
    for (int i = 0; i < n; ++i) (void)co_await out.send(i);
    out.close();
  }(std::move(in_tx), items));
  long sum = 0;
  while (true) {
    auto c = on_recv(out_rx);
    auto r = co_await select(c, after(1s));
    if (!r || *r == 1) break;
    if (!c.value->has_value()) break;  // closed and drained
    sum += **c.value;
  }
  (void)co_await feeder.join();
  (void)co_await stage.join();
  co_return sim::check(sum == 2 * ((items - 1) * items / 2), "pipeline sum " + std::to_string(sum));
}

RINGO_SCENARIO(fan_in, 3,
               "workers on three shards send 20 values each (small: 2) by select on channels homed on every shard; "
               "one select gathers") {
  const int per_worker = sim::sized(20, 2);
  // Unbuffered channels, one per shard: a worker's select-send meets the collector's
  // select-receive (select against select, across shards).
  std::vector<Sender<int>> txs;
  std::vector<Receiver<int>> rxs;
  for (uint32_t home = 0; home < 3; ++home) {
    auto made = co_await submit_to(home, [] { return chan<int>(0); });
    if (!made) co_return std::unexpected(made.error());
    txs.push_back(std::move(made->first));
    rxs.push_back(std::move(made->second));
  }
  std::vector<JoinHandle<void>> workers;
  for (uint32_t w = 0; w < 3; ++w) {
    workers.push_back(spawn_on(w, [](std::vector<Sender<int>> out, int base, int n) -> Task<void> {
      for (int i = 1; i <= n; ++i) {
        auto a = on_send(out[0], base + i);
        auto b = on_send(out[1], base + i);
        auto c = on_send(out[2], base + i);
        if (!co_await select(a, b, c)) co_return;
      }
    }(txs, static_cast<int>(w) * 100, per_worker)));
  }
  txs.clear();
  long sum = 0;
  std::vector<bool> open(rxs.size(), true);
  for (size_t left = rxs.size(); left > 0;) {
    Selector sel;  // over the channels still open
    std::vector<std::pair<size_t, RecvCase<int>*>> cases;
    for (size_t k = 0; k < rxs.size(); ++k) {
      if (open[k]) cases.emplace_back(k, &sel.recv(rxs[k]));
    }
    sel.timeout(1s);
    auto i = co_await sel.wait();
    if (!i || *i == cases.size()) break;
    auto [k, rc] = cases[*i];
    if (auto& v = *rc->value; v) {
      sum += *v;
    } else {
      open[k] = false;  // closed and drained
      --left;
    }
  }
  for (auto& w : workers) (void)co_await w.join();
  const int each = per_worker * (per_worker + 1) / 2;  // 1 + 2 + ... + per_worker
  co_return sim::check(sum == 3 * each + per_worker * (0 + 100 + 200), "fan-in sum " + std::to_string(sum));
}

RINGO_SCENARIO(blocking_pool, 2,
               "24 blocking calls (small: 6) from both shards through the simulated pool, some timed out at seeded "
               "instants") {
  // Each caller wraps its call in a deadline drawn from its shard's seeded PRNG, so seeds
  // differ in which calls time out before they start, while they run, or not at all.
  auto one = [](int i) -> Task<Result<int>> {
    const Duration limit = std::chrono::microseconds(current_shard()->prng().below(400));
    auto call = with_timeout(limit, blocking([i] { return i * i; }));
    auto r = co_await call;
    if (r && *r != i * i) co_return std::unexpected(make_error_code(errc::check_failed));
    if (!r && r.error() != errc::timed_out && r.error() != errc::queue_full) co_return std::unexpected(r.error());
    co_return 0;
  };
  std::vector<JoinHandle<Result<int>>> calls;
  for (int i = 0; i < sim::sized(24, 6); ++i) calls.push_back(spawn_on(static_cast<uint32_t>(i % 2), one(i)));
  int bad = 0;
  for (auto& h : calls) bad += (co_await h.join()).has_value() ? 0 : 1;
  co_return sim::check(bad == 0, std::to_string(bad) + " calls ended wrongly");
}

RINGO_SCENARIO(balance, 3,
               "main spawns 300 balanced routines (small: 24) on shard 0; idle shards ask for them; some are aborted; "
               "every result checked") {
  const int n = sim::sized(300, 24);
  // Each worker yields or sleeps a seeded amount, sends its id to a collector and returns
  // it; a third of them are aborted at a seeded moment. Seeds differ in which shard asks
  // when, what moves, and where each abort finds its routine.
  auto [tx, rx] = std::move(*chan<int>(unbounded));
  auto worker = [](int id, Sender<int> out) -> Task<int> {
    const uint32_t home = current_shard()->index();
    for (uint64_t n = current_shard()->prng().below(4); n > 0; --n) co_await yield_now();
    (void)co_await sleep(std::chrono::microseconds(current_shard()->prng().below(50)));
    if (current_shard()->index() != home) co_return -1;  // moved while running
    auto sent = co_await out.send(id);
    co_return sent ? id : -2;  // -2: aborted while sending
  };
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(spawn(worker(i, tx)));
  { Sender<int> mine = std::move(tx); }  // the channel closes when the last worker's copy goes
  for (int i = 0; i < n; i += 3) {
    if (current_shard()->prng().chance(1, 2)) co_await yield_now();
    (void)hs[static_cast<size_t>(i)].abort();
  }
  long joined_sum = 0;
  int bad = 0;
  for (size_t i = 0; i < hs.size(); ++i) {
    auto r = co_await hs[i].join();
    const bool aborted = i % 3 == 0;
    if (r && *r == static_cast<int>(i)) {
      joined_sum += *r;
    } else if (!aborted || (r && *r != -2) || (!r && r.error() != errc::cancelled)) {
      ++bad;
    }
  }
  long sent_sum = 0;
  while (auto v = co_await rx.recv()) sent_sum += *v;
  co_return sim::check(bad == 0 && sent_sum == joined_sum, std::to_string(bad) + " joins wrong; sent " +
                                                               std::to_string(sent_sum) + ", joined " +
                                                               std::to_string(joined_sum));
}
