// UdpSocket::recv_from_buffered (one multishot RECVMSG into the shard's buffer ring) on
// every backend: a burst from two senders arrives whole, in order, each datagram naming its
// sender; truncation is reported; a ring that runs dry (ENOBUFS) re-arms and loses
// nothing; readers that time out or are aborted mid-wait lose nothing; mixing with
// recv_from/recv is refused; closing gives every buffer back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends.hpp"

namespace ringo {
namespace {

using testing::err;
using namespace std::chrono_literals;

class UdpBuffered : public testing::OnEveryBackend {};

Instant in(Duration d) { return detail::current_shard()->now() + d; }

// Datagram i: its number, then a pattern, `size` bytes in all (at least the number,
// except that size 0 is an empty datagram).
std::string datagram(int i, size_t size) {
  if (size == 0) return {};
  std::string s = std::to_string(i) + ":";
  uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 1;
  while (s.size() < size) {
    x = x * 1103515245u + 12345u;
    s.push_back(static_cast<char>(x >> 24));
  }
  return s;
}

Result<net::UdpSocket> bound(const net::SocketAddr& where = net::SocketAddr::loopback_v4(0)) {
  return net::UdpSocket::bind(where);
}

// Takes n datagrams; each must be datagram(i, size_of(i)) from senders[i % senders.size()].
Task<Result<int>> take_in_order(const net::UdpSocket* s, int n, std::vector<uint16_t> senders, size_t (*size_of)(int)) {
  for (int i = 0; i < n; ++i) {
    Result<net::UdpDatagram> d = co_await s->recv_from_buffered(in(5s));
    if (!d) co_return std::unexpected(d.error());
    EXPECT_EQ(d->view(), datagram(i, size_of(i))) << "datagram " << i << " lost, cut or out of order";
    EXPECT_FALSE(d->truncated());
    EXPECT_EQ(d->datagram_size(), d->size());
    EXPECT_EQ(d->from().port(), senders[static_cast<size_t>(i) % senders.size()]) << "datagram " << i;
    if (::testing::Test::HasFailure()) co_return i;
  }
  co_return n;
}

size_t varied_size(int i) { return i % 17 == 5 ? 0 : static_cast<size_t>(3 + (i * 37) % 250); }

Task<Result<void>> burst_from_two_senders(net::SocketAddr where) {
  auto a1 = bound(where), a2 = bound(where), b = bound(where);
  if (!a1 || !a2 || !b) co_return std::unexpected(!a1 ? a1.error() : !a2 ? a2.error() : b.error());
  constexpr int kCount = 100;
  const std::vector<uint16_t> senders{a1->local_addr()->port(), a2->local_addr()->port()};
  auto reader = spawn(take_in_order(&*b, kCount, senders, &varied_size));
  for (int i = 0; i < kCount; ++i) {
    const net::UdpSocket& from = i % 2 == 0 ? *a1 : *a2;
    const std::string d = datagram(i, varied_size(i));  // some are empty: a zero-length datagram is one too
    if (auto s = co_await from.send_to(d, *b->local_addr(), in(5s)); !s) co_return std::unexpected(s.error());
  }
  auto got = co_await reader.join();
  if (!got) co_return std::unexpected(got.error());
  EXPECT_EQ(*got, kCount);
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "every buffer given back";
  co_return Result<void>{};
}

TEST_P(UdpBuffered, ABurstFromTwoSendersArrivesInOrderNamingEachSender) {
  auto r = run(burst_from_two_senders(net::SocketAddr::loopback_v4(0)), 1);
  ASSERT_TRUE(r) << err(r).message();
  EXPECT_GT(last_stats_.shards[0].multishot_results, 0u);
  auto v6 = run(burst_from_two_senders(net::SocketAddr::loopback_v6(0)), 1);
  ASSERT_TRUE(v6) << "IPv6: " << err(v6).message();
}

// Buffers of 256 bytes keep 208 for the payload: a longer datagram is cut and says so.
Task<Result<void>> truncation_is_reported() {
  if (auto c = net::configure_recv_buffers({8, 256}); !c) co_return std::unexpected(c.error());
  auto a = bound(), b = bound();
  if (!a || !b) co_return std::unexpected(!a ? a.error() : b.error());
  const size_t room = 256 - net::kDatagramHeadroom;
  const std::string big = datagram(1, 300), exact = datagram(2, room);
  for (const std::string* d : {&big, &exact}) {
    if (auto s = co_await a->send_to(*d, *b->local_addr(), in(5s)); !s) co_return std::unexpected(s.error());
  }
  if (auto s = co_await a->send_to(std::string_view(), *b->local_addr(), in(5s)); !s)
    co_return std::unexpected(s.error());
  auto cut = co_await b->recv_from_buffered(in(5s));
  if (!cut) co_return std::unexpected(cut.error());
  EXPECT_TRUE(cut->truncated());
  EXPECT_EQ(cut->size(), room);
  EXPECT_EQ(cut->datagram_size(), big.size());
  EXPECT_EQ(cut->view(), std::string_view(big).substr(0, room));
  auto whole = co_await b->recv_from_buffered(in(5s));
  if (!whole) co_return std::unexpected(whole.error());
  EXPECT_FALSE(whole->truncated()) << "a datagram that just fits is whole";
  EXPECT_EQ(whole->view(), exact);
  auto empty = co_await b->recv_from_buffered(in(5s));
  if (!empty) co_return std::unexpected(empty.error());
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_FALSE(empty->truncated());
  EXPECT_EQ(empty->from().port(), a->local_addr()->port());
  co_return Result<void>{};
}

TEST_P(UdpBuffered, ATruncatedDatagramSaysSoAndBoundariesStay) {
  auto r = run(truncation_is_reported(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

size_t small_size(int i) { return static_cast<size_t>(8 + i % 40); }

// A ring of 4 buffers and a reader that holds 4 datagrams at a time: the ring runs dry
// (ENOBUFS; the datagrams wait in the socket), and re-arms when they come back.
Task<Result<void>> exhaustion_then_rearm() {
  if (auto c = net::configure_recv_buffers({4, 128}); !c) co_return std::unexpected(c.error());
  auto a = bound(), b = bound();
  if (!a || !b) co_return std::unexpected(!a ? a.error() : b.error());
  constexpr int kCount = 60;
  for (int i = 0; i < kCount; ++i) {
    if (auto s = co_await a->send_to(datagram(i, small_size(i)), *b->local_addr(), in(5s)); !s) {
      co_return std::unexpected(s.error());
    }
  }
  std::vector<net::UdpDatagram> held;
  for (int i = 0; i < kCount; ++i) {
    auto d = co_await b->recv_from_buffered(in(5s));
    if (!d) co_return std::unexpected(d.error());
    EXPECT_EQ(d->view(), datagram(i, small_size(i))) << "datagram " << i;
    held.push_back(std::move(*d));
    EXPECT_EQ(held.back().view(), datagram(i, small_size(i))) << "a moved datagram keeps its bytes";
    if (held.size() == 4) {
      EXPECT_EQ(net::recv_buffers_outstanding(), 4u) << "the whole ring is held";
      co_await sleep(1ms);  // the ring stays dry meanwhile
      held.clear();
    }
  }
  EXPECT_EQ(err(co_await b->recv_from_buffered(in(2ms))), errc::timed_out) << "nothing more, nothing twice";
  held.clear();
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u);
  co_return Result<void>{};
}

TEST_P(UdpBuffered, ARingThatRunsDryReArmsAndLosesNothing) {
  auto r = run(exhaustion_then_rearm(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

// A socket nobody reads from holds at most about 32 datagrams in ring buffers: then its
// multishot is cancelled (the rest wait in the kernel's socket buffer) and re-armed as the
// reader catches up. All 100 arrive, in order.
Task<Result<void>> a_slow_reader_caps_its_queue() {
  auto a = bound(), b = bound();
  if (!a || !b) co_return std::unexpected(!a ? a.error() : b.error());
  EXPECT_EQ(err(co_await b->recv_from_buffered(in(1ms))), errc::timed_out);  // armed
  constexpr int kCount = 100;
  for (int i = 0; i < kCount; ++i) {
    if (auto s = co_await a->send_to(datagram(i, small_size(i)), *b->local_addr(), in(5s)); !s) {
      co_return std::unexpected(s.error());
    }
  }
  co_await sleep(5ms);
  const size_t queued = net::recv_buffers_outstanding();
  EXPECT_GE(queued, 32u) << "the queue fills up to its cap";
  EXPECT_LT(queued, 64u) << "and stops there, not at " << kCount;
  for (int i = 0; i < kCount; ++i) {
    auto d = co_await b->recv_from_buffered(in(5s));
    if (!d) co_return std::unexpected(d.error());
    EXPECT_EQ(d->view(), datagram(i, small_size(i))) << "datagram " << i;
  }
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u);
  co_return Result<void>{};
}

TEST_P(UdpBuffered, ASlowReaderCapsItsQueueAndLosesNothing) {
  auto r = run(a_slow_reader_caps_its_queue(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

// Readers that time out again and again while datagrams trickle in, and one aborted
// mid-wait: every datagram is had exactly once, in order.
Task<Result<void>> paced_sender(const net::UdpSocket* s, net::SocketAddr to, int count) {
  for (int i = 0; i < count; ++i) {
    if (auto r = co_await s->send_to(datagram(i, small_size(i)), to, in(5s)); !r) co_return std::unexpected(r.error());
    co_await sleep(300us);
  }
  co_return Result<void>{};
}

Task<Result<int>> cancelled_readers_lose_nothing() {
  auto a = bound(), b = bound();
  if (!a || !b) co_return std::unexpected(!a ? a.error() : b.error());
  auto aborted = go([](const net::UdpSocket* s) -> Task<Result<net::UdpDatagram>> {
    co_return co_await s->recv_from_buffered();
  }(&*b));
  co_await sleep(2ms);
  (void)aborted.abort();
  EXPECT_EQ(err(co_await aborted.join()), errc::cancelled) << "nothing was sent yet";
  constexpr int kCount = 40;
  auto sender = spawn(paced_sender(&*a, *b->local_addr(), kCount));
  int timeouts = 0;
  for (int i = 0; i < kCount;) {
    auto d = co_await b->recv_from_buffered(in(100us));
    if (!d && d.error() == make_error_code(errc::timed_out)) {
      ++timeouts;
      continue;
    }
    if (!d) co_return std::unexpected(d.error());
    EXPECT_EQ(d->view(), datagram(i, small_size(i))) << "datagram " << i;
    ++i;
  }
  if (auto s = co_await sender.join(); !s) co_return std::unexpected(s.error());
  EXPECT_EQ(err(co_await b->recv_from_buffered(in(2ms))), errc::timed_out) << "nothing twice";
  co_return timeouts;
}

TEST_P(UdpBuffered, ReadersThatTimeOutOrAreAbortedLoseNothing) {
  auto r = run(cancelled_readers_lose_nothing(), 1);
  ASSERT_TRUE(r) << err(r).message();
  EXPECT_GT(*r, 0) << "the premise: some reads timed out mid-stream";
}

// recv_from and recv are refused once the socket is buffered; a connected socket hears
// only its peer; close gives queued buffers back and later calls fail with EBADF.
Task<Result<void>> mixing_refused_and_close() {
  auto a = bound(), b = bound(), stranger = bound();
  if (!a || !b || !stranger) co_return std::unexpected(std::make_error_code(std::errc::address_in_use));
  if (auto c = co_await b->connect(*a->local_addr()); !c) co_return c;
  (void)co_await stranger->send_to(std::string_view("no"), *b->local_addr(), in(5s));
  (void)co_await a->send_to(std::string_view("yes"), *b->local_addr(), in(5s));
  auto d = co_await b->recv_from_buffered(in(5s));
  if (!d) co_return std::unexpected(d.error());
  EXPECT_EQ(d->view(), "yes");
  EXPECT_EQ(d->from().port(), a->local_addr()->port());
  char buf[8];
  EXPECT_EQ(err(co_await b->recv_from(buf, in(1ms))), errc::invalid_argument);
  EXPECT_EQ(err(co_await b->recv(buf, in(1ms))), errc::invalid_argument);
  for (int i = 0; i < 3; ++i) (void)co_await a->send_to(std::string_view("queued"), *b->local_addr(), in(5s));
  co_await sleep(5ms);  // they arrive into buffers queued in the socket
  d->release();
  d->release();  // a second release is a no-op
  EXPECT_EQ(d->size(), 0u);
  EXPECT_GE(net::recv_buffers_outstanding(), 1u) << "the premise: buffers queued in the socket";
  (void)co_await b->close();
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "queued buffers given back at close";
  EXPECT_EQ(err(co_await b->recv_from_buffered(in(1ms))), std::errc::bad_file_descriptor);
  co_return Result<void>{};
}

TEST_P(UdpBuffered, MixingIsRefusedAConnectedSocketHearsItsPeerAndCloseGivesBuffersBack) {
  auto r = run(mixing_refused_and_close(), 1);
  ASSERT_TRUE(r) << err(r).message();
}

// A reader blocked in recv_from_buffered is ended by close() from another routine
// (EBADF), and every buffer comes back. (SHUT_RD would not end it: the kernel leaves the
// multishot armed and silent, docs/io.md; the sockets have no shutdown().) Queued buffers
// at close: MixingIsRefusedAConnectedSocketHearsItsPeerAndCloseGivesBuffersBack.
struct ReaderEnd {
  int taken = 0;
  std::error_code error;
};

template <class Socket, class Address>
Task<Result<void>> close_ends_a_blocked_reader(const Socket* sender, Socket* reader, Address to) {
  auto blocked = go([](const Socket* s) -> Task<ReaderEnd> {
    ReaderEnd end;
    for (;;) {
      auto d = co_await s->recv_from_buffered(in(5s));
      if (!d) {
        end.error = d.error();
        co_return end;
      }
      ++end.taken;
    }
  }(reader));
  for (int i = 0; i < 3; ++i) {
    if (auto r = co_await sender->send_to(std::string_view("one"), to, in(5s)); !r)
      co_return std::unexpected(r.error());
  }
  co_await sleep(10ms);  // the reader takes the three and blocks
  (void)co_await reader->close();
  auto joined = co_await blocked.join();
  if (!joined) co_return std::unexpected(joined.error());
  const ReaderEnd end = *joined;
  EXPECT_EQ(end.taken, 3);
  EXPECT_EQ(end.error, std::make_error_code(std::errc::bad_file_descriptor));
  EXPECT_EQ(net::recv_buffers_outstanding(), 0u) << "every buffer given back";
  co_return Result<void>{};
}

TEST_P(UdpBuffered, CloseEndsABlockedReaderAndEveryBufferComesBack) {
  auto r = run(
      []() -> Task<Result<void>> {
        auto a = bound(), b = bound();
        if (!a || !b) co_return std::unexpected(!a ? a.error() : b.error());
        co_return co_await close_ends_a_blocked_reader(&*a, &*b, *b->local_addr());
      }(),
      1);
  ASSERT_TRUE(r) << err(r).message();
}

// Buffers with no room past the header are refused before anything is registered.
TEST_P(UdpBuffered, BuffersWithNoRoomForAPayloadAreRefused) {
  auto r = run(
      []() -> Task<Result<void>> {
        if (auto c = net::configure_recv_buffers({4, net::kDatagramHeadroom}); !c) co_return c;
        auto b = bound();
        if (!b) co_return std::unexpected(b.error());
        EXPECT_EQ(err(co_await b->recv_from_buffered(in(1ms))), errc::invalid_argument);
        EXPECT_TRUE(net::configure_recv_buffers({4, 64}).has_value()) << "nothing was registered";
        auto d = co_await b->recv_from_buffered(in(1ms));
        EXPECT_EQ(err(d), errc::timed_out);
        co_return Result<void>{};
      }(),
      1);
  ASSERT_TRUE(r) << err(r).message();
}

RINGO_ON_EVERY_BACKEND(UdpBuffered);

}  // namespace
}  // namespace ringo
