// Copies a file with a bounded number of reads and writes in flight: `workers` routines
// take chunk numbers from a shared counter (one shard: no lock), each reading a chunk and
// writing it at the same offset.
//
//   file_copy SRC DST            copy, fsync, print the throughput
//   file_copy --self-test DIR    write a 4 MiB file in DIR, copy it, compare (also in the simulator)
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <ringo/ringo.hpp>
#include <string>
#include <vector>

using namespace ringo;

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr int kWorkers = 4;

struct Progress {
  uint64_t next_chunk = 0;
  uint64_t chunks = 0;
};

Task<Result<void>> copy_chunks(const fs::File& in, const fs::File& out, uint64_t size, Progress& p) {
  std::vector<char> buf(kChunk);
  while (p.next_chunk < p.chunks) {
    const uint64_t offset = p.next_chunk++ * kChunk;
    const auto len = static_cast<size_t>(std::min<uint64_t>(kChunk, size - offset));
    std::span<char> part(buf.data(), len);
    if (auto r = co_await in.read_exact_at(part, offset); !r) co_return r;
    if (auto w = co_await out.write_all_at(part, offset); !w) co_return w;
  }
  co_return Result<void>{};
}

Task<Result<uint64_t>> copy_file(std::string from, std::string to) {
  auto in = co_await fs::File::open(from);
  if (!in) co_return std::unexpected(in.error());
  auto out = co_await fs::File::create(to);
  if (!out) co_return std::unexpected(out.error());
  auto size = in->size();
  if (!size) co_return std::unexpected(size.error());
  Progress progress{0, (*size + kChunk - 1) / kChunk};
  TaskScope scope;  // the first failing worker cancels the others
  for (int w = 0; w < kWorkers; ++w) {
    if (auto s = scope.spawn(copy_chunks(*in, *out, *size, progress)); !s) co_return std::unexpected(s.error());
  }
  if (auto r = co_await scope.join_all(); !r) co_return std::unexpected(r.error());
  if (auto s = co_await out->fsync(); !s) co_return std::unexpected(s.error());
  co_return *size;
}

// Names of this process's own: ctest runs the io_uring and AIO self-tests at once in the
// same directory, and with shared names one run's create truncated the other's file.
std::string self_test_path(const std::string& dir, const char* which) {
  return dir + "/ringo-file-copy-" + std::to_string(::getpid()) + "-" + which;
}

Task<Result<uint64_t>> self_test(std::string dir) {
  const std::string src_path = self_test_path(dir, "src"), dst_path = self_test_path(dir, "dst");
  std::string data(4 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  {
    auto src = co_await fs::File::create(src_path);
    if (!src) co_return std::unexpected(src.error());
    if (auto w = co_await src->write_all_at(data, 0); !w) co_return std::unexpected(w.error());
  }
  auto copied = co_await copy_file(src_path, dst_path);
  if (!copied) co_return copied;
  auto dst = co_await fs::File::open(dst_path);
  if (!dst) co_return std::unexpected(dst.error());
  std::string back(data.size(), '\0');
  if (auto r = co_await dst->read_exact_at(back, 0); !r) co_return std::unexpected(r.error());
  if (back != data) co_return fail(errc::invalid_argument);
  co_return *copied;
}

}  // namespace

int main(int argc, char** argv) {
  const bool test = argc == 3 && std::string(argv[1]) == "--self-test";
  if (argc != 3) {
    std::fprintf(stderr, "usage: file_copy SRC DST | file_copy --self-test DIR\n");
    return 2;
  }
  auto rt = Runtime::create({.shards = 1});
  if (!rt) {
    std::fprintf(stderr, "file_copy: %s\n", rt.error().message().c_str());
    return 1;
  }
  Result<uint64_t> r = test ? rt->block_on(self_test(argv[2])) : rt->block_on(copy_file(argv[1], argv[2]));
  if (test) {  // on real backends the files are on disk (the simulator's never were)
    std::error_code ignored;
    std::filesystem::remove(self_test_path(argv[2], "src"), ignored);
    std::filesystem::remove(self_test_path(argv[2], "dst"), ignored);
  }
  if (!r) {
    std::fprintf(stderr, "file_copy: %s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("file_copy (%s): %llu bytes copied%s\n", backend_name(rt->backend()), static_cast<unsigned long long>(*r),
              test ? " and verified" : "");
  return 0;
}
