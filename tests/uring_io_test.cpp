// Cancellation of real kernel I/O on io_uring (the simulator has no pipes yet).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "ringo/ringo.hpp"
#include "watchdog.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;
using testing::Watchdog;

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(pipe(fds), 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
};

Sqe read_sqe(int fd, void* buf, uint32_t len) {
  Sqe s;
  s.opcode = Opcode::read;
  s.fd = fd;
  s.addr = reinterpret_cast<uint64_t>(buf);
  s.len = len;
  s.off = static_cast<uint64_t>(-1);  // current position: pipes have none
  return s;
}

Runtime uring_runtime(uint32_t shards) {
  RuntimeConfig c;
  c.shards = shards;
  c.backend = Backend::uring;
  auto rt = Runtime::create(c);
  EXPECT_TRUE(rt.has_value());
  return std::move(*rt);
}

// The aborted read is cancelled in the kernel: data written afterwards stays in the pipe
// and the buffer the read pointed at is never written.
TEST(CancelOnUring, CancelledReadNeverWritesItsBuffer) {
  Watchdog guard{20s, "an aborted read on a pipe to be cancelled in the kernel"};
  Pipe p;
  auto rt = uring_runtime(1);
  std::array<char, 16> buffer{};
  auto r = rt.block_on([](int fd, char* buf) -> Task<Result<int32_t>> {
    auto reader =
        go([](int f, char* b) -> Task<Result<int32_t>> { co_return co_await submit(read_sqe(f, b, 16)); }(fd, buf));
    co_await sleep(2ms);  // the read is now blocked in the kernel
    (void)reader.abort();
    co_return co_await reader.join();
  }(p.fds[0], buffer.data()));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), errc::cancelled);
  ASSERT_EQ(write(p.fds[1], "late data", 9), 9);
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(std::string(buffer.data()), "");  // nothing arrived after the routine resumed
  char check[16] = {};
  EXPECT_EQ(read(p.fds[0], check, sizeof check), 9);  // the data is still in the pipe
  EXPECT_EQ(rt.stats().total.ops_cancelled_by_kernel, 1u);
}

// A read that completes while its cancel is in flight delivers its bytes (outcome 3).
TEST(CancelOnUring, ReadThatWinsTheRaceKeepsItsBytes) {
  Watchdog guard{20s, "a read racing its abort to complete one way or the other"};
  Pipe p;
  auto rt = uring_runtime(1);
  std::array<char, 16> buffer{};
  ASSERT_EQ(write(p.fds[1], "ready", 5), 5);
  auto r = rt.block_on([](int fd, char* buf) -> Task<Result<int32_t>> {
    auto reader =
        go([](int f, char* b) -> Task<Result<int32_t>> { co_return co_await submit(read_sqe(f, b, 16)); }(fd, buf));
    co_await yield_now();
    co_await nop();  // one tick: the read has been submitted and, with data waiting, done
    (void)reader.abort();
    co_return co_await reader.join();
  }(p.fds[0], buffer.data()));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(std::string(buffer.data(), 5), "ready");
}

// Shutdown with 1,000 reads outstanding in the kernel cancels them all within its bound.
TEST(CancelOnUring, ShutdownCancelsAThousandOutstandingReads) {
  Watchdog guard{20s, "shutdown to cancel a thousand outstanding reads"};
  Pipe p;
  auto rt = uring_runtime(2);
  std::vector<std::array<char, 8>> buffers(1000);
  auto r = rt.block_on([](int fd, std::vector<std::array<char, 8>>* bufs) -> Task<void> {
    for (size_t i = 0; i < bufs->size(); ++i) {
      const uint32_t shard = static_cast<uint32_t>(i % 2);
      auto t = [](int f, char* b) -> Task<Result<int32_t>> { co_return co_await submit(read_sqe(f, b, 8)); };
      if (shard == 0) {
        go(t(fd, (*bufs)[i].data())).detach();
      } else {
        spawn_on(1, t(fd, (*bufs)[i].data())).detach();
      }
    }
    co_await sleep(5ms);
  }(p.fds[0], &buffers));
  ASSERT_TRUE(r.has_value());
  auto report = rt.shutdown();  // nothing abandoned = drained before shutdown_timeout
  EXPECT_GE(report.routines_cancelled, 1000u) << report.summary();
  EXPECT_EQ(report.routines_abandoned, 0u) << report.summary();
  EXPECT_EQ(report.ops_abandoned, 0u) << report.summary();
  // Under a slow build some reads are cancelled before they reach the kernel; none may
  // complete (the pipe stays empty) and none may be left behind.
  const ShardStats total = rt.stats().total;
  EXPECT_GT(total.ops_cancelled_by_kernel, 0u);
  EXPECT_EQ(total.ops_completed_despite_cancel, 0u);
  EXPECT_EQ(total.routines_live, 0u);
}

}  // namespace
}  // namespace ringo

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ringo {
namespace {

// A loopback listener on an ephemeral port, made with plain syscalls.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd, 1024), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(fd); }
  int connect_client() const {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return c;
  }
};

Sqe accept_sqe(int fd) {
  Sqe s;
  s.opcode = Opcode::accept;
  s.fd = fd;
  s.len = SOCK_CLOEXEC;
  return s;
}

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

// An accept cancelled in the race either is cancelled (the connection stays in the
// backlog) or returns the connection's fd to the caller: never a leaked connection.
TEST(CancelOnUring, CancelledAcceptNeverLeaksAConnection) {
  Watchdog guard{20s, "an aborted accept to be cancelled in the kernel"};
  Listener l;
  auto rt = uring_runtime(1);
  const size_t fds_before = open_fds();
  int returned = 0;
  int cancelled = 0;
  for (int round = 0; round < 50; ++round) {
    const int client = l.connect_client();
    auto r = rt.block_on([](int fd, int round_no) -> Task<Result<int32_t>> {
      auto acceptor = go([](int f) -> Task<Result<int32_t>> { co_return co_await submit(accept_sqe(f)); }(fd));
      co_await yield_now();
      if (round_no % 2 == 1) co_await nop();  // let the accept reach the kernel sometimes
      (void)acceptor.abort();
      co_return co_await acceptor.join();
    }(l.fd, round));
    if (r) {
      ++returned;
      close(*r);  // outcome 3: the accepted connection is ours to close
    } else {
      EXPECT_EQ(r.error(), errc::cancelled);
      ++cancelled;
      const int pending = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);  // still in the backlog
      EXPECT_GE(pending, 0);
      close(pending);
    }
    close(client);
  }
  EXPECT_EQ(returned + cancelled, 50);
  EXPECT_GT(returned, 0);  // both sides of the race occurred
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(open_fds(), fds_before);
}

TEST(CancelOnUring, ShutdownCancelsOutstandingAccepts) {
  Watchdog guard{20s, "shutdown to cancel outstanding accepts"};
  Listener l;
  auto rt = uring_runtime(2);
  auto r = rt.block_on([](int fd) -> Task<void> {
    for (int i = 0; i < 1000; ++i) {
      auto t = [](int f) -> Task<Result<int32_t>> { co_return co_await submit(accept_sqe(f)); };
      if (i % 2 == 0) {
        go(t(fd)).detach();
      } else {
        spawn_on(1, t(fd)).detach();
      }
    }
    co_await sleep(5ms);
  }(l.fd));
  ASSERT_TRUE(r.has_value());
  auto report = rt.shutdown();
  EXPECT_GE(report.routines_cancelled, 1000u) << report.summary();
  EXPECT_EQ(report.routines_abandoned, 0u) << report.summary();
  EXPECT_EQ(report.ops_abandoned, 0u) << report.summary();
  EXPECT_EQ(rt.stats().total.routines_live, 0u);
}

}  // namespace
}  // namespace ringo
