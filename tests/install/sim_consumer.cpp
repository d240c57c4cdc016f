// A program built against an installed ringo's simulator API (ringo::sim, CMake target
// ringo::sim): the same seeded run twice must give the same trace, a run whose routines
// all block must be reported as a deadlock, and the program's own results must be right.
// Exits 0 only if all of that holds; otherwise prints what was wrong and exits 1.
#include <cstdio>
#include <ringo/ringo.hpp>
#include <ringo/sim.hpp>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kWorkers = 6;

ringo::Task<void> worker(int id, ringo::Sender<int> tx) {
  co_await ringo::sleep(std::chrono::milliseconds(kWorkers - id));  // virtual time
  co_await tx.send(id);
}

// Workers on both shards send their ids on one channel; *sum gets what arrived.
ringo::Task<void> fan_in(long* sum) {
  auto [tx, rx] = std::move(*ringo::chan<int>(1));
  std::vector<ringo::JoinHandle<void>> workers;
  for (int id = 0; id < kWorkers; ++id) {
    const uint32_t shard = static_cast<uint32_t>(id % 2);
    workers.push_back(ringo::spawn_on(shard, worker(id, tx)));
  }
  tx = {};
  while (auto v = co_await rx.recv()) *sum += *v;
  for (auto& w : workers) co_await w.join();
}

// Waits on a channel whose Sender it keeps: nothing can ever wake it.
ringo::Task<void> stuck() {
  auto [tx, rx] = std::move(*ringo::chan<int>(0));
  co_await rx.recv();
}

bool expect(bool ok, const std::string& what) {
  if (!ok) std::fprintf(stderr, "sim_consumer: FAILED: %s\n", what.c_str());
  return ok;
}

}  // namespace

int main() {
  long expected = 0;
  for (int id = 0; id < kWorkers; ++id) expected += id;

  ringo::sim::SimConfig config;
  config.seed = 42;
  config.shards = 2;
  config.faults = ringo::sim::FaultConfig::light();
  long sums[2] = {0, 0};
  ringo::sim::Report runs[2];
  for (int i = 0; i < 2; ++i) runs[i] = ringo::sim::run(config, [&sums, i] { return fan_in(&sums[i]); });

  bool ok = true;
  ok = expect(runs[0].ok(), "fan-in run: " + runs[0].summary()) && ok;
  ok = expect(sums[0] == expected && sums[1] == expected, "fan-in sums " + std::to_string(sums[0]) + " and " +
                                                              std::to_string(sums[1]) + ", expected " +
                                                              std::to_string(expected)) &&
       ok;
  ok = expect(runs[0].trace_hash == runs[1].trace_hash && runs[0].trace_events == runs[1].trace_events,
              "seed " + std::to_string(config.seed) + " replayed differently") &&
       ok;

  const ringo::sim::Report blocked = ringo::sim::run(config, [] { return stuck(); });
  ok = expect(blocked.error == ringo::errc::deadlock,
              "a blocked program was not reported as a deadlock: " + blocked.summary()) &&
       ok;
  std::printf("sim_consumer: ringo %.*s, trace hash %llu, %s\n", static_cast<int>(ringo::version().size()),
              ringo::version().data(), static_cast<unsigned long long>(runs[0].trace_hash),
              ok ? "all checks passed" : "FAILED");
  return ok ? 0 : 1;
}
