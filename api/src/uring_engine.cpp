// The io_uring engine: real_engine.cpp's threads over one UringRing per shard.
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.hpp"
#include "ringo/internal/uring/uring_ring.hpp"

namespace ringo::detail {
namespace {

#ifndef IORING_REGISTER_SEND_MSG_RING
#define IORING_REGISTER_SEND_MSG_RING 31  // kernel 6.13+: MSG_RING without a source ring
#endif

// Rings a shard's doorbell from a thread that has no ring (a stop_token fired elsewhere).
bool wake_from_outside(void* ctx, uint32_t target) {
  auto* group = static_cast<ShardGroup*>(ctx);
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_MSG_RING;
  sqe.fd = group->port(target).ring_id;
  sqe.len = pack_msg_res(target, Shard::kDoorbellTag);
  sqe.off = UserData::message(0);
  if (syscall(__NR_io_uring_register, -1, IORING_REGISTER_SEND_MSG_RING, &sqe, 1) >= 0) return true;
  // Before 6.13 a MSG_RING needs a source ring: send it from a throwaway one.
  io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) < 0) return false;
  bool sent = false;
  if (io_uring_sqe* s = io_uring_get_sqe(&ring)) {
    io_uring_prep_msg_ring(s, sqe.fd, sqe.len, sqe.off, 0);
    io_uring_cqe* cqe = nullptr;
    if (io_uring_submit_and_wait(&ring, 1) >= 0 && io_uring_peek_cqe(&ring, &cqe) == 0) sent = cqe->res >= 0;
  }
  io_uring_queue_exit(&ring);
  return sent;
}

RingSetup create_uring(const RuntimeConfig& config) {
  uring::UringOptions options;
  options.entries = config.ring_entries;
  uring::UringSetup setup = uring::UringRing::create(options);
  return RingSetup{std::move(setup.ring), setup.error, std::move(setup.report)};
}

}  // namespace

Result<std::unique_ptr<Engine>> make_uring_engine(const RuntimeConfig& config, std::string& why) {
  return make_real_engine(config, RealBackend{Backend::uring, &create_uring, &wake_from_outside, {}}, why);
}

}  // namespace ringo::detail
