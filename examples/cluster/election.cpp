// Leader election, Raft-style (terms and votes only, no log), between the hosts of a
// simulated cluster, over ringo TCP, with each host's term and vote kept on its own
// simulated disk. Two scenarios for ringo-sim (docs/simulation.md, "Several hosts"):
//
//   election                the correct protocol: a vote is fsynced before it is granted
//   election_unsynced_vote  the planted bug: the vote is written but not fsynced before
//                           the reply, so a crash can lose it, and the restarted host
//                           votes again in the same term for another candidate
//
// The safety checker is the oracle every host reports to when it becomes leader: at most
// one leader per term, across crashes and restarts (HostContext::shared, fail).
//
// The protocol. Each host is a follower until it hears from no leader for its election
// timeout (150-300 ms, drawn per host); then it is a candidate: it bumps its term, votes
// for itself (fsynced), and asks every peer for a vote. A host grants at most one vote
// per term (the first candidate to ask, if that candidate's term is not behind its own),
// and moves to any higher term it sees. A candidate with a majority is leader and sends
// heartbeats every 50 ms; a leader or candidate that sees a higher term steps down. Each
// request is one TCP connection to port 7000: a 24-byte request, a 16-byte reply.
//
// State on disk: an append-only file of 24-byte records (check word, term, vote + 1),
// each written at the end of the last valid one. Loading keeps the last record whose
// check word matches, so a record torn or lost by a crash falls back to the one before
// (which, in the correct protocol, was fsynced before anyone relied on it).
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "ringo/fs.hpp"
#include "ringo/net.hpp"
#include "ringo/ringo.hpp"
#include "ringo/sim/scenario.hpp"

using namespace ringo;
using namespace std::chrono_literals;

namespace {

constexpr uint16_t kPort = 7000;
constexpr uint64_t kNone = UINT64_MAX;  // no vote in this term
constexpr uint64_t kCheck = 0x52494e474f564f54ULL;
constexpr const char* kStateFile = "/raft.state";
enum : uint64_t { kRequestVote = 1, kHeartbeat = 2 };
enum class Role : uint8_t { follower, candidate, leader };

struct Node {
  uint32_t id = 0;
  uint32_t hosts = 0;
  bool fsync_votes = true;  // false: the planted bug
  uint64_t term = 0;
  uint64_t voted_for = kNone;
  bool durable = true;  // term and voted_for are on disk (fsynced, or read back after a restart)
  Role role = Role::follower;
  uint32_t votes = 0;
  Instant last_heard{0};
  Duration timeout{0};
  fs::File file;
  uint64_t next_record = 0;  // where the next state record goes
};

// The checker's view, shared by every host of a run: who led each term.
struct Ledger {
  std::map<uint64_t, uint32_t> leader_of_term;
};

uint64_t check_word(uint64_t term, uint64_t vote1) {
  return kCheck ^ (term * 0x9e3779b97f4a7c15ULL) ^ (vote1 * 0xc2b2ae3d27d4eb4fULL);
}

// Appends the node's term and vote; fsyncs unless `sync` is false (the bug's vote). The
// node is `durable` again when the fsync succeeded and its state is still what was written.
Task<Result<void>> persist(Node& node, bool sync) {
  const uint64_t term = node.term, vote1 = node.voted_for == kNone ? 0 : node.voted_for + 1;
  const std::array<uint64_t, 3> rec{check_word(term, vote1), term, vote1};
  std::array<char, sizeof rec> bytes;
  std::memcpy(bytes.data(), rec.data(), sizeof rec);
  const uint64_t at = node.next_record;
  node.next_record += sizeof rec;
  node.durable = false;
  if (auto w = co_await node.file.write_all_at(bytes, at); !w) co_return w;
  if (!sync) co_return Result<void>{};
  auto synced = co_await node.file.fsync();
  const uint64_t now1 = node.voted_for == kNone ? 0 : node.voted_for + 1;
  if (synced && node.term == term && now1 == vote1) node.durable = true;
  co_return synced;
}

// Reads the last valid record (term 0, no vote, when there is none), skipping slots that
// hold none.
Task<Result<void>> load(Node& node) {
  auto file = co_await fs::File::open(kStateFile, O_RDWR | O_CREAT);
  if (!file) co_return std::unexpected(file.error());
  node.file = std::move(*file);
  for (;;) {
    std::array<char, 24> bytes;
    auto r = co_await node.file.read_exact_at(bytes, node.next_record);
    if (!r && r.error() == errc::unexpected_eof) break;  // the end (or a torn last record)
    if (!r) continue;  // EIO: read it again; stopping here would forget the records after it
    std::array<uint64_t, 3> rec;
    std::memcpy(rec.data(), bytes.data(), sizeof rec);
    node.next_record += bytes.size();
    // Not a record: the slot of a write that failed (persist does not reuse it) or one
    // torn by a crash. Skipped, not the end: a vote persisted after it must not be lost.
    if (rec[0] != check_word(rec[1], rec[2])) continue;
    node.term = rec[1];
    node.voted_for = rec[2] == 0 ? kNone : rec[2] - 1;
  }
  co_return Result<void>{};
}

// Moves to a higher term as a follower with no vote (persisted, fsynced).
Task<void> adopt_term(Node& node, uint64_t term) {
  if (term <= node.term) co_return;
  node.term = term;
  node.voted_for = kNone;
  node.role = Role::follower;
  (void)co_await persist(node, true);
}

struct Reply {
  uint64_t term = 0;
  uint64_t granted = 0;
};

// One request over a fresh connection: the peer's reply, or an error (timeout, reset...).
Task<Result<Reply>> call(sim::HostContext& host, uint32_t peer, uint64_t kind, uint64_t term, uint64_t from) {
  const Instant deadline = host.now() + 100ms;
  auto addr = net::SocketAddr::parse(sim::HostContext::address(peer) + ":" + std::to_string(kPort));
  if (!addr) co_return std::unexpected(addr.error());
  auto conn = co_await net::TcpStream::connect(*addr, deadline);
  if (!conn) co_return std::unexpected(conn.error());
  const std::array<uint64_t, 3> req{kind, term, from};
  std::array<char, sizeof req> out;
  std::memcpy(out.data(), req.data(), sizeof req);
  if (auto w = co_await conn->write_all(out, deadline); !w) co_return std::unexpected(w.error());
  std::array<char, sizeof(Reply)> in;
  if (auto r = co_await conn->read_exact(in, deadline); !r) co_return std::unexpected(r.error());
  Reply reply;
  std::memcpy(&reply, in.data(), sizeof reply);
  co_return reply;
}

void become_leader(sim::HostContext& host, Node& node) {
  node.role = Role::leader;
  auto& ledger = host.shared<Ledger>();
  auto [it, fresh] = ledger.leader_of_term.emplace(node.term, node.id);
  if (!fresh && it->second != node.id) {
    host.fail("two leaders in term " + std::to_string(node.term) + ": host " + std::to_string(it->second) +
              " and host " + std::to_string(node.id));
  }
}

// Asks one peer for its vote in `term`, again every 20 ms while the peer cannot be
// reached and this host is still a candidate in that term (Raft retries these RPCs).
Task<void> ask_vote(sim::HostContext& host, std::shared_ptr<Node> node, uint32_t peer, uint64_t term) {
  Result<Reply> reply = std::unexpected(make_error_code(errc::timed_out));
  for (;;) {
    reply = co_await call(host, peer, kRequestVote, term, node->id);
    if (reply || node->term != term || node->role != Role::candidate) break;
    co_await sleep(20ms);
  }
  if (!reply) co_return;
  if (reply->term > node->term) {
    co_await adopt_term(*node, reply->term);
    co_return;
  }
  if (node->term != term || node->role != Role::candidate || reply->granted == 0) co_return;
  if (++node->votes * 2 > node->hosts) become_leader(host, *node);
}

Task<void> heartbeat(sim::HostContext& host, std::shared_ptr<Node> node, uint32_t peer, uint64_t term) {
  auto reply = co_await call(host, peer, kHeartbeat, term, node->id);
  if (reply && reply->term > node->term) co_await adopt_term(*node, reply->term);
}

void reset_timer(sim::HostContext& host, Node& node) {
  node.last_heard = host.now();
  node.timeout = 150ms + Duration{static_cast<int64_t>(host.random(150)) * 1'000'000};
}

Task<void> start_election(sim::HostContext& host, std::shared_ptr<Node> node) {
  node->term += 1;
  node->voted_for = node->id;
  node->role = Role::candidate;
  node->votes = 1;
  reset_timer(host, *node);
  const uint64_t term = node->term;
  if (!co_await persist(*node, true)) co_return;  // no durable self-vote: no election
  if (node->term != term || node->role != Role::candidate) co_return;
  for (uint32_t peer = 0; peer < node->hosts; ++peer) {
    if (peer != node->id) go(ask_vote(host, node, peer, term)).detach();
  }
}

// The answer to one request; state changes are persisted before the reply goes out
// (a granted vote with fsync, unless this is the planted bug).
Task<Reply> answer(sim::HostContext& host, Node& node, uint64_t kind, uint64_t term, uint64_t from) {
  const bool newer = term > node.term;
  if (newer) {
    node.term = term;
    node.voted_for = kNone;
    node.role = Role::follower;
  }
  bool grant = false;
  bool voted = false;
  if (kind == kRequestVote && term == node.term && (node.voted_for == kNone || node.voted_for == from)) {
    grant = true;
    // A candidate asking again (its first reply lost) is granted only once the vote is on
    // disk: the first persist may have failed, or still be waiting for its fsync.
    voted = node.voted_for == kNone || !node.durable;
    node.voted_for = from;
    reset_timer(host, node);
  } else if (kind == kHeartbeat && term == node.term) {
    if (node.role != Role::leader) node.role = Role::follower;
    reset_timer(host, node);
  }
  if (newer || voted) {
    const bool sync = !voted || node.fsync_votes;  // BUG (fsync_votes false): the vote is not durable
    if (!co_await persist(node, sync)) grant = false;
  }
  co_return Reply{node.term, grant ? 1u : 0u};
}

Task<void> serve(sim::HostContext& host, std::shared_ptr<Node> node, net::TcpStream conn) {
  const Instant deadline = host.now() + 1s;
  std::array<char, 24> in;
  if (!co_await conn.read_exact(in, deadline)) co_return;
  std::array<uint64_t, 3> req;
  std::memcpy(req.data(), in.data(), sizeof req);
  const Reply reply = co_await answer(host, *node, req[0], req[1], req[2]);
  std::array<char, sizeof(Reply)> out;
  std::memcpy(out.data(), &reply, sizeof reply);
  (void)co_await conn.write_all(out, deadline);
  (void)co_await conn.close();
}

Task<void> accept_loop(sim::HostContext& host, std::shared_ptr<Node> node, net::TcpListener listener) {
  for (;;) {
    auto conn = co_await listener.accept();
    if (!conn) co_return;
    go(serve(host, node, std::move(*conn))).detach();
  }
}

Task<Result<void>> run_node(sim::HostContext& host, bool fsync_votes) {
  auto node = std::make_shared<Node>();
  node->id = host.id();
  node->hosts = host.hosts();
  node->fsync_votes = fsync_votes;
  if (auto r = co_await load(*node); !r) co_return r;
  auto listener = net::TcpListener::bind(net::SocketAddr::any_v4(kPort));
  if (!listener) co_return std::unexpected(listener.error());
  go(accept_loop(host, node, std::move(*listener))).detach();
  reset_timer(host, *node);
  for (;;) {
    if (node->role == Role::leader) {
      for (uint32_t peer = 0; peer < node->hosts; ++peer) {
        if (peer != node->id) go(heartbeat(host, node, peer, node->term)).detach();
      }
      co_await sleep(50ms);
      continue;
    }
    const Instant due = node->last_heard + node->timeout;
    if (host.now() >= due) {
      co_await start_election(host, node);
      continue;
    }
    co_await sleep(std::min<Duration>(due - host.now(), 25ms));
  }
}

// Three hosts, one shard each, for 10 s of virtual time with partitions and crashes:
// something happens every 20 to 300 ms, a crashed host is back after 5 to 100 ms. The
// small form (sim::ScenarioSize::small, what fuzz_scenario runs) is 400 ms with something
// every 10 to 80 ms and restarts after 5 to 50 ms: the first election or two (timeouts
// are 150-300 ms) with crashes and partitions around them, ~500 steps instead of 15,000.
void election_cluster(sim::ClusterConfig& c) {
  c.hosts = 3;
  c.shards_per_host = 1;
  c.run_for = sim::sized<Duration>(10s, 400ms);
  c.partitions = true;
  c.crashes = true;
  c.nemesis_min_gap = sim::sized<Duration>(20ms, 10ms);
  c.nemesis_max_gap = sim::sized<Duration>(300ms, 80ms);
  c.restart_min = 5ms;
  c.restart_max = sim::sized<Duration>(100ms, 50ms);
}

}  // namespace

RINGO_CLUSTER_SCENARIO(election, election_cluster,
                       "Raft-style leader election over TCP between 3 hosts, votes fsynced; partitions and crashes") {
  co_return co_await run_node(host, true);
}

RINGO_CLUSTER_SCENARIO(election_unsynced_vote, election_cluster,
                       "the election with a planted bug: a vote is granted before it is fsynced") {
  co_return co_await run_node(host, false);
}
