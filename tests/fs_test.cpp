// Files on every backend: the same code against io_uring (a temp dir) and the simulated disk.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "backends.hpp"

namespace ringo {

using namespace ringo::detail;  // white-box: the engine's internals
namespace {

using testing::err;
using namespace std::chrono_literals;

class Files : public testing::OnEveryBackend {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringo-fs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return dir_ + "/" + name; }
  std::string dir_;
};

TEST_P(Files, WriteFsyncReadBack) {
  auto r = run([](std::string p) -> Task<Result<std::string>> {
    auto f = co_await fs::File::create(p);
    if (!f) co_return std::unexpected(f.error());
    const std::string text = "hello, durable world";
    if (auto w = co_await f->write_all_at(text, 0); !w) co_return std::unexpected(w.error());
    if (auto s = co_await f->fsync(); !s) co_return std::unexpected(s.error());
    if (auto s = co_await f->fdatasync(); !s) co_return std::unexpected(s.error());
    EXPECT_EQ(f->size(), text.size());
    std::string back(text.size(), '\0');
    if (auto rd = co_await f->read_exact_at(back, 0); !rd) co_return std::unexpected(rd.error());
    char one;
    EXPECT_EQ(co_await f->read_at({&one, 1}, text.size()), size_t{0});  // end of file
    EXPECT_TRUE(co_await f->close());
    EXPECT_FALSE(f->is_open());
    co_return back;
  }(path("a")));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "hello, durable world");
}

TEST_P(Files, VectoredWriteAndReadAtOffsets) {
  auto r = run([](std::string p) -> Task<Result<std::string>> {
    auto f = co_await fs::File::open(p, O_RDWR | O_CREAT, 0600);
    if (!f) co_return std::unexpected(f.error());
    char a[] = "abc", b[] = "defgh";
    iovec out[] = {{a, 3}, {b, 5}};
    auto w = co_await f->writev_at(out, 4);
    EXPECT_EQ(w, size_t{8});
    char x[6] = {}, y[6] = {};
    iovec in[] = {{x, 6}, {y, 6}};
    auto n = co_await f->readv_at(in, 0);
    EXPECT_EQ(n, size_t{12});
    co_return std::string(x, 6) + std::string(y, 6);
  }(path("v")));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, std::string("\0\0\0\0abcdefgh", 12));
}

TEST_P(Files, BadInputGetsClearErrorsAndTheShardKeepsServing) {
  auto r = run([](std::string dir) -> Task<Result<void>> {
    auto missing = co_await fs::File::open(dir + "/missing");
    EXPECT_EQ(err(missing), std::errc::no_such_file_or_directory);
    auto f = co_await fs::File::create(dir + "/b");
    if (!f) co_return std::unexpected(f.error());
    char none[1];
    EXPECT_EQ(err(co_await f->read_at({none, 0}, 0)), errc::invalid_argument);
    std::string buf(10, '\0');
    EXPECT_EQ(err(co_await f->read_exact_at(buf, 0)), errc::unexpected_eof);
    auto again = co_await fs::File::open(dir + "/b", O_RDWR | O_CREAT | O_EXCL);
    EXPECT_EQ(err(again), std::errc::file_exists);
    auto ro = co_await fs::File::open(dir + "/b", O_RDONLY);
    if (!ro) co_return std::unexpected(ro.error());
    EXPECT_EQ(err(co_await ro->write_at(std::string_view("x"), 0)), std::errc::bad_file_descriptor);
    fs::File moved = std::move(*ro);
    EXPECT_EQ(err(co_await ro->read_at(buf, 0)), std::errc::bad_file_descriptor);
    EXPECT_EQ(err(ro->size()), std::errc::bad_file_descriptor);
    EXPECT_TRUE(co_await moved.close());
    EXPECT_EQ(err(co_await moved.close()), std::errc::bad_file_descriptor);
    // Still serving.
    EXPECT_TRUE(co_await nop());
    EXPECT_TRUE(co_await f->write_all_at(std::string_view("ok"), 0));
    co_return Result<void>{};
  }(dir_));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Files, AFileIsBoundToItsShard) {
  auto r = run([](std::string p) -> Task<Result<void>> {
    auto f = co_await fs::File::create(p);
    if (!f) co_return std::unexpected(f.error());
    const fs::File* file = &*f;
    auto there = co_await submit_to(1, [file]() -> Task<Result<size_t>> {
      char c;
      co_return co_await file->read_at({&c, 1}, 0);
    });
    EXPECT_EQ(err(there), errc::wrong_shard);
    co_return Result<void>{};
  }(path("s")));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

TEST_P(Files, DroppedFilesAreClosedWithoutLeaks) {
  auto r = run([](std::string p) -> Task<Result<int>> {
    int last = -1;
    for (int i = 0; i < 200; ++i) {
      auto f = co_await fs::File::create(p);
      if (!f) co_return std::unexpected(f.error());
      last = f->fd();
    }  // each File closes asynchronously when dropped
    co_await nop();
    auto f = co_await fs::File::open(p);
    if (!f) co_return std::unexpected(f.error());
    co_return f->fd() - last;
  }(path("d")));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_LE(*r, 2);  // descriptors are reused, not exhausted
}

RINGO_ON_EVERY_BACKEND(Files);

}  // namespace
}  // namespace ringo
