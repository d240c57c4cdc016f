// TCP on every backend (io_uring on loopback, the simulated network), the echo server at
// scale on io_uring, and the echo under fault presets in the simulator.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <map>
#include <string>

#include "backends.hpp"
#include "echo.hpp"
#include "kv.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using testing::err;
using namespace std::chrono_literals;

class Net : public testing::OnEveryBackend {};

Instant in(Duration d) { return current_shard()->now() + d; }

// A connected pair on the current shard: (client, server side).
Task<Result<std::pair<net::TcpStream, net::TcpStream>>> connected_pair(net::SocketAddr where) {
  auto listener = net::TcpListener::bind(where);
  if (!listener) co_return std::unexpected(listener.error());
  auto bound = listener->local_addr();
  if (!bound) co_return std::unexpected(bound.error());
  auto client = co_await net::TcpStream::connect(*bound, in(5s));
  if (!client) co_return std::unexpected(client.error());
  auto server = co_await listener->accept(in(5s));
  if (!server) co_return std::unexpected(server.error());
  co_return std::pair{std::move(*client), std::move(*server)};
}

TEST_P(Net, EchoRoundTripAndAddresses) {
  auto r = run([]() -> Task<Result<std::string>> {
    auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
    if (!pair) co_return std::unexpected(pair.error());
    auto& [client, server] = *pair;
    EXPECT_EQ(client.peer_addr()->port(), server.local_addr()->port());
    EXPECT_EQ(server.peer_addr()->port(), client.local_addr()->port());
    EXPECT_EQ(client.peer_addr()->to_string().substr(0, 10), "127.0.0.1:");
    EXPECT_TRUE(client.set_nodelay(true));
    if (auto w = co_await client.write_all(std::string_view("ping")); !w) co_return std::unexpected(w.error());
    std::array<char, 4> got{};
    if (auto rd = co_await server.read_exact(got, in(5s)); !rd) co_return std::unexpected(rd.error());
    co_return std::string(got.data(), got.size());
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "ping");
}

// ListenOptions::nodelay: every accepted socket has TCP_NODELAY (inherited from the
// listener). Read back with getsockopt on the real backends; the simulator, which has no
// Nagle to observe, must accept the option and serve as usual.
Task<Result<int>> accepted_nodelay(bool on, bool simulated) {
  auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0), {.nodelay = on});
  if (!listener) co_return std::unexpected(listener.error());
  auto client = co_await net::TcpStream::connect(*listener->local_addr(), in(5s));
  if (!client) co_return std::unexpected(client.error());
  auto server = co_await listener->accept(in(5s));
  if (!server) co_return std::unexpected(server.error());
  if (simulated) co_return on ? 1 : 0;
  int value = -1;
  socklen_t len = sizeof value;
  if (::getsockopt(server->fd(), IPPROTO_TCP, TCP_NODELAY, &value, &len) != 0) co_return -1;
  co_return value != 0 ? 1 : 0;
}

TEST_P(Net, ListenerNodelayIsInheritedByAcceptedSockets) {
  const bool simulated = GetParam() == Backend::sim;
  EXPECT_EQ(run(accepted_nodelay(true, simulated)), 1);
  EXPECT_EQ(run(accepted_nodelay(false, simulated)), 0);
}

TEST_P(Net, Ipv6Loopback) {
  auto r = run([]() -> Task<Result<uint16_t>> {
    auto pair = co_await connected_pair(net::SocketAddr::loopback_v6(0));
    if (!pair) co_return std::unexpected(pair.error());
    EXPECT_EQ(pair->first.peer_addr()->family(), AF_INET6);
    if (auto w = co_await pair->first.write_all(std::string_view("6")); !w) co_return std::unexpected(w.error());
    char c = 0;
    if (auto rd = co_await pair->second.read_exact({&c, 1}, in(5s)); !rd) co_return std::unexpected(rd.error());
    co_return static_cast<uint16_t>(c);
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, '6');
}

TEST_P(Net, PeerShutdownReadsAsEndOfStreamAfterTheData) {
  auto r = run([]() -> Task<Result<void>> {
    auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
    if (!pair) co_return std::unexpected(pair.error());
    auto& [client, server] = *pair;
    EXPECT_TRUE(co_await server.write_all(std::string_view("abc")));
    EXPECT_TRUE(co_await server.shutdown());
    std::array<char, 8> buf{};
    size_t total = 0;
    while (true) {
      auto n = co_await client.read(buf, in(5s));
      if (!n) co_return std::unexpected(n.error());
      if (*n == 0) break;
      total += *n;
    }
    EXPECT_EQ(total, 3u);
    // Half-close: the other direction still works.
    EXPECT_TRUE(co_await client.write_all(std::string_view("xy")));
    std::array<char, 2> two{};
    EXPECT_TRUE(co_await server.read_exact(two, in(5s)));
    EXPECT_EQ(std::string(two.data(), 2), "xy");
    // read_exact across the end of stream.
    EXPECT_EQ(err(co_await client.read_exact(two, in(5s))), errc::unexpected_eof);
    co_return Result<void>{};
  }());
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Net, BadInputGetsClearErrorsAndTheShardKeepsServing) {
  auto r = run([]() -> Task<Result<void>> {
    // Connect to a port nobody listens on.
    auto l = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!l) co_return std::unexpected(l.error());
    const auto addr = *l->local_addr();
    // Bind to a port in use.
    EXPECT_EQ(err(net::TcpListener::bind(addr)), std::errc::address_in_use);
    EXPECT_TRUE(co_await l->close());
    EXPECT_EQ(err(co_await net::TcpStream::connect(addr, in(5s))), std::errc::connection_refused);
    // Malformed addresses and options.
    EXPECT_EQ(err(net::SocketAddr::parse("localhost:80")), errc::invalid_argument);
    EXPECT_EQ(err(net::SocketAddr::parse("1.2.3.4:99999")), errc::invalid_argument);
    EXPECT_EQ(err(net::TcpListener::bind(addr, {.backlog = 0})), errc::invalid_argument);
    // A raw op on a descriptor that does not exist.
    Sqe bogus;
    bogus.opcode = Opcode::recv;
    bogus.fd = 1 << 20;
    char byte = 0;
    bogus.addr = reinterpret_cast<uintptr_t>(&byte);
    bogus.len = 1;
    EXPECT_EQ(err(co_await submit(bogus)), std::errc::bad_file_descriptor);
    // Zero-length read; write to a stream we closed.
    auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
    if (!pair) co_return std::unexpected(pair.error());
    auto& [client, server] = *pair;
    EXPECT_EQ(err(co_await client.read({&byte, 0})), errc::invalid_argument);
    EXPECT_TRUE(co_await client.close());
    EXPECT_EQ(err(co_await client.write(std::string_view("x"))), std::errc::bad_file_descriptor);
    EXPECT_EQ(err(client.peer_addr()), std::errc::bad_file_descriptor);
    // The server side sees the close as end of stream; writing on eventually fails.
    auto eof = co_await server.read({&byte, 1}, in(5s));
    EXPECT_EQ(eof, size_t{0});
    std::error_code write_error;
    for (int i = 0; i < 100 && !write_error; ++i) {
      write_error = err(co_await server.write(std::string_view("late"), in(5s)));
      if (!write_error) co_await sleep(1ms);
    }
    EXPECT_TRUE(write_error == std::errc::broken_pipe || write_error == std::errc::connection_reset)
        << write_error.message();
    // Still serving.
    auto again = co_await connected_pair(net::SocketAddr::loopback_v4(0));
    EXPECT_TRUE(again.has_value());
    co_return Result<void>{};
  }());
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Net, ReadDeadlineAndAbortLeaveTheDataForTheNextRead) {
  auto r = run([]() -> Task<Result<std::string>> {
    auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
    if (!pair) co_return std::unexpected(pair.error());
    auto& [client, server] = *pair;
    std::array<char, 8> buf{};
    EXPECT_EQ(err(co_await client.read(buf, in(3ms))), errc::timed_out);
    EXPECT_EQ(err(co_await with_timeout(3ms, client.read(buf))), errc::timed_out);
    auto reader = go([](const net::TcpStream* s, char* b) -> Task<Result<size_t>> {
      co_return co_await s->read({b, 8});
    }(&client, buf.data()));
    co_await sleep(2ms);
    (void)reader.abort();
    EXPECT_EQ(err(co_await reader.join()), errc::cancelled);
    EXPECT_EQ(buf[0], '\0');  // the cancelled read never wrote its buffer
    EXPECT_TRUE(co_await server.write_all(std::string_view("kept")));
    std::array<char, 4> got{};
    if (auto rd = co_await client.read_exact(got, in(5s)); !rd) co_return std::unexpected(rd.error());
    co_return std::string(got.data(), 4);
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "kept");
}

TEST_P(Net, AStreamIsBoundToItsShard) {
  auto r = run([]() -> Task<Result<void>> {
    auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
    if (!pair) co_return std::unexpected(pair.error());
    const net::TcpStream* s = &pair->first;
    auto there =
        co_await submit_to(1, [s]() -> Task<Result<size_t>> { co_return co_await s->write(std::string_view("x")); });
    EXPECT_EQ(err(there), errc::wrong_shard);
    co_return Result<void>{};
  }());
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

// ---------------------------------------------------------------- accept

// Connects n clients to where (each writes its index as one byte) and returns them.
Task<Result<std::vector<net::TcpStream>>> connect_clients(net::SocketAddr where, size_t n) {
  std::vector<net::TcpStream> clients;
  for (size_t i = 0; i < n; ++i) {
    auto c = co_await net::TcpStream::connect(where, in(5s));
    if (!c) co_return std::unexpected(c.error());
    const char id = static_cast<char>(i);
    if (auto w = co_await c->write_all(std::span(&id, 1)); !w) co_return std::unexpected(w.error());
    clients.push_back(std::move(*c));
  }
  co_return clients;
}

// Accepts n connections and reads each one's index byte; all n indexes must be seen.
Task<Result<void>> accept_all(const net::TcpListener& listener, size_t n) {
  std::vector<bool> seen(n, false);
  for (size_t i = 0; i < n; ++i) {
    auto s = co_await listener.accept(in(5s));
    if (!s) co_return std::unexpected(s.error());
    char id = 0;
    if (auto r = co_await s->read_exact(std::span(&id, 1), in(5s)); !r) co_return std::unexpected(r.error());
    const auto k = static_cast<unsigned char>(id);
    EXPECT_LT(k, n);
    if (k < n) {
      EXPECT_FALSE(seen[k]) << "connection " << int{k} << " accepted twice";
      seen[k] = true;
    }
  }
  co_return Result<void>{};
}

TEST_P(Net, OneMultishotAcceptServesManyConnections) {
  constexpr size_t kClients = 40;
  auto r = run([]() -> Task<Result<void>> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!listener) co_return std::unexpected(listener.error());
    auto clients = co_await connect_clients(*listener->local_addr(), kClients);
    if (!clients) co_return std::unexpected(clients.error());
    co_return co_await accept_all(*listener, kClients);
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  // Every connection but possibly the last came from one armed op (the last one may end
  // it when the listener's shard shuts down).
  EXPECT_GE(last_stats_.total.multishot_results, kClients - 1);
}

TEST_P(Net, ACancelledOrTimedOutAcceptLosesNoConnection) {
  auto r = run([]() -> Task<Result<void>> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!listener) co_return std::unexpected(listener.error());
    EXPECT_EQ(err(co_await listener->accept(in(2ms))), errc::timed_out);
    auto waiter = go(
        [](const net::TcpListener* l) -> Task<Result<net::TcpStream>> { co_return co_await l->accept(); }(&*listener));
    co_await sleep(1ms);
    (void)waiter.abort();
    EXPECT_EQ(err(co_await waiter.join()), errc::cancelled);
    // Both connections arrive after their accepts gave up; both are still there.
    auto clients = co_await connect_clients(*listener->local_addr(), 2);
    if (!clients) co_return std::unexpected(clients.error());
    co_return co_await accept_all(*listener, 2);
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Net, SeveralRoutinesWaitInAcceptAndEachGetsOneConnection) {
  constexpr size_t kWaiters = 4;
  auto r = run([]() -> Task<Result<void>> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!listener) co_return std::unexpected(listener.error());
    std::vector<JoinHandle<Result<net::TcpStream>>> waiters;
    for (size_t i = 0; i < kWaiters; ++i) {
      waiters.push_back(go([](const net::TcpListener* l) -> Task<Result<net::TcpStream>> {
        co_return co_await l->accept(in(5s));
      }(&*listener)));
    }
    auto clients = co_await connect_clients(*listener->local_addr(), kWaiters);
    if (!clients) co_return std::unexpected(clients.error());
    std::vector<bool> seen(kWaiters, false);
    for (auto& w : waiters) {
      auto s = co_await w.join();
      if (!s) co_return std::unexpected(s.error());
      char id = 0;
      if (auto rd = co_await s->read_exact(std::span(&id, 1), in(5s)); !rd) co_return std::unexpected(rd.error());
      EXPECT_FALSE(seen.at(static_cast<size_t>(id)));
      seen.at(static_cast<size_t>(id)) = true;
    }
    co_return Result<void>{};
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Net, AListenerNobodyAcceptsFromStaysBoundedAndLosesNothing) {
  // More connections than the listener queues (128): the multishot is cancelled at the
  // bound, the rest wait in the kernel's backlog, and accepting re-arms it.
  constexpr size_t kClients = 200;
  auto r = run([]() -> Task<Result<void>> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!listener) co_return std::unexpected(listener.error());
    EXPECT_EQ(err(co_await listener->accept(in(1ms))), errc::timed_out);  // arms the multishot
    auto clients = co_await connect_clients(*listener->local_addr(), kClients);
    if (!clients) co_return std::unexpected(clients.error());
    co_await sleep(5ms);
    co_return co_await accept_all(*listener, kClients);
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_GE(last_stats_.total.ops_cancelled_by_kernel + last_stats_.total.ops_completed_despite_cancel, 1u);
}

TEST_P(Net, ClosingAListenerFailsItsAcceptsAndClosesQueuedConnections) {
  auto r = run([]() -> Task<Result<void>> {
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!listener) co_return std::unexpected(listener.error());
    const net::SocketAddr where = *listener->local_addr();
    EXPECT_EQ(err(co_await listener->accept(in(1ms))), errc::timed_out);  // arms the multishot
    auto clients = co_await connect_clients(where, 2);                    // queued in the listener
    if (!clients) co_return std::unexpected(clients.error());
    co_await sleep(2ms);
    auto waiter = go([](const net::TcpListener* l) -> Task<Result<net::TcpStream>> {
      auto first = co_await l->accept(in(5s));  // takes a queued connection at once
      if (!first) co_return first;
      co_return co_await l->accept(in(5s));  // the other one
    }(&*listener));
    (void)co_await waiter.join();
    auto blocked = go([](const net::TcpListener* l) -> Task<Result<net::TcpStream>> {
      co_return co_await l->accept(in(5s));
    }(&*listener));
    co_await sleep(1ms);
    EXPECT_TRUE(co_await listener->close());
    EXPECT_EQ(err(co_await blocked.join()), std::errc::bad_file_descriptor);
    // The port is free again once its multishot is gone.
    auto again = net::TcpListener::bind(where);
    EXPECT_TRUE(again.has_value()) << err(again).message();
    co_return Result<void>{};
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
}

Task<Result<echo::LoadReport>> echo_under_load(uint32_t connections, uint64_t requests, size_t size) {
  auto server = co_await echo::start_server(net::SocketAddr::loopback_v4(0));
  if (!server) co_return std::unexpected(server.error());
  echo::LoadConfig load;
  load.target = net::SocketAddr::loopback_v4(server->port);
  load.connections = connections;
  load.requests_per_connection = requests;
  load.message_size = size;
  load.duration = 1h;
  load.op_timeout = 60s;
  echo::LoadReport report = co_await echo::run_load(load);
  server->stop();
  co_return report;
}

TEST_P(Net, EchoServerOnEveryShard) {
  auto r = run(echo_under_load(64, 20, 1000));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->requests, 64u * 20);
  EXPECT_EQ(r->corrupted, 0u);
  EXPECT_EQ(r->failed_connections, 0u) << (r->errors.empty() ? "" : r->errors[0].message());
}

TEST(LineProtocol, RepliesToEveryKindOfLine) {
  std::map<std::string, std::string> store;
  EXPECT_EQ(kv::handle_line("GET a", store), "NONE");
  EXPECT_EQ(kv::handle_line("SET a 1", store), "OK");
  EXPECT_EQ(kv::handle_line("GET a\r", store), "VALUE 1");
  EXPECT_EQ(kv::handle_line("SET a", store), "ERR bad request");
  EXPECT_EQ(kv::handle_line("SET a 1 2", store), "ERR bad request");
  EXPECT_EQ(kv::handle_line("", store), "ERR bad request");
  EXPECT_EQ(kv::handle_line(std::string("\0\xff", 2), store), "ERR bad request");
}

TEST_P(Net, LineProtocolServesAndCutsOverlongLines) {
  auto r = run([]() -> Task<Result<std::string>> {
    auto l = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    if (!l) co_return std::unexpected(l.error());
    const auto addr = *l->local_addr();
    auto server = go(kv::serve(std::move(*l)));
    auto c = co_await net::TcpStream::connect(addr, in(5s));
    if (!c) co_return std::unexpected(c.error());
    EXPECT_TRUE(co_await c->write_all(std::string_view("SET k v\nGET k\nNOPE\n")));
    std::string got(std::string_view("OK\nVALUE v\nERR bad request\n").size(), '\0');
    if (auto rd = co_await c->read_exact(got, in(5s)); !rd) co_return std::unexpected(rd.error());
    EXPECT_TRUE(co_await c->write_all(std::string(kv::kMaxLine + 10, 'x')));
    std::string tail;
    std::array<char, 64> buf{};
    while (true) {  // the error line, then the server closes
      auto n = co_await c->read(buf, in(5s));
      if (!n || *n == 0) break;
      tail.append(buf.data(), *n);
    }
    EXPECT_EQ(tail, "ERR line too long\n");
    (void)server.abort();
    co_return got;
  }());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "OK\nVALUE v\nERR bad request\n");
}

// The peer of `s` closed: a read sees the end of the stream (within 2 s).
Task<void> expect_end_of_stream(const net::TcpStream& s) {
  char byte = 0;
  auto eof = co_await s.read({&byte, 1}, in(2s));
  EXPECT_EQ(eof, size_t{0}) << "the peer was not closed: " << (eof ? "a byte came" : eof.error().message());
}

// A routine aborted while its close() is queued, not yet submitted: the close still
// happens (as in Go, a Close is not cancelled). It was cancelled before submission, and the
// descriptor, which close() had already given to the ring, stayed open for good: the peer
// never saw the end of the stream.
TEST_P(Net, ACloseIsNotCancelledByAnAbortBeforeItIsSubmitted) {
  auto r = run(
      []() -> Task<Result<void>> {
        auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
        if (!pair) co_return std::unexpected(pair.error());
        auto& [client, server] = *pair;
        auto closer = go([](net::TcpStream* s) -> Task<Result<void>> { co_return co_await s->close(); }(&client));
        co_await yield_now();  // the closer queued its CLOSE and parked; this tick has not flushed
        EXPECT_TRUE(closer.abort());
        (void)co_await closer.join();  // the close's own result (or cancelled): either way it ran
        EXPECT_EQ(current_shard()->stats().ops_cancelled_before_submit, 0u) << "the CLOSE was cancelled";
        co_await expect_end_of_stream(server);
        co_return Result<void>{};
      }(),
      1);
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

// close() from a routine whose awaits fail fast (aborted, or past its with_deadline):
// the await reports errc::cancelled like every other, and the descriptor is still closed.
// It was given up first and then never closed: every cleanup path that closed a stream
// after an abort or a timeout leaked its descriptor.
TEST_P(Net, ACloseAfterAnAbortStillClosesTheDescriptor) {
  auto r = run(
      []() -> Task<Result<void>> {
        auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
        if (!pair) co_return std::unexpected(pair.error());
        auto& [client, server] = *pair;
        auto closer = go([](net::TcpStream* s) -> Task<Result<void>> {
          co_await sleep(1h);             // aborted here
          co_return co_await s->close();  // cleanup after the abort: fails fast
        }(&client));
        co_await yield_now();
        EXPECT_TRUE(closer.abort());
        auto closed = co_await closer.join();
        EXPECT_EQ(err(closed), errc::cancelled);
        EXPECT_FALSE(client.is_open());
        co_await expect_end_of_stream(server);
        co_return Result<void>{};
      }(),
      1);
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Net, ACloseAfterTheDeadlinePassedStillClosesTheDescriptor) {
  auto r = run(
      []() -> Task<Result<void>> {
        auto pair = co_await connected_pair(net::SocketAddr::loopback_v4(0));
        if (!pair) co_return std::unexpected(pair.error());
        auto& [client, server] = *pair;
        auto closed = co_await with_timeout(1ms, [](net::TcpStream* s) -> Task<Result<void>> {
          char byte = 0;
          (void)co_await s->read({&byte, 1});  // the deadline passes here
          co_return co_await s->close();
        }(&client));
        EXPECT_EQ(err(closed), errc::timed_out);
        EXPECT_FALSE(client.is_open());
        co_await expect_end_of_stream(server);
        co_return Result<void>{};
      }(),
      1);
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

RINGO_ON_EVERY_BACKEND(Net);

// ---------------------------------------------------------------- io_uring at scale

// Raises the descriptor limit to `need`, or says why it cannot.
std::string make_room_for(rlim_t need) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= need) return {};
  rlimit want{need, std::max(need, lim.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &want) == 0) return {};
  return "RLIMIT_NOFILE is " + std::to_string(lim.rlim_cur) + "/" + std::to_string(lim.rlim_max) + ", need " +
         std::to_string(need) + " and cannot raise it";
}

Result<echo::LoadReport> load_on_uring(net::SocketAddr target, uint32_t connections) {
  auto rt = Runtime::create({.shards = 2, .backend = Backend::uring});
  if (!rt) return std::unexpected(rt.error());
  echo::LoadConfig load;
  load.target = target;
  load.connections = connections;
  load.requests_per_connection = 3;
  load.duration = 1h;
  load.op_timeout = 60s;
  return rt->block_on(echo::run_load(load));
}

// The echo server in a child process (its own descriptor table), so each side needs one
// descriptor per connection. The child serves until killed, or until this process ends.
struct ServerProcess {
  pid_t pid = -1;
  uint16_t port = 0;

  ServerProcess() {
    int fds[2];
    if (pipe(fds) != 0) return;
    const pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
      // Dies with the test process, also when a watchdog ends it with _exit (no
      // destructor runs then to kill this server).
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(4);
      close(fds[0]);
      auto rt = Runtime::create({.shards = 2, .backend = Backend::uring});
      if (!rt) _exit(3);
      (void)rt->block_on([](int out) -> Task<Result<void>> {
        auto server = co_await echo::start_server(net::SocketAddr::loopback_v4(0));
        if (!server) co_return std::unexpected(server.error());
        uint16_t p = server->port;
        if (write(out, &p, sizeof p) != sizeof p) co_return fail_errno(EIO);
        for (auto& loop : server->accept_loops) (void)co_await loop.join();
        co_return Result<void>{};
      }(fds[1]));
      _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &port, sizeof port) != sizeof port) port = 0;
    close(fds[0]);
  }
  ~ServerProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

void expect_all_echoed(uint32_t connections) {
  if (std::string why = make_room_for(connections + 512); !why.empty()) GTEST_SKIP() << why;
  ServerProcess server;
  ASSERT_GT(server.pid, 0);
  ASSERT_NE(server.port, 0) << "the server process did not start";
  // Armed after the fork: a thread running at fork() kills the child under ThreadSanitizer.
  testing::Watchdog guard{std::chrono::seconds(30), "every byte of " + std::to_string(connections) +
                                                        " connections echoed by a server process, on io_uring"};
  auto r = load_on_uring(net::SocketAddr::loopback_v4(server.port), connections);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->requests, 3u * connections);
  EXPECT_EQ(r->corrupted, 0u);
  EXPECT_EQ(r->failed_connections, 0u) << (r->errors.empty() ? "" : r->errors[0].message());
}

TEST(NetOnUring, ThousandConcurrentConnectionsAllBytesVerified) { expect_all_echoed(1000); }

TEST(NetOnUring, TenThousandConcurrentConnectionsWhereTheFdLimitAllows) { expect_all_echoed(10000); }

// ---------------------------------------------------------------- simulator under faults

struct FaultRun {
  const char* preset;
  uint64_t seeds;
};

TEST(NetInSim, EchoUnderFaultPresetsLosesNoByteExceptOnReportedResets) {
  uint64_t resets_seen = 0, runs = 0;
  for (FaultRun f : {FaultRun{"none", 10}, FaultRun{"light", 20}, FaultRun{"heavy", 20}, FaultRun{"swarm", 30}}) {
    for (uint64_t i = 0; i < f.seeds; ++i) {
      sim::SimConfig config;
      config.seed = sim::seed_from_env(1000 + i);
      config.shards = 2;
      ASSERT_TRUE(sim::FaultConfig::parse(f.preset, config.seed, config.faults));
      auto out = std::make_shared<Result<echo::LoadReport>>(fail(errc::cancelled));
      sim::Report rep = sim::run(config, [out]() -> Task<void> { *out = co_await echo_under_load(8, 10, 700); });
      ++runs;
      const std::string where = std::string(f.preset) + " " + rep.replay_hint() + " " + rep.summary();
      ASSERT_TRUE(rep.ok()) << where << "\n" << rep.message;
      ASSERT_TRUE(out->has_value()) << where << ": " << out->error().message();
      const echo::LoadReport& r = **out;
      EXPECT_EQ(r.corrupted, 0u) << where;
      for (const std::error_code& e : r.errors) {
        EXPECT_TRUE(e == std::errc::connection_reset || e == std::errc::broken_pipe ||
                    e == std::errc::connection_refused)
            << where << ": " << e.message();
        EXPECT_GT(rep.faults_injected, 0u) << where << ": an error without an injected fault";
      }
      if (std::string(f.preset) == "none") {
        EXPECT_EQ(r.requests, 80u) << where;
        EXPECT_TRUE(r.errors.empty()) << where;
      }
      resets_seen += r.errors.size();
    }
  }
  EXPECT_GT(resets_seen, 0u) << "no fault ever reached a connection in " << runs << " runs: the presets are idle";
}

TEST(NetInSim, EchoWithoutMultishotAcceptFallsBackToOneOpPerConnection) {
  RuntimeConfig c;
  c.backend = Backend::sim;
  c.shards = 2;
  c.faults.multishot_accept = false;
  auto rt = Runtime::create(c);
  ASSERT_TRUE(rt.has_value());
  auto r = rt->block_on(echo_under_load(16, 4, 64));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->failed_connections, 0u);
  EXPECT_EQ(r->corrupted, 0u);
  (void)rt->shutdown();
  EXPECT_EQ(rt->stats().total.multishot_results, 0u);
}

}  // namespace
}  // namespace ringo
