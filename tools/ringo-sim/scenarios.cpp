// Scenarios that must pass on every seed: CI runs them with --check-determinism.
#include "echo.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim/scenario.hpp"

using namespace ringo;
using namespace std::chrono_literals;

RINGO_SCENARIO(echo, 2, "echo server on both shards, 8 clients x 10 requests, every byte checked") {
  auto server = co_await echo::start_server(net::SocketAddr::loopback_v4(0));
  if (!server) co_return std::unexpected(server.error());
  echo::LoadConfig load;
  load.target = net::SocketAddr::loopback_v4(server->port);
  load.connections = 8;
  load.requests_per_connection = 10;
  load.message_size = 300;
  load.duration = 1h;
  load.op_timeout = 60s;
  echo::LoadReport r = co_await echo::run_load(load);
  server->stop();
  co_return sim::check(r.corrupted == 0, "an echoed byte was wrong");
}

RINGO_SCENARIO(pipeline, 3, "three stages on three shards with select, a timeout and close") {
  auto [in_tx, in_rx] = std::move(*chan<int>(4));
  auto [out_tx, out_rx] = std::move(*chan<int>(0));
  auto stage = spawn_on(1, [](Receiver<int> in, Sender<int> out) -> Task<void> {
    while (auto v = co_await in.recv()) (void)co_await out.send(*v * 2);
    out.close();
  }(in_rx, std::move(out_tx)));
  auto feeder = spawn_on(2, [](Sender<int> out) -> Task<void> {
    for (int i = 0; i < 50; ++i) (void)co_await out.send(i);
    out.close();
  }(std::move(in_tx)));
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
  co_return sim::check(sum == 2 * (49 * 50 / 2), "pipeline sum " + std::to_string(sum));
}
