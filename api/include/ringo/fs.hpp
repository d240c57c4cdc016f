// ringo::fs::File: a file opened on the current shard, read and written at offsets
// through the ring.
//
//   auto f = co_await fs::File::create("/tmp/x");        // Result<File>
//   co_await f->write_all_at(std::string_view("hello"), 0);
//   co_await f->fsync();
//   std::string back(5, '\0');
//   co_await f->read_exact_at(back, 0);
//
// Errors, deadlines, cancellation and thread-safety: see io.hpp. Reading into an empty
// buffer is errc::invalid_argument (a 0 result means end of file); read_exact_at reports
// errc::unexpected_eof when the file ends first. Transfers above io::kMaxTransfer move
// in parts (the *_exact/_all forms loop).
#pragma once

#include <fcntl.h>
#include <sys/uio.h>

#include <string>
#include <string_view>

#include "ringo/io.hpp"

namespace ringo::fs {

// An open file on the shard that opened it: positional reads and writes, sync, size.
class File {
 public:
  File() = default;

  // open(2) flags and mode; O_CLOEXEC is added. Errors: ENOENT, EACCES, EEXIST, EMFILE...
  static Task<Result<File>> open(std::string path, int flags = O_RDONLY, unsigned mode = 0644,
                                 Instant deadline = kNoDeadline);
  // O_RDWR | O_CREAT | O_TRUNC.
  static Task<Result<File>> create(std::string path, unsigned mode = 0644);

  // Reads up to buf.size() bytes at offset; 0 at end of file.
  io::SizeAwaiter read_at(std::span<char> buf, uint64_t offset, Instant deadline = kNoDeadline) const;
  io::SizeAwaiter write_at(std::span<const char> data, uint64_t offset, Instant deadline = kNoDeadline) const;
  io::SizeAwaiter readv_at(std::span<const iovec> bufs, uint64_t offset, Instant deadline = kNoDeadline) const;
  io::SizeAwaiter writev_at(std::span<const iovec> bufs, uint64_t offset, Instant deadline = kNoDeadline) const;
  Task<Result<void>> read_exact_at(std::span<char> buf, uint64_t offset, Instant deadline = kNoDeadline) const;
  Task<Result<void>> write_all_at(std::span<const char> data, uint64_t offset, Instant deadline = kNoDeadline) const;
  io::VoidAwaiter fsync(Instant deadline = kNoDeadline) const;
  io::VoidAwaiter fdatasync(Instant deadline = kNoDeadline) const;
  Result<uint64_t> size() const;
  // Closes through the ring and reports close's result; dropping a File also closes it.
  io::VoidAwaiter close() noexcept { return d_.close(); }

  int fd() const noexcept { return d_.fd(); }
  bool is_open() const noexcept { return d_.is_open(); }

 private:
  explicit File(io::Descriptor d) noexcept : d_(std::move(d)) {}
  io::Descriptor d_;
};

}  // namespace ringo::fs
