// The simulated disk's crash model, through the public fs::File API: random writes and
// fsyncs, a crash, then a fresh program reads the file back. Every byte that was fsynced
// and not written again afterwards is intact; every other byte holds a value some write
// put there (or the last fsynced one). With disk faults, failed writes are simply not
// counted as written.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "rc_sim.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {
namespace {

struct Step {
  bool fsync;
  uint16_t offset;
  uint16_t length;
  char fill;
};

// What may be at each byte after a crash.
struct Model {
  std::string synced;                           // contents at the last successful fsync
  std::map<size_t, std::set<char>> since_sync;  // values written to a byte since then
};

Task<void> write_then_sync(const std::vector<Step>* steps, Model* model) {
  auto f = co_await fs::File::create("/data/file");
  if (!f) co_return;
  if (!co_await f->fsync()) co_return;
  std::string current;
  for (const Step& s : *steps) {
    if (s.fsync) {
      if (co_await f->fsync()) {
        model->synced = current;
        model->since_sync.clear();
      }
      continue;
    }
    const std::string bytes(s.length, s.fill);
    // A failed or short write may still have reached the page cache in part: count the
    // whole range as possibly written.
    for (size_t i = 0; i < bytes.size(); ++i) model->since_sync[s.offset + i].insert(s.fill);
    if (co_await f->write_all_at(bytes, s.offset)) {
      if (current.size() < s.offset + bytes.size()) current.resize(s.offset + bytes.size(), '\0');
      current.replace(s.offset, bytes.size(), bytes);
    }
  }
}

Task<void> read_back(std::string* out, std::error_code* error) {
  auto f = co_await fs::File::open("/data/file");
  if (!f) {
    *error = f.error();
    co_return;
  }
  auto size = f->size();
  if (!size) {
    *error = size.error();
    co_return;
  }
  out->assign(*size, '\0');
  if (*size > 0) {
    if (auto r = co_await f->read_exact_at(*out, 0); !r) *error = r.error();
  }
}

RC_GTEST_PROP(DiskCrash, FsyncedBytesSurviveACrash, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(
      rc::gen::build<Step>(rc::gen::set(&Step::fsync, rc::gen::weightedElement<bool>({{1, true}, {4, false}})),
                           rc::gen::set(&Step::offset, rc::gen::inRange<uint16_t>(0, 8192)),
                           rc::gen::set(&Step::length, rc::gen::inRange<uint16_t>(1, 3000)),
                           rc::gen::set(&Step::fill, rc::gen::inRange<char>('a', 'z'))));
  sim::SimConfig config;
  config.seed = *rc::gen::arbitrary<uint64_t>();
  config.shards = 1;
  config.faults = *rc::gen::arbitrary<bool>() ? sim::FaultConfig::light() : sim::FaultConfig::none();
  sim::Simulation sim(config);
  Model model;
  sim::Report wrote = sim.drive(write_then_sync(&steps, &model));
  sim::rc_require_ok(wrote);
  sim.kernel().crash();
  std::string after;
  std::error_code error;
  sim::Report read = sim.drive(read_back(&after, &error));
  RC_ASSERT(read.ok());
  // The read-back may meet an injected EIO (light faults): that is the disk, not a loss.
  RC_PRE(!error || error != std::errc::io_error);
  RC_ASSERT(!error);
  size_t lost_unsynced = 0;
  for (size_t i = 0; i < std::max(after.size(), model.synced.size()); ++i) {
    auto written = model.since_sync.find(i);
    const bool synced_here = i < model.synced.size();
    if (written == model.since_sync.end()) {
      if (!synced_here) {
        RC_ASSERT(after[i] == '\0');  // a hole left by a later write
        continue;
      }
      RC_ASSERT(i < after.size());             // a synced byte is never lost
      RC_ASSERT(after[i] == model.synced[i]);  // nor changed
      continue;
    }
    if (i >= after.size()) {
      ++lost_unsynced;
      RC_ASSERT(!synced_here);
      continue;
    }
    const bool old_value = synced_here ? after[i] == model.synced[i] : after[i] == '\0';
    RC_ASSERT(old_value || written->second.count(after[i]) == 1);
    if (old_value) ++lost_unsynced;
  }
  RC_CLASSIFY(lost_unsynced > 0, "crash lost unsynced bytes");
  RC_CLASSIFY(!model.since_sync.empty(), "writes after the last fsync");
}

}  // namespace
}  // namespace ringo
