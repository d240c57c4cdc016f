// The simulated kernel's objects behind file descriptors: in-memory files with a
// durability model, and TCP-like sockets built from two one-way byte pipes.
// Private to sim/: programs see them only through Sqes and SysCalls.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "ringo/core/ring.hpp"
#include "ringo/sim/sim_kernel.hpp"

namespace ringo::sim::detail {

// Fault kinds as recorded in the trace (TraceKind::fault, a = kind).
namespace fault {
enum Kind : uint64_t {
  kMsgOverflow = 1,
  kSqFull = 2,
  kCancelTooLate = 3,
  kDiskEio = 4,
  kShortIo = 5,
  kReset = 6,
  kRefused = 7,
  kCrashTear = 8,
  kMultishotEnd = 9,
};
}  // namespace fault

// ---------------------------------------------------------------- buffers

// The buffers an op names: one for read/write/recv/send, an iovec array for readv/writev.
// Returns 0 or a negative errno (EFAULT for a null buffer, EINVAL for too many vectors).
int32_t op_buffers(const Sqe& sqe, std::vector<iovec>& out);
size_t total_length(const std::vector<iovec>& iov) noexcept;
// Copies up to n bytes of src into the buffers; returns how many.
size_t scatter(const std::vector<iovec>& iov, const char* src, size_t n) noexcept;
// The first n bytes the buffers hold.
std::string gather(const std::vector<iovec>& iov, size_t n);

// ---------------------------------------------------------------- disk

// A file's bytes as the page cache sees them (`data`) and as the platter holds them
// (`durable`). Writes since the last fsync are kept in order so a crash can keep, drop or
// tear each of them.
struct Inode {
  struct Change {
    uint64_t offset = 0;
    std::string bytes;
    bool truncate = false;  // set the size to `offset` instead of writing
  };
  std::string data;
  std::string durable;
  std::vector<Change> unsynced;
};

struct OpenFile {
  std::shared_ptr<Inode> inode;
  bool readable = true;
  bool writable = false;
  bool append = false;
  uint64_t position = 0;  // for offset -1 (the file position)
};

// ---------------------------------------------------------------- network

using WaitList = std::vector<uint64_t>;  // parked op ids, oldest first

// One direction of a connection. Bytes a writer sends travel for a while (latency,
// bandwidth) before the reader can take them; the writer is held back while what is in
// flight plus what is unread fills the buffer.
struct Pipe {
  struct Segment {
    Instant arrives;
    std::string bytes;
  };
  std::deque<char> unread;
  std::deque<Segment> in_flight;
  size_t in_flight_bytes = 0;
  Instant last_arrival{0};
  bool fin = false;          // the writer shut down: EOF once everything has arrived
  bool reset = false;        // the connection was reset: both ends see ECONNRESET
  bool reader_gone = false;  // the reader closed: writes fail with EPIPE
  WaitList readers;          // recv ops waiting for bytes or EOF
  WaitList writers;          // send ops waiting for room

  size_t queued() const noexcept { return unread.size() + in_flight_bytes; }
  bool at_eof() const noexcept { return fin && unread.empty() && in_flight.empty(); }
};

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  uint16_t port() const noexcept;
  static Address of(const void* addr, uint32_t len) noexcept;
};

struct Socket {
  enum class State { fresh, bound, listening, connected };
  State state = State::fresh;
  int domain = AF_INET;
  Address local;
  Address peer;
  bool reuse_addr = false;
  bool reuse_port = false;
  bool nodelay = false;
  bool closed = false;
  bool read_shut = false;
  // listening
  uint32_t backlog = 0;
  std::deque<std::shared_ptr<Socket>> accept_queue;
  WaitList accepters;
  WaitList connecters;  // connects waiting for backlog room
  // connected
  std::shared_ptr<Pipe> rx;
  std::shared_ptr<Pipe> tx;
};

using Object = std::variant<std::monostate, std::shared_ptr<OpenFile>, std::shared_ptr<Socket>>;

}  // namespace ringo::sim::detail

namespace ringo::sim {

// The process-wide state the simulated rings share: one descriptor table (all shards are
// threads of one process), the file system and the bound ports.
struct SimKernel::Os {
  static constexpr int32_t kFirstFd = 3;
  std::vector<detail::Object> fds;  // index = fd
  size_t open = 0;
  size_t max_fds = 1 << 16;  // EMFILE beyond
  std::map<std::string, std::shared_ptr<detail::Inode>> files;
  std::multimap<uint16_t, std::weak_ptr<detail::Socket>> ports;  // bound sockets by port
  uint16_t next_ephemeral = 40000;

  // The lowest free descriptor, as POSIX allocates them, or -EMFILE.
  int32_t allocate(detail::Object object);
  detail::Object* find(int32_t fd);
  template <class T>
  std::shared_ptr<T> get(int32_t fd) {
    detail::Object* o = find(fd);
    if (o == nullptr) return nullptr;
    auto* p = std::get_if<std::shared_ptr<T>>(o);
    return p != nullptr ? *p : nullptr;
  }
};

}  // namespace ringo::sim
