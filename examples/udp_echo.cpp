// A UDP echo server: every datagram goes back to its sender, whole (or cut to the
// server's 64 KiB buffer, which the server reports).
//
//   udp_echo [--addr 127.0.0.1:7001] [--buffered] [--routines N]   serve until killed
//   udp_echo --self-test [--count 200] [--buffered]  serve and send itself `count`
//                                         datagrams of growing size, check every echo,
//                                         then exit
//
// --buffered: the server receives with recv_from_buffered (one multishot receive into
// the shard's buffer ring) instead of recv_from into its own buffer. --routines N: N loops
// on the socket (default 1), so that N sends can be in flight at once.
//
// RINGO_BACKEND=sim runs it in the simulator (only --self-test makes sense there). The
// self-test resends a datagram that has not come back within 200 ms (UDP may lose one;
// the simulator does when FaultConfig's udp_loss_ppm asks) and exits 1 on a wrong echo.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
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

// The same, each datagram taken from the shard's buffer ring (sent from it, then given back).
Task<Result<void>> serve_buffered(const net::UdpSocket* sock) {
  while (true) {
    auto got = co_await sock->recv_from_buffered();
    if (!got) co_return std::unexpected(got.error());
    if (got->truncated()) std::fprintf(stderr, "udp_echo: a %zu-byte datagram was cut\n", got->datagram_size());
    auto sent = co_await sock->send_to(got->span(), got->from());
    if (!sent) co_return std::unexpected(sent.error());
  }
}

Task<Result<void>> serve_one(const net::UdpSocket* sock, bool buffered) {
  if (buffered) co_return co_await serve_buffered(sock);
  co_return co_await serve(sock);
}

// `routines` loops on the one socket. Each waits for its send before it takes the next
// datagram, so one loop has one datagram in flight; several overlap their sends, and the
// shard submits them together (bench/udp_compare.sh measures 1 and 16).
Task<Result<void>> serve_with(const net::UdpSocket* sock, bool buffered, uint32_t routines) {
  std::vector<JoinHandle<Result<void>>> others;
  for (uint32_t i = 1; i < routines; ++i) others.push_back(go(serve_one(sock, buffered)));
  Result<void> r = co_await serve_one(sock, buffered);
  for (auto& h : others) (void)h.abort();
  co_return r;
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

Task<Result<void>> self_test(net::SocketAddr addr, size_t count, bool buffered, uint32_t routines) {
  auto server = net::UdpSocket::bind(addr.with_port(0));
  if (!server) co_return std::unexpected(server.error());
  auto serving = go(serve_with(&*server, buffered, routines));
  auto client = net::UdpSocket::bind(addr.with_port(0));
  if (!client) co_return std::unexpected(client.error());
  for (size_t i = 0; i < count; ++i) {
    if (auto r = co_await one_round(*client, *server->local_addr(), i); !r) co_return r;
  }
  (void)serving.abort();
  co_return Result<void>{};
}

Task<Result<void>> listen_and_serve(net::SocketAddr addr, bool buffered, uint32_t routines) {
  auto sock = net::UdpSocket::bind(addr);
  if (!sock) co_return std::unexpected(sock.error());
  std::printf("udp_echo: serving on %s\n", sock->local_addr()->to_string().c_str());
  std::fflush(stdout);
  co_return co_await serve_with(&*sock, buffered, routines);
}

// A whole decimal number in [1, most].
template <class T>
bool parse_number(std::string_view text, T most, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() && out > 0 && out <= most;
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr_text = "127.0.0.1:7001";
  bool self = false, buffered = false;
  size_t count = 200;  // datagram i has i + 1 bytes
  uint32_t routines = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--self-test") {
      self = true;
    } else if (a == "--buffered") {
      buffered = true;
    } else if (a == "--addr" && i + 1 < argc) {
      addr_text = argv[++i];
    } else if (a == "--count" && i + 1 < argc && parse_number<size_t>(argv[i + 1], 65000, count)) {
      ++i;
    } else if (a == "--routines" && i + 1 < argc && parse_number<uint32_t>(argv[i + 1], 256, routines)) {
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: udp_echo [--addr IP:PORT] [--buffered] [--routines 1..256] [--self-test [--count "
                   "1..65000]]\n");
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
  Joined<void> r = self ? rt->block_on(self_test(*addr, count, buffered, routines))
                        : rt->block_on(listen_and_serve(*addr, buffered, routines));
  if (!r) {
    std::fprintf(stderr, "udp_echo: failed: %s\n", r.error().message().c_str());
    return 1;
  }
  if (self) std::printf("udp_echo: self-test passed: %zu datagrams echoed\n", count);
  return 0;
}
