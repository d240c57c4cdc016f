// Owned-buffer zero-copy sends (StreamSocket::write_all_owned, SendBuffer) on every
// backend: every byte in order across buffers of many sizes written back to back, every
// buffer freed once the kernel lets go of it, a buffer outliving its closed socket, plain
// sends on Unix sockets, and a runtime stopped while the kernel still holds buffers (a
// peer that never reads) abandoning them at its shard's teardown (never freed, counted).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "backends.hpp"
#include "byte_pattern.hpp"
#include "tcp_pair.hpp"

namespace ringo {
namespace {

using testing::err;
using namespace std::chrono_literals;

class OwnedSend : public testing::OnEveryBackend {};

Instant in(Duration d) { return detail::current_shard()->now() + d; }

std::string pattern(size_t n) { return testing::byte_pattern(n, 4242); }

// Reads until end of stream, starting after `start_after`.
Task<Result<std::string>> read_all(const net::StreamSocket* s, Duration start_after) {
  co_await sleep(start_after);
  std::string got;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    Result<size_t> n = co_await s->read(buf, in(10s));
    if (!n) co_return std::unexpected(n.error());
    if (*n == 0) co_return got;
    got.append(buf.data(), *n);
  }
}

// The kernel lets go of every buffer once the peer has the bytes: waits for that, bounded.
Task<Result<void>> notifications_all_came() {
  for (int waited_ms = 0; net::send_buffers_in_kernel() > 0; ++waited_ms) {
    if (waited_ms == 5000) {
      ADD_FAILURE() << net::send_buffers_in_kernel() << " send buffers still in the kernel after 5 s";
      co_return fail(errc::timed_out);
    }
    co_await sleep(1ms);
  }
  co_return Result<void>{};
}

Task<Result<void>> writes_back_to_back(size_t alive_before) {
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  const std::vector<size_t> sizes = {1, 16 * 1024, 64 * 1024, 300 * 1024, 5, 64 * 1024};
  size_t total = 0;
  for (size_t n : sizes) total += n;
  const std::string data = pattern(total);
  auto reader = go(read_all(&pair->server, 0ms));
  size_t off = 0;
  for (size_t n : sizes) {
    net::SendBuffer b = net::SendBuffer::copy_of(std::span<const char>(data).subspan(off, n));
    if (auto w = co_await pair->client.write_all_owned(std::move(b), in(10s)); !w) co_return w;
    off += n;
  }
  EXPECT_TRUE((co_await pair->client.write_all_owned(net::SendBuffer{}, in(1s))).has_value()) << "an empty write";
  (void)co_await pair->client.shutdown();
  auto got = co_await reader.join();
  if (!got) co_return std::unexpected(got.error());
  EXPECT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data) << "bytes lost, repeated or reordered";
  if (auto w = co_await notifications_all_came(); !w) co_return w;
  EXPECT_EQ(net::send_buffers_alive(), alive_before) << "a send buffer was not freed";
  co_return Result<void>{};
}

TEST_P(OwnedSend, EveryByteArrivesInOrderAndEveryBufferIsFreed) {
  auto r = run(writes_back_to_back(net::send_buffers_alive()), 1);
  ASSERT_TRUE(r) << err(r).message();
}

// AF_UNIX has no zero-copy send (io_uring's SEND_ZC fails there with EOPNOTSUPP, and the
// simulator's as the kernel's): both zero-copy writes on a UnixStream send plainly, and the
// owned write's buffer is freed when it returns.
Task<Result<void>> unix_zero_copy_writes(size_t alive_before) {
  auto where = net::UnixAddress::abstract("ringo-owned-" + std::to_string(::getpid()));
  auto listener = net::UnixListener::bind(*where);
  if (!listener) co_return std::unexpected(listener.error());
  auto client = co_await net::UnixStream::connect(*where, in(5s));
  if (!client) co_return std::unexpected(client.error());
  auto server = co_await listener->accept(in(5s));
  if (!server) co_return std::unexpected(server.error());
  const std::string data = pattern(200 * 1024);
  auto reader = go(read_all(&*server, 0ms));
  const std::span<const char> all(data);
  if (auto w = co_await client->write_all_owned(net::SendBuffer::copy_of(all.first(120 * 1024)), in(10s)); !w) {
    co_return w;
  }
  EXPECT_EQ(net::send_buffers_in_kernel(), 0u) << "a plain send left its buffer with the kernel";
  EXPECT_EQ(net::send_buffers_alive(), alive_before);
  if (auto w = co_await client->write_all_zero_copy(all.subspan(120 * 1024), in(10s)); !w) co_return w;
  (void)co_await client->shutdown();
  auto got = co_await reader.join();
  if (!got) co_return std::unexpected(got.error());
  EXPECT_TRUE(*got == data) << "bytes lost, repeated or reordered";
  co_return Result<void>{};
}

TEST_P(OwnedSend, UnixStreamsSendPlainly) {
  auto r = run(unix_zero_copy_writes(net::send_buffers_alive()), 1);
  ASSERT_TRUE(r) << err(r).message();
}

TEST_P(OwnedSend, ResizeBeyondCapacityIsRefused) {
  net::SendBuffer b(100);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_TRUE(b.resize(10).has_value());
  EXPECT_EQ(b.span().size(), 10u);
  EXPECT_EQ(err(b.resize(101)), make_error_code(errc::invalid_argument));
  EXPECT_EQ(b.size(), 10u);
  net::SendBuffer moved = std::move(b);
  EXPECT_EQ(b.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(moved.capacity(), 100u);
}

// The writer closes its socket right after the write returned, before the peer read a byte:
// the buffer stays with the kernel until the peer has the bytes, then is freed.
Task<Result<void>> outlives_its_socket(Backend backend, size_t alive_before) {
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  const std::string data = pattern(48 * 1024);
  auto reader = go(read_all(&pair->server, 20ms));
  if (auto w = co_await pair->client.write_all_owned(net::SendBuffer::copy_of(data), in(10s)); !w) co_return w;
  (void)co_await pair->client.close();
  // The simulator's notification waits for the peer's read (not started) or its delayed
  // ACK (this seed's comes later).
  if (backend == Backend::sim) {
    EXPECT_EQ(net::send_buffers_in_kernel(), 1u);
  }
  auto got = co_await reader.join();
  if (!got) co_return std::unexpected(got.error());
  EXPECT_TRUE(*got == data);
  if (auto w = co_await notifications_all_came(); !w) co_return w;
  EXPECT_EQ(net::send_buffers_alive(), alive_before);
  co_return Result<void>{};
}

TEST_P(OwnedSend, TheBufferOutlivesItsClosedSocket) {
  auto r = run(outlives_its_socket(GetParam(), net::send_buffers_alive()), 1);
  ASSERT_TRUE(r) << err(r).message();
}

// Writes owned buffers to a peer that never reads until a write times out (the peer's
// window and the socket buffer are full). Returns how many buffers the kernel still held.
Task<Result<size_t>> write_until_full(uint16_t port) {
  auto client = co_await net::TcpStream::connect(net::SocketAddr::loopback_v4(port), in(5s));
  if (!client) co_return std::unexpected(client.error());
  const Instant until = in(300ms);
  for (int i = 0; i < 4096; ++i) {
    Result<void> w = co_await client->write_all_owned(net::SendBuffer(256 * 1024), until);
    if (!w) {
      EXPECT_EQ(w.error(), make_error_code(errc::timed_out));
      co_return net::send_buffers_in_kernel();
    }
  }
  ADD_FAILURE() << "1 GiB went to a peer that never reads";
  co_return fail(errc::invalid_argument);
}

// A runtime stopped while the kernel still holds send buffers (its peer never reads and
// stays open past the runtime; real backends only: the simulator has no outside peer, its
// case is OwnedSendSim.ACutShortShutdownAbandonsTheBuffer) abandons them when its shard
// goes, after shutdown_timeout: the kernel may still send from them, so they stay
// allocated and counted. AIO sends plainly: nothing is held, nothing abandoned.
TEST_P(OwnedSend, AStoppedRuntimeAbandonsTheBuffersTheKernelStillHolds) {
  if (GetParam() == Backend::sim) GTEST_SKIP() << "needs a peer outside the runtime (the simulator's: OwnedSendSim)";
  const int peer = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(peer, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(peer, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(peer, 4), 0);  // the connection waits in the backlog, never read
  ASSERT_EQ(::getsockname(peer, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const size_t alive_before = net::send_buffers_alive();
  const size_t abandoned_before = net::send_buffers_abandoned();
  size_t held_at_stop = 0;
  RuntimeConfig c = config(1);
  c.shutdown_timeout = 100ms;
  {
    auto rt = Runtime::create(c);
    ASSERT_TRUE(rt) << rt.error().message();
    auto held = rt->block_on(write_until_full(ntohs(a.sin_port)));
    ASSERT_TRUE(held) << err(held).message();
    if (GetParam() == Backend::uring) {
      // Bytes the full window keeps in the send queue are not ACKed: their pages are held.
      EXPECT_GT(*held, 0u) << "no buffer was left in the kernel: the teardown path went untested";
      EXPECT_GT(net::send_buffers_alive(), alive_before);
    }
    held_at_stop = *held;
    const ShutdownReport report = rt->shutdown();
    if (GetParam() == Backend::uring) {
      EXPECT_GE(report.ops_abandoned, *held) << report.summary();
    }
  }
  const size_t abandoned = net::send_buffers_abandoned() - abandoned_before;
  // What the kernel held at the stop, less what it let go of while shutdown waited.
  EXPECT_LE(abandoned, held_at_stop) << "a buffer the kernel had let go of was kept";
  if (GetParam() == Backend::uring) {
    EXPECT_GT(abandoned, 0u) << "no buffer the kernel held was kept";
  }
  EXPECT_EQ(net::send_buffers_alive(), alive_before + abandoned) << "buffers leaked beyond the abandoned ones";
  ::close(peer);
}

RINGO_ON_EVERY_BACKEND(OwnedSend);

}  // namespace
}  // namespace ringo
