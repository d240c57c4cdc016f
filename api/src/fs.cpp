// fs::File (fs.hpp): opening, reading and writing at offsets, and syncing a file through
// the current shard's ring.
#include "ringo/fs.hpp"

#include <algorithm>

#include "transfer_all.hpp"

namespace ringo::fs {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;
Task<Result<File>> File::open(std::string path, int flags, unsigned mode, Instant deadline) {
  Shard* shard = current_shard();
  if (shard == nullptr) co_return fail(errc::not_in_runtime);
  Sqe sqe;
  sqe.opcode = Opcode::openat;
  sqe.fd = AT_FDCWD;
  sqe.addr = reinterpret_cast<uintptr_t>(path.c_str());
  sqe.len = static_cast<uint32_t>(flags | O_CLOEXEC);
  sqe.off = mode;
  Result<int32_t> fd = co_await submit(sqe, deadline);
  if (!fd) co_return std::unexpected(fd.error());
  co_return File(io::Descriptor(*fd, shard));
}

Task<Result<File>> File::create(std::string path, unsigned mode) {
  // Not `co_await open(std::move(path), ...)`: GCC 12 double-frees a coroutine parameter
  // moved inside the co_await expression that consumes it (docs/architecture.md).
  Task<Result<File>> opening = open(std::move(path), O_RDWR | O_CREAT | O_TRUNC, mode);
  co_return co_await std::move(opening);
}

io::SizeAwaiter File::read_at(std::span<char> buf, uint64_t offset, Instant deadline) const {
  io::SizeAwaiter a = d_.op<io::SizeAwaiter>(io::transfer_sqe(Opcode::read, buf.data(), buf.size(), offset), deadline);
  if (!a.early && buf.empty()) a.early = make_error_code(errc::invalid_argument);
  return a;
}

io::SizeAwaiter File::write_at(std::span<const char> data, uint64_t offset, Instant deadline) const {
  return d_.op<io::SizeAwaiter>(io::transfer_sqe(Opcode::write, data.data(), data.size(), offset), deadline);
}

io::SizeAwaiter File::readv_at(std::span<const iovec> bufs, uint64_t offset, Instant deadline) const {
  Sqe sqe = io::transfer_sqe(Opcode::readv, bufs.data(), bufs.size(), offset);
  io::SizeAwaiter a = d_.op<io::SizeAwaiter>(sqe, deadline);
  if (!a.early && bufs.size() > IOV_MAX) a.early = make_error_code(errc::invalid_argument);
  return a;
}

io::SizeAwaiter File::writev_at(std::span<const iovec> bufs, uint64_t offset, Instant deadline) const {
  Sqe sqe = io::transfer_sqe(Opcode::writev, bufs.data(), bufs.size(), offset);
  io::SizeAwaiter a = d_.op<io::SizeAwaiter>(sqe, deadline);
  if (!a.early && bufs.size() > IOV_MAX) a.early = make_error_code(errc::invalid_argument);
  return a;
}

Task<Result<void>> File::read_exact_at(std::span<char> buf, uint64_t offset, Instant deadline) const {
  const auto step = [this, buf, offset, deadline](size_t done) {
    return read_at(buf.subspan(done), offset + done, deadline);
  };
  return io::detail::transfer_all(buf.size(), step, make_error_code(errc::unexpected_eof));
}

Task<Result<void>> File::write_all_at(std::span<const char> data, uint64_t offset, Instant deadline) const {
  const auto step = [this, data, offset, deadline](size_t done) {
    return write_at(data.subspan(done), offset + done, deadline);
  };
  return io::detail::transfer_all(data.size(), step, errno_code(EIO));  // a regular file never takes nothing
}

io::VoidAwaiter File::fsync(Instant deadline) const {
  Sqe sqe;
  sqe.opcode = Opcode::fsync;
  return d_.op<io::VoidAwaiter>(sqe, deadline);
}

io::VoidAwaiter File::fdatasync(Instant deadline) const {
  Sqe sqe;
  sqe.opcode = Opcode::fsync;
  sqe.len = 1;  // IORING_FSYNC_DATASYNC
  return d_.op<io::VoidAwaiter>(sqe, deadline);
}

Result<uint64_t> File::size() const {
  SysCall call;
  call.op = SysOp::file_size;
  Result<int64_t> r = d_.sys(call);
  if (!r) return std::unexpected(r.error());
  return static_cast<uint64_t>(*r);
}

}  // namespace ringo::fs
