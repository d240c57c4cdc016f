// 4 KiB file reads from the page cache, one in flight: ringo's fs::File::read_at vs the
// same reads on raw liburing (submit one, wait one). Sequential and random offsets over
// a 64 MiB file. The ratio is ringo's per-read overhead over the bare ring.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ringo/ringo.hpp"

namespace {

constexpr size_t kFileSize = 64u << 20;
constexpr size_t kBlock = 4096;
const char* kPath = "/tmp/ringo-file-bench";

void make_file() {
  static bool made = false;
  if (made) return;
  std::vector<char> chunk(1 << 20, 'r');
  const int fd = ::open(kPath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  for (size_t i = 0; i < kFileSize / chunk.size(); ++i) {
    if (::write(fd, chunk.data(), chunk.size()) < 0) break;
  }
  ::close(fd);
  made = true;
}

// Offsets: sequential, or a fixed pseudo-random walk (the same for both sides).
uint64_t offset_at(uint64_t i, bool random) {
  const uint64_t blocks = kFileSize / kBlock;
  const uint64_t b = random ? (i * 0x9E3779B97F4A7C15ULL) >> 40 : i;
  return (b % blocks) * kBlock;
}

void BM_ringo_read(benchmark::State& state) {
  make_file();
  const bool random = state.range(0) != 0;
  auto rt = ringo::Runtime::create({.shards = 1, .backend = ringo::Backend::uring});
  if (!rt) {
    state.SkipWithError("no io_uring");
    return;
  }
  (void)rt->block_on([](benchmark::State* s, bool rnd) -> ringo::Task<void> {
    auto f = co_await ringo::fs::File::open(kPath);
    if (!f) co_return;
    std::vector<char> buf(kBlock);
    uint64_t i = 0;
    for (auto _ : *s) {
      auto n = co_await f->read_at(buf, offset_at(i++, rnd));
      benchmark::DoNotOptimize(n);
    }
  }(&state, random));
}
BENCHMARK(BM_ringo_read)->Arg(0)->Arg(1)->Name("file_read_4k/ringo");

void BM_raw_read(benchmark::State& state) {
  make_file();
  const bool random = state.range(0) != 0;
  io_uring ring;
  if (io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) < 0) {
    state.SkipWithError("no io_uring");
    return;
  }
  const int fd = ::open(kPath, O_RDONLY);
  std::vector<char> buf(kBlock);
  uint64_t i = 0;
  for (auto _ : state) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_read(sqe, fd, buf.data(), kBlock, offset_at(i++, random));
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    io_uring_peek_cqe(&ring, &cqe);
    benchmark::DoNotOptimize(cqe->res);
    io_uring_cqe_seen(&ring, cqe);
  }
  ::close(fd);
  io_uring_queue_exit(&ring);
}
BENCHMARK(BM_raw_read)->Arg(0)->Arg(1)->Name("file_read_4k/raw_liburing");

}  // namespace

BENCHMARK_MAIN();
