// An echo server and a closed-loop load generator, written once against ringo's API and
// run unchanged on io_uring and in the simulator (examples/echo_server, tools/ringo-load,
// tests/net_test, bench/echo_compare.sh).
//
// Server: one listener per shard on the same port (SO_REUSEPORT), so the kernel (or the
// simulated network) spreads connections and no connection ever changes shard. Each
// connection is a routine that echoes until the peer shuts down.
//
// Load: C connections spread over the shards; each sends a message of S bytes, waits for
// the echo, checks every byte and records the round trip, until the duration ends or a
// per-connection request count is reached.
#pragma once

#include <string>
#include <vector>

#include "ringo/ringo.hpp"

namespace ringo::echo {

// How the server writes its echoes: copied (write_all), or zero-copy from the very buffer
// it read into, handed over to the kernel (write_all_owned), so the next read goes into a
// fresh buffer without waiting for the peer's ACK.
enum class WriteMode { copy, owned_zero_copy };

// Echoes one connection until EOF; returns the bytes echoed.
Task<Result<uint64_t>> echo_connection(net::TcpStream stream, WriteMode mode = WriteMode::copy);

struct Server {
  uint16_t port = 0;
  std::vector<JoinHandle<Result<void>>> accept_loops;  // one per shard
  // Cancels the accept loops (connections being served run on until their peers close).
  void stop();
};

// Binds addr on every shard (port 0 picks one, shared by all) and serves.
Task<Result<Server>> start_server(net::SocketAddr addr, WriteMode mode = WriteMode::copy);

struct LoadConfig {
  net::SocketAddr target;
  uint32_t connections = 64;
  size_t message_size = 64;
  Duration duration = std::chrono::seconds(1);
  uint64_t requests_per_connection = 0;            // 0: until the duration ends
  Duration op_timeout = std::chrono::seconds(10);  // per request (its write and its read)
};

struct LoadReport {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  uint64_t corrupted = 0;  // echoes that differed from what was sent
  uint64_t failed_connections = 0;
  std::vector<std::error_code> errors;  // one per failed connection
  Duration elapsed{0};
  std::vector<int64_t> latencies_ns;  // sorted round trips

  double requests_per_second() const;
  Duration percentile(double p) const;
  std::string summary() const;
};

Task<LoadReport> run_load(LoadConfig config);

}  // namespace ringo::echo
