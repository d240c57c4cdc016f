// Provided buffers and multishot receive (StreamSocket::recv_buffered, RecvBuffer) and
// zero-copy sends (write_all with SEND_ZC), on every backend: every byte in order through
// a ring that runs dry (ENOBUFS, then re-armed), readers cancelled mid-stream losing
// nothing, buffers all given back, end of stream and errors, and a zero-copy send whose
// caller overwrites its buffer as soon as the await returns.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends.hpp"
#include "byte_pattern.hpp"
#include "tcp_pair.hpp"

namespace ringo {
namespace {

using testing::err;
using namespace std::chrono_literals;

class RecvBuffered : public testing::OnEveryBackend {};

Instant in(Duration d) { return detail::current_shard()->now() + d; }

std::string pattern(size_t n) { return testing::byte_pattern(n, 12345); }

Task<Result<void>> write_then_close(const net::TcpStream* s, std::string data) {
  if (auto w = co_await s->write_all(data, in(10s)); !w) co_return std::unexpected(w.error());
  co_return co_await s->shutdown();
}

// Reads until end of stream; `hold` buffers are kept for a while before they are given
// back (so the ring runs dry when it is small).
Task<Result<std::string>> read_all(const net::TcpStream* s, size_t hold) {
  std::string got;
  std::vector<net::RecvBuffer> held;
  for (;;) {
    Result<net::RecvBuffer> b = co_await s->recv_buffered(in(10s));
    if (!b) co_return std::unexpected(b.error());
    if (b->empty()) break;
    got.append(b->view());
    held.push_back(std::move(*b));
    if (held.size() >= hold) {
      co_await sleep(1ms);  // the ring stays dry meanwhile
      held.clear();
    }
  }
  co_return got;
}

Task<Result<std::string>> stream_through_small_ring(size_t bytes, size_t hold) {
  if (auto c = net::configure_recv_buffers({4, 64}); !c) co_return std::unexpected(c.error());
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  auto writer = spawn(write_then_close(&pair->client, pattern(bytes)));
  Result<std::string> got = co_await read_all(&pair->server, hold);
  auto w = co_await writer.join();
  EXPECT_TRUE(w) << "writer: " << err(w).message();
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "every buffer given back";
  co_return got;
}

TEST_P(RecvBuffered, EveryByteArrivesInOrderThroughARingThatRunsDry) {
  const size_t bytes = 64 * 1024;
  auto got = run(stream_through_small_ring(bytes, 4), 1);
  ASSERT_TRUE(got) << err(got).message();
  ASSERT_EQ((*got).size(), bytes);
  EXPECT_TRUE((*got) == pattern(bytes)) << "bytes lost or out of order";
  EXPECT_GT(last_stats_.shards[0].multishot_results, 0u);
}

// A reader cancelled (timed out) again and again while data streams in loses nothing.
Task<Result<std::string>> read_with_cancellations(size_t bytes, size_t& timeouts) {
  if (auto c = net::configure_recv_buffers({8, 256}); !c) co_return std::unexpected(c.error());
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  auto writer = spawn([](const net::TcpStream* s, std::string data) -> Task<Result<void>> {
    for (size_t at = 0; at < data.size(); at += 1000) {
      if (auto w = co_await s->write_all(std::string_view(data).substr(at, 1000)); !w) co_return w;
      co_await sleep(200us);
    }
    co_return co_await s->shutdown();
  }(&pair->client, pattern(bytes)));
  std::string got;
  for (;;) {
    Result<net::RecvBuffer> b = co_await pair->server.recv_buffered(in(50us));
    if (!b && b.error() == make_error_code(errc::timed_out)) {
      ++timeouts;
      continue;
    }
    if (!b) co_return std::unexpected(b.error());
    if (b->empty()) break;
    got.append(b->view());
  }
  auto w = co_await writer.join();
  EXPECT_TRUE(w) << err(w).message();
  co_return got;
}

TEST_P(RecvBuffered, ACancelledReaderLosesNothing) {
  const size_t bytes = 20000;
  size_t timeouts = 0;
  auto got = run(read_with_cancellations(bytes, timeouts), 1);
  ASSERT_TRUE(got) << err(got).message();
  EXPECT_TRUE((*got) == pattern(bytes)) << "bytes lost or out of order";
  EXPECT_GT(timeouts, 0u) << "the premise: some reads timed out mid-stream";
}

// Closing a stream with buffers queued gives them back; an end of stream is reported to
// every later call; read() is refused once recv_buffered() owns the stream.
Task<Result<void>> queued_buffers_come_back() {
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  if (auto w = co_await pair->client.write_all(std::string_view("first")); !w) co_return w;
  auto b = co_await pair->server.recv_buffered(in(5s));
  if (!b) co_return std::unexpected(b.error());
  EXPECT_EQ(b->view().substr(0, 1), "f");
  char c = 0;
  EXPECT_EQ(err(co_await pair->server.read({&c, 1})), make_error_code(errc::invalid_argument));
  EXPECT_GE(net::recv_buffers_outstanding(), 1u);
  if (auto w = co_await pair->client.write_all(pattern(3000)); !w) co_return w;
  co_await sleep(5ms);  // arrives into buffers queued in the stream
  (void)co_await pair->client.shutdown();
  b->release();
  b->release();  // a second release is a no-op: the buffer went back once
  EXPECT_TRUE(b->empty());
  (void)co_await pair->server.close();
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "queued buffers given back at close";
  co_return Result<void>{};
}

TEST_P(RecvBuffered, BuffersComeBackAtCloseAndReadIsRefused) {
  auto r = run(queued_buffers_come_back(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

Task<Result<void>> eof_is_sticky_and_deadline_works() {
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  const Instant t0 = detail::current_shard()->now();
  auto none = co_await pair->server.recv_buffered(in(20ms));
  EXPECT_EQ(err(none), make_error_code(errc::timed_out));
  EXPECT_TRUE(testing::not_early(t0, 20ms));
  (void)co_await pair->client.shutdown();
  for (int i = 0; i < 2; ++i) {
    auto b = co_await pair->server.recv_buffered(in(5s));
    if (!b) co_return std::unexpected(b.error());
    EXPECT_TRUE(b->empty()) << "end of stream, every time";
  }
  EXPECT_EQ(err(net::configure_recv_buffers({4, 64})), std::make_error_code(std::errc::device_or_resource_busy));
  EXPECT_EQ(err(net::configure_recv_buffers({3, 64})), make_error_code(errc::invalid_argument));
  co_return Result<void>{};
}

TEST_P(RecvBuffered, EndOfStreamIsStickyAndDeadlinesWork) {
  auto r = run(eof_is_sticky_and_deadline_works(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

// write_all_zero_copy goes out zero-copy where the ring has SEND_ZC; the caller
// overwrites its buffer the moment the await returns, and the peer still gets the original.
Task<Result<void>> zero_copy_buffer_is_free_after_the_await() {
  auto pair = co_await testing::connected_pair(5s);
  if (!pair) co_return std::unexpected(pair.error());
  const std::string original = pattern(512 * 1024);
  auto reader = spawn(read_all(&pair->server, 1));
  std::string buf = original;
  for (int round = 0; round < 3; ++round) {
    if (auto w = co_await pair->client.write_all_zero_copy(buf, in(10s)); !w) co_return w;
    std::fill(buf.begin(), buf.end(), 'X');  // the kernel is done with it: this must not show
    buf = original;
  }
  (void)co_await pair->client.shutdown();
  auto got = co_await reader.join();
  if (!got) co_return std::unexpected(got.error());
  EXPECT_EQ((*got).size(), 3 * original.size());
  EXPECT_TRUE((*got) == original + original + original) << "the peer saw overwritten bytes";
  co_return Result<void>{};
}

TEST_P(RecvBuffered, ZeroCopySendsLeaveTheBufferFreeWhenTheyReturn) {
  auto r = run(zero_copy_buffer_is_free_after_the_await(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

RINGO_ON_EVERY_BACKEND(RecvBuffered);

}  // namespace
}  // namespace ringo
