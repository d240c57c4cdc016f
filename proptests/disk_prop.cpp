// The simulated disk's crash model, through the public fs::File API: random writes and
// fsyncs, a crash, then a fresh program reads the file back. Every byte that was fsynced
// and not written again afterwards is intact; every other byte holds a value some write
// put there (or the last fsynced one). With disk faults, failed writes are simply not
// counted as written.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "rc_sim.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

struct Step {
  bool fsync;
  uint16_t offset;
  uint16_t length;
  char fill;
};

void showValue(const Step& s, std::ostream& os) {
  if (s.fsync) {
    os << "fsync";
  } else {
    os << "write(" << s.offset << ", " << s.length << " x '" << s.fill << "')";
  }
}

// What may be at each byte. A write that fails part-way (a short write, then EIO) may
// have put some of its bytes in the page cache, and a later fsync makes them durable, so
// the model keeps a set of possible values per byte rather than one known file.
struct Model {
  using Possible = std::map<size_t, std::set<char>>;  // absent byte: only a hole ('\0')
  Possible cache;                                     // what the page cache may hold now
  size_t certain_size = 0;  // bytes the file surely has (every write that reached them succeeded)
  Possible synced;          // the page cache at the last successful fsync
  size_t synced_size = 0;
  Possible since_sync;  // values written to a byte since then (kept, lost or torn by a crash)

  void wrote(const Step& s, bool ok) {
    for (size_t i = s.offset; i < size_t{s.offset} + s.length; ++i) {
      if (ok) {
        cache[i] = {s.fill};
      } else {
        cache.try_emplace(i, std::set<char>{'\0'}).first->second.insert(s.fill);
      }
      since_sync[i].insert(s.fill);
    }
    if (ok) certain_size = std::max(certain_size, size_t{s.offset} + s.length);
  }
  void fsynced() {
    synced = cache;
    synced_size = certain_size;
    since_sync.clear();
  }
  // Whether `value` at byte `i` is one the model allows after a crash.
  bool allows(size_t i, char value) const {
    auto before = synced.find(i);
    const bool hole_ok = before == synced.end() || i >= synced_size;
    if (value == '\0' && hole_ok) return true;
    if (before != synced.end() && before->second.count(value) == 1) return true;
    auto since = since_sync.find(i);
    return since != since_sync.end() && since->second.count(value) == 1;
  }
};

Task<void> write_then_sync(const std::vector<Step>* steps, Model* model) {
  auto f = co_await fs::File::create("/data/file");
  if (!f) co_return;
  if (!co_await f->fsync()) co_return;
  for (const Step& s : *steps) {
    if (s.fsync) {
      if (co_await f->fsync()) model->fsynced();
      continue;
    }
    const std::string bytes(s.length, s.fill);
    const bool ok = (co_await f->write_all_at(bytes, s.offset)).has_value();
    model->wrote(s, ok);
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
  RC_ASSERT(after.size() >= model.synced_size);  // a synced byte is never lost
  size_t lost_unsynced = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    if (!model.allows(i, after[i])) {
      RC_FAIL("byte " + std::to_string(i) + " holds " + std::to_string(int{after[i]}) + " after the crash (size " +
              std::to_string(after.size()) + ", synced size " + std::to_string(model.synced_size) + ")");
    }
    auto since = model.since_sync.find(i);
    if (since != model.since_sync.end() && since->second.count(after[i]) == 0) ++lost_unsynced;
  }
  RC_CLASSIFY(lost_unsynced > 0, "crash lost unsynced bytes");
  RC_CLASSIFY(!model.since_sync.empty(), "writes after the last fsync");
}

}  // namespace
}  // namespace ringo
