// The simulated disk: files in memory, page cache vs durable bytes, faults, crashes.
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sim_objects.hpp"

namespace ringo::sim {

using namespace detail::fault;

namespace detail {

int32_t op_buffers(const Sqe& sqe, std::vector<iovec>& out) {
  out.clear();
  const bool vectored = sqe.opcode == Opcode::readv || sqe.opcode == Opcode::writev;
  if (!vectored) {
    if (sqe.addr == 0 && sqe.len > 0) return -EFAULT;
    out.push_back(iovec{reinterpret_cast<void*>(static_cast<uintptr_t>(sqe.addr)), sqe.len});
    return 0;
  }
  if (sqe.len > IOV_MAX) return -EINVAL;
  if (sqe.addr == 0 && sqe.len > 0) return -EFAULT;
  const auto* vec = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(sqe.addr));
  for (uint32_t i = 0; i < sqe.len; ++i) {
    if (vec[i].iov_base == nullptr && vec[i].iov_len > 0) return -EFAULT;
    out.push_back(vec[i]);
  }
  return 0;
}

size_t total_length(const std::vector<iovec>& iov) noexcept {
  size_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

size_t scatter(const std::vector<iovec>& iov, const char* src, size_t n) noexcept {
  size_t done = 0;
  for (const iovec& v : iov) {
    const size_t take = std::min(v.iov_len, n - done);
    if (take > 0) std::memcpy(v.iov_base, src + done, take);
    done += take;
    if (done == n) break;
  }
  return done;
}

std::string gather(const std::vector<iovec>& iov, size_t n) {
  std::string out;
  out.reserve(n);
  for (const iovec& v : iov) {
    const size_t take = std::min(v.iov_len, n - out.size());
    out.append(static_cast<const char*>(v.iov_base), take);
    if (out.size() == n) break;
  }
  return out;
}

}  // namespace detail

namespace {

constexpr size_t kMaxPath = 4096;
constexpr uint64_t kMaxFileSize = uint64_t{1} << 30;

void write_bytes(std::string& data, uint64_t offset, std::string_view bytes) {
  if (data.size() < offset + bytes.size()) data.resize(offset + bytes.size(), '\0');
  std::copy(bytes.begin(), bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(offset));
}

}  // namespace

int32_t SimKernel::do_open(const Sqe& sqe) {
  if (sqe.addr == 0) return -EFAULT;
  const char* path = reinterpret_cast<const char*>(static_cast<uintptr_t>(sqe.addr));
  const size_t length = strnlen(path, kMaxPath);
  if (length == kMaxPath) return -ENAMETOOLONG;
  if (length == 0) return -ENOENT;
  const int flags = static_cast<int>(sqe.len);
  const std::string name(path, length);
  auto it = os_->files.find(name);
  if (it == os_->files.end()) {
    if ((flags & O_CREAT) == 0) return -ENOENT;
    it = os_->files.emplace(name, std::make_shared<detail::Inode>()).first;
  } else if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) {
    return -EEXIST;
  }
  auto file = std::make_shared<detail::OpenFile>();
  file->inode = it->second;
  const int mode = flags & O_ACCMODE;
  file->readable = mode == O_RDONLY || mode == O_RDWR;
  file->writable = mode == O_WRONLY || mode == O_RDWR;
  file->append = (flags & O_APPEND) != 0;
  if ((flags & O_TRUNC) != 0 && file->writable) {
    file->inode->data.clear();
    file->inode->unsynced.push_back({0, {}, true});
  }
  return os_->allocate(std::move(file));
}

std::optional<int32_t> SimKernel::try_file(uint32_t, const Sqe& sqe) {
  auto file = os_->get<detail::OpenFile>(sqe.fd);
  if (!file) return os_->find(sqe.fd) != nullptr ? -EINVAL : -EBADF;
  detail::Inode& inode = *file->inode;
  if (sqe.opcode == Opcode::fsync) {
    inode.durable = inode.data;
    inode.unsynced.clear();
    return 0;
  }
  const bool reading = sqe.opcode == Opcode::read || sqe.opcode == Opcode::readv;
  if (reading ? !file->readable : !file->writable) return -EBADF;
  std::vector<iovec> iov;
  if (const int32_t e = detail::op_buffers(sqe, iov); e < 0) return e;
  size_t limit = std::min<size_t>(detail::total_length(iov), INT32_MAX);
  if (limit == 0) return 0;
  if (inject(faults_.disk_eio_ppm, kDiskEio)) return -EIO;
  if (limit > 1 && inject(faults_.short_io_ppm, kShortIo)) limit = 1 + prng_.below(limit - 1);
  const bool at_position = sqe.off == UINT64_MAX;
  uint64_t offset = at_position ? file->position : sqe.off;
  size_t moved = 0;
  if (reading) {
    if (offset < inode.data.size()) {
      moved = detail::scatter(iov, inode.data.data() + offset, std::min<size_t>(limit, inode.data.size() - offset));
    }
  } else {
    if (file->append) offset = inode.data.size();
    // The simulated disk holds files in memory: past kMaxFileSize a write fails the way
    // one past the file system's limit does (found by fuzz_ring: a write at a huge offset).
    if (offset > kMaxFileSize || limit > kMaxFileSize - offset) return -EFBIG;
    std::string bytes = detail::gather(iov, limit);
    write_bytes(inode.data, offset, bytes);
    moved = bytes.size();
    inode.unsynced.push_back({offset, std::move(bytes), false});
  }
  if (at_position || file->append) file->position = offset + moved;
  return static_cast<int32_t>(moved);
}

void SimKernel::crash() {
  record({now_.count(), UINT32_MAX, TraceKind::fault, kCrashTear, 0});
  for (int32_t fd = Os::kFirstFd; static_cast<size_t>(fd) < os_->fds.size(); ++fd) {
    if (os_->find(fd) != nullptr) do_close(fd);
  }
  for (auto& [name, inode] : os_->files) {
    std::string disk = inode->durable;
    for (const detail::Inode::Change& c : inode->unsynced) {
      const uint64_t choice = prng_.below(3);  // 0: lost, 1: written, 2: torn
      if (choice == 0) continue;
      if (c.truncate) {
        disk.resize(c.offset);
        continue;
      }
      const size_t keep = choice == 1 || c.bytes.empty() ? c.bytes.size() : prng_.below(c.bytes.size());
      write_bytes(disk, c.offset, std::string_view(c.bytes).substr(0, keep));
    }
    inode->data = inode->durable = std::move(disk);
    inode->unsynced.clear();
  }
}

std::optional<std::string> SimKernel::file_contents(const std::string& path) const {
  auto it = os_->files.find(path);
  if (it == os_->files.end()) return std::nullopt;
  return it->second->data;
}

}  // namespace ringo::sim
