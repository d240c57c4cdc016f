// ringo-demo: the same multi-shard program on real io_uring and in the simulator.
//
// A coordinator on shard 0 fans work out to every shard (spawn_on). Each worker sleeps a
// little, checks in with the coordinator's shard through a cross-shard call, and sends its
// result on a channel homed on its own shard; the coordinator gathers the results with one
// select over the channels of every shard (and a timeout). On the simulator the run is
// repeated with the same seed to show the trace hash is reproducible.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

using namespace std::chrono_literals;
using ringo::Task;

namespace {

Task<void> worker(int job, ringo::Sender<int> results) {
  auto slept = co_await ringo::sleep(std::chrono::microseconds(100 * (job % 5 + 1)));
  if (!slept) co_return;
  // Check in with the coordinator's shard: a cross-shard call that runs there.
  auto ack = co_await ringo::submit_to(0, [job] { return job; });
  co_await results.send(ack.value_or(-1) * 10 + static_cast<int>(ringo::shard_index().value_or(0)));
}

Task<std::string> coordinator(uint32_t shards, int jobs) {
  // One result channel per shard, homed there: each worker sends on its own shard.
  std::vector<ringo::Sender<int>> txs;
  std::vector<ringo::Receiver<int>> rxs;
  for (uint32_t s = 0; s < shards; ++s) {
    auto made = co_await ringo::submit_to(s, [] { return ringo::chan<int>(8); });
    if (!made) co_return "cannot make a channel: " + made.error().message();
    txs.push_back(std::move(made->first));
    rxs.push_back(std::move(made->second));
  }
  std::vector<ringo::JoinHandle<void>> handles;
  for (int j = 0; j < jobs; ++j) {
    const uint32_t shard = static_cast<uint32_t>(j) % shards;
    handles.push_back(ringo::spawn_on(shard, worker(j, txs[shard])));
  }
  long sum = 0;
  int received = 0;
  int timeouts = 0;
  while (received < jobs && timeouts < 3) {
    ringo::Selector sel;  // one select over the channels of every shard
    std::vector<ringo::RecvCase<int>*> cases;
    for (auto& rx : rxs) cases.push_back(&sel.recv(rx));
    sel.timeout(1s);
    auto chosen = co_await sel.wait();
    if (!chosen) co_return "select failed: " + chosen.error().message();
    if (*chosen == cases.size()) {
      ++timeouts;
      continue;
    }
    if (auto& v = *cases[*chosen]->value; v) sum += *v, ++received;
  }
  for (auto& h : handles) co_await h.join();
  co_return std::to_string(jobs) + " jobs on " + std::to_string(shards) + " shards, sum=" + std::to_string(sum) +
      ", received=" + std::to_string(received) + " (by select across shards)";
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
  backend = rt->backend();  // automatic: the one chosen (io_uring, else AIO)
  std::printf("[%s] %s\n", ringo::backend_name(backend), rt->backend_report().c_str());
  auto result = rt->block_on(coordinator(config.shards, 64));
  if (!result || result->find(" received=64 ") == std::string::npos) {
    std::printf("[%s] failed: %s\n", ringo::backend_name(backend),
                result ? result->c_str() : result.error().message().c_str());
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
  // A real backend first: io_uring, or AIO where io_uring is refused (or RINGO_BACKEND=aio).
  int rc = run_on(ringo::Backend::automatic, seed);
  rc |= run_on(ringo::Backend::sim, seed);
  std::printf("[sim] replaying the same seed:\n");
  rc |= run_on(ringo::Backend::sim, seed);
  return rc;
}
