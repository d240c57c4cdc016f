// The echo server and load generator of echo.hpp.
#include "echo.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>

namespace ringo::echo {

// ---------------------------------------------------------------- server

namespace {

constexpr size_t kReadSize = 16 * 1024;

// Reads into a fresh SendBuffer each time and hands it, filled, to write_all_owned.
Task<Result<uint64_t>> echo_owned(const net::TcpStream& stream) {
  uint64_t echoed = 0;
  while (true) {
    net::SendBuffer buf(kReadSize);
    Result<size_t> n = co_await stream.read(buf.span());
    if (!n) co_return std::unexpected(n.error());
    if (*n == 0) co_return echoed;
    (void)buf.resize(*n);  // n <= kReadSize
    if (auto w = co_await stream.write_all_owned(std::move(buf)); !w) co_return std::unexpected(w.error());
    echoed += *n;
  }
}

Task<Result<uint64_t>> echo_copied(const net::TcpStream& stream) {
  // Not zeroed: read() overwrites what it returns, and zeroing 16 KiB per connection
  // showed in the profile of short simulated connections (fuzz_net, docs/fuzzing.md).
  const auto storage = std::make_unique_for_overwrite<char[]>(kReadSize);
  const std::span<char> buf(storage.get(), kReadSize);
  uint64_t echoed = 0;
  while (true) {
    Result<size_t> n = co_await stream.read(buf);
    if (!n) co_return std::unexpected(n.error());
    if (*n == 0) co_return echoed;
    if (auto w = co_await stream.write_all(buf.first(*n)); !w) {
      co_return std::unexpected(w.error());
    }
    echoed += *n;
  }
}

}  // namespace

Task<Result<uint64_t>> echo_connection(net::TcpStream stream, WriteMode mode) {
  Result<uint64_t> echoed;
  if (mode == WriteMode::owned_zero_copy) {
    echoed = co_await echo_owned(stream);
  } else {
    echoed = co_await echo_copied(stream);
  }
  if (echoed) (void)co_await stream.close();
  co_return echoed;
}

namespace {

Task<Result<void>> accept_loop(net::TcpListener listener, WriteMode mode) {
  while (true) {
    Result<net::TcpStream> conn = co_await listener.accept();
    if (!conn) {
      if (conn.error() == errc::cancelled) co_return Result<void>{};
      if (conn.error() == std::errc::too_many_files_open) {
        co_await sleep(std::chrono::milliseconds(1));  // shed load until descriptors free up
        continue;
      }
      co_return std::unexpected(conn.error());
    }
    (void)conn->set_nodelay(true);
    go(echo_connection(std::move(*conn), mode)).detach();
  }
}

Task<Result<net::TcpListener>> bind_here(net::SocketAddr addr) {
  co_return net::TcpListener::bind(addr, {.backlog = 4096, .reuse_addr = true, .reuse_port = true});
}

}  // namespace

void Server::stop() {
  for (auto& loop : accept_loops) (void)loop.abort();
}

Task<Result<Server>> start_server(net::SocketAddr addr, WriteMode mode) {
  const Result<uint32_t> home = shard_index();
  if (!home) co_return std::unexpected(home.error());
  Server server;
  Result<net::TcpListener> first = co_await bind_here(addr);
  if (!first) co_return std::unexpected(first.error());
  Result<net::SocketAddr> bound = first->local_addr();
  if (!bound) co_return std::unexpected(bound.error());
  server.port = bound->port();
  const uint32_t shards = shard_count().value_or(1);
  std::vector<std::pair<uint32_t, net::TcpListener>> listeners;
  listeners.emplace_back(*home, std::move(*first));
  const net::SocketAddr same_port = addr.with_port(server.port);
  for (uint32_t i = 0; i < shards; ++i) {
    if (i == *home) continue;
    Result<net::TcpListener> l = co_await submit_to(i, [same_port] { return bind_here(same_port); });
    if (!l) co_return std::unexpected(l.error());
    listeners.emplace_back(i, std::move(*l));
  }
  for (auto& [shard, listener] : listeners) {
    server.accept_loops.push_back(shard == *home ? go(accept_loop(std::move(listener), mode))
                                                 : spawn_on(shard, accept_loop(std::move(listener), mode)));
  }
  co_return server;
}

// ---------------------------------------------------------------- load

namespace {

struct ClientResult {
  uint64_t requests = 0;
  uint64_t corrupted = 0;
  std::error_code error;
  std::vector<int64_t> latencies_ns;
};

char pattern(uint32_t conn, uint64_t seq, size_t i) {
  return static_cast<char>((conn * 131u + seq * 31u + i * 7u) & 0xff);
}

Task<Result<ClientResult>> client(LoadConfig config, uint32_t id) {
  ClientResult out;
  const Instant stop_at = now().value() + config.duration;
  auto deadline = [&] { return now().value() + config.op_timeout; };
  Result<net::TcpStream> conn = co_await net::TcpStream::connect(config.target, deadline());
  if (!conn) {
    out.error = conn.error();
    co_return out;
  }
  (void)conn->set_nodelay(true);
  std::vector<char> sent(config.message_size), got(config.message_size);
  for (uint64_t seq = 0; now().value() < stop_at; ++seq) {
    if (config.requests_per_connection != 0 && seq >= config.requests_per_connection) break;
    for (size_t i = 0; i < sent.size(); ++i) sent[i] = pattern(id, seq, i);
    // The request's deadline is a shard timer around each step, not a linked timeout on
    // every read and write: a linked timeout doubles the kernel work of each op (two SQEs,
    // two CQEs; bench op_nop: 2.3 us against 1.0 us), and the load generator shares the
    // machine with the server it measures.
    const Instant start = now().value();
    const Instant request_deadline = start + config.op_timeout;
    if (auto w = co_await with_deadline(request_deadline, conn->write_all(sent)); !w) {
      out.error = w.error();
      co_return out;
    }
    if (auto r = co_await with_deadline(request_deadline, conn->read_exact(got)); !r) {
      out.error = r.error();
      co_return out;
    }
    out.latencies_ns.push_back((now().value() - start).count());
    if (got != sent) ++out.corrupted;
    ++out.requests;
  }
  // A clean end: our EOF, then the server's.
  if (auto s = co_await conn->shutdown(SHUT_WR, deadline()); !s) {
    out.error = s.error();
    co_return out;
  }
  char tail;
  Result<size_t> eof = co_await conn->read({&tail, 1}, deadline());
  if (!eof) {
    out.error = eof.error();
  } else if (*eof != 0) {
    ++out.corrupted;  // the server sent bytes nobody asked for
  }
  co_return out;
}

}  // namespace

Task<LoadReport> run_load(LoadConfig config) {
  LoadReport report;
  const uint32_t shards = shard_count().value();
  const uint32_t home = shard_index().value();
  const Instant start = now().value();
  std::vector<JoinHandle<Result<ClientResult>>> clients;
  for (uint32_t c = 0; c < config.connections; ++c) {
    const uint32_t shard = c % shards;
    clients.push_back(shard == home ? go(client(config, c)) : spawn_on(shard, client(config, c)));
  }
  for (auto& h : clients) {
    Result<ClientResult> r = co_await h.join();
    if (!r) {
      ++report.failed_connections;
      report.errors.push_back(r.error());
      continue;
    }
    report.requests += r->requests;
    report.corrupted += r->corrupted;
    report.latencies_ns.insert(report.latencies_ns.end(), r->latencies_ns.begin(), r->latencies_ns.end());
    if (r->error) {
      ++report.failed_connections;
      report.errors.push_back(r->error);
    }
  }
  report.elapsed = now().value() - start;
  report.bytes = report.requests * config.message_size;
  std::sort(report.latencies_ns.begin(), report.latencies_ns.end());
  co_return report;
}

double LoadReport::requests_per_second() const {
  return elapsed.count() > 0 ? static_cast<double>(requests) * 1e9 / static_cast<double>(elapsed.count()) : 0.0;
}

Duration LoadReport::percentile(double p) const {
  if (latencies_ns.empty()) return Duration{0};
  const auto i = static_cast<size_t>(p * static_cast<double>(latencies_ns.size() - 1));
  return Duration{latencies_ns[std::min(i, latencies_ns.size() - 1)]};
}

std::string LoadReport::summary() const {
  char line[256];
  std::snprintf(line, sizeof line,
                "requests=%llu rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f corrupted=%llu failed_connections=%llu",
                static_cast<unsigned long long>(requests), requests_per_second(),
                static_cast<double>(percentile(0.50).count()) / 1e3,
                static_cast<double>(percentile(0.99).count()) / 1e3,
                static_cast<double>(percentile(0.999).count()) / 1e3, static_cast<unsigned long long>(corrupted),
                static_cast<unsigned long long>(failed_connections));
  return line;
}

}  // namespace ringo::echo
