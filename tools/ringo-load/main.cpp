// ringo-load: a closed-loop TCP echo load generator built on ringo.
//
//   ringo-load --addr 127.0.0.1:7000 [-c 64] [-s 64] [-d 3] [--shards 1]
//
// Malformed or out-of-range numbers are refused with status 2 (whole seconds only).
//
// C connections, each sending S-byte messages and waiting for the echo, for D seconds.
// Prints requests/s and p50/p99/p999 round-trip latency; checks every echoed byte and
// exits 1 if any byte was wrong or a connection failed.
#include <charconv>
#include <cstdio>
#include <string>

#include "echo.hpp"

using namespace ringo;
using namespace ringo::detail;  // white-box: the engine's internals

namespace {

int usage(const std::string& why) {
  std::fprintf(stderr,
               "ringo-load: %s\n"
               "usage: ringo-load --addr IP:PORT [-c 1..100000 connections] [-s 1..1048576 bytes] "
               "[-d 1..3600 seconds] [--shards 1..256]\n",
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

struct Options {
  std::string addr = "127.0.0.1:7000";
  uint32_t connections = 64;
  size_t message_size = 64;
  uint32_t seconds = 3;
  uint32_t shards = 1;
};

// Fills o from argv; returns what is wrong, or "".
std::string parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return a + " needs a value";
    const std::string v = argv[++i];
    bool ok = true;
    if (a == "--addr") {
      o.addr = v;
    } else if (a == "-c") {
      ok = parse_number<uint32_t>(v, 1, 100000, o.connections);
    } else if (a == "-s") {
      ok = parse_number<size_t>(v, 1, size_t{1} << 20, o.message_size);
    } else if (a == "-d") {
      ok = parse_number<uint32_t>(v, 1, 3600, o.seconds);
    } else if (a == "--shards") {
      ok = parse_number<uint32_t>(v, 1, 256, o.shards);
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
  auto addr = net::SocketAddr::parse(o.addr);
  if (!addr) return usage("bad address '" + o.addr + "'");
  echo::LoadConfig config;
  config.connections = o.connections;
  config.message_size = o.message_size;
  const uint32_t shards = o.shards;
  const double seconds = o.seconds;
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
