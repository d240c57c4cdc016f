// A connected loopback TCP pair on the current shard, for the stream tests that run on
// every backend (owned_send_test.cpp, recv_buffer_test.cpp).
#pragma once

#include "ringo/ringo.hpp"

namespace ringo::testing {

struct TcpPair {
  net::TcpStream client;
  net::TcpStream server;
};

// Listens on a free loopback port, then connects and accepts, each within `wait`.
inline Task<Result<TcpPair>> connected_pair(Duration wait) {
  auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
  if (!listener) co_return std::unexpected(listener.error());
  const Instant deadline = detail::current_shard()->now() + wait;
  auto client =
      co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(listener->local_addr()->port()), deadline);
  if (!client) co_return std::unexpected(client.error());
  auto server = co_await listener->accept(deadline);
  if (!server) co_return std::unexpected(server.error());
  co_return TcpPair{std::move(*client), std::move(*server)};
}

}  // namespace ringo::testing
