// SimNet: the simulated network. Unix domain sockets are the same streams and datagrams
// named by a path or abstract name in the simulator's own namespace (names_: no files;
// a path is free again once its socket closes), without UDP's faults. TCP-like stream sockets on one virtual host:
// listeners with a backlog, connections made of two one-way pipes with latency, bandwidth and a buffer limit. Faults
// (refused connects, resets, short transfers, multishot accepts that end early) are drawn from the seed. Datagram (UDP)
// sockets: each send is one datagram that arrives whole after the network's latency, in order per receiver unless a
// fault holds it back (reordering); a fault may also lose or duplicate it (sim_net_dgram.cpp). Private to sim/.
//
// Contract: an op that cannot proceed (no bytes to read, no room to write, no connection
// to accept, a full backlog) parks: try_op registers its id on the object's wait list
// and returns nothing, and the object's next change hands the list to DeviceHost::wake,
// which retries each op. A pipe never holds more than FaultConfig::socket_buffer bytes in
// flight plus unread; bytes arrive in the order they were sent; a reset fails both ends
// with ECONNRESET; closing with unread bytes resets (as Linux sends RST instead of FIN).
//
// SEND_ZC: the result (kCqeMore) after the usual op latency, as any op's; the notification
// (the op's last CQE, with kCqeNotif) when the op's last byte is acknowledged, because that
// is when Linux's comes: at the earlier of the peer's receives taking that byte and its
// arrival plus a seeded delayed-ACK delay of at most kAckDelay (40 ms, Linux's delayed ACK
// on a quiet connection). So a peer that waits for something else before reading delays the
// notification up to 40 ms, and one that never reads (or shut its reading side, or has no
// ring buffers) holds it no longer. A reset, or the reader closing, frees the bytes: the
// notification comes then. A SEND_ZC cancelled while parked ends as the kernel's: -ECANCELED
// with kCqeMore, then a notification. SEND_ZC on a Unix socket fails with EOPNOTSUPP (the
// kernel's AF_UNIX has no zero-copy): the result with kCqeMore, then a notification.
// A partition holds back bytes, not acknowledgements (not modelled).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "byte_queue.hpp"
#include "descriptor_table.hpp"
#include "device_host.hpp"
#include "net_address.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/internal/core/ring_buffer.hpp"
#include "ringo/sim/fault_config.hpp"
#include "sim_fabric.hpp"

namespace ringo::sim::detail {

// One direction of a connection. Bytes a writer sends travel for a while (latency,
// bandwidth) before the reader can take them; the writer is held back while what is in
// flight plus what is unread fills the buffer.
struct Pipe {
  // Bytes sent together: they arrive together, after those sent before.
  struct Segment {
    Instant arrives{0};
    size_t size = 0;  // its bytes: the next `size` of in_flight_data
  };
  ByteQueue unread;
  RingBuffer<Segment> in_flight;
  ByteQueue in_flight_data;  // every segment's bytes, oldest first
  Instant last_arrival{0};
  bool fin = false;          // the writer shut down: EOF once everything has arrived
  bool reset = false;        // the connection was reset: both ends see ECONNRESET
  bool reader_gone = false;  // the reader closed: writes fail with EPIPE
  WaitList readers;          // recv ops waiting for bytes or EOF
  WaitList writers;          // send ops waiting for room
  // SEND_ZC notifications waiting for the reader to take their bytes: an op's last byte is
  // byte `upto` of everything ever sent here. Ascending.
  struct HeldNotif {
    uint64_t upto;
    Instant result_at;  // when the op's result CQE is due: the notification never comes first
    uint32_t ring;
    Sqe sqe;
  };
  RingBuffer<HeldNotif> notifs;
  uint64_t sent_total = 0;      // bytes ever sent into this pipe
  uint64_t consumed_total = 0;  // bytes ever taken by the reader
  uint64_t acked_total = 0;     // bytes acknowledged by the delayed ACK (SimNet::ack_later)
  uint32_t from_host = 0;       // in a cluster (sim_fabric.hpp): the hosts at either end
  uint32_t to_host = 0;

  size_t queued() const noexcept { return unread.size() + in_flight_data.size(); }
  bool at_eof() const noexcept { return fin && unread.empty() && in_flight.empty(); }
};

// A datagram on its way or waiting to be received.
struct Datagram {
  Address from;
  std::string bytes;
};

// What a receiving datagram socket may hold unread (Linux's default net.core.rmem_default,
// 212,992 bytes); a datagram arriving at a full socket is dropped, as Linux drops it.
inline constexpr size_t kDatagramQueueBytes = 212992;

struct Socket {
  enum class State { fresh, bound, listening, connected };
  State state = State::fresh;
  int domain = AF_INET;
  int type = SOCK_STREAM;  // or SOCK_DGRAM
  Address local;
  Address peer;
  bool reuse_addr = false;
  bool reuse_port = false;
  bool nodelay = false;
  bool closed = false;
  bool read_shut = false;
  bool write_shut = false;  // datagram sockets (a stream's is its tx pipe's fin)
  // listening
  uint32_t backlog = 0;
  RingBuffer<std::shared_ptr<Socket>> accept_queue;
  WaitList accepters;
  WaitList connecters;     // connects waiting for backlog room (own connect: a SYN lost in a partition)
  uint32_t syn_tries = 0;  // SYNs of the pending connect lost in a partition
  // connected stream (both set)
  std::shared_ptr<Pipe> rx;
  std::shared_ptr<Pipe> tx;
  // datagram: received, not yet taken; a connected one has `peer` and no pipes
  RingBuffer<Datagram> inbox;
  size_t inbox_bytes = 0;
  Instant last_arrival{0};  // datagrams not held back arrive in order, no earlier than this
  WaitList receivers;

  bool datagram() const noexcept { return type == SOCK_DGRAM; }
};

class SimNet {
 public:
  SimNet(DeviceHost host, DescriptorTable& fds, const FaultConfig& faults) noexcept
      : host_(host), fds_(fds), faults_(faults) {}

  // SysOp::socket, bind, listen, local_addr, peer_addr, set_option: 0, a descriptor, or
  // a negative errno.
  int64_t sys(SysCall& call);
  // ACCEPT, CONNECT, SHUTDOWN, RECV, SEND, and READ(V)/WRITE(V) on a socket: the result,
  // or nothing after registering `id` (a park id) on the wait list of what it waits for.
  std::optional<int32_t> try_op(uint64_t id, uint32_t ring, const Sqe& sqe);
  // The kernel closed a descriptor of this socket (already out of the table).
  void closed(const std::shared_ptr<Socket>& sock);
  // In a cluster: this network is host `host` of the fabric, which carries its traffic to
  // other hosts (a partition stalls it) and gives it its address.
  void attach(SimFabric* fabric, uint32_t host) noexcept {
    fabric_ = fabric;
    host_id_ = host;
  }
  // The host crashed: every connection of its sockets is reset (the kernel then closes
  // the descriptors).
  void crash();
  // A cluster's TCP gives up a connect whose SYNs are lost (a partition, a host down)
  // after this many, sent this far apart (Linux: 6 over about 127 s; shorter here so that
  // runs stay short); bytes lost in a partition are sent again every kRetransmit.
  static constexpr uint32_t kSynRetries = 3;
  static constexpr Duration kSynInterval = std::chrono::seconds(1);
  static constexpr Duration kRetransmit = std::chrono::milliseconds(200);
  // The longest a peer's delayed ACK waits after bytes arrived (Linux: 40 ms minimum
  // delayed-ACK timeout, up to 200 ms; loopback-like peers answer within 40 ms).
  static constexpr Duration kAckDelay = std::chrono::milliseconds(40);

 private:
  int64_t bind(const std::shared_ptr<Socket>& sock, const SysCall& call);
  int64_t listen(const std::shared_ptr<Socket>& sock, const SysCall& call);
  int64_t address(const Socket& sock, SysCall& call);
  static int64_t set_option(Socket& sock, const SysCall& call);
  void bind_ephemeral(const std::shared_ptr<Socket>& sock);
  std::optional<int32_t> try_accept(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe);
  std::optional<int32_t> try_connect(uint64_t id, const std::shared_ptr<Socket>& sock, const Sqe& sqe);
  int32_t shutdown(Socket& sock, const Sqe& sqe);
  std::optional<int32_t> try_recv(uint64_t id, Socket& sock, std::span<const iovec> iov, size_t limit);
  std::optional<int32_t> try_send(uint64_t id, Socket& sock, std::span<const iovec> iov, size_t limit);
  // SEND_ZC notifications: held until the reader took the bytes (or the bytes are gone).
  void hold_notif(Pipe& tx, uint32_t ring, const Sqe& sqe);
  void release_notifs(Pipe& pipe, bool all);
  void consumed(Pipe& rx, size_t n);
  void ack_later(const std::shared_ptr<Pipe>& pipe);
  // Both directions fail with ECONNRESET and lose what they held. The callers wake.
  void reset_connection(Pipe& a, Pipe& b);
  std::optional<int32_t> try_recv_multishot(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe);
  Duration net_latency();
  // Cluster routing (sim_fabric.hpp): the network that holds `target`'s port, or null
  // with *error set (ENETUNREACH; 0 when the host is unreachable now).
  SimNet* route(const Address& target, int32_t* error);
  std::optional<int32_t> syn_lost(uint64_t id, const std::shared_ptr<Socket>& sock);
  void schedule_arrival(const std::shared_ptr<Pipe>& tx, Instant at);
  void link_hosts(Socket& client, Socket& server, const SimNet& net);
  // Datagram sockets (sim_net_dgram.cpp).
  std::optional<int32_t> try_datagram_op(uint64_t id, uint32_t ring, const std::shared_ptr<Socket>& sock,
                                         const Sqe& sqe);
  int32_t connect_datagram(const std::shared_ptr<Socket>& sock, const Sqe& sqe);
  int32_t shutdown_datagram(Socket& sock, const Sqe& sqe);
  int32_t send_datagram(const std::shared_ptr<Socket>& sock, const Sqe& sqe);
  std::optional<int32_t> try_recv_datagram(uint64_t id, Socket& sock, const Sqe& sqe);
  std::optional<int32_t> try_recvmsg_multishot(uint64_t id, uint32_t ring, Socket& sock, const Sqe& sqe);
  Datagram pop_datagram(Socket& sock);
  std::shared_ptr<Socket> datagram_target(const Address& to, const Socket& from);
  void route(const std::shared_ptr<Socket>& to, const Datagram& d);
  // Live sockets of this type at a's port (IP) or name (Unix).
  std::vector<std::shared_ptr<Socket>> bound_at(const Address& a, int type);
  int64_t bind_unix(const std::shared_ptr<Socket>& sock, const Address& a);

  DeviceHost host_;
  DescriptorTable& fds_;
  const FaultConfig& faults_;
  std::multimap<uint16_t, std::weak_ptr<Socket>> ports_;  // bound sockets by port
  std::map<std::string, std::weak_ptr<Socket>> names_;    // Unix sockets by name (no files)
  uint16_t next_ephemeral_ = 40000;
  SimFabric* fabric_ = nullptr;  // in a cluster only
  uint32_t host_id_ = 0;
};

}  // namespace ringo::sim::detail
