// The README's example, kept compiling: a routine here, a routine on shard 1, a channel.
#include <cstdio>
#include <ringo/ringo.hpp>

using namespace std::chrono_literals;

ringo::Task<int> child() {
  co_await ringo::sleep(1ms);
  co_return 41;
}

ringo::Task<int> main_task() {
  auto local = ringo::go(child());            // same shard
  auto remote = ringo::spawn_on(1, child());  // shard 1, via MSG_RING
  int a = (co_await local.join()).value_or(0);
  int b = (co_await remote.join()).value_or(0);

  auto [tx, rx] = std::move(*ringo::chan<int>(1));
  co_await tx.send(a + b - 40);
  auto v = co_await ringo::with_timeout(10ms, rx.recv());
  co_return v.value_or(0);
}

int main() {
  auto rt = ringo::Runtime::create({.shards = 2});  // RINGO_BACKEND=sim for the simulator
  if (!rt) {
    std::fprintf(stderr, "ringo: %s\n", rt.error().message().c_str());
    return 1;
  }
  const int answer = rt->block_on(main_task()).value_or(0);
  std::printf("answer: %d (%s)\n", answer, rt->backend_report().c_str());
  return answer == 42 ? 0 : 1;
}
