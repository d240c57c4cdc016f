// A multi-shard TCP echo server: one SO_REUSEPORT listener per shard.
//
//   echo_server [--addr 127.0.0.1:7000] [--shards 2]        serve until killed
//               [--idle-spin-us U]   spin U us before sleeping in the kernel (default 50)
//               [--zero-copy]        echo with write_all_owned (SEND_ZC from the read buffer)
//   echo_server --self-test [--connections 100]             serve and load itself, then exit
//
// RINGO_BACKEND=sim runs it in the simulator (only --self-test makes sense there: the
// simulated network has no outside clients).
#include <charconv>
#include <cstdio>
#include <string>

#include "echo.hpp"

using namespace ringo;

namespace {

struct Options {
  std::string addr = "127.0.0.1:7000";
  uint32_t shards = 2;
  bool self_test = false;
  uint32_t connections = 100;
  int64_t idle_spin_us = -1;  // -1: the runtime's default
  echo::WriteMode mode = echo::WriteMode::copy;
};

Task<Result<void>> serve_forever(net::SocketAddr addr, echo::WriteMode mode) {
  Result<echo::Server> server = co_await echo::start_server(addr, mode);
  if (!server) co_return std::unexpected(server.error());
  std::printf("echo_server: listening on port %u on every shard\n", server->port);
  std::fflush(stdout);
  for (auto& loop : server->accept_loops) {
    if (auto r = co_await loop.join(); !r) co_return std::unexpected(r.error());
  }
  co_return Result<void>{};
}

Task<Result<echo::LoadReport>> self_test(net::SocketAddr addr, uint32_t connections, echo::WriteMode mode) {
  Result<echo::Server> server = co_await echo::start_server(addr.with_port(0), mode);
  if (!server) co_return std::unexpected(server.error());
  echo::LoadConfig load;
  load.target = addr.with_port(server->port);
  load.connections = connections;
  load.message_size = 512;
  load.requests_per_connection = 20;
  load.duration = std::chrono::seconds(60);
  echo::LoadReport report = co_await echo::run_load(load);
  server->stop();
  co_return report;
}

int usage(const std::string& why) {
  std::fprintf(stderr,
               "echo_server: %s\n"
               "usage: echo_server [--addr IP:PORT] [--shards 1..256] [--self-test] [--connections 1..100000] "
               "[--idle-spin-us 0..1000000] [--zero-copy]\n",
               why.c_str());
  return 2;
}

// A whole decimal number in [lo, hi]; anything else (sign, space, suffix, overflow) is refused.
template <class N>
bool parse_number(const std::string& text, N lo, N hi, N& out) {
  N v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

// Fills o from argv; returns what is wrong, or "".
std::string parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--self-test") {
      o.self_test = true;
      continue;
    }
    if (a == "--zero-copy") {
      o.mode = echo::WriteMode::owned_zero_copy;
      continue;
    }
    if (i + 1 >= argc) return "unknown or incomplete flag '" + a + "'";
    const std::string v = argv[++i];
    bool ok = true;
    if (a == "--addr") {
      o.addr = v;
    } else if (a == "--shards") {
      ok = parse_number<uint32_t>(v, 1, 256, o.shards);
    } else if (a == "--connections") {
      ok = parse_number<uint32_t>(v, 1, 100000, o.connections);
    } else if (a == "--idle-spin-us") {
      ok = parse_number<int64_t>(v, 0, 1000000, o.idle_spin_us);
    } else {
      return "unknown flag '" + a + "'";
    }
    if (!ok) return "bad value '" + v + "' for " + a;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (std::string why = parse(argc, argv, o); !why.empty()) return usage(why);
  Result<net::SocketAddr> addr = net::SocketAddr::parse(o.addr);
  if (!addr) return usage("bad address '" + o.addr + "'");
  RuntimeConfig config{.shards = o.shards};
  if (o.idle_spin_us >= 0) config.idle_spin = std::chrono::microseconds(o.idle_spin_us);
  auto rt = Runtime::create(config);
  if (!rt) {
    std::fprintf(stderr, "echo_server: %s (%s)\n", rt.error().message().c_str(), "see RINGO_BACKEND");
    return 1;
  }
  if (!o.self_test) {
    auto r = rt->block_on(serve_forever(*addr, o.mode));
    std::fprintf(stderr, "echo_server: %s\n", r ? "stopped" : r.error().message().c_str());
    return r ? 0 : 1;
  }
  auto r = rt->block_on(self_test(*addr, o.connections, o.mode));
  if (!r) {
    std::fprintf(stderr, "echo_server self-test: %s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("echo self-test on %s: %u connections, %s\n", backend_name(rt->backend()), o.connections,
              r->summary().c_str());
  return r->corrupted == 0 && r->failed_connections == 0 && r->requests == uint64_t{o.connections} * 20 ? 0 : 1;
}
