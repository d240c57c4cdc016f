// A program built against an installed ringo, as a user would build it (scripts/
// test-install.sh builds it with find_package and with pkg-config): routines on two shards,
// a channel, timers and a deadline, on each backend named on the command line (default:
// uring sim aio). Exits 0 only if every run's results are right and the headers and the
// linked library are the same version; otherwise prints what was wrong and exits 1.
#include <chrono>
#include <cstdio>
#include <ringo/ringo.hpp>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kWorkers = 8;

// Sleeps id ms (the shard's timer heap), then sends id * id.
ringo::Task<void> worker(int id, ringo::Sender<int> tx) {
  co_await ringo::sleep(std::chrono::milliseconds(id));
  co_await tx.send(id * id);
}

ringo::Task<int> square_after_yield(int x) {
  co_await ringo::yield_now();
  co_return x* x;
}

// The whole check on one runtime: an empty string when every result is right.
ringo::Task<std::string> check_all() {
  long expected_sum = 0;
  for (int id = 1; id <= kWorkers; ++id) expected_sum += id * id;

  // Routines and a channel: the channel closes when the last worker's Sender goes.
  auto made = ringo::chan<int>(2);
  if (!made) co_return "chan: " + made.error().message();
  ringo::Receiver<int> rx = std::move(made->second);
  std::vector<ringo::JoinHandle<void>> workers;
  {
    ringo::Sender<int> tx = std::move(made->first);
    for (int id = 1; id <= kWorkers; ++id) workers.push_back(ringo::go(worker(id, tx)));
  }
  long sum = 0;
  int received = 0;
  for (;;) {
    auto v = co_await rx.recv();
    if (!v) {
      if (v.error() == ringo::errc::channel_closed) break;
      co_return "recv: " + v.error().message();
    }
    sum += *v;
    ++received;
  }
  for (auto& w : workers) {
    if (auto joined = co_await w.join(); !joined) co_return "join: " + joined.error().message();
  }
  if (received != kWorkers || sum != expected_sum) {
    co_return "channel: received " + std::to_string(received) + " values summing to " + std::to_string(sum) +
        ", expected " + std::to_string(kWorkers) + " summing to " + std::to_string(expected_sum);
  }

  // A routine on the other shard.
  auto remote = ringo::spawn_on(1, square_after_yield(kWorkers));
  auto squared = co_await remote.join();
  if (!squared) co_return "spawn_on: " + squared.error().message();
  if (*squared != kWorkers * kWorkers) co_return "spawn_on: got " + std::to_string(*squared);

  // Timers as channels: each delivers the ring clock's instant when it fired, never before
  // it was due; t0 is read before the other two are made, so they are due 2 and 7 ms after.
  auto t0 = co_await ringo::timer_chan(0ms).recv();
  auto early = ringo::timer_chan(2ms);
  auto late = ringo::timer_chan(7ms);
  auto late_at = co_await late.recv();
  auto early_at = co_await early.recv();
  if (!t0 || !late_at || !early_at) co_return "timer_chan: a timer did not fire";
  if (*early_at - *t0 < 2ms || *late_at - *t0 < 7ms || *late_at < *early_at) {
    co_return "timer_chan: fired early or out of order (t0 + " + std::to_string((*early_at - *t0).count()) +
        " ns and t0 + " + std::to_string((*late_at - *t0).count()) + " ns)";
  }

  // A deadline on a receive nobody will satisfy.
  auto [idle_tx, idle_rx] = std::move(*ringo::chan<int>(1));
  auto waited = co_await ringo::with_timeout(3ms, idle_rx.recv());
  if (waited || waited.error() != ringo::errc::timed_out) co_return "with_timeout: the receive did not time out";
  co_return "";
}

bool run_on(const std::string& name) {
  ringo::RuntimeConfig config;
  config.shards = 2;
  if (name == "uring") {
    config.backend = ringo::Backend::uring;
  } else if (name == "sim") {
    config.backend = ringo::Backend::sim;
  } else if (name == "aio") {
    config.backend = ringo::Backend::aio;
  } else {
    std::fprintf(stderr, "consumer: unknown backend '%s' (uring, sim or aio)\n", name.c_str());
    return false;
  }
  auto rt = ringo::Runtime::create(config);
  if (!rt) {
    std::fprintf(stderr, "consumer [%s]: cannot start: %s\n", name.c_str(), rt.error().message().c_str());
    return false;
  }
  auto result = rt->block_on(check_all());
  if (!result || !result->empty()) {
    std::fprintf(stderr, "consumer [%s]: FAILED: %s\n", name.c_str(),
                 result ? result->c_str() : result.error().message().c_str());
    return false;
  }
  std::printf("consumer [%s]: ok (%s)\n", name.c_str(), rt->backend_report().c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (ringo::version() != RINGO_VERSION_STRING) {
    std::fprintf(stderr, "consumer: headers say ringo %s, the linked library says %.*s\n", RINGO_VERSION_STRING,
                 static_cast<int>(ringo::version().size()), ringo::version().data());
    return 1;
  }
  std::vector<std::string> backends(argv + 1, argv + argc);
  if (backends.empty()) backends = {"uring", "sim", "aio"};
  bool ok = true;
  for (const auto& b : backends) ok = run_on(b) && ok;
  std::printf("consumer: ringo %s, %s\n", RINGO_VERSION_STRING, ok ? "all backends passed" : "FAILED");
  return ok ? 0 : 1;
}
