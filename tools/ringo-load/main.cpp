// ringo-load: a closed-loop TCP echo load generator built on ringo.
//
//   ringo-load --addr 127.0.0.1:7000 [-c 64] [-s 64] [-d 3] [--shards 1]
//
// C connections, each sending S-byte messages and waiting for the echo, for D seconds.
// Prints requests/s and p50/p99/p999 round-trip latency; checks every echoed byte and
// exits 1 if any byte was wrong or a connection failed.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "echo.hpp"

using namespace ringo;
using namespace ringo::detail;  // white-box: the engine's internals

int main(int argc, char** argv) {
  std::string addr_text = "127.0.0.1:7000";
  echo::LoadConfig config;
  uint32_t shards = 1;
  double seconds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "ringo-load: %s needs a value\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--addr") {
      addr_text = v;
    } else if (a == "-c") {
      config.connections = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "-s") {
      config.message_size = std::strtoul(v, nullptr, 10);
    } else if (a == "-d") {
      seconds = std::strtod(v, nullptr);
    } else if (a == "--shards") {
      shards = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: ringo-load --addr IP:PORT [-c conns] [-s bytes] [-d seconds] [--shards N]\n");
      return 2;
    }
  }
  auto addr = net::SocketAddr::parse(addr_text);
  if (!addr || config.connections == 0 || config.message_size == 0 || seconds <= 0 || shards == 0) {
    std::fprintf(stderr, "ringo-load: bad arguments\n");
    return 2;
  }
  config.target = *addr;
  config.duration = Duration{static_cast<int64_t>(seconds * 1e9)};
  auto rt = Runtime::create({.shards = shards});
  if (!rt) {
    std::fprintf(stderr, "ringo-load: %s\n", rt.error().message().c_str());
    return 1;
  }
  auto report = rt->block_on(echo::run_load(config));
  if (!report) {
    std::fprintf(stderr, "ringo-load: %s\n", report.error().message().c_str());
    return 1;
  }
  std::printf("ringo-load c=%u s=%zu: %s\n", config.connections, config.message_size, report->summary().c_str());
  for (size_t i = 0; i < report->errors.size() && i < 5; ++i) {
    std::fprintf(stderr, "  connection error: %s\n", report->errors[i].message().c_str());
  }
  return report->corrupted == 0 && report->failed_connections == 0 ? 0 : 1;
}
