// The AIO engine: real_engine.cpp's threads over one AioRing per shard, for hosts where
// io_uring is refused. Doorbells are AioRing mailboxes, which any thread can post to.
#include "engine.hpp"
#include "ringo/internal/aio/aio_ring.hpp"

namespace ringo::detail {
namespace {

// Rings a shard's doorbell from a thread that has no ring (a stop_token fired elsewhere):
// an AioRing's mailbox takes messages from any thread.
bool wake_from_outside(void* ctx, uint32_t target) {
  auto* group = static_cast<ShardGroup*>(ctx);
  return aio::AioRing::send_message(group->port(target).ring_id,
                                    static_cast<int32_t>(pack_msg_res(target, Shard::kDoorbellTag)),
                                    UserData::message(0)) == 0;
}

RingSetup create_aio(const RuntimeConfig& config) {
  aio::AioOptions options;
  options.entries = config.ring_entries;
  aio::AioSetup setup = aio::AioRing::create(options);
  return RingSetup{std::move(setup.ring), setup.error, std::move(setup.report)};
}

}  // namespace

Result<std::unique_ptr<Engine>> make_aio_engine(const RuntimeConfig& config, std::string& why, std::string note) {
  return make_real_engine(config, RealBackend{Backend::aio, &create_aio, &wake_from_outside, std::move(note)}, why);
}

}  // namespace ringo::detail
