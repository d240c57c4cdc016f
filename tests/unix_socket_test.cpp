// Unix domain sockets on every backend: streams over a path and an abstract name (the
// same reads, writes and accepts as TCP), datagrams with the sender's name and
// truncation, and bad names. Paths live in a fresh temporary directory per test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <string>
#include <utility>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using testing::err;
using namespace std::chrono_literals;

class UnixSocket : public testing::OnEveryBackend {
 protected:
  // A path unique to this process and test (ctest runs backends at once).
  std::string path(const std::string& leaf) {
    const auto dir = std::filesystem::temp_directory_path() / ("ringo-unix-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    dirs_.push_back(dir);
    const auto p = dir / leaf;
    std::filesystem::remove(p);
    return p.string();
  }
  void TearDown() override {
    for (const auto& d : dirs_) std::filesystem::remove_all(d);
  }
  std::vector<std::filesystem::path> dirs_;
};

Instant in(Duration d) { return current_shard()->now() + d; }

Task<Result<std::string>> stream_round_trip(net::UnixAddress where) {
  auto listener = net::UnixListener::bind(where);
  if (!listener) co_return std::unexpected(listener.error());
  EXPECT_EQ(listener->local_addr()->to_string(), where.to_string());
  auto client = co_await net::UnixStream::connect(where, in(5s));
  if (!client) co_return std::unexpected(client.error());
  auto server = co_await listener->accept(in(5s));
  if (!server) co_return std::unexpected(server.error());
  EXPECT_EQ(client->peer_addr()->to_string(), where.to_string());
  EXPECT_TRUE(client->local_addr()->is_unnamed());
  if (auto w = co_await client->write_all(std::string_view("over unix")); !w) co_return std::unexpected(w.error());
  EXPECT_TRUE(co_await client->shutdown());
  std::array<char, 9> got{};
  if (auto r = co_await server->read_exact(got, in(5s)); !r) co_return std::unexpected(r.error());
  char more = 0;
  EXPECT_EQ(co_await server->read({&more, 1}, in(5s)), size_t{0});  // end of stream
  co_return std::string(got.data(), got.size());
}

TEST_P(UnixSocket, StreamsOverAPathAndAnAbstractName) {
  const std::string p = path("stream.sock");
  auto r = run([](std::string p) -> Task<Result<void>> {
    auto by_path = co_await stream_round_trip(*net::UnixAddress::path(p));
    if (!by_path) co_return std::unexpected(by_path.error());
    EXPECT_EQ(*by_path, "over unix");
    auto abstract = *net::UnixAddress::abstract("ringo-test-" + std::to_string(::getpid()));
    EXPECT_TRUE(abstract.is_abstract());
    auto by_name = co_await stream_round_trip(abstract);
    if (!by_name) co_return std::unexpected(by_name.error());
    EXPECT_EQ(*by_name, "over unix");
    co_return Result<void>{};
  }(p));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(UnixSocket, DatagramsNameTheirSenderAndReportTruncation) {
  const std::string pa = path("a.sock");
  const std::string pb = path("b.sock");
  auto r = run([](std::string pa, std::string pb) -> Task<Result<void>> {
    auto a = net::UnixDatagram::bind(*net::UnixAddress::path(pa));
    if (!a) co_return std::unexpected(a.error());
    auto b = net::UnixDatagram::bind(*net::UnixAddress::path(pb));
    if (!b) co_return std::unexpected(b.error());
    EXPECT_EQ(co_await a->send_to(std::string_view("0123456789"), *b->local_addr(), in(5s)), size_t{10});
    std::array<char, 4> small{};
    auto got = co_await b->recv_from(small, in(5s));
    if (!got) co_return std::unexpected(got.error());
    EXPECT_EQ(std::string(small.data(), got->size), "0123");
    EXPECT_TRUE(got->truncated);
    EXPECT_EQ(got->datagram_size, 10u);
    EXPECT_EQ(got->from.name(), pa);
    if (auto c = co_await b->connect(got->from); !c) co_return c;
    EXPECT_EQ(co_await b->send(std::string_view("back")), size_t{4});
    auto back = co_await a->recv(small, in(5s));
    if (!back) co_return std::unexpected(back.error());
    EXPECT_EQ(std::string(small.data(), back->size), "back");
    EXPECT_FALSE(back->truncated);
    co_return Result<void>{};
  }(pa, pb));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

// recv_from_buffered on a Unix datagram socket: the sender's path and abstract name come
// with each datagram, a datagram longer than a buffer's room is cut and says so, mixing
// with recv_from is refused, and every buffer comes back.
TEST_P(UnixSocket, BufferedDatagramsNameTheirSenderAndReportTruncation) {
  const std::string pa = path("ba.sock");
  const std::string pb = path("bb.sock");
  auto r = run([](std::string pa, std::string pb) -> Task<Result<void>> {
    if (auto c = net::configure_recv_buffers({8, 256}); !c) co_return c;  // 128 bytes of payload
    auto a = net::UnixDatagram::bind(*net::UnixAddress::path(pa));
    const auto name = *net::UnixAddress::abstract("ringo-ms-" + std::to_string(::getpid()));
    auto c = net::UnixDatagram::bind(name);
    auto b = net::UnixDatagram::bind(*net::UnixAddress::path(pb));
    if (!a || !b || !c) co_return std::unexpected(make_error_code(errc::invalid_argument));
    const std::string big(200, 'x');
    EXPECT_TRUE(co_await a->send_to(std::string_view("from a path"), *b->local_addr(), in(5s)));
    EXPECT_TRUE(co_await c->send_to(big, *b->local_addr(), in(5s)));
    EXPECT_TRUE(co_await c->send_to(std::string_view(), *b->local_addr(), in(5s)));
    auto one = co_await b->recv_from_buffered(in(5s));
    if (!one) co_return std::unexpected(one.error());
    EXPECT_EQ(one->view(), "from a path");
    EXPECT_EQ(one->from().name(), pa);
    auto two = co_await b->recv_from_buffered(in(5s));
    if (!two) co_return std::unexpected(two.error());
    EXPECT_TRUE(two->truncated());
    EXPECT_EQ(two->size(), 256 - net::kUnixDatagramHeadroom);
    EXPECT_EQ(two->datagram_size(), big.size());
    EXPECT_EQ(two->from().to_string(), name.to_string());
    auto three = co_await b->recv_from_buffered(in(5s));
    if (!three) co_return std::unexpected(three.error());
    EXPECT_EQ(three->size(), 0u);
    EXPECT_FALSE(three->truncated());
    std::array<char, 4> buf{};
    EXPECT_EQ(err(co_await b->recv_from(buf, in(1ms))), errc::invalid_argument);
    one->release();
    two->release();
    three->release();
    (void)co_await b->close();
    EXPECT_EQ(net::recv_buffers_outstanding(), 0u);
    co_return Result<void>{};
  }(pa, pb));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

// A reader blocked in recv_from_buffered is ended by close() from another routine (EBADF)
// and every buffer comes back (the UDP case: udp_buffered_test).
TEST_P(UnixSocket, CloseEndsABlockedBufferedReader) {
  const std::string pa = path("ca.sock");
  const std::string pb = path("cb.sock");
  auto r = run([](std::string pa, std::string pb) -> Task<Result<void>> {
    auto a = net::UnixDatagram::bind(*net::UnixAddress::path(pa));
    auto b = net::UnixDatagram::bind(*net::UnixAddress::path(pb));
    if (!a || !b) co_return std::unexpected(make_error_code(errc::invalid_argument));
    auto blocked = go([](const net::UnixDatagram* s) -> Task<std::pair<int, std::error_code>> {
      for (int taken = 0;; ++taken) {
        auto d = co_await s->recv_from_buffered(in(5s));
        if (!d) co_return std::pair{taken, d.error()};
      }
    }(&*b));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(co_await a->send_to(std::string_view("one"), *b->local_addr(), in(5s)));
    co_await sleep(10ms);  // the reader takes the three and blocks
    (void)co_await b->close();
    auto joined = co_await blocked.join();
    if (!joined) co_return std::unexpected(joined.error());
    const auto [taken, error] = *joined;
    EXPECT_EQ(taken, 3);
    EXPECT_EQ(error, std::make_error_code(std::errc::bad_file_descriptor));
    EXPECT_EQ(net::recv_buffers_outstanding(), 0u);
    co_return Result<void>{};
  }(pa, pb));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(UnixSocket, BadNamesGetClearErrors) {
  const std::string p = path("taken.sock");
  const std::string missing = path("nobody.sock");
  auto r = run([](std::string p, std::string missing) -> Task<Result<void>> {
    EXPECT_EQ(err(net::UnixAddress::path("")), errc::invalid_argument);
    EXPECT_EQ(err(net::UnixAddress::path(std::string(200, 'x'))), errc::invalid_argument);
    EXPECT_EQ(err(net::UnixAddress::path(std::string("a\0b", 3))), errc::invalid_argument);
    EXPECT_EQ(err(net::UnixAddress::abstract(std::string(200, 'x'))), errc::invalid_argument);
    EXPECT_EQ(err(net::UnixListener::bind(net::UnixAddress{})), errc::invalid_argument);
    auto l = net::UnixListener::bind(*net::UnixAddress::path(p));
    if (!l) co_return std::unexpected(l.error());
    EXPECT_EQ(err(net::UnixListener::bind(*net::UnixAddress::path(p))), std::errc::address_in_use);
    EXPECT_EQ(err(co_await net::UnixStream::connect(*net::UnixAddress::path(missing), in(5s))),
              std::errc::no_such_file_or_directory);
    const auto nobody = *net::UnixAddress::abstract("ringo-nobody-" + std::to_string(::getpid()));
    EXPECT_EQ(err(co_await net::UnixStream::connect(nobody, in(5s))), std::errc::connection_refused);
    auto d = net::UnixDatagram::unbound();
    if (!d) co_return std::unexpected(d.error());
    EXPECT_EQ(err(co_await d->send_to(std::string_view("x"), nobody)), std::errc::connection_refused);
    EXPECT_TRUE(co_await d->close());
    EXPECT_EQ(err(co_await d->send_to(std::string_view("x"), nobody)), std::errc::bad_file_descriptor);
    co_return Result<void>{};
  }(p, missing));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

RINGO_ON_EVERY_BACKEND(UnixSocket);

}  // namespace
}  // namespace ringo
