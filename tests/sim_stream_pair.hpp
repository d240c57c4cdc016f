// Helpers of the simulator's stream tests (owned_send_sim*_test.cpp,
// recv_buffer_sim_test.cpp): a byte pattern, a connected stream pair on one simulated
// shard, and the tally of cancel outcomes.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "byte_pattern.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo::sim_stream_pair {

using namespace std::chrono_literals;

inline Instant in(Duration d) { return detail::current_shard()->now() + d; }

inline std::string pattern(size_t n) { return testing::byte_pattern(n, 99); }

// Runs fn(client, server) on one simulated shard of config c; the connection is made
// before fn runs.
template <class Fn>
sim::Report with_pair(sim::SimConfig c, Fn fn) {
  c.shards = 1;
  const uint64_t seed = c.seed;
  return sim::run(c, [seed, fn]() -> Task<void> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    auto client = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()));
    auto server = co_await listener->accept();
    if (!client || !server) co_return ADD_FAILURE() << "seed " << seed << ": no connection";
    co_await fn(&*client, &*server);
  });
}

template <class Fn>
sim::Report with_pair(uint64_t seed, Fn fn) {
  sim::SimConfig c;
  c.seed = seed;
  return with_pair(c, fn);
}

// The three outcomes of a cancel (docs/cancellation.md), summed over seeds from the
// shard's counters before and after each run.
struct CancelCounts {
  uint64_t before_submit = 0;
  uint64_t by_kernel = 0;
  uint64_t completed_anyway = 0;
  void add(const ShardStats& before, const ShardStats& after) {
    before_submit += after.ops_cancelled_before_submit - before.ops_cancelled_before_submit;
    by_kernel += after.ops_cancelled_by_kernel - before.ops_cancelled_by_kernel;
    completed_anyway += after.ops_completed_despite_cancel - before.ops_completed_despite_cancel;
  }
};

// Reads until end of stream (or an error) after start_after.
inline Task<std::string> drain(const net::StreamSocket* s, Duration start_after) {
  co_await sleep(start_after);
  std::string got;
  std::string buf(16 * 1024, '\0');
  for (;;) {
    Result<size_t> n = co_await s->read(buf, in(10s));
    if (!n || *n == 0) co_return got;
    got.append(buf.data(), *n);
  }
}

}  // namespace ringo::sim_stream_pair
