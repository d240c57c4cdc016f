// A UDP echo server: every datagram goes back to its sender, whole (or cut to the
// server's 64 KiB buffer, which the server reports).
//
//   udp_echo [--addr 127.0.0.1:7001]      serve until killed
//   udp_echo --self-test [--count 200]    serve and send itself `count` datagrams of
//                                         growing size, check every echo, then exit
//
// RINGO_BACKEND=sim runs it in the simulator (only --self-test makes sense there). The
// self-test resends a datagram that has not come back within 200 ms (UDP may lose one;
// the simulator does when FaultConfig's udp_loss_ppm asks) and exits 1 on a wrong echo.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ringo/ringo.hpp"

using namespace ringo;
using namespace std::chrono_literals;

namespace {

Task<Result<void>> serve(const net::UdpSocket* sock) {
  std::vector<char> buf(64 * 1024);
  while (true) {
    auto got = co_await sock->recv_from(buf);
    if (!got) co_return std::unexpected(got.error());
    if (got->truncated) std::fprintf(stderr, "udp_echo: a %zu-byte datagram was cut\n", got->datagram_size);
    auto sent = co_await sock->send_to(std::span(buf.data(), got->size), got->from);
    if (!sent) co_return std::unexpected(sent.error());
  }
}

// Sends datagram i (i+1 bytes of a pattern) until its echo comes back, checking it.
Task<Result<void>> one_round(const net::UdpSocket& client, net::SocketAddr server, size_t i) {
  std::string out(i + 1, '\0');
  for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<char>('a' + (i + k) % 26);
  std::vector<char> in(out.size() + 16);
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (auto s = co_await client.send_to(out, server); !s) co_return std::unexpected(s.error());
    const Instant deadline = *ringo::now() + 200ms;  // in a routine: now() has a value
    while (true) {
      auto got = co_await client.recv_from(in, deadline);
      if (!got && got.error() == errc::timed_out) break;  // lost: send again
      if (!got) co_return std::unexpected(got.error());
      if (got->size == out.size() && std::memcmp(in.data(), out.data(), out.size()) == 0) co_return Result<void>{};
      // An echo of an earlier resend (a duplicate) is fine; anything else is corruption.
      if (got->size > out.size()) co_return fail(errc::invalid_argument);
    }
  }
  co_return fail(errc::timed_out);
}

Task<Result<void>> self_test(net::SocketAddr addr, size_t count) {
  auto server = net::UdpSocket::bind(addr.with_port(0));
  if (!server) co_return std::unexpected(server.error());
  auto serving = go(serve(&*server));
  auto client = net::UdpSocket::bind(addr.with_port(0));
  if (!client) co_return std::unexpected(client.error());
  for (size_t i = 0; i < count; ++i) {
    if (auto r = co_await one_round(*client, *server->local_addr(), i); !r) co_return r;
  }
  (void)serving.abort();
  co_return Result<void>{};
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr_text = "127.0.0.1:7001";
  bool self = false;
  size_t count = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--self-test") {
      self = true;
    } else if (a == "--addr" && i + 1 < argc) {
      addr_text = argv[++i];
    } else if (a == "--count" && i + 1 < argc) {
      count = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: udp_echo [--addr IP:PORT] [--self-test [--count N]]\n");
      return 2;
    }
  }
  auto addr = net::SocketAddr::parse(addr_text);
  if (!addr) {
    std::fprintf(stderr, "udp_echo: bad --addr %s\n", addr_text.c_str());
    return 2;
  }
  RuntimeConfig config;
  config.shards = 1;
  auto rt = Runtime::create(config);
  if (!rt) {
    std::fprintf(stderr, "udp_echo: cannot start: %s\n", rt.error().message().c_str());
    return 1;
  }
  Joined<void> r =
      self ? rt->block_on(self_test(*addr, count)) : rt->block_on([](net::SocketAddr a) -> Task<Result<void>> {
        auto sock = net::UdpSocket::bind(a);
        if (!sock) co_return std::unexpected(sock.error());
        std::printf("udp_echo: serving on %s\n", sock->local_addr()->to_string().c_str());
        std::fflush(stdout);
        co_return co_await serve(&*sock);
      }(*addr));
  if (!r) {
    std::fprintf(stderr, "udp_echo: failed: %s\n", r.error().message().c_str());
    return 1;
  }
  if (self) std::printf("udp_echo: self-test passed: %zu datagrams echoed\n", count);
  return 0;
}
