// Differential conformance: the same sequences of ring operations on real io_uring and on
// the simulated ring, each checked against the outcomes the real kernel can produce.
// Known differences are listed in docs/simulation.md ("Conformance"); each one that a
// case touches says so here. The AIO ring runs every case with io_uring's expectations;
// where AIO's outcomes can differ (cancelling in-flight file I/O) aio_test pins them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ringo/internal/aio/aio_ring.hpp"
#include "ringo/internal/core/op_slab.hpp"
#include "ringo/internal/sim/sim_kernel.hpp"
#include "ringo/internal/uring/uring_ring.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

// One ring plus the way to make time pass on it.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual Ring& ring() = 0;
  virtual void pump() = 0;  // let completions happen

  // Submits sqes and collects completions until `expect` have arrived (bounded).
  std::map<uint64_t, int32_t> exec(const std::vector<Sqe>& sqes, size_t expect) {
    EXPECT_EQ(ring().push(sqes), sqes.size());
    (void)ring().submit_and_wait(0, Duration{0});
    std::map<uint64_t, int32_t> out;
    Cqe buf[16];
    for (int round = 0; round < 20000 && out.size() < expect; ++round) {
      const size_t n = ring().reap(buf);
      for (size_t i = 0; i < n; ++i) out[buf[i].user_data] = buf[i].res;
      if (out.size() < expect) pump();
    }
    EXPECT_EQ(out.size(), expect) << "completions missing";
    return out;
  }
  // As exec, but keeps every CQE in arrival order (multishot ops post several).
  std::vector<Cqe> exec_all(const std::vector<Sqe>& sqes, size_t expect) {
    EXPECT_EQ(ring().push(sqes), sqes.size());
    (void)ring().submit_and_wait(0, Duration{0});
    std::vector<Cqe> out;
    Cqe buf[16];
    for (int round = 0; round < 20000 && out.size() < expect; ++round) {
      const size_t n = ring().reap(buf);
      out.insert(out.end(), buf, buf + n);
      if (out.size() < expect) pump();
    }
    EXPECT_EQ(out.size(), expect) << "completions missing";
    return out;
  }
  int64_t sys(SysCall c) { return ring().sys(c); }
  // Pumps `rounds` times (about a millisecond each on the real rings) and returns every
  // CQE that came: for cases that check that nothing does.
  std::vector<Cqe> settle(int rounds) {
    (void)ring().submit_and_wait(0, Duration{0});
    std::vector<Cqe> out;
    Cqe buf[16];
    for (int round = 0; round < rounds; ++round) {
      pump();
      const size_t n = ring().reap(buf);
      out.insert(out.end(), buf, buf + n);
    }
    return out;
  }
};

class UringHarness final : public Harness {
 public:
  UringHarness() {
    auto setup = uring::UringRing::create({});
    ring_ = std::move(setup.ring);
  }
  bool ok() const { return ring_ != nullptr; }
  Ring& ring() override { return *ring_; }
  void pump() override { (void)ring_->submit_and_wait(1, 1ms); }

 private:
  std::unique_ptr<uring::UringRing> ring_;
};

class AioHarness final : public Harness {
 public:
  AioHarness() {
    auto setup = aio::AioRing::create({});
    ring_ = std::move(setup.ring);
  }
  bool ok() const { return ring_ != nullptr; }
  Ring& ring() override { return *ring_; }
  void pump() override { (void)ring_->submit_and_wait(1, 1ms); }

 private:
  std::unique_ptr<aio::AioRing> ring_;
};

class SimHarness final : public Harness {
 public:
  SimHarness() : kernel_(7, 1, strict(), false) {}
  Ring& ring() override { return kernel_.ring(0); }
  void pump() override {
    if (kernel_.has_due()) {
      kernel_.deliver_one();
    } else if (kernel_.next_event() != kNoDeadline) {  // else nothing will ever happen
      kernel_.advance_to(kernel_.next_event());
    }
  }

 private:
  // The "none" preset keeps a 50% chance that a cancel arrives too late (-EALREADY), a
  // race the kernel has only for ops already completing; these cases cancel ops that are
  // far from done, so the strict model is the right comparison.
  static sim::FaultConfig strict() {
    sim::FaultConfig f = sim::FaultConfig::none();
    f.cancel_too_late_ppm = 0;
    return f;
  }
  sim::detail::SimKernel kernel_;
};

class Conformance : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "uring") {
      auto u = std::make_unique<UringHarness>();
      if (!u->ok()) GTEST_SKIP() << "io_uring unavailable";
      h_ = std::move(u);
    } else if (std::string(GetParam()) == "aio") {
      auto a = std::make_unique<AioHarness>();
      if (!a->ok()) GTEST_SKIP() << "AIO unavailable";
      h_ = std::move(a);
    } else {
      h_ = std::make_unique<SimHarness>();
    }
    char tmpl[] = "/tmp/ringo-conf-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // A listening IPv4 socket on a free loopback port (its address in addr), or < 0.
  int32_t listen_on_loopback(sockaddr_in& addr) {
    const auto fd = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET}));
    if (fd < 0) return fd;
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SysCall bind{SysOp::bind, fd, 0, 0, &addr, sizeof addr};
    SysCall name{SysOp::local_addr, fd, 0, 0, &addr, sizeof addr};
    if (h_->sys(bind) != 0 || h_->sys({SysOp::listen, fd, 16}) != 0 || h_->sys(name) != 0) return -1;
    return fd;
  }
  Sqe op(Opcode o, uint64_t ud) {
    Sqe s;
    s.opcode = o;
    s.user_data = ud;
    return s;
  }
  std::unique_ptr<Harness> h_;
  std::string dir_;
};

TEST_P(Conformance, NopTimeoutAndUnknownOps) {
  Sqe t = op(Opcode::timeout, 2);
  t.off = 1'000'000;  // 1 ms
  Sqe cancel = op(Opcode::async_cancel, 3);
  cancel.addr = 0xdead;  // no such op
  Sqe unknown = op(Opcode::count_, 4);
  auto r = h_->exec({op(Opcode::nop, 1), t, cancel, unknown}, 4);
  EXPECT_EQ(r[1], 0);
  EXPECT_EQ(r[2], -ETIME);
  EXPECT_EQ(r[3], -ENOENT);
  EXPECT_EQ(r[4], -EINVAL);
}

TEST_P(Conformance, CancellingAnOpFarFromDone) {
  Sqe t = op(Opcode::timeout, 1);
  t.off = 10'000'000'000;  // 10 s
  Sqe cancel = op(Opcode::async_cancel, 2);
  cancel.addr = 1;
  auto r = h_->exec({t, cancel}, 2);
  EXPECT_EQ(r[1], -ECANCELED);
  EXPECT_EQ(r[2], 0);
}

TEST_P(Conformance, MsgRingToSelfAndToNowhere) {
  Sqe m = op(Opcode::msg_ring, 1);
  m.fd = h_->ring().msg_ring_id();
  m.len = 7;
  m.off = UserData::make(UdKind::message, 0, 42);
  Sqe bad = op(Opcode::msg_ring, 2);
  bad.fd = -1;
  auto r = h_->exec({m, bad}, 3);
  EXPECT_EQ(r[1], 0);
  EXPECT_EQ(r[m.off], 7);  // delivered: user_data = off, res = len
  EXPECT_EQ(r[2], -EBADF);
}

TEST_P(Conformance, MsgRingSkippingItsSuccessPostsOnlyTheDeliveryOrTheFailure) {
  Sqe m = op(Opcode::msg_ring, 1);
  m.flags = kSqeSkipSuccess;
  m.fd = h_->ring().msg_ring_id();
  m.len = 9;
  m.off = UserData::make(UdKind::message, 0, 43);
  Sqe bad = op(Opcode::msg_ring, 2);
  bad.flags = kSqeSkipSuccess;
  bad.fd = -1;
  Sqe marker = op(Opcode::nop, 3);  // arrives after the others would have
  std::vector<Cqe> got = h_->exec_all({m, bad}, 2);
  std::vector<Cqe> after = h_->exec_all({marker}, 1);
  got.insert(got.end(), after.begin(), after.end());
  std::map<uint64_t, int32_t> by_ud;
  for (const Cqe& c : got) by_ud[c.user_data] = c.res;
  EXPECT_EQ(by_ud.count(1), 0u) << "a successful MSG_RING with the flag posts no CQE of its own";
  EXPECT_EQ(by_ud[m.off], 9);
  EXPECT_EQ(by_ud[2], -EBADF);
  EXPECT_EQ(by_ud[3], 0);
  EXPECT_EQ(got.size(), 3u);
}

// kSqeSkipSuccess on the ops that need no descriptor (kernel 6.18): a NOP and an
// ASYNC_CANCEL that found its target post nothing; a TIMEOUT that expires (-ETIME) and a
// cancel that found nothing (-ENOENT) are failures and post; the cancelled op posts its
// -ECANCELED as always. The marker NOP comes after any of them would have.
TEST_P(Conformance, SkippedSuccessesOfNopTimeoutAndCancel) {
  Sqe nop = op(Opcode::nop, 1);
  nop.flags = kSqeSkipSuccess;
  Sqe expires = op(Opcode::timeout, 2);
  expires.flags = kSqeSkipSuccess;
  expires.off = 1'000'000;  // 1 ms
  Sqe far = op(Opcode::timeout, 3);
  far.off = 10'000'000'000;  // 10 s: cancelled below
  Sqe found = op(Opcode::async_cancel, 4);
  found.flags = kSqeSkipSuccess;
  found.addr = 3;
  Sqe missing = op(Opcode::async_cancel, 5);
  missing.flags = kSqeSkipSuccess;
  missing.addr = 0xdead;
  std::vector<Cqe> got = h_->exec_all({nop, expires, far, found, missing}, 3);
  std::vector<Cqe> after = h_->exec_all({op(Opcode::nop, 6)}, 1);
  got.insert(got.end(), after.begin(), after.end());
  std::map<uint64_t, int32_t> by_ud;
  for (const Cqe& c : got) by_ud[c.user_data] = c.res;
  EXPECT_EQ(by_ud.count(1), 0u) << "a NOP's skipped success";
  EXPECT_EQ(by_ud[2], -ETIME) << "an expiry is a failure: it posts";
  EXPECT_EQ(by_ud[3], -ECANCELED);
  EXPECT_EQ(by_ud.count(4), 0u) << "a cancel that found its target succeeded";
  EXPECT_EQ(by_ud[5], -ENOENT);
  EXPECT_EQ(by_ud[6], 0);
  EXPECT_EQ(got.size(), 4u);
}

TEST_P(Conformance, FilesOpenWriteReadFsyncClose) {
  const std::string path = dir_ + "/f";
  const std::string missing = dir_ + "/missing";
  Sqe o = op(Opcode::openat, 1);
  o.fd = AT_FDCWD;
  o.addr = reinterpret_cast<uintptr_t>(missing.c_str());
  o.len = O_RDONLY;
  EXPECT_EQ(h_->exec({o}, 1)[1], -ENOENT);
  o.addr = reinterpret_cast<uintptr_t>(path.c_str());
  o.len = O_RDWR | O_CREAT | O_TRUNC;
  o.off = 0600;
  const int32_t fd = h_->exec({o}, 1)[1];
  ASSERT_GE(fd, 0);
  char out[] = "hello", in[16] = {};
  Sqe w = op(Opcode::write, 2);
  w.fd = fd;
  w.addr = reinterpret_cast<uintptr_t>(out);
  w.len = 5;
  EXPECT_EQ(h_->exec({w}, 1)[2], 5);
  Sqe rd = op(Opcode::read, 3);
  rd.fd = fd;
  rd.addr = reinterpret_cast<uintptr_t>(in);
  rd.len = sizeof in;
  Sqe eof = rd;
  eof.user_data = 4;
  eof.off = 100;
  Sqe sync = op(Opcode::fsync, 5);
  sync.fd = fd;
  auto r = h_->exec({rd, eof, sync}, 3);
  EXPECT_EQ(r[3], 5);
  EXPECT_EQ(std::string(in, 5), "hello");
  EXPECT_EQ(r[4], 0);
  EXPECT_EQ(r[5], 0);
  SysCall size{SysOp::file_size, fd};
  EXPECT_EQ(h_->sys(size), 5);
  Sqe c = op(Opcode::close, 6);
  c.fd = fd;
  EXPECT_EQ(h_->exec({c}, 1)[6], 0);
  rd.user_data = 7;
  EXPECT_EQ(h_->exec({rd}, 1)[7], -EBADF);
}

TEST_P(Conformance, TcpConnectAcceptSendRecvShutdown) {
  sockaddr_in addr{};
  const int32_t listener = listen_on_loopback(addr);
  ASSERT_GE(listener, 0);
  EXPECT_NE(addr.sin_port, 0);
  // A second bind to the same port is refused.
  const int32_t other = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET}));
  SysCall rebind{SysOp::bind, other, 0, 0, &addr, sizeof addr};
  EXPECT_EQ(h_->sys(rebind), -EADDRINUSE);

  const int32_t client = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET}));
  Sqe conn = op(Opcode::connect, 1);
  conn.fd = client;
  conn.addr = reinterpret_cast<uintptr_t>(&addr);
  conn.len = sizeof addr;
  Sqe acc = op(Opcode::accept, 2);
  acc.fd = listener;
  auto r = h_->exec({conn, acc}, 2);
  EXPECT_EQ(r[1], 0);
  const int32_t server = r[2];
  ASSERT_GE(server, 0);

  char msg[] = "hello", got[16] = {};
  Sqe send = op(Opcode::send, 3);
  send.fd = client;
  send.addr = reinterpret_cast<uintptr_t>(msg);
  send.len = 5;
  send.off = MSG_NOSIGNAL;
  EXPECT_EQ(h_->exec({send}, 1)[3], 5);
  Sqe recv = op(Opcode::recv, 4);
  recv.fd = server;
  recv.addr = reinterpret_cast<uintptr_t>(got);
  recv.len = sizeof got;
  int32_t total = 0;
  for (int i = 0; i < 5 && total < 5; ++i) {  // TCP may split
    recv.addr = reinterpret_cast<uintptr_t>(got + total);
    total += std::max(0, h_->exec({recv}, 1)[4]);
  }
  EXPECT_EQ(std::string(got, 5), "hello");
  // A recv with a deadline that nothing satisfies: -ECANCELED for the op, -ETIME for the timeout.
  Sqe waiting = recv;
  waiting.user_data = 5;
  waiting.deadline = h_->ring().now() + 2ms;
  waiting.timeout_user_data = 6;
  auto t = h_->exec({waiting}, 2);
  EXPECT_EQ(t[5], -ECANCELED);
  EXPECT_EQ(t[6], -ETIME);
  // Shutdown: the peer reads end of stream.
  Sqe shut = op(Opcode::shutdown, 7);
  shut.fd = client;
  shut.len = SHUT_WR;
  EXPECT_EQ(h_->exec({shut}, 1)[7], 0);
  recv.user_data = 8;
  EXPECT_EQ(h_->exec({recv}, 1)[8], 0);
  // Connect to a port nobody listens on.
  Sqe cl = op(Opcode::close, 9);
  cl.fd = listener;
  EXPECT_EQ(h_->exec({cl}, 1)[9], 0);
  const int32_t late = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET}));
  conn.fd = late;
  conn.user_data = 10;
  EXPECT_EQ(h_->exec({conn}, 1)[10], -ECONNREFUSED);
  // recv on a descriptor that does not exist.
  recv.fd = 1 << 20;
  recv.user_data = 11;
  EXPECT_EQ(h_->exec({recv}, 1)[11], -EBADF);
  for (int32_t fd : {other, client, server, late}) h_->sys({SysOp::close, fd});
}

// SEND_ZC: its result with F_MORE, then the notification (res 0, F_NOTIF, no F_MORE) by the
// time the peer has read the bytes. Linux posts the notification at the peer's ACK, which on
// loopback often comes with the result, before any read; the simulator holds it until the
// read or its delayed ACK (docs/io.md, Zero-copy send): the order and the bound are what
// both share. AIO has
// no SEND_ZC (caps say so): refused as an unknown opcode.
TEST_P(Conformance, SendZcPostsItsResultThenItsNotificationByTheTimeThePeerHasTheBytes) {
  sockaddr_in addr{};
  const int32_t listener = listen_on_loopback(addr);
  ASSERT_GE(listener, 0);
  const int32_t client = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET}));
  Sqe conn = op(Opcode::connect, 1);
  conn.fd = client;
  conn.addr = reinterpret_cast<uintptr_t>(&addr);
  conn.len = sizeof addr;
  Sqe acc = op(Opcode::accept, 2);
  acc.fd = listener;
  auto r = h_->exec({conn, acc}, 2);
  ASSERT_EQ(r[1], 0);
  const int32_t server = r[2];
  ASSERT_GE(server, 0);
  std::string msg(1000, 'z');
  Sqe zc = op(Opcode::send_zc, 3);
  zc.fd = client;
  zc.addr = reinterpret_cast<uintptr_t>(msg.data());
  zc.len = static_cast<uint32_t>(msg.size());
  zc.off = MSG_NOSIGNAL;
  if (!h_->ring().caps().send_zc) {
    EXPECT_EQ(std::string(GetParam()), "aio") << "only AIO lacks SEND_ZC here";
    EXPECT_EQ(h_->exec({zc}, 1)[3], -EINVAL);
  } else {
    // Every CQE in arrival order; run_until submits sqes and reaps until done() holds.
    std::vector<Cqe> seen;
    auto count = [&seen](uint64_t ud) {
      return std::count_if(seen.begin(), seen.end(), [ud](const Cqe& c) { return c.user_data == ud; });
    };
    auto run_until = [&](const std::vector<Sqe>& sqes, auto done) {
      EXPECT_EQ(h_->ring().push(sqes), sqes.size());
      (void)h_->ring().submit_and_wait(0, Duration{0});
      Cqe buf[16];
      for (int round = 0; round < 20000 && !done(); ++round) {
        const size_t n = h_->ring().reap(buf);
        seen.insert(seen.end(), buf, buf + n);
        if (!done()) h_->pump();
      }
      EXPECT_TRUE(done()) << "completions missing";
    };
    run_until({zc}, [&] { return count(3) >= 1; });
    std::string got(1000, '\0');
    Sqe recv = op(Opcode::recv, 4);
    recv.fd = server;
    int32_t total = 0;
    for (int i = 0; i < 20 && total < 1000; ++i) {  // TCP may split
      recv.addr = reinterpret_cast<uintptr_t>(got.data() + total);
      recv.len = static_cast<uint32_t>(1000 - total);
      const auto reads = count(4);
      run_until({recv}, [&] { return count(4) > reads; });
      const auto last_read = std::find_if(seen.rbegin(), seen.rend(), [](const Cqe& c) { return c.user_data == 4; });
      if (last_read != seen.rend()) total += std::max(0, last_read->res);
    }
    EXPECT_EQ(got, msg);
    run_until({}, [&] { return count(3) >= 2; });
    std::vector<Cqe> zc_cqes;
    std::copy_if(seen.begin(), seen.end(), std::back_inserter(zc_cqes), [](const Cqe& c) { return c.user_data == 3; });
    ASSERT_EQ(zc_cqes.size(), 2u);
    EXPECT_EQ(zc_cqes[0].res, 1000);
    EXPECT_NE(zc_cqes[0].flags & kCqeMore, 0u) << "a result without F_MORE: no notification follows";
    EXPECT_EQ(zc_cqes[1].user_data, 3u);
    EXPECT_EQ(zc_cqes[1].res, 0);
    EXPECT_NE(zc_cqes[1].flags & kCqeNotif, 0u);
    EXPECT_EQ(zc_cqes[1].flags & kCqeMore, 0u);
  }
  for (int32_t fd : {client, server, listener}) h_->sys({SysOp::close, fd});
}

// SEND_ZC on a Unix stream: AF_UNIX has no zero-copy, so the kernel (Linux 6.18, checked)
// fails it with -EOPNOTSUPP and F_MORE, then posts the notification; the simulator does the
// same. AIO has no SEND_ZC at all (refused as an unknown opcode).
TEST_P(Conformance, SendZcOnAUnixStreamFailsWithEopnotsuppThenNotifies) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "ringo-conf-zc-" + std::to_string(::getpid()) + std::string(GetParam());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // abstract: no file
  const auto len = static_cast<uint32_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  const auto listener = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_UNIX}));
  const auto client = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_UNIX}));
  ASSERT_GE(listener, 0);
  ASSERT_GE(client, 0);
  ASSERT_EQ(h_->sys({SysOp::bind, listener, 0, 0, &addr, len}), 0);
  ASSERT_EQ(h_->sys({SysOp::listen, listener, 4}), 0);
  Sqe conn = op(Opcode::connect, 1);
  conn.fd = client;
  conn.addr = reinterpret_cast<uintptr_t>(&addr);
  conn.len = len;
  Sqe acc = op(Opcode::accept, 2);
  acc.fd = listener;
  auto r = h_->exec({conn, acc}, 2);
  ASSERT_EQ(r[1], 0);
  ASSERT_GE(r[2], 0);
  std::string msg(100, 'u');
  Sqe zc = op(Opcode::send_zc, 3);
  zc.fd = client;
  zc.addr = reinterpret_cast<uintptr_t>(msg.data());
  zc.len = static_cast<uint32_t>(msg.size());
  zc.off = MSG_NOSIGNAL;
  if (!h_->ring().caps().send_zc) {
    EXPECT_EQ(h_->exec({zc}, 1)[3], -EINVAL);
  } else {
    const std::vector<Cqe> cqes = h_->exec_all({zc}, 2);
    ASSERT_EQ(cqes.size(), 2u);
    EXPECT_EQ(cqes[0].res, -EOPNOTSUPP);
    EXPECT_NE(cqes[0].flags & kCqeMore, 0u);
    EXPECT_EQ(cqes[1].res, 0);
    EXPECT_NE(cqes[1].flags & kCqeNotif, 0u);
    EXPECT_EQ(cqes[1].flags & kCqeMore, 0u);
  }
  for (int32_t fd : {client, r[2], listener}) h_->sys({SysOp::close, fd});
}

// UDP: SENDMSG/RECVMSG with addresses, one datagram per receive, truncation reported
// (MSG_TRUNC in msg_flags; with MSG_TRUNC in the flags the result is the full length),
// and the errors of a bad destination, an oversized datagram and a missing peer.
TEST_P(Conformance, UdpSendmsgRecvmsgTruncation) {
  sockaddr_in a_addr{}, b_addr{};
  int32_t fds[2];
  for (int i = 0; i < 2; ++i) {
    sockaddr_in& addr = i == 0 ? a_addr : b_addr;
    fds[i] = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET, SOCK_DGRAM}));
    ASSERT_GE(fds[i], 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SysCall bind{SysOp::bind, fds[i], 0, 0, &addr, sizeof addr};
    SysCall name{SysOp::local_addr, fds[i], 0, 0, &addr, sizeof addr};
    ASSERT_EQ(h_->sys(bind), 0);
    ASSERT_EQ(h_->sys(name), 0);
  }
  EXPECT_EQ(h_->sys({SysOp::listen, fds[0], 4}), -EOPNOTSUPP);
  EXPECT_EQ(h_->sys({SysOp::socket, -1, AF_INET, 99}), -EINVAL);
  std::string big(100, 'x');
  iovec out{big.data(), big.size()};
  msghdr send_msg{};
  send_msg.msg_name = &b_addr;
  send_msg.msg_namelen = sizeof b_addr;
  send_msg.msg_iov = &out;
  send_msg.msg_iovlen = 1;
  Sqe send = op(Opcode::sendmsg, 1);
  send.fd = fds[0];
  send.addr = reinterpret_cast<uintptr_t>(&send_msg);
  EXPECT_EQ(h_->exec({send}, 1)[1], 100);
  char got[10] = {};
  iovec in{got, sizeof got};
  sockaddr_in from{};
  msghdr recv_msg{};
  recv_msg.msg_name = &from;
  recv_msg.msg_namelen = sizeof from;
  recv_msg.msg_iov = &in;
  recv_msg.msg_iovlen = 1;
  Sqe recv = op(Opcode::recvmsg, 2);
  recv.fd = fds[1];
  recv.addr = reinterpret_cast<uintptr_t>(&recv_msg);
  recv.off = MSG_TRUNC;
  EXPECT_EQ(h_->exec({recv}, 1)[2], 100);  // the datagram's full length
  EXPECT_NE(recv_msg.msg_flags & MSG_TRUNC, 0);
  EXPECT_EQ(from.sin_port, a_addr.sin_port);
  EXPECT_EQ(std::string(got, 10), big.substr(0, 10));
  // The next datagram is whole; without MSG_TRUNC in the flags the result is what was copied.
  out.iov_len = 4;
  send.user_data = 3;
  EXPECT_EQ(h_->exec({send}, 1)[3], 4);
  recv.off = 0;
  recv.user_data = 4;
  recv_msg.msg_namelen = sizeof from;
  EXPECT_EQ(h_->exec({recv}, 1)[4], 4);
  EXPECT_EQ(recv_msg.msg_flags & MSG_TRUNC, 0);
  // Errors: another family's address, a datagram above 65,507 bytes, no destination.
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  send_msg.msg_name = &v6;
  send_msg.msg_namelen = sizeof v6;
  send.user_data = 5;
  EXPECT_EQ(h_->exec({send}, 1)[5], -EAFNOSUPPORT);
  std::string huge(70000, 'h');
  out = iovec{huge.data(), huge.size()};
  send_msg.msg_name = &b_addr;
  send_msg.msg_namelen = sizeof b_addr;
  send.user_data = 6;
  EXPECT_EQ(h_->exec({send}, 1)[6], -EMSGSIZE);
  Sqe plain = op(Opcode::send, 7);
  plain.fd = fds[0];
  plain.addr = reinterpret_cast<uintptr_t>(got);
  plain.len = 1;
  EXPECT_EQ(h_->exec({plain}, 1)[7], -EDESTADDRREQ);
  for (int32_t fd : fds) h_->sys({SysOp::close, fd});
}

// A multishot RECVMSG into a provided-buffer ring: one buffer per datagram in io_uring's
// layout (RecvMsgOut, the sender's address, the payload cut to what fits with MSG_TRUNC
// said), then -ENOBUFS without kCqeMore when the ring is empty, the datagram left in the
// socket for the next receive. The simulator and AIO write the layout themselves.
// Two bound loopback UDP sockets (fds, addresses) and a multishot RECVMSG on the second
// into buffer group 7, keeping room for an IPv4 sender.
struct UdpMultishot {
  sockaddr_in addr[2]{};
  int32_t fds[2]{-1, -1};
  sockaddr_in scratch{};
  msghdr want{};
  Sqe recv;
  bool open(Harness& h) {
    for (int i = 0; i < 2; ++i) {
      fds[i] = static_cast<int32_t>(h.sys({SysOp::socket, -1, AF_INET, SOCK_DGRAM}));
      addr[i].sin_family = AF_INET;
      addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      SysCall bind{SysOp::bind, fds[i], 0, 0, &addr[i], sizeof addr[i]};
      SysCall name{SysOp::local_addr, fds[i], 0, 0, &addr[i], sizeof addr[i]};
      if (fds[i] < 0 || h.sys(bind) != 0 || h.sys(name) != 0) return false;
    }
    want.msg_name = &scratch;
    want.msg_namelen = sizeof(sockaddr_in);
    recv.opcode = Opcode::recvmsg;
    recv.user_data = 100;
    recv.fd = fds[1];
    recv.addr = reinterpret_cast<uintptr_t>(&want);
    recv.off = MSG_TRUNC;
    recv.flags = kSqeBufferSelect;
    recv.buf_group = 7;
    recv.ioprio = kRecvMultishot;
    return true;
  }
  // open(), then a ring of two 64-byte buffers for group 7 (room for the header, the
  // sender and 32 bytes of payload).
  bool open_with_ring(Harness& h) {
    char* base = nullptr;
    return open(h) && h.ring().setup_buffer_ring({7, 2, 64}, base) == 0;
  }
  void close(Harness& h) {
    for (int32_t fd : fds) h.sys({SysOp::close, fd});
  }
};

TEST_P(Conformance, MultishotRecvmsgFillsOneBufferPerDatagramUntilTheRingIsEmpty) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open(*h_));
  auto& addr = u.addr;
  auto& fds = u.fds;
  char* base = nullptr;
  constexpr uint32_t kSize = 64;  // 16 header + 16 name + 32 payload
  ASSERT_EQ(h_->ring().setup_buffer_ring({7, 4, kSize}, base), 0);
  const Sqe recv = u.recv;
  std::vector<std::string> sent;
  std::vector<iovec> iovs(5);
  std::vector<msghdr> msgs(5);
  auto send = [&](int i, size_t size) {
    sent.push_back(std::string(size, static_cast<char>('a' + i)));
    iovs[i] = iovec{sent.back().data(), size};
    msgs[i] = msghdr{};
    msgs[i].msg_name = &addr[1];
    msgs[i].msg_namelen = sizeof addr[1];
    msgs[i].msg_iov = &iovs[i];
    msgs[i].msg_iovlen = 1;
    Sqe s = op(Opcode::sendmsg, 1 + static_cast<uint64_t>(i));
    s.fd = fds[0];
    s.addr = reinterpret_cast<uintptr_t>(&msgs[i]);
    return s;
  };
  sent.reserve(5);
  std::vector<Cqe> got = h_->exec_all({recv, send(0, 10), send(1, 100)}, 4);
  std::vector<Cqe> more = h_->exec_all({send(2, 5), send(3, 6), send(4, 7)}, 6);
  got.insert(got.end(), more.begin(), more.end());
  std::vector<Cqe> received;
  for (const Cqe& c : got) {
    if (c.user_data == 100) {
      received.push_back(c);
    } else {
      EXPECT_EQ(static_cast<size_t>(c.res), sent[c.user_data - 1].size()) << "send " << c.user_data;
    }
  }
  ASSERT_EQ(received.size(), 5u);
  const size_t head = sizeof(RecvMsgOut) + sizeof(sockaddr_in);
  for (size_t i = 0; i < 4; ++i) {
    const Cqe& c = received[i];
    ASSERT_NE(c.flags & kCqeBuffer, 0u) << "datagram " << i;
    EXPECT_NE(c.flags & kCqeMore, 0u) << "datagram " << i;
    const char* buf = base + size_t{cqe_buffer_id(c.flags)} * kSize;
    RecvMsgOut out;
    std::memcpy(&out, buf, sizeof out);
    const size_t kept = std::min<size_t>(sent[i].size(), kSize - head);
    EXPECT_EQ(static_cast<size_t>(c.res), head + kept) << "datagram " << i;
    EXPECT_EQ(out.namelen, sizeof(sockaddr_in));
    EXPECT_EQ(out.controllen, 0u);
    EXPECT_EQ(out.payloadlen, sent[i].size()) << "MSG_TRUNC: the full length";
    EXPECT_EQ((out.flags & MSG_TRUNC) != 0, sent[i].size() > kept) << "datagram " << i;
    sockaddr_in from{};
    std::memcpy(&from, buf + sizeof out, sizeof from);
    EXPECT_EQ(from.sin_port, addr[0].sin_port);
    EXPECT_EQ(std::string(buf + head, kept), sent[i].substr(0, kept)) << "datagram " << i;
  }
  EXPECT_EQ(received[4].res, -ENOBUFS);
  EXPECT_EQ(received[4].flags & (kCqeMore | kCqeBuffer), 0u) << "the empty ring ends it";
  char last[16] = {};
  iovec in{last, sizeof last};
  msghdr plain{};
  plain.msg_iov = &in;
  plain.msg_iovlen = 1;
  Sqe again = op(Opcode::recvmsg, 200);
  again.fd = fds[1];
  again.addr = reinterpret_cast<uintptr_t>(&plain);
  EXPECT_EQ(h_->exec({again}, 1)[200], 7) << "the datagram the empty ring left waits in the socket";
  EXPECT_EQ(std::string(last, 7), sent[4]);
  u.close(*h_);
}

// Linux ends a multishot RECVMSG after a zero-length datagram: its CQE carries the buffer
// (header and sender, no payload) but not kCqeMore. The simulator and AIO do the same.
TEST_P(Conformance, AZeroLengthDatagramEndsAMultishotRecvmsg) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open(*h_));
  char* base = nullptr;
  ASSERT_EQ(h_->ring().setup_buffer_ring({7, 2, 64}, base), 0);
  msghdr empty{};
  empty.msg_name = &u.addr[1];
  empty.msg_namelen = sizeof u.addr[1];
  Sqe send = op(Opcode::sendmsg, 1);
  send.fd = u.fds[0];
  send.addr = reinterpret_cast<uintptr_t>(&empty);
  std::vector<Cqe> got = h_->exec_all({u.recv, send}, 2);
  ASSERT_EQ(got.size(), 2u);
  const Cqe& c = got[0].user_data == 100 ? got[0] : got[1];
  EXPECT_EQ(static_cast<size_t>(c.res), sizeof(RecvMsgOut) + sizeof(sockaddr_in));
  EXPECT_NE(c.flags & kCqeBuffer, 0u);
  EXPECT_EQ(c.flags & kCqeMore, 0u) << "the zero-length datagram ends the multishot";
  RecvMsgOut out;
  std::memcpy(&out, base + size_t{cqe_buffer_id(c.flags)} * 64, sizeof out);
  EXPECT_EQ(out.payloadlen, 0u);
  EXPECT_EQ(out.flags & MSG_TRUNC, 0u);
  u.close(*h_);
}

// A datagram from `from` to `to`, its bytes in `bytes` (which must outlive the op).
struct DatagramOut {
  iovec iov{};
  msghdr msg{};
  Sqe sqe;
  DatagramOut(int32_t from, void* to, socklen_t to_len, std::string& bytes, uint64_t ud) {
    iov = iovec{bytes.data(), bytes.size()};
    msg.msg_name = to;
    msg.msg_namelen = to_len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    sqe.opcode = Opcode::sendmsg;
    sqe.user_data = ud;
    sqe.fd = from;
    sqe.addr = reinterpret_cast<uintptr_t>(&msg);
  }
};

const Cqe* cqe_of(const std::vector<Cqe>& got, uint64_t ud) {
  for (const Cqe& c : got) {
    if (c.user_data == ud) return &c;
  }
  return nullptr;
}

// shutdown(SHUT_RD) on a connected UDP socket whose multishot RECVMSG is armed: kernel
// 6.18 posts nothing and the multishot stays armed; UDP still queues datagrams from the
// peer, which it takes. (Unconnected: PlainReceivesOnAShutRdDatagramSocketReturnZero.)
TEST_P(Conformance, ShutRdLeavesAMultishotRecvmsgArmedAndSilent) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open(*h_));
  char* base = nullptr;
  ASSERT_EQ(h_->ring().setup_buffer_ring({7, 4, 64}, base), 0);
  Sqe connect = op(Opcode::connect, 9);
  connect.fd = u.fds[1];
  connect.addr = reinterpret_cast<uintptr_t>(&u.addr[0]);
  connect.len = sizeof u.addr[0];
  EXPECT_EQ(h_->exec({connect}, 1)[9], 0);
  Sqe shut = op(Opcode::shutdown, 1);
  shut.fd = u.fds[1];
  shut.len = SHUT_RD;
  std::vector<Cqe> got = h_->exec_all({u.recv, shut}, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 1u) << "res " << got[0].res;
  EXPECT_EQ(got[0].res, 0);
  EXPECT_TRUE(h_->settle(50).empty()) << "SHUT_RD ends nothing";
  std::string late = "late";
  DatagramOut send(u.fds[0], &u.addr[1], sizeof u.addr[1], late, 2);
  got = h_->exec_all({send.sqe}, 2);
  const Cqe* sent = cqe_of(got, 2);
  const Cqe* taken = cqe_of(got, 100);
  ASSERT_TRUE(sent && taken);
  EXPECT_EQ(sent->res, 4);
  EXPECT_EQ(static_cast<size_t>(taken->res), sizeof(RecvMsgOut) + sizeof(sockaddr_in) + 4);
  EXPECT_EQ(taken->flags & (kCqeMore | kCqeBuffer), kCqeMore | kCqeBuffer) << "still armed";
  Sqe cancel = op(Opcode::async_cancel, 3);
  cancel.addr = 100;
  got = h_->exec_all({cancel}, 2);
  ASSERT_TRUE(cqe_of(got, 3) && cqe_of(got, 100));
  EXPECT_EQ(cqe_of(got, 3)->res, 0);
  EXPECT_EQ(cqe_of(got, 100)->res, -ECANCELED);
  u.close(*h_);
}

// A plain receive on a UDP socket shut for reading returns 0 once nothing is queued (ringo's
// sockets are blocking on io_uring; a blocking recv does that), and a datagram that arrives
// after the shutdown is still received whole.
TEST_P(Conformance, PlainReceivesOnAShutRdDatagramSocketReturnZero) {
  UdpMultishot u;
  ASSERT_TRUE(u.open(*h_));
  Sqe shut = op(Opcode::shutdown, 1);
  shut.fd = u.fds[1];
  shut.len = SHUT_RD;
  EXPECT_EQ(h_->exec({shut}, 1)[1], -ENOTCONN);
  char data[16] = {};
  iovec in{data, sizeof data};
  msghdr m{};
  m.msg_iov = &in;
  m.msg_iovlen = 1;
  Sqe recvmsg = op(Opcode::recvmsg, 2);
  recvmsg.fd = u.fds[1];
  recvmsg.addr = reinterpret_cast<uintptr_t>(&m);
  EXPECT_EQ(h_->exec({recvmsg}, 1)[2], 0);
  Sqe recv = op(Opcode::recv, 3);
  recv.fd = u.fds[1];
  recv.addr = reinterpret_cast<uintptr_t>(data);
  recv.len = sizeof data;
  EXPECT_EQ(h_->exec({recv}, 1)[3], 0);
  Sqe read = op(Opcode::read, 4);
  read.fd = u.fds[1];
  read.addr = reinterpret_cast<uintptr_t>(data);
  read.len = sizeof data;
  read.off = ~uint64_t{0};
  EXPECT_EQ(h_->exec({read}, 1)[4], 0);
  std::string late = "late";
  DatagramOut send(u.fds[0], &u.addr[1], sizeof u.addr[1], late, 5);
  EXPECT_EQ(h_->exec({send.sqe}, 1)[5], 4);
  (void)h_->settle(5);  // the simulated network takes its latency to deliver it
  recvmsg.user_data = 6;
  EXPECT_EQ(h_->exec({recvmsg}, 1)[6], 4) << "queued after the shutdown, still received";
  EXPECT_EQ(std::string(data, 4), late);
  recvmsg.user_data = 7;
  EXPECT_EQ(h_->exec({recvmsg}, 1)[7], 0);
  u.close(*h_);
}

// A Unix datagram socket: shutdown(SHUT_RD) says 0 even unconnected, its armed multishot
// stays silent, a plain receive returns 0, and a sender to it gets EPIPE.
TEST_P(Conformance, ShutRdUnixDatagramRefusesSendersAndReturnsZero) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  sockaddr_un name{};
  name.sun_family = AF_UNIX;
  const std::string abstract = "ringo-conf-shut-" + std::to_string(::getpid()) + "-" + GetParam();
  std::memcpy(name.sun_path + 1, abstract.data(), abstract.size());
  const auto name_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract.size());
  const auto a = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_UNIX, SOCK_DGRAM}));
  const auto b = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_UNIX, SOCK_DGRAM}));
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(h_->sys({SysOp::bind, b, 0, 0, &name, name_len}), 0);
  char* base = nullptr;
  ASSERT_EQ(h_->ring().setup_buffer_ring({7, 4, 256}, base), 0);
  sockaddr_un scratch{};
  msghdr want{};
  want.msg_name = &scratch;
  want.msg_namelen = sizeof scratch;
  Sqe multi = op(Opcode::recvmsg, 100);
  multi.fd = b;
  multi.addr = reinterpret_cast<uintptr_t>(&want);
  multi.flags = kSqeBufferSelect;
  multi.buf_group = 7;
  multi.ioprio = kRecvMultishot;
  Sqe shut = op(Opcode::shutdown, 1);
  shut.fd = b;
  shut.len = SHUT_RD;
  std::vector<Cqe> got = h_->exec_all({multi, shut}, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 1u) << "res " << got[0].res;
  EXPECT_EQ(got[0].res, 0);
  std::string hi = "hi";
  DatagramOut send(a, &name, name_len, hi, 2);
  EXPECT_EQ(h_->exec({send.sqe}, 1)[2], -EPIPE);
  EXPECT_TRUE(h_->settle(50).empty()) << "SHUT_RD ends nothing";
  char data[8];
  Sqe recv = op(Opcode::recv, 3);
  recv.fd = b;
  recv.addr = reinterpret_cast<uintptr_t>(data);
  recv.len = sizeof data;
  EXPECT_EQ(h_->exec({recv}, 1)[3], 0);
  Sqe cancel = op(Opcode::async_cancel, 4);
  cancel.addr = 100;
  got = h_->exec_all({cancel}, 2);
  ASSERT_TRUE(cqe_of(got, 100));
  EXPECT_EQ(cqe_of(got, 100)->res, -ECANCELED);
  h_->sys({SysOp::close, a});
  h_->sys({SysOp::close, b});
}

// msg_namelen as the kernel reads it (an int): above INT_MAX with a name is EINVAL at once,
// for SENDMSG and RECVMSG; with a null name it is ignored; up to INT_MAX a plain receive
// writes just the sender's address and says its length. A multishot RECVMSG keeps
// msg_namelen bytes of room (not capped) and refuses, at once, a header that overflows an
// int (EOVERFLOW) and a buffer too small for it (EFAULT).
TEST_P(Conformance, RecvmsgNameLengthsAreCheckedAsTheKernelChecksThem) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open(*h_));
  std::string hello = "hello";
  DatagramOut send(u.fds[0], &u.addr[1], sizeof u.addr[1], hello, 1);
  EXPECT_EQ(h_->exec({send.sqe}, 1)[1], 5);
  std::vector<char> name(1000, '\xAB');
  char data[16] = {};
  iovec in{data, sizeof data};
  msghdr m{};
  m.msg_name = name.data();
  m.msg_namelen = 0x80000000u;
  m.msg_iov = &in;
  m.msg_iovlen = 1;
  Sqe recv = op(Opcode::recvmsg, 2);
  recv.fd = u.fds[1];
  recv.addr = reinterpret_cast<uintptr_t>(&m);
  EXPECT_EQ(h_->exec({recv}, 1)[2], -EINVAL);
  m.msg_namelen = 1000;
  recv.user_data = 3;
  EXPECT_EQ(h_->exec({recv}, 1)[3], 5);
  EXPECT_EQ(m.msg_namelen, sizeof(sockaddr_in));
  EXPECT_EQ(std::count(name.begin(), name.end(), '\xAB'), 1000 - static_cast<long>(sizeof(sockaddr_in)));
  send.sqe.user_data = 4;
  EXPECT_EQ(h_->exec({send.sqe}, 1)[4], 5);
  m.msg_name = nullptr;
  m.msg_namelen = 0x80000000u;
  recv.user_data = 5;
  EXPECT_EQ(h_->exec({recv}, 1)[5], 5) << "a null name's length is ignored";
  send.msg.msg_namelen = 0x80000000u;
  send.sqe.user_data = 6;
  EXPECT_EQ(h_->exec({send.sqe}, 1)[6], -EINVAL);

  char* base = nullptr;
  ASSERT_EQ(h_->ring().setup_buffer_ring({7, 2, 64}, base), 0);
  struct Case {
    void* name;
    socklen_t namelen;
    size_t controllen;
    int32_t res;
  } cases[] = {
      {name.data(), 0x80000000u, 0, -EINVAL},    {nullptr, 0x80000000u, 0, -EOVERFLOW},
      {name.data(), 0x7fffffffu, 0, -EOVERFLOW}, {name.data(), 16, 0x7fffffe0u, -EOVERFLOW},
      {name.data(), 1000, 0, -EFAULT},  // the 64-byte buffers have no room for it
  };
  uint64_t ud = 10;
  for (const Case& c : cases) {
    msghdr want{};
    want.msg_name = c.name;
    want.msg_namelen = c.namelen;
    want.msg_controllen = c.controllen;
    Sqe multi = u.recv;
    multi.addr = reinterpret_cast<uintptr_t>(&want);
    multi.user_data = ud;
    std::vector<Cqe> got = h_->exec_all({multi}, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].res, c.res) << "namelen " << c.namelen << " controllen " << c.controllen;
    EXPECT_EQ(got[0].flags & (kCqeMore | kCqeBuffer), 0u);
    ++ud;
  }
  // 1,000 bytes of room in 2,048-byte buffers: the payload starts after all of it.
  char* big = nullptr;
  ASSERT_EQ(h_->ring().setup_buffer_ring({8, 2, 2048}, big), 0);
  msghdr want{};
  want.msg_name = name.data();
  want.msg_namelen = 1000;
  Sqe multi = u.recv;
  multi.addr = reinterpret_cast<uintptr_t>(&want);
  multi.buf_group = 8;
  send.msg.msg_namelen = sizeof u.addr[1];
  send.sqe.user_data = 20;
  std::vector<Cqe> got = h_->exec_all({multi, send.sqe}, 2);
  const Cqe* taken = cqe_of(got, 100);
  ASSERT_TRUE(taken);
  EXPECT_EQ(static_cast<size_t>(taken->res), sizeof(RecvMsgOut) + 1000 + 5);
  ASSERT_NE(taken->flags & kCqeBuffer, 0u);
  const char* buf = big + size_t{cqe_buffer_id(taken->flags)} * 2048;
  RecvMsgOut out;
  std::memcpy(&out, buf, sizeof out);
  EXPECT_EQ(out.namelen, sizeof(sockaddr_in));
  EXPECT_EQ(std::string(buf + sizeof out + 1000, 5), hello);
  Sqe cancel = op(Opcode::async_cancel, 21);
  cancel.addr = 100;
  (void)h_->exec_all({cancel}, 2);
  u.close(*h_);
}

// io_uring picks a multishot RECVMSG's buffer before it looks for a datagram: an empty
// ring ends it with ENOBUFS at once, on arming and right after the datagram that took the
// last buffer, whether or not another one waits.
TEST_P(Conformance, AnEmptyRingEndsAMultishotRecvmsgAtOnce) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open_with_ring(*h_));
  std::string one = "one";
  std::string two = "two";
  DatagramOut first(u.fds[0], &u.addr[1], sizeof u.addr[1], one, 1);
  DatagramOut second(u.fds[0], &u.addr[1], sizeof u.addr[1], two, 2);
  std::vector<Cqe> got = h_->exec_all({u.recv, first.sqe, second.sqe}, 5);
  std::vector<Cqe> taken;
  for (const Cqe& c : got) {
    if (c.user_data == 100) taken.push_back(c);
  }
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[0].flags & (kCqeMore | kCqeBuffer), kCqeMore | kCqeBuffer);
  EXPECT_EQ(taken[1].flags & (kCqeMore | kCqeBuffer), kCqeMore | kCqeBuffer);
  EXPECT_EQ(taken[2].res, -ENOBUFS) << "no third datagram waits";
  EXPECT_EQ(taken[2].flags & kCqeMore, 0u);
  Sqe again = u.recv;
  again.user_data = 101;
  got = h_->exec_all({again}, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].res, -ENOBUFS) << "armed on an empty ring";
  u.close(*h_);
}

// A multishot RECVMSG without a msghdr: the kernel cannot copy it in, -EFAULT (6.18; the
// simulator said -EINVAL until 2026-12-03).
TEST_P(Conformance, AMultishotRecvmsgWithoutAMsghdrFailsWithEfault) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open_with_ring(*h_));
  Sqe nameless = u.recv;
  nameless.addr = 0;
  std::vector<Cqe> got = h_->exec_all({nameless}, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].res, -EFAULT);
  EXPECT_EQ(got[0].flags & kCqeMore, 0u);
  u.close(*h_);
}

// kSqeSkipSuccess on a multishot RECVMSG (IOSQE_CQE_SKIP_SUCCESS): the CQEs with kCqeMore
// still come, the final successful one (here a zero-length datagram's) does not, and its
// buffer is consumed all the same: it never comes back unless given back (kernel 6.18; the
// simulator and AIO do the same).
TEST_P(Conformance, ASkippedSuccessTakesItsBufferAlong) {
  ASSERT_TRUE(h_->ring().caps().recv_multishot);
  UdpMultishot u;
  ASSERT_TRUE(u.open_with_ring(*h_));
  Sqe multi = u.recv;
  multi.flags = kSqeBufferSelect | kSqeSkipSuccess;
  std::string abc = "abc";
  std::string empty;
  DatagramOut first(u.fds[0], &u.addr[1], sizeof u.addr[1], abc, 1);
  DatagramOut last(u.fds[0], &u.addr[1], sizeof u.addr[1], empty, 2);
  std::vector<Cqe> got = h_->exec_all({multi, first.sqe}, 2);
  const Cqe* taken = cqe_of(got, 100);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->flags & (kCqeMore | kCqeBuffer), kCqeMore | kCqeBuffer) << "kCqeMore CQEs are never skipped";
  EXPECT_EQ(h_->exec({last.sqe}, 1)[2], 0);
  for (const Cqe& c : h_->settle(50)) ADD_FAILURE() << "CQE " << c.user_data << " res " << c.res;
  Sqe again = u.recv;
  again.user_data = 101;
  got = h_->exec_all({again}, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].res, -ENOBUFS) << "the skipped CQE's buffer was consumed";
  u.close(*h_);
}

TEST_P(Conformance, MultishotAcceptPostsOneCqePerConnectionUntilCancelled) {
  ASSERT_TRUE(h_->ring().caps().multishot_accept);
  sockaddr_in addr{};
  const int32_t listener = listen_on_loopback(addr);
  ASSERT_GE(listener, 0);

  Sqe acc = op(Opcode::accept, 10);
  acc.fd = listener;
  acc.ioprio = kAcceptMultishot;
  std::vector<Sqe> batch{acc};
  for (uint64_t i = 0; i < 2; ++i) {
    Sqe conn = op(Opcode::connect, 1 + i);
    conn.fd = static_cast<int32_t>(h_->sys({SysOp::socket, -1, AF_INET}));
    conn.addr = reinterpret_cast<uintptr_t>(&addr);
    conn.len = sizeof addr;
    batch.push_back(conn);
  }
  std::vector<Cqe> got = h_->exec_all(batch, 4);
  std::vector<int32_t> fds{listener, batch[1].fd, batch[2].fd};
  int accepted = 0;
  for (const Cqe& c : got) {
    if (c.user_data != 10) {
      EXPECT_EQ(c.res, 0) << "connect " << c.user_data;
      continue;
    }
    EXPECT_GE(c.res, 0);
    EXPECT_NE(c.flags & kCqeMore, 0u) << "the multishot stays armed";
    if (c.res >= 0) fds.push_back(c.res);
    ++accepted;
  }
  EXPECT_EQ(accepted, 2);

  Sqe cancel = op(Opcode::async_cancel, 11);
  cancel.addr = 10;
  got = h_->exec_all({cancel}, 2);
  for (const Cqe& c : got) {
    if (c.user_data == 11) {
      EXPECT_EQ(c.res, 0);
    }
    if (c.user_data == 10) {
      EXPECT_EQ(c.res, -ECANCELED);
      EXPECT_EQ(c.flags & kCqeMore, 0u) << "the cancel ends it";
    }
  }
  for (int32_t fd : fds) h_->sys({SysOp::close, fd});
}

INSTANTIATE_TEST_SUITE_P(Rings, Conformance, ::testing::Values("uring", "sim", "aio"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace ringo
