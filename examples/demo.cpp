// ringo-demo: the same multi-shard program on real io_uring and in the simulator.
//
// A coordinator on shard 0 fans work out to every shard (spawn_on), each worker sleeps a
// little and reports back through a cross-shard call; the coordinator sums the results.
// On the simulator the run is repeated with the same seed to show the trace hash is
// reproducible.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

using namespace std::chrono_literals;
using ringo::Task;

namespace {

Task<int> worker(int job) {
  ringo::Shard& here = *ringo::current_shard();
  auto slept = co_await ringo::sleep(std::chrono::microseconds(100 * (job % 5 + 1)));
  if (!slept) co_return -1;
  // Report to the coordinator's shard: a cross-shard call that runs there.
  auto ack = co_await ringo::submit_to(0, [job] { return job; });
  co_return ack.value_or(-1) * 10 + static_cast<int>(here.index());
}

Task<std::string> coordinator(uint32_t shards, int jobs) {
  std::vector<ringo::JoinHandle<ringo::Result<int>>> handles;
  for (int j = 0; j < jobs; ++j) handles.push_back(ringo::spawn_on(static_cast<uint32_t>(j) % shards, worker(j)));
  long sum = 0;
  int failed = 0;
  for (auto& h : handles) {
    auto r = co_await h.join();
    if (r && *r >= 0) {
      sum += *r;
    } else {
      ++failed;
    }
  }
  co_return std::to_string(jobs) + " jobs on " + std::to_string(shards) + " shards, sum=" + std::to_string(sum) +
      ", failed=" + std::to_string(failed);
}

int run_on(ringo::Backend backend, uint64_t seed) {
  ringo::RuntimeConfig config;
  config.shards = 2;
  config.backend = backend;
  config.seed = seed;
  auto rt = ringo::Runtime::create(config);
  if (!rt) {
    std::printf("[%s] cannot start: %s\n", ringo::backend_name(backend), rt.error().message().c_str());
    return 1;
  }
  std::printf("[%s] %s\n", ringo::backend_name(backend), rt->backend_report().c_str());
  auto result = rt->block_on(coordinator(config.shards, 64));
  if (!result) {
    std::printf("[%s] failed: %s\n", ringo::backend_name(backend), result.error().message().c_str());
    return 1;
  }
  const uint64_t hash = rt->trace_hash();
  auto down = rt->shutdown();
  const auto stats = rt->stats().total;
  std::printf("[%s] %s\n", ringo::backend_name(backend), result->c_str());
  std::printf("[%s] routines=%llu resumes=%llu ops=%llu doorbells=%llu envelopes=%llu; shutdown: %s\n",
              ringo::backend_name(backend), static_cast<unsigned long long>(stats.routines_spawned),
              static_cast<unsigned long long>(stats.resumes), static_cast<unsigned long long>(stats.ops_completed),
              static_cast<unsigned long long>(stats.doorbells_sent),
              static_cast<unsigned long long>(stats.envelopes_delivered), down.summary().c_str());
  if (backend == ringo::Backend::sim) {
    std::printf("[sim] seed=%llu trace hash=%016llx\n", static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(hash));
  }
  return 0;
}

}  // namespace

int main() {
  const uint64_t seed = ringo::sim::seed_from_env(2026);
  int rc = run_on(ringo::Backend::uring, seed);
  rc |= run_on(ringo::Backend::sim, seed);
  std::printf("[sim] replaying the same seed:\n");
  rc |= run_on(ringo::Backend::sim, seed);
  return rc;
}
