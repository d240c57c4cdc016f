// 4 KiB file reads: ringo's fs::File::read_at on io_uring and on AIO against the same
// reads on raw liburing (plain, and with registered buffers: READ_FIXED) and on raw
// io_submit (<linux/aio_abi.h> and syscall(2), as aio/ does; no libaio). Each shape is sequential or random offsets
// over a 64 MiB file, one or 32 reads in flight, from the page cache or with O_DIRECT. The five readers of one shape
// run one after another, so their ratios come from the same minute.
//
// A batch is 16 reads per slot: the slots stay full until the batch's last reads are
// issued, then drain (all five readers do the same). Time is per read, wall clock.
//
// The file lives next to the executable (the build directory), not in /tmp, which may be
// tmpfs; RINGO_FILE_BENCH_PATH overrides. Where O_DIRECT is refused, or the file is on
// tmpfs, the O_DIRECT rows are skipped with the reason in their output.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ringo/ringo.hpp"

namespace {

constexpr size_t kFileSize = 64u << 20;
constexpr size_t kBlock = 4096;
constexpr uint64_t kReadsPerSlot = 16;

struct Shape {
  bool random;
  uint32_t depth;  // reads in flight
  bool direct;     // O_DIRECT
  uint64_t batch() const { return kReadsPerSlot * depth; }
  int flags() const { return O_RDONLY | (direct ? O_DIRECT : 0); }
};

const std::string& file_path() {
  static const std::string path = [] {
    if (const char* p = std::getenv("RINGO_FILE_BENCH_PATH")) return std::string(p);
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "file-bench.dat").string();
  }();
  return path;
}

// Written, synced (so O_DIRECT reads find it on disk) and read once (so the page-cache
// rows find it in memory). Returns false when it cannot be written.
bool make_file() {
  static const bool made = [] {
    std::vector<char> chunk(1 << 20, 'r');
    const int fd = ::open(file_path().c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    bool ok = true;
    for (size_t i = 0; ok && i < kFileSize / chunk.size(); ++i) {
      ok = ::write(fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size());
    }
    for (size_t i = 0; ok && i < kFileSize / chunk.size(); ++i) {
      ok = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(i * chunk.size())) > 0;
    }
    ok = ok && ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  }();
  return made;
}

// Empty when O_DIRECT reads reach a disk here, else why not. Older tmpfs refuses O_DIRECT;
// newer tmpfs takes it and copies from memory, which would pass for a disk row.
const std::string& direct_refused() {
  static const std::string why = []() -> std::string {
    struct statfs fs {};
    if (::statfs(file_path().c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
      return "O_DIRECT row skipped: " + file_path() + " is on tmpfs (no disk under it)";
    }
    const int fd = ::open(file_path().c_str(), O_RDONLY | O_DIRECT);
    if (fd < 0) return "O_DIRECT row skipped: unsupported on " + file_path() + " (" + std::strerror(errno) + ")";
    ::close(fd);
    return {};
  }();
  return why;
}

// Skips the benchmark (visibly) when its file or its O_DIRECT cannot be had.
bool skipped(benchmark::State& state, const Shape& shape) {
  if (!make_file()) {
    state.SkipWithError(("cannot write " + file_path()).c_str());
    return true;
  }
  if (shape.direct && !direct_refused().empty()) {
    state.SkipWithError(direct_refused().c_str());
    return true;
  }
  return false;
}

// Offsets: sequential, or a fixed pseudo-random walk (the same for every reader).
uint64_t offset_at(uint64_t i, bool random) {
  const uint64_t blocks = kFileSize / kBlock;
  const uint64_t b = random ? (i * 0x9E3779B97F4A7C15ULL) >> 40 : i;
  return (b % blocks) * kBlock;
}

// One aligned 4 KiB buffer per slot (O_DIRECT needs the alignment; the others do not mind).
class Buffers {
 public:
  explicit Buffers(uint32_t n) : mem_(static_cast<char*>(std::aligned_alloc(kBlock, n * kBlock))) {}
  char* at(uint32_t slot) const { return mem_.get() + slot * kBlock; }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> mem_;
};

// The reads of one batch: who has issued how many, at which offset the walk is.
struct Batch {
  Shape shape;
  uint64_t next = 0;  // position in the offset walk, across batches
  uint64_t issued = 0;
  bool failed = false;
  bool more() const { return issued < shape.batch(); }
  uint64_t take() {
    ++issued;
    return offset_at(next++, shape.random);
  }
};

// --- ringo (either backend) ---

ringo::Task<void> ringo_reader(const ringo::fs::File* f, Batch* b, char* buf) {
  while (b->more()) {
    auto n = co_await f->read_at(std::span<char>(buf, kBlock), b->take());
    if (!n || *n != kBlock) b->failed = true;
  }
}

ringo::Task<void> ringo_reads(benchmark::State* s, Shape shape) {
  auto f = co_await ringo::fs::File::open(file_path(), shape.flags());
  if (!f) {
    s->SkipWithError(("open: " + f.error().message()).c_str());
    co_return;
  }
  Buffers bufs(shape.depth);
  Batch b{.shape = shape};
  while (s->KeepRunningBatch(static_cast<benchmark::IterationCount>(shape.batch()))) {
    b.issued = 0;
    if (shape.depth == 1) {
      co_await ringo_reader(&*f, &b, bufs.at(0));  // no routine to spawn for one slot
    } else {
      std::vector<ringo::JoinHandle<void>> readers;
      for (uint32_t k = 0; k < shape.depth; ++k) readers.push_back(ringo::go(ringo_reader(&*f, &b, bufs.at(k))));
      for (auto& r : readers) co_await r.join();
    }
    if (b.failed) s->SkipWithError("a read failed or came back short");
  }
}

void BM_ringo(benchmark::State& state, ringo::Backend backend, Shape shape) {
  if (skipped(state, shape)) return;
  std::string why;
  auto rt = ringo::Runtime::create({.shards = 1, .backend = backend}, why);
  if (!rt) {
    state.SkipWithError(why.c_str());
    return;
  }
  (void)rt->block_on(ringo_reads(&state, shape));
}

// --- raw liburing: one ring, slots refilled as their completions come in ---

// With `fixed`, slot k reads into registered buffer k (IORING_OP_READ_FIXED): the kernel
// skips pinning and mapping the user page per read. The question this row answers is
// whether ringo should offer registered buffers for file I/O (docs/io.md).
void uring_issue(io_uring* ring, int fd, const Buffers& bufs, Batch& b, uint32_t slot, bool fixed) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (fixed) {
    io_uring_prep_read_fixed(sqe, fd, bufs.at(slot), kBlock, b.take(), static_cast<int>(slot));
  } else {
    io_uring_prep_read(sqe, fd, bufs.at(slot), kBlock, b.take());
  }
  io_uring_sqe_set_data64(sqe, slot);
}

void uring_batch(io_uring* ring, int fd, const Buffers& bufs, Batch& b, bool fixed) {
  b.issued = 0;
  for (uint32_t k = 0; k < b.shape.depth; ++k) uring_issue(ring, fd, bufs, b, k, fixed);
  for (uint64_t done = 0; done < b.shape.batch();) {
    io_uring_submit_and_wait(ring, 1);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      if (cqe->res != static_cast<int>(kBlock)) b.failed = true;
      if (b.more()) uring_issue(ring, fd, bufs, b, static_cast<uint32_t>(io_uring_cqe_get_data64(cqe)), fixed);
    }
    io_uring_cq_advance(ring, seen);
    done += seen;
  }
}

// Registers one iovec per slot; false (and the ring's error in `why`) when refused.
bool register_slots(io_uring* ring, const Buffers& bufs, uint32_t depth, std::string& why) {
  std::vector<iovec> iov(depth);
  for (uint32_t k = 0; k < depth; ++k) iov[k] = iovec{.iov_base = bufs.at(k), .iov_len = kBlock};
  const int rc = io_uring_register_buffers(ring, iov.data(), depth);
  if (rc < 0) why = std::string("io_uring_register_buffers: ") + std::strerror(-rc);
  return rc == 0;
}

void BM_raw_uring(benchmark::State& state, Shape shape, bool fixed) {
  if (skipped(state, shape)) return;
  io_uring ring;
  if (io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) < 0) {
    state.SkipWithError("no io_uring");
    return;
  }
  const int fd = ::open(file_path().c_str(), shape.flags());
  Buffers bufs(shape.depth);
  std::string why;
  if (fixed && !register_slots(&ring, bufs, shape.depth, why)) {
    state.SkipWithError(why.c_str());
    io_uring_queue_exit(&ring);
    ::close(fd);
    return;
  }
  Batch b{.shape = shape};
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(shape.batch()))) {
    uring_batch(&ring, fd, bufs, b, fixed);
    if (b.failed) state.SkipWithError("a read failed or came back short");
  }
  ::close(fd);
  io_uring_queue_exit(&ring);
}

// --- raw io_submit: the five syscalls aio/ uses, plain IOCB_CMD_PREAD, no eventfd ---

class AioContext {
 public:
  explicit AioContext(unsigned events) {
    if (syscall(SYS_io_setup, events, &ctx_) != 0) ctx_ = 0;
  }
  ~AioContext() {
    if (ctx_ != 0) syscall(SYS_io_destroy, ctx_);
  }
  AioContext(const AioContext&) = delete;
  AioContext& operator=(const AioContext&) = delete;
  bool ok() const { return ctx_ != 0; }
  long submit(long n, iocb** cbs) const { return syscall(SYS_io_submit, ctx_, n, cbs); }
  long wait(long max, io_event* events) const { return syscall(SYS_io_getevents, ctx_, 1, max, events, nullptr); }

 private:
  aio_context_t ctx_ = 0;
};

struct AioSlots {
  explicit AioSlots(uint32_t depth) : bufs(depth), cbs(depth), events(depth) {}
  Buffers bufs;
  std::vector<iocb> cbs;
  std::vector<io_event> events;
  std::vector<iocb*> ready;  // filled, not yet submitted
};

void aio_issue(AioSlots& s, int fd, Batch& b, uint32_t slot) {
  iocb& cb = s.cbs[slot];
  cb = iocb{};
  cb.aio_data = slot;
  cb.aio_lio_opcode = IOCB_CMD_PREAD;
  cb.aio_fildes = static_cast<uint32_t>(fd);
  cb.aio_buf = reinterpret_cast<uint64_t>(s.bufs.at(slot));
  cb.aio_nbytes = kBlock;
  cb.aio_offset = static_cast<int64_t>(b.take());
  s.ready.push_back(&cb);
}

void aio_batch(const AioContext& ctx, AioSlots& s, int fd, Batch& b) {
  b.issued = 0;
  for (uint32_t k = 0; k < b.shape.depth; ++k) aio_issue(s, fd, b, k);
  for (uint64_t done = 0; done < b.shape.batch();) {
    if (!s.ready.empty() &&
        ctx.submit(static_cast<long>(s.ready.size()), s.ready.data()) != static_cast<long>(s.ready.size())) {
      b.failed = true;
      return;
    }
    s.ready.clear();
    const long n = ctx.wait(static_cast<long>(s.events.size()), s.events.data());
    for (long i = 0; i < n; ++i) {
      const io_event& ev = s.events[static_cast<size_t>(i)];
      if (ev.res != static_cast<int64_t>(kBlock)) b.failed = true;
      if (b.more()) aio_issue(s, fd, b, static_cast<uint32_t>(ev.data));
    }
    if (n < 0) b.failed = true;
    if (b.failed) return;
    done += static_cast<uint64_t>(n);
  }
}

void BM_raw_aio(benchmark::State& state, Shape shape) {
  if (skipped(state, shape)) return;
  AioContext ctx(64);
  if (!ctx.ok()) {
    state.SkipWithError("io_setup failed");
    return;
  }
  const int fd = ::open(file_path().c_str(), shape.flags());
  AioSlots slots(shape.depth);
  Batch b{.shape = shape};
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(shape.batch()))) {
    aio_batch(ctx, slots, fd, b);
    if (b.failed) state.SkipWithError("a read failed or came back short");
  }
  ::close(fd);
}

// Names: file_read_4k/<reader>/random:R/qd:Q/direct:D, the five readers of a shape in a row.
void register_all() {
  for (const bool direct : {false, true}) {
    for (const uint32_t depth : {1u, 32u}) {
      for (const bool random : {false, true}) {
        const Shape shape{.random = random, .depth = depth, .direct = direct};
        const std::string tail =
            "/random:" + std::to_string(random) + "/qd:" + std::to_string(depth) + "/direct:" + std::to_string(direct);
        const auto name = [&tail](const char* reader) { return "file_read_4k/" + std::string(reader) + tail; };
        benchmark::RegisterBenchmark(name("ringo_uring").c_str(), BM_ringo, ringo::Backend::uring, shape)
            ->UseRealTime();
        benchmark::RegisterBenchmark(name("raw_liburing").c_str(), BM_raw_uring, shape, false)->UseRealTime();
        benchmark::RegisterBenchmark(name("raw_liburing_fixed").c_str(), BM_raw_uring, shape, true)->UseRealTime();
        benchmark::RegisterBenchmark(name("ringo_aio").c_str(), BM_ringo, ringo::Backend::aio, shape)->UseRealTime();
        benchmark::RegisterBenchmark(name("raw_io_submit").c_str(), BM_raw_aio, shape)->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
