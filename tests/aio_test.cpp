// The AIO backend's own cases: what the conformance suite does not pin (wake-ups from
// other threads, cancels racing file I/O, the aio-max-nr message) and the automatic
// fallback when io_uring is refused by a seccomp filter, as in Docker's default profile.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../tools/no-uring/refuse_io_uring.hpp"
#include "ringo/internal/aio/aio_ring.hpp"
#include "ringo/internal/core/op_slab.hpp"
#include "ringo/ringo.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

std::unique_ptr<aio::AioRing> make_ring() {
  auto setup = aio::AioRing::create({});
  EXPECT_TRUE(setup.ring != nullptr) << setup.report;
  return std::move(setup.ring);
}

// Collects CQEs until `expect` arrived or about 2 s passed.
std::vector<Cqe> collect(Ring& ring, size_t expect) {
  std::vector<Cqe> out;
  Cqe buf[16];
  for (int round = 0; round < 2000 && out.size() < expect; ++round) {
    (void)ring.submit_and_wait(1, 1ms);
    const size_t n = ring.reap(buf);
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

TEST(AioRing, AForeignThreadWakesASleepingRing) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  const int32_t id = ring->msg_ring_id();
  const auto start = std::chrono::steady_clock::now();
  std::thread sender([id] {
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(aio::AioRing::send_message(id, 5, UserData::make(UdKind::message, 0, 9)), 0);
  });
  (void)ring->submit_and_wait(1, 10s);  // woken by the message, not by the timeout
  const auto waited = std::chrono::steady_clock::now() - start;
  sender.join();
  Cqe c[4];
  ASSERT_EQ(ring->reap(c), 1u);
  EXPECT_EQ(c[0].res, 5);
  EXPECT_EQ(c[0].user_data, UserData::make(UdKind::message, 0, 9));
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(aio::AioRing::send_message(-1, 0, 0), -EBADF);
}

TEST(AioRing, NoWakeUpIsLostBetweenASenderAndASleepingRing) {
  // Ping-pong: the sender posts the next message as soon as the previous one arrived,
  // so it often lands while the ring is on its way into ppoll. A lost wake-up shows as a
  // wait that runs into its timeout.
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  const int32_t id = ring->msg_ring_id();
  constexpr int kRounds = 2000;
  std::atomic<int> received{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (int i = 0; i < kRounds && !stop.load(); ++i) {
      while (received.load() < i && !stop.load()) std::this_thread::yield();
      (void)aio::AioRing::send_message(id, i, UserData::make(UdKind::message, 0, 1));
    }
  });
  int timeouts = 0;
  Cqe c[4];
  for (int got = 0; got < kRounds && timeouts == 0;) {
    const auto start = std::chrono::steady_clock::now();
    (void)ring->submit_and_wait(1, 1s);
    const size_t n = ring->reap(c);
    if (n == 0 && std::chrono::steady_clock::now() - start >= 900ms) ++timeouts;
    got += static_cast<int>(n);
    received.store(got);
  }
  stop.store(true);
  sender.join();
  EXPECT_EQ(timeouts, 0) << "a message sat in the mailbox while the ring slept";
}

TEST(AioRing, CancellingFileReadsNeverLosesAResult) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  char path[] = "/tmp/ringo-aio-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "hello", 5), 5);
  char in[3][16] = {};
  // 0: cancelled in the same batch (before the kernel saw it); 1: cancelled once in
  // flight (files cannot be cancelled: it completes anyway, or is already done).
  std::vector<Sqe> batch;
  for (uint64_t i = 0; i < 2; ++i) {
    Sqe rd;
    rd.opcode = Opcode::read;
    rd.fd = fd;
    rd.addr = reinterpret_cast<uintptr_t>(in[i]);
    rd.len = sizeof in[i];
    rd.user_data = 1 + i;
    batch.push_back(rd);
  }
  Sqe cancel0;
  cancel0.opcode = Opcode::async_cancel;
  cancel0.addr = 1;
  cancel0.user_data = 11;
  std::vector<Sqe> first{batch[0], cancel0, batch[1]};
  ASSERT_EQ(ring->push(first), 3u);
  (void)ring->submit_and_wait(0, Duration{0});
  Sqe cancel1 = cancel0;
  cancel1.addr = 2;
  cancel1.user_data = 12;
  ASSERT_EQ(ring->push({&cancel1, 1}), 1u);
  std::vector<Cqe> got = collect(*ring, 4);
  ASSERT_EQ(got.size(), 4u);
  std::map<uint64_t, int32_t> res;
  for (const Cqe& c : got) res[c.user_data] = c.res;
  EXPECT_EQ(res[1], -ECANCELED);
  EXPECT_EQ(res[11], 0);
  EXPECT_EQ(res[2], 5) << "a read the kernel took reports its real result";
  EXPECT_TRUE(res[12] == -EALREADY || res[12] == -ENOENT || res[12] == 0) << res[12];
  ::close(fd);
  ::unlink(path);
}

TEST(AioRing, ADeadlineOnAFileReadThatWinsPostsItsRealResult) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  char path[] = "/tmp/ringo-aio-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "hello", 5), 5);
  char in[16] = {};
  Sqe rd;
  rd.opcode = Opcode::read;
  rd.fd = fd;
  rd.addr = reinterpret_cast<uintptr_t>(in);
  rd.len = sizeof in;
  rd.user_data = 1;
  rd.deadline = ring->now() + 1s;
  rd.timeout_user_data = 2;
  ASSERT_EQ(ring->push({&rd, 1}), 1u);
  std::vector<Cqe> got = collect(*ring, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].user_data, 1u);
  EXPECT_EQ(got[0].res, 5);
  EXPECT_EQ(got[1].user_data, 2u);
  EXPECT_EQ(got[1].res, -ECANCELED);
  ::close(fd);
  ::unlink(path);
}

TEST(AioRing, AReadThePageCacheCannotAnswerRunsOnAHelper) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  char path[] = "/work/ringo-aio-XXXXXX";  // a real disk: /tmp may be in memory elsewhere
  int fd = mkstemp(path);
  if (fd < 0) {
    std::strcpy(path, "/tmp/ringo-aio-XXXXXX");
    fd = mkstemp(path);
  }
  ASSERT_GE(fd, 0);
  std::vector<char> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);  // out of the page cache
  std::vector<Sqe> batch;
  std::vector<std::vector<char>> bufs(8, std::vector<char>(4096));
  for (uint64_t i = 0; i < bufs.size(); ++i) {
    Sqe rd;
    rd.opcode = Opcode::read;
    rd.fd = fd;
    rd.addr = reinterpret_cast<uintptr_t>(bufs[i].data());
    rd.len = 4096;
    rd.off = i * 128 * 1024;
    rd.user_data = 1 + i;
    batch.push_back(rd);
  }
  ASSERT_EQ(ring->push(batch), batch.size());
  std::vector<Cqe> got = collect(*ring, batch.size());
  ASSERT_EQ(got.size(), batch.size());
  for (const Cqe& c : got) {
    EXPECT_EQ(c.res, 4096) << c.user_data;
    const size_t i = c.user_data - 1;
    EXPECT_EQ(std::memcmp(bufs[i].data(), data.data() + i * 128 * 1024, 4096), 0) << i;
  }
  // Where the file system honours RWF_NOWAIT for reads (ext4, xfs, btrfs), uncached reads
  // leave the shard; on tmpfs everything is cached and nothing does.
  std::printf("helper reads: %llu of %zu\n", static_cast<unsigned long long>(ring->helper_reads()), batch.size());
  ::close(fd);
  ::unlink(path);
}

TEST(AioRing, MultishotAcceptLosesNoConnection) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  SysCall make_socket{SysOp::socket, -1, AF_INET};
  const auto listener = static_cast<int32_t>(ring->sys(make_socket));
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SysCall bind{SysOp::bind, listener, 0, 0, &addr, sizeof addr};
  SysCall listen{SysOp::listen, listener, 256};
  SysCall name{SysOp::local_addr, listener, 0, 0, &addr, sizeof addr};
  ASSERT_EQ(ring->sys(bind), 0);
  ASSERT_EQ(ring->sys(listen), 0);
  ASSERT_EQ(ring->sys(name), 0);
  Sqe acc;
  acc.opcode = Opcode::accept;
  acc.fd = listener;
  acc.ioprio = kAcceptMultishot;
  acc.user_data = 1;
  ASSERT_EQ(ring->push({&acc, 1}), 1u);
  (void)ring->submit_and_wait(0, Duration{0});
  constexpr int kClients = 150;  // more than one accept batch (64)
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    clients.push_back(c);
  }
  std::vector<Cqe> got = collect(*ring, kClients);
  ASSERT_EQ(got.size(), static_cast<size_t>(kClients));
  for (const Cqe& c : got) {
    EXPECT_GE(c.res, 0);
    EXPECT_NE(c.flags & kCqeMore, 0u);
    if (c.res >= 0) ::close(c.res);
  }
  Sqe cancel;
  cancel.opcode = Opcode::async_cancel;
  cancel.addr = 1;
  cancel.user_data = 2;
  ASSERT_EQ(ring->push({&cancel, 1}), 1u);
  got = collect(*ring, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const Cqe& c : got) {
    if (c.user_data == 1) {
      EXPECT_EQ(c.res, -ECANCELED);
      EXPECT_EQ(c.flags & kCqeMore, 0u);
    } else {
      EXPECT_EQ(c.res, 0);
    }
  }
  for (int c : clients) ::close(c);
  ::close(listener);
}

Sqe recv_sqe(int fd, char* buf, uint32_t len, uint64_t user_data) {
  Sqe rv;
  rv.opcode = Opcode::recv;
  rv.fd = fd;
  rv.addr = reinterpret_cast<uintptr_t>(buf);
  rv.len = len;
  rv.user_data = user_data;
  return rv;
}

// Waiting sockets hold no AIO slot: with IOCB_CMD_POLL, every recv past the context's
// capacity (4 here) waited behind polls that never completed, so the last socket's data
// was never read.
TEST(AioRing, WaitingSocketsBeyondTheContextCapacityStillComplete) {
  aio::AioOptions options;
  options.entries = 1;  // the context holds 4 ops in flight
  auto setup = aio::AioRing::create(options);
  ASSERT_TRUE(setup.ring) << setup.report;
  Ring& ring = *setup.ring;
  constexpr int kSockets = 64;
  std::vector<std::array<int, 2>> pairs(kSockets);
  std::vector<std::array<char, 8>> bufs(kSockets);
  for (int i = 0; i < kSockets; ++i) {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pairs[i].data()), 0);
    const Sqe rv = recv_sqe(pairs[i][0], bufs[i].data(), 8, 1 + static_cast<uint64_t>(i));
    ASSERT_EQ(ring.push({&rv, 1}), 1u);
    (void)ring.submit_and_wait(0, Duration{0});
  }
  ASSERT_EQ(::write(pairs[kSockets - 1][1], "x", 1), 1);
  std::vector<Cqe> got = collect(ring, 1);
  ASSERT_EQ(got.size(), 1u) << "the last socket's recv never completed";
  EXPECT_EQ(got[0].user_data, static_cast<uint64_t>(kSockets));
  EXPECT_EQ(got[0].res, 1);
  for (int i = 0; i < kSockets - 1; ++i) ASSERT_EQ(::write(pairs[i][1], "x", 1), 1);
  got = collect(ring, kSockets - 1);
  ASSERT_EQ(got.size(), static_cast<size_t>(kSockets - 1));
  for (const Cqe& c : got) EXPECT_EQ(c.res, 1) << c.user_data;
  for (auto& p : pairs) {
    ::close(p[0]);
    ::close(p[1]);
  }
}

// A recv whose descriptor is closed under it outlives the descriptor (io_uring's recv
// holds the file); the number's next owner must never feed it, and a cancel ends it.
TEST(AioRing, ARecvOrphanedByACloseNeverReadsTheNumbersNextOwner) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  int first[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, first), 0);
  char orphan_buf[8] = {};
  const Sqe orphan = recv_sqe(first[0], orphan_buf, sizeof orphan_buf, 1);
  ASSERT_EQ(ring->push({&orphan, 1}), 1u);
  (void)ring->submit_and_wait(0, Duration{0});
  Sqe close_op;
  close_op.opcode = Opcode::close;
  close_op.fd = first[0];
  close_op.user_data = 2;
  ASSERT_EQ(ring->push({&close_op, 1}), 1u);
  std::vector<Cqe> got = collect(*ring, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 2u);
  EXPECT_EQ(got[0].res, 0);

  int second[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, second), 0);
  ASSERT_EQ(second[0], first[0]) << "the test needs the number reused";
  char fresh_buf[8] = {};
  const Sqe fresh = recv_sqe(second[0], fresh_buf, sizeof fresh_buf, 3);
  ASSERT_EQ(ring->push({&fresh, 1}), 1u);
  (void)ring->submit_and_wait(0, Duration{0});
  ASSERT_EQ(::write(second[1], "new", 3), 3);
  got = collect(*ring, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 3u) << "the orphan read the new descriptor";
  EXPECT_EQ(got[0].res, 3);
  EXPECT_EQ(orphan_buf[0], 0);

  Sqe cancel;
  cancel.opcode = Opcode::async_cancel;
  cancel.addr = 1;
  cancel.user_data = 4;
  ASSERT_EQ(ring->push({&cancel, 1}), 1u);
  got = collect(*ring, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const Cqe& c : got) EXPECT_EQ(c.res, c.user_data == 1 ? -ECANCELED : 0) << c.user_data;
  ::close(first[1]);
  ::close(second[0]);
  ::close(second[1]);
}

// Readiness is remembered per direction: a recv after an EAGAIN waits without a syscall,
// so every byte must still arrive when the writer races the ring. Ping-pong with a
// thread, one byte at a time, each side waiting for the other.
TEST(AioRing, PingPongWithAThreadLosesNoEdge) {
  auto ring = make_ring();
  ASSERT_TRUE(ring);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  constexpr int kRounds = 20000;
  std::thread peer([fd = sv[1]] {
    pollfd p{fd, POLLIN, 0};
    char c;
    for (int i = 0; i < kRounds; ++i) {
      long r;
      while ((r = ::read(fd, &c, 1)) < 0) (void)::poll(&p, 1, 2000);
      if (r == 0 || ::write(fd, &c, 1) != 1) return;  // the ring gave up (shutdown)
    }
  });
  char buf[1];
  int done = 0;
  for (; done < kRounds; ++done) {
    buf[0] = static_cast<char>(done);
    Sqe sd;
    sd.opcode = Opcode::send;
    sd.fd = sv[0];
    sd.addr = reinterpret_cast<uintptr_t>(buf);
    sd.len = 1;
    sd.user_data = 1;
    const Sqe rv = recv_sqe(sv[0], buf, 1, 2);
    ASSERT_EQ(ring->push({&sd, 1}), 1u);
    ASSERT_EQ(ring->push({&rv, 1}), 1u);
    const std::vector<Cqe> got = collect(*ring, 2);
    if (got.size() != 2) break;  // a lost edge: the recv never completed
  }
  EXPECT_EQ(done, kRounds) << "round " << done << " waited 2 s for the peer's byte";
  ::shutdown(sv[0], SHUT_RDWR);
  peer.join();
  ::close(sv[0]);
  ::close(sv[1]);
}

// epoll's timeouts are stretched by the thread's timer slack (50 µs by default), so a
// shard asleep until its next timer woke up to 50 µs late on AIO and not on io_uring
// (bench: cross_shard_wake/peer_sleeps_aio 293 µs -> 249 µs, io_uring 250 µs). A thread
// that has waited in an AioRing runs with a 1 µs slack.
TEST(AioRing, AThreadThatWaitsInTheRingHasAPreciseTimerSlack) {
  long after = -1;
  std::thread t([&after] {
    (void)::prctl(PR_SET_TIMERSLACK, 50000UL, 0UL, 0UL, 0UL);  // Linux's default, whatever ours is
    auto ring = make_ring();
    if (ring) (void)ring->submit_and_wait(1, 1ms);  // nothing to complete: it sleeps 1 ms
    after = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  });
  t.join();
  EXPECT_EQ(after, 1000);
}

// The ring's index of live ops by user_data against a std::map, over a long random stream
// of adds and removes (tombstones, growth, rebuilds) with colliding and duplicate keys.
TEST(AioOpIndex, AgreesWithAMapOverARandomStream) {
  aio::OpIndex index;
  std::map<uint64_t, uint32_t> model;
  uint64_t x = 12345;
  auto next = [&x] { return x = x * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (uint32_t step = 0; step < 200000; ++step) {
    const uint64_t ud = (next() >> 40) % 5000 * (step % 3 == 0 ? 1u << 20 : 1u);  // clustered keys
    if (next() % 3 != 0) {
      index.add(ud, step);
      model.emplace(ud, step);  // the first op of a duplicate keeps the entry, as in the index
    } else {
      auto it = model.find(ud);
      const uint32_t named = it != model.end() ? it->second : 7;
      const uint32_t pass = next() % 4 == 0 ? named + 1 : named;  // sometimes another op's index
      index.remove(ud, pass);
      if (it != model.end() && it->second == pass) model.erase(it);
    }
    ASSERT_EQ(index.size(), model.size()) << "step " << step;
  }
  for (const auto& [ud, op] : model) ASSERT_EQ(index.find(ud), op);
  EXPECT_EQ(index.find(~uint64_t{0}), aio::OpIndex::kNone);
}

// Limits (issue 17): each queue that grows from outside the ring has a bound, and reaching
// it is an error the sender sees or backpressure, never a silent loss.

// Mailbox: max_messages queued, then -EOVERFLOW to the sender, as io_uring's MSG_RING
// reports for a target whose completion queue overflowed; reaping makes room again.
TEST(AioLimits, AFullMailboxRefusesTheNextMessageUntilTheRingReaps) {
  aio::AioOptions options;
  options.max_messages = 4;
  auto setup = aio::AioRing::create(options);
  ASSERT_TRUE(setup.ring) << setup.report;
  Ring& ring = *setup.ring;
  const int32_t id = ring.msg_ring_id();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(aio::AioRing::send_message(id, i, UserData::message(1)), 0);
  EXPECT_EQ(aio::AioRing::send_message(id, 4, UserData::message(1)), -EOVERFLOW);
  auto sender = make_ring();  // a MSG_RING op gets the error in its own CQE
  ASSERT_TRUE(sender);
  Sqe msg;
  msg.opcode = Opcode::msg_ring;
  msg.fd = id;
  msg.len = 5;
  msg.off = UserData::message(1);
  msg.user_data = 99;
  ASSERT_EQ(sender->push({&msg, 1}), 1u);
  std::vector<Cqe> sent = collect(*sender, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].res, -EOVERFLOW);
  std::vector<Cqe> got = collect(ring, 4);
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[static_cast<size_t>(i)].res, i);
  EXPECT_EQ(aio::AioRing::send_message(id, 6, UserData::message(1)), 0);  // room again
  got = collect(ring, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].res, 6);
}

// Completions: a multishot accept pauses while 2 x entries CQEs wait for reap(); the
// connections it did not take wait in the kernel's backlog and none is lost.
TEST(AioLimits, AMultishotAcceptPausesWhileItsCompletionsAreNotReaped) {
  aio::AioOptions options;
  options.entries = 4;  // the pause comes at 8 unreaped CQEs
  auto setup = aio::AioRing::create(options);
  ASSERT_TRUE(setup.ring) << setup.report;
  Ring& ring = *setup.ring;
  SysCall make_socket{SysOp::socket, -1, AF_INET};
  const auto listener = static_cast<int32_t>(ring.sys(make_socket));
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SysCall bind{SysOp::bind, listener, 0, 0, &addr, sizeof addr};
  SysCall listen{SysOp::listen, listener, 64};
  SysCall name{SysOp::local_addr, listener, 0, 0, &addr, sizeof addr};
  ASSERT_EQ(ring.sys(bind), 0);
  ASSERT_EQ(ring.sys(listen), 0);
  ASSERT_EQ(ring.sys(name), 0);
  Sqe acc;
  acc.opcode = Opcode::accept;
  acc.fd = listener;
  acc.ioprio = kAcceptMultishot;
  acc.user_data = 1;
  ASSERT_EQ(ring.push({&acc, 1}), 1u);
  (void)ring.submit_and_wait(0, Duration{0});
  constexpr int kClients = 20;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    clients.push_back(c);
  }
  for (int i = 0; i < 20; ++i) (void)ring.submit_and_wait(1, 1ms);  // turns without a reap
  Cqe first[32];
  EXPECT_EQ(ring.reap(first), 8u) << "the accept took more than the ring may hold unreaped";
  std::vector<Cqe> got(first, first + 8);
  const std::vector<Cqe> rest = collect(ring, kClients - 8);
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(got.size(), static_cast<size_t>(kClients));
  for (const Cqe& c : got) {
    EXPECT_GE(c.res, 0);
    EXPECT_NE(c.flags & kCqeMore, 0u);
    if (c.res >= 0) ::close(c.res);
  }
  for (int c : clients) ::close(c);
  ::close(listener);  // the multishot ends with the ring
}

// Readiness registrations: the table indexed by descriptor number stops at max_fd, where
// wait() says EMFILE instead of growing it.
TEST(AioLimits, ADescriptorNumberAboveTheLimitIsRefusedWithEmfile) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  const int high = ::fcntl(sv[0], F_DUPFD_CLOEXEC, 100);  // a number above sv's
  ASSERT_GE(high, 100);
  const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(wake, 0);
  {
    aio::Readiness readiness;
    ASSERT_FALSE(readiness.open(wake, /*max_fd=*/high));
    aio::Readiness::Filed filed;
    EXPECT_EQ(readiness.wait(high, POLLIN, aio::OpRef{1, 1}, filed), -EMFILE);
    EXPECT_EQ(readiness.waiting(), 0u);
    EXPECT_EQ(readiness.wait(sv[0], POLLIN, aio::OpRef{2, 1}, filed), 0);  // below it: filed
    EXPECT_EQ(readiness.waiting(), 1u);
  }
  for (int fd : {sv[0], sv[1], high, wake}) ::close(fd);
}

TEST(AioRing, ExhaustingAioMaxNrNamesTheSysctl) {
  unsigned long max_nr = 0;
  if (FILE* f = std::fopen("/proc/sys/fs/aio-max-nr", "r")) {
    if (std::fscanf(f, "%lu", &max_nr) != 1) max_nr = 0;
    std::fclose(f);
  }
  if (max_nr == 0 || max_nr > (1ul << 22)) GTEST_SKIP() << "fs.aio-max-nr unreadable or too large to exceed";
  aio::AioOptions options;
  options.entries = static_cast<unsigned>(max_nr / 4 + 1);  // one context asking for more than the limit
  auto setup = aio::AioRing::create(options);
  ASSERT_EQ(setup.ring, nullptr);
  EXPECT_EQ(setup.error, std::make_error_code(std::errc::resource_unavailable_try_again));
  EXPECT_NE(setup.report.find("/proc/sys/fs/aio-max-nr"), std::string::npos) << setup.report;
  options.entries = 0;
  EXPECT_EQ(aio::AioRing::create(options).error, errc::invalid_argument);
}

// ---------------------------------------------------------------- the container

// The filter tools/no-uring installs (Docker's default profile): only in a forked child.
using tools::refuse_io_uring;

Task<int> across_shards() {
  auto h = spawn_on(1, []() -> Task<int> {
    co_await sleep(1ms);
    co_return 42;
  }());
  co_return (co_await h.join()).value_or(-1);
}

// Runs AioFallbackChild.<name> in a fresh process under the filter: fork, install it,
// then exec this test binary (a forked copy of a multi-threaded process must not start
// threads, and ThreadSanitizer refuses to). Returns the child's exit code (bounded: 60 s);
// 99 when the filter cannot be installed.
int in_container(const char* name) {
  const std::string filter = std::string("--gtest_filter=AioFallbackChild.") + name;
  const pid_t pid = fork();
  if (pid == 0) {
    if (!refuse_io_uring()) _exit(99);
    setenv("RINGO_AIO_CHILD", "1", 1);
    char* argv[] = {const_cast<char*>("aio_test"), const_cast<char*>(filter.c_str()), nullptr};
    execv("/proc/self/exe", argv);
    _exit(98);
  }
  if (pid < 0) return -1;
  for (int i = 0; i < 6000; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -2;
}

bool in_child() { return std::getenv("RINGO_AIO_CHILD") != nullptr; }

TEST(AioFallbackChild, Automatic) {
  if (!in_child()) GTEST_SKIP() << "runs under the seccomp filter, from AioFallback";
  unsetenv("RINGO_BACKEND");
  auto rt = Runtime::create({.shards = 2});
  ASSERT_TRUE(rt.has_value()) << rt.error().message();
  EXPECT_EQ(rt->backend(), Backend::aio);
  const std::string& report = rt->backend_report();
  EXPECT_EQ(report.find("aio"), 0u) << report;
  EXPECT_NE(report.find("seccomp"), std::string::npos) << report;
  EXPECT_EQ(rt->block_on(across_shards()).value_or(0), 42);
}

TEST(AioFallbackChild, Forced) {
  if (!in_child()) GTEST_SKIP() << "runs under the seccomp filter, from AioFallback";
  setenv("RINGO_BACKEND", "uring", 1);
  auto rt = Runtime::create({.shards = 1});
  ASSERT_FALSE(rt.has_value());
  EXPECT_EQ(rt.error(), errc::backend_unavailable);
  setenv("RINGO_BACKEND", "aio", 1);
  auto forced = Runtime::create({.shards = 1});
  ASSERT_TRUE(forced.has_value());
  EXPECT_EQ(forced->backend(), Backend::aio);
}

TEST(AioFallback, AutomaticChoosesAioWhenSeccompRefusesIoUring) {
  const int code = in_container("Automatic");
  if (code == 99) GTEST_SKIP() << "cannot install a seccomp filter here";
  EXPECT_EQ(code, 0);
}

TEST(AioFallback, ForcedIoUringUnderSeccompIsRefusedNotReplaced) {
  const int code = in_container("Forced");
  if (code == 99) GTEST_SKIP() << "cannot install a seccomp filter here";
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace ringo
