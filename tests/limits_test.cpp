// The limits on what other shards can make a shard hold (issue 17): its inbox, its caller
// registry and its doorbell retries. Each test drives bare shards over a scripted ring,
// lowers the limit where the default would take long to reach, and checks that reaching
// it is refused with errc::queue_full (or, for doorbell retries, merged) and never lost.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "ringo/chan.hpp"
#include "ringo/cross_shard.hpp"
#include "ringo/internal/core/mpsc_stack.hpp"
#include "ringo/internal/core/shard.hpp"
#include "ringo/select_handlers.hpp"
#include "ringo/sync.hpp"
#include "ringo/task.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using namespace std::chrono_literals;

// A ring that accepts everything, completes nothing on its own and hands out the CQEs a
// test scripts.
class ScriptedRing final : public Ring {
 public:
  size_t push(std::span<const Sqe> sqes) override {
    pushed.insert(pushed.end(), sqes.begin(), sqes.end());
    return sqes.size();
  }
  Result<size_t> submit_and_wait(unsigned, Duration) override { return size_t{0}; }
  size_t reap(std::span<Cqe> out) override {
    const size_t n = std::min(out.size(), cqes.size());
    std::copy_n(cqes.begin(), n, out.begin());
    cqes.erase(cqes.begin(), cqes.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
  Instant now() const override { return Instant{0}; }
  Caps caps() const override { return Caps{}; }
  int32_t msg_ring_id() const override { return 0; }

  std::vector<Sqe> pushed;
  std::vector<Cqe> cqes;
};

struct Probe final : Envelope {
  int* delivered;
  explicit Probe(int* d) : delivered(d) {}
  void deliver(Shard&) override {
    ++*delivered;
    delete this;
  }
};

TEST(MpscStack, CountsWhatWaitsAndRefusesAtTheLimit) {
  Inbox inbox;
  std::vector<Envelope*> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(new Probe(nullptr));
  EXPECT_TRUE(inbox.push(nodes[0], ShardPort::kClosed, 2).ok);
  EXPECT_TRUE(inbox.push(nodes[1], ShardPort::kClosed, 2).ok);
  EXPECT_EQ(Inbox::count(inbox.load(std::memory_order_relaxed)), 2u);
  const Inbox::Pushed refused = inbox.push(nodes[2], ShardPort::kClosed, 2);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(Inbox::count(refused.before), 2u);
  EXPECT_TRUE(inbox.push(nodes[2]).ok);  // unbounded: still goes in, still counted
  EXPECT_EQ(Inbox::count(inbox.load(std::memory_order_relaxed)), 3u);
  // Taking everything resets the count; oldest first.
  Envelope* list = Inbox::oldest_first(inbox.take_all());
  EXPECT_EQ(list, nodes[0]);
  EXPECT_EQ(list->next, nodes[1]);
  EXPECT_EQ(list->next->next, nodes[2]);
  EXPECT_EQ(inbox.load(std::memory_order_relaxed), Inbox::kEmpty);
  // A mark is replaced by a push (its count restarts), except the refused one.
  Inbox::Word found = 0;
  EXPECT_TRUE(inbox.try_mark(ShardPort::kAsleep, found, std::memory_order_seq_cst));
  const Inbox::Pushed woke = inbox.push(nodes[3], ShardPort::kClosed, 1);
  EXPECT_TRUE(woke.ok);
  EXPECT_EQ(woke.before, ShardPort::kAsleep);
  EXPECT_EQ(nodes[3]->next, nullptr);
  EXPECT_EQ(Inbox::top(inbox.take_all(ShardPort::kClosed)), nodes[3]);
  EXPECT_FALSE(inbox.push(nodes[0], ShardPort::kClosed).ok);  // closed: refused
  for (Envelope* e : nodes) delete e;
}

// New work posted to a shard that does not drain is refused once kInboxLimit (here 4)
// envelopes wait; answers and cancels are still taken; draining makes room again.
TEST(Limits, AFullInboxRefusesNewWorkButNotWhatIsOwed) {
  ShardGroup group(2, /*inbox_limit=*/4);
  int delivered = 0;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(group.enqueue(1, new Probe(&delivered), Admission::bounded));
  auto* extra = new Probe(&delivered);
  const auto refused = group.enqueue(1, extra, Admission::bounded);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(errc::queue_full));
  EXPECT_TRUE(group.enqueue(1, extra, Admission::owed));  // an answer is never refused for room
  ScriptedRing ring;
  Shard target(group, 1, ring);
  target.run_once(false);
  EXPECT_EQ(delivered, 5);
  EXPECT_TRUE(group.enqueue(1, new Probe(&delivered), Admission::bounded));  // drained: room again
  target.run_once(false);
  EXPECT_EQ(delivered, 6);
}

Task<void> call_once(int* value, std::error_code* error) {
  auto r = co_await submit_to(1, [] { return 7; });
  if (r) {
    *value = *r;
  } else {
    *error = r.error();
  }
}

// submit_to sees the full inbox as queue_full; the calls that got in are answered.
TEST(Limits, SubmitToAFullInboxFailsWithQueueFull) {
  ShardGroup group(2, /*inbox_limit=*/3);
  ScriptedRing ring0, ring1;
  Shard caller(group, 0, ring0);
  Shard callee(group, 1, ring1);
  std::vector<int> values(5, 0);
  std::vector<std::error_code> errors(5);
  for (size_t i = 0; i < 5; ++i) spawn_local(caller, call_once(&values[i], &errors[i])).detach();
  caller.run_once(false);  // five calls posted to a shard that has not run yet
  callee.run_once(false);  // answers the three that got in
  caller.run_once(false);
  int answered = 0;
  int refused = 0;
  for (size_t i = 0; i < 5; ++i) {
    answered += values[i] == 7 ? 1 : 0;
    refused += errors[i] == make_error_code(errc::queue_full) ? 1 : 0;
  }
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(caller.stats().routines_live, 0u);
}

TEST(Limits, TheCallerRegistryRefusesPastItsLimit) {
  struct Parked final : ParkedRequest {
    void cancel(Shard&) override {}
    void stop(Shard&) override {}
  } parked;
  CallerRegistry registry(/*limit=*/2);
  EXPECT_TRUE(registry.add_parked(1, &parked));
  EXPECT_TRUE(registry.add_parked(2, &parked));
  EXPECT_TRUE(registry.full());
  const auto refused = registry.add_parked(3, &parked);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(errc::queue_full));
  registry.remove_parked(1);
  EXPECT_TRUE(registry.add_parked(3, &parked));
  registry.remove_parked(2);
  registry.remove_parked(3);
  EXPECT_EQ(registry.size(), 0u);
}

Task<int> wait_forever() {
  (void)co_await sleep(1h);  // the scripted clock never moves
  co_return 1;
}

Task<void> call_a_routine(std::error_code* error) {
  auto r = co_await submit_to(1, [] { return wait_forever(); });
  if (!r) *error = r.error();
}

// A call served by a routine takes a registry entry until it ends; past max_callers the
// callee answers queue_full without running anything.
TEST(Limits, CallsPastMaxCallersAreAnsweredWithQueueFull) {
  ShardGroup group(2);
  ScriptedRing ring0, ring1;
  ShardConfig config;
  config.max_callers = 2;
  Shard caller(group, 0, ring0);
  Shard callee(group, 1, ring1, config);
  std::vector<std::error_code> errors(3);
  for (auto& e : errors) spawn_local(caller, call_a_routine(&e)).detach();
  caller.run_once(false);
  callee.run_once(false);
  caller.run_once(false);
  EXPECT_EQ(callee.callers().size(), 2u);
  EXPECT_EQ(callee.stats().routines_live, 2u);  // the two served calls wait; the third never ran
  int refused = 0;
  for (const auto& e : errors) refused += e == make_error_code(errc::queue_full) ? 1 : 0;
  EXPECT_EQ(refused, 1);
}

// Requests from other shards that must wait at a channel's or a lock's home take a
// registry entry each (so they can be cancelled by id); past max_callers the home shard
// answers queue_full instead of parking them, and the caller's routine is not left
// hanging. Three waits from shard 0 on a home (shard 1) that takes two.
struct RemoteWaits {
  ShardGroup group{2};
  ScriptedRing ring0, ring1;
  Shard caller{group, 0, ring0};
  Shard home;
  std::vector<std::error_code> errors = std::vector<std::error_code>(3);

  RemoteWaits() : home(group, 1, ring1, config_with_two_callers()) {}
  static ShardConfig config_with_two_callers() {
    ShardConfig c;
    c.max_callers = 2;
    return c;
  }
  // Lets the requests travel there and the answers back.
  void exchange() {
    caller.run_once(false);
    home.run_once(false);
    caller.run_once(false);
  }
  int refused() const {
    int n = 0;
    for (const auto& e : errors) n += e == make_error_code(errc::queue_full) ? 1 : 0;
    return n;
  }
};

Task<void> make_channel_here(std::optional<Receiver<int>>* rx, std::optional<Sender<int>>* tx) {
  auto made = chan<int>(0);
  tx->emplace(std::move(made->first));
  rx->emplace(std::move(made->second));
  co_return;
}

// An unbuffered channel made on `home`, so homed there; the test keeps both ends (the
// last sender dropped would close it).
struct HomedChannel {
  std::optional<Receiver<int>> rx;
  std::optional<Sender<int>> tx;
  explicit HomedChannel(Shard& home) {
    spawn_local(home, make_channel_here(&rx, &tx)).detach();
    home.run_once(false);
  }
};

Task<void> recv_from(Receiver<int> rx, std::error_code* error) {
  auto r = co_await rx.recv();
  if (!r) *error = r.error();
}

TEST(Limits, RemoteChannelWaitsPastMaxCallersGetQueueFull) {
  RemoteWaits w;
  HomedChannel ch(w.home);
  ASSERT_TRUE(ch.rx.has_value());
  for (auto& e : w.errors) spawn_local(w.caller, recv_from(*ch.rx, &e)).detach();
  w.exchange();
  EXPECT_EQ(w.home.callers().size(), 2u);
  EXPECT_EQ(w.refused(), 1);
  EXPECT_EQ(w.caller.stats().routines_live, 2u);  // the refused receiver returned
}

// A remote channel wait is new work for the home shard: a full inbox refuses it.
TEST(Limits, RemoteChannelWaitsIntoAFullInboxGetQueueFull) {
  ShardGroup group(2, /*inbox_limit=*/3);
  ScriptedRing ring0, ring1;
  Shard caller(group, 0, ring0);
  Shard home(group, 1, ring1);
  HomedChannel ch(home);
  ASSERT_TRUE(ch.rx.has_value());
  std::vector<std::error_code> errors(5);
  for (auto& e : errors) spawn_local(caller, recv_from(*ch.rx, &e)).detach();
  caller.run_once(false);  // five requests posted to a shard that has not run since
  int refused = 0;
  for (const auto& e : errors) refused += e == make_error_code(errc::queue_full) ? 1 : 0;
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(caller.stats().routines_live, 3u);
}

// A select over channels of two shards arms each home (a select over one other shard's
// channels is shipped there whole, as a call, and meets the call limit instead).
Task<void> select_on(Receiver<int> remote, std::error_code* error) {
  auto [local_tx, local_rx] = chan<int>(0).value();
  auto r = co_await select(on_recv(remote, [](Result<int>) {}), on_recv(local_rx, [](Result<int>) {}));
  if (!r) *error = r.error();
}

TEST(Limits, SelectArmsPastMaxCallersEndTheSelectWithQueueFull) {
  RemoteWaits w;
  HomedChannel ch(w.home);
  ASSERT_TRUE(ch.rx.has_value());
  for (auto& e : w.errors) spawn_local(w.caller, select_on(*ch.rx, &e)).detach();
  w.exchange();
  w.exchange();  // the refused select's other words (retire) settle
  EXPECT_EQ(w.home.callers().size(), 2u);
  EXPECT_EQ(w.refused(), 1);
  EXPECT_EQ(w.caller.stats().routines_live, 2u);
}

Task<void> hold_forever(Mutex mu) {
  auto g = co_await mu.lock();
  (void)co_await sleep(1h);  // the scripted clock never moves
}

Task<void> lock_from(Mutex mu, std::error_code* error) {
  auto g = co_await mu.lock();
  if (!g) *error = g.error();
}

TEST(Limits, RemoteLockWaitsPastMaxCallersGetQueueFull) {
  RemoteWaits w;
  Mutex mu;
  // The first lock takes the fast path and homes nothing; the second waits, which homes
  // the mutex where it waits (shard 1).
  spawn_local(w.home, hold_forever(mu)).detach();
  spawn_local(w.home, hold_forever(mu)).detach();
  w.home.run_once(false);
  for (auto& e : w.errors) spawn_local(w.caller, lock_from(mu, &e)).detach();
  w.exchange();
  EXPECT_EQ(w.home.callers().size(), 2u);
  EXPECT_EQ(w.refused(), 1);
  EXPECT_EQ(w.caller.stats().routines_live, 2u);
}

// Forged doorbell failures cannot grow the retry list past kDoorbellRetryLimit: past it
// a target already waiting for its retry is not added again (its one doorbell wakes it).
TEST(Limits, DoorbellRetriesStopGrowingAtTheirLimit) {
  ShardGroup group(2);
  ScriptedRing ring;
  Shard shard(group, 0, ring);
  const size_t forged = OpDriver::kDoorbellRetryLimit + 44;
  for (size_t i = 0; i < forged; ++i) ring.cqes.push_back({UserData::make(UdKind::doorbell, 0, 1), -EBUSY, 0});
  shard.run_once(false);                                  // reaps the failures
  shard.run_once(false);                                  // retries them
  EXPECT_EQ(shard.stats().messages_send_failed, forged);  // each counted: nothing silent
  EXPECT_EQ(shard.stats().doorbell_retries, OpDriver::kDoorbellRetryLimit);
  size_t doorbells = 0;
  for (const Sqe& s : ring.pushed) doorbells += UserData::kind(s.user_data) == UdKind::doorbell ? 1 : 0;
  EXPECT_EQ(doorbells, OpDriver::kDoorbellRetryLimit);
}

}  // namespace
}  // namespace ringo
