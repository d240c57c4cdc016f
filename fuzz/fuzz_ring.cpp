// fuzz_ring: input bytes are a stream of raw Sqes and SysCalls against the simulated ring
// and the shard: any opcode (including unknown ones), bad and random descriptors, lengths
// up to the buffer arena, null buffers, cancels of unknown handles, MSG_RINGs that forge
// user_data, deadlines. Each op runs in its own routine; the run must end (the budgets
// turn a hang into a report) with every op answered, and shutdown must leave nothing.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fuzz_fingerprint.hpp"
#include "fuzz_input.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo::fuzz {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

constexpr size_t kArena = 8192;
constexpr int kMaxOps = 64;

struct Program {
  std::vector<Sqe> sqes;
  std::vector<SysCall> calls;
  std::vector<Duration> deadlines;  // per Sqe; 0 = none
  std::vector<uint8_t> arena = std::vector<uint8_t>(kArena + 1, 0);
};

// Pointers stay inside the arena (the simulator, like any user of the kernel, trusts them;
// a wild pointer would crash the fuzzer, not find a bug); null is allowed.
uint64_t arena_addr(Input& in, Program& p, uint32_t& len) {
  if (in.below(8) == 0) return 0;
  const uint32_t offset = in.below(kArena);
  len = std::min<uint32_t>(len, kArena - offset);
  return reinterpret_cast<uintptr_t>(p.arena.data() + offset);
}

Program decode(const uint8_t* data, size_t size) {
  Input in(data, size);
  Program p;
  for (size_t i = 0; i < 512 && !in.empty(); ++i) p.arena[i] = in.take<uint8_t>();
  p.arena[kArena] = 0;  // paths end inside the arena
  for (int n = 0; n < kMaxOps && !in.empty(); ++n) {
    if (in.below(4) == 0) {
      SysCall c;
      c.op = static_cast<SysOp>(in.below(8));
      c.fd = static_cast<int32_t>(in.below(40)) - 2;
      c.arg = in.below(3) == 0 ? static_cast<int32_t>(in.take<uint32_t>()) : (in.below(2) ? AF_INET : AF_INET6);
      c.arg2 = static_cast<int32_t>(in.below(3));
      uint32_t len = in.below(kArena);
      c.addr = reinterpret_cast<void*>(arena_addr(in, p, len));
      c.addr_len = len;
      p.calls.push_back(c);
      continue;
    }
    Sqe s;
    s.opcode = static_cast<Opcode>(in.below(static_cast<uint32_t>(Opcode::count_) + 2));
    s.fd = in.below(4) == 0 ? static_cast<int32_t>(in.take<uint32_t>()) : static_cast<int32_t>(in.below(40)) - 2;
    s.len = in.below(2) ? in.below(kArena) : in.take<uint32_t>();
    uint32_t len = s.len;
    s.addr = arena_addr(in, p, len);
    if (s.opcode != Opcode::readv && s.opcode != Opcode::writev && s.opcode != Opcode::openat) s.len = len;
    if (s.opcode == Opcode::readv || s.opcode == Opcode::writev) s.len = std::min<uint32_t>(s.len, 4);  // iovecs below
    s.off = in.take<uint64_t>();
    if (s.opcode == Opcode::async_cancel) s.addr = in.take<uint64_t>();          // an unknown handle
    if (s.opcode == Opcode::sendmsg || s.opcode == Opcode::recvmsg) s.addr = 0;  // arena bytes are no msghdr
    if (s.opcode == Opcode::msg_ring) {
      s.fd = static_cast<int32_t>(in.below(4)) - 1;
      // Half forge a ringo message (unknown tags, payloads), half any user_data (refused).
      if (in.below(2) == 0) s.off = (uint64_t{0xFF} << 56) | (s.off & UserData::kPayloadMask);
    }
    if (s.opcode == Opcode::timeout) s.off %= 10'000'000;
    if (s.opcode == Opcode::accept && (s.off >> 63) != 0) {  // multishot, decided without a new input byte
      s.ioprio = kAcceptMultishot;
      s.addr = 0;  // no peer addresses, as TcpListener asks
      s.off &= 1;  // bit 0: through submit_raw (else submit(), which must refuse it)
    }
    p.sqes.push_back(s);
    p.deadlines.push_back(in.below(3) == 0 ? Duration{in.below(2'000'000)} : Duration{0});
  }
  return p;
}

// readv/writev need iovec arrays that point into the arena.
void fix_iovecs(Program& p, std::vector<iovec>& iovs) {
  iovs.resize(4 * p.sqes.size());
  for (size_t i = 0; i < p.sqes.size(); ++i) {
    Sqe& s = p.sqes[i];
    if (s.opcode != Opcode::readv && s.opcode != Opcode::writev) continue;
    for (uint32_t k = 0; k < s.len; ++k) iovs[4 * i + k] = iovec{p.arena.data() + 1024 * k, 512};
    s.addr = s.addr == 0 ? 0 : reinterpret_cast<uintptr_t>(&iovs[4 * i]);
  }
}

// A multishot accept through the raw lane: every result is counted (and an accepted fd
// closed); the last CQE answers. A routine awaiting submit() refuses it (EINVAL).
struct Multishot {
  Shard* shard;
  int* answered;
  static void on_cqe(void* ctx, int32_t res, uint32_t flags) {
    auto* self = static_cast<Multishot*>(ctx);
    if (res >= 0) {
      SysCall close_call;
      close_call.op = SysOp::close;
      close_call.fd = res;
      (void)self->shard->ring().sys(close_call);
    }
    if ((flags & kCqeMore) == 0) {
      ++*self->answered;
      delete self;
    }
  }
};

Task<void> one_op(Sqe s, Duration deadline, int* answered) {
  Shard& here = *current_shard();
  const Instant t = deadline.count() > 0 ? here.now() + deadline : kNoDeadline;
  if (s.ioprio != 0 && s.off != 0) {
    s.off = 0;
    const OpToken op = here.submit_raw(s, &Multishot::on_cqe, new Multishot{&here, answered}, t);
    co_await sleep(std::chrono::milliseconds(1));
    here.cancel(op);
    co_return;
  }
  (void)co_await submit(s, t);
  ++*answered;
}

Task<void> main_task(const Program* p, int* answered) {
  Shard& here = *current_shard();
  for (SysCall c : p->calls) (void)here.ring().sys(c);
  for (size_t i = 0; i < p->sqes.size(); ++i) go(one_op(p->sqes[i], p->deadlines[i], answered)).detach();
  co_await sleep(std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace ringo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringo;
  fuzz::Program p = fuzz::decode(data, size);
  std::vector<iovec> iovs;
  fuzz::fix_iovecs(p, iovs);
  sim::SimConfig config;
  config.seed = size > 0 ? data[0] : 1;
  config.shards = 2;
  config.faults = sim::FaultConfig::swarm(config.seed);
  config.max_steps = 2'000'000;
  config.time_budget = std::chrono::seconds(10);
  int answered = 0;
  sim::Simulation sim(config);
  sim::Report r = sim.drive(fuzz::main_task(&p, &answered));
  if (!r.ok() && r.error != errc::deadlock) {
    std::fprintf(stderr, "fuzz_ring: %s\n%s\n", r.summary().c_str(), r.message.c_str());
    std::abort();
  }
  sim.shutdown(r);
  fuzz::print_fingerprint("fuzz_ring", r, false);
  for (uint32_t s = 0; s < sim.shard_count(); ++s) {
    if (sim.shard(s).stats().routines_live != 0 || sim.shard(s).live_ops() != 0) {
      std::fprintf(stderr, "fuzz_ring: shard %u kept %llu routines and %zu ops after shutdown\n", s,
                   static_cast<unsigned long long>(sim.shard(s).stats().routines_live), sim.shard(s).live_ops());
      std::fprintf(stderr, "%s", sim.describe_blocked().c_str());
      std::abort();
    }
  }
  return 0;
}
