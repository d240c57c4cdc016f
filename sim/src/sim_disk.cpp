// SimDisk (sim_disk.hpp): files in memory, page cache vs durable bytes, faults, crashes.
#include "sim_disk.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>

#include "fault_kind.hpp"
#include "op_buffers.hpp"
#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

namespace {

constexpr size_t kMaxPath = 4096;

void write_bytes(std::string& data, uint64_t offset, std::string_view bytes) {
  if (data.size() < offset + bytes.size()) data.resize(offset + bytes.size(), '\0');
  std::copy(bytes.begin(), bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(offset));
}

}  // namespace

int32_t SimDisk::open(const Sqe& sqe) {
  if (sqe.addr == 0) return -EFAULT;
  const char* path = reinterpret_cast<const char*>(static_cast<uintptr_t>(sqe.addr));
  const size_t length = strnlen(path, kMaxPath);
  if (length == kMaxPath) return -ENAMETOOLONG;
  if (length == 0) return -ENOENT;
  const int flags = static_cast<int>(sqe.len);
  const std::string name(path, length);
  auto it = files_.find(name);
  if (it == files_.end()) {
    if ((flags & O_CREAT) == 0) return -ENOENT;
    it = files_.emplace(name, std::make_shared<Inode>()).first;
  } else if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) {
    return -EEXIST;
  }
  auto file = std::make_shared<OpenFile>();
  file->inode = it->second;
  const int mode = flags & O_ACCMODE;
  file->readable = mode == O_RDONLY || mode == O_RDWR;
  file->writable = mode == O_WRONLY || mode == O_RDWR;
  file->append = (flags & O_APPEND) != 0;
  if ((flags & O_TRUNC) != 0 && file->writable) {
    file->inode->data.clear();
    file->inode->unsynced.push_back({0, {}, true});
  }
  return fds_.allocate(std::move(file));
}

int32_t SimDisk::io(const Sqe& sqe) {
  auto file = fds_.get<OpenFile>(sqe.fd);
  if (!file) return fds_.find(sqe.fd) != nullptr ? -EINVAL : -EBADF;
  if (sqe.opcode == Opcode::fsync) {
    Inode& inode = *file->inode;
    inode.durable = inode.data;
    inode.unsynced.clear();
    return 0;
  }
  return transfer(*file, sqe);
}

// A read or write of up to the buffers' length (a fault may shorten it) at sqe.off, or at
// the file position for offset -1; O_APPEND writes at the end.
int32_t SimDisk::transfer(OpenFile& file, const Sqe& sqe) {
  Inode& inode = *file.inode;
  const bool reading = sqe.opcode == Opcode::read || sqe.opcode == Opcode::readv;
  if (reading ? !file.readable : !file.writable) return -EBADF;
  IoList iov;
  if (const int32_t e = op_buffers(sqe, iov); e < 0) return e;
  size_t limit = std::min<size_t>(total_length(iov), INT32_MAX);
  if (limit == 0) return 0;
  if (host_.inject(faults_.disk_eio_ppm, fault::kDiskEio)) return -EIO;
  if (limit > 1 && host_.inject(faults_.short_io_ppm, fault::kShortIo)) limit = 1 + host_.below(limit - 1);
  const bool at_position = sqe.off == UINT64_MAX;
  uint64_t offset = at_position ? file.position : sqe.off;
  size_t moved = 0;
  if (reading) {
    if (offset < inode.data.size()) {
      moved = scatter(iov, inode.data.data() + offset, std::min<size_t>(limit, inode.data.size() - offset));
    }
  } else {
    if (file.append) offset = inode.data.size();
    // The simulated disk holds files in memory: past kMaxFileSize a write fails the way
    // one past the file system's limit does (found by fuzz_ring: a write at a huge offset).
    if (offset > kMaxFileSize || limit > kMaxFileSize - offset) return -EFBIG;
    std::string bytes = gather(iov, limit);
    write_bytes(inode.data, offset, bytes);
    moved = bytes.size();
    inode.unsynced.push_back({offset, std::move(bytes), false});
    RINGO_ASSERT(inode.data.size() <= kMaxFileSize, "a file never grows past kMaxFileSize");
  }
  RINGO_ASSERT(moved <= limit, "a transfer moves at most what was asked");
  if (at_position || file.append) file.position = offset + moved;
  return static_cast<int32_t>(moved);
}

int64_t SimDisk::size(int32_t fd) {
  auto file = fds_.get<OpenFile>(fd);
  if (!file) return fds_.find(fd) ? -EINVAL : -EBADF;
  return static_cast<int64_t>(file->inode->data.size());
}

void SimDisk::crash() {
  for (auto& [name, inode] : files_) {
    std::string disk = inode->durable;
    for (const Inode::Change& c : inode->unsynced) {
      const uint64_t choice = host_.below(3);  // 0: lost, 1: written, 2: torn
      if (choice == 0) continue;
      if (c.truncate) {
        RINGO_ASSERT(c.bytes.empty(), "a truncation writes nothing");
        disk.resize(c.offset);
        continue;
      }
      const size_t keep = choice == 1 || c.bytes.empty() ? c.bytes.size() : host_.below(c.bytes.size());
      write_bytes(disk, c.offset, std::string_view(c.bytes).substr(0, keep));
    }
    inode->data = inode->durable = std::move(disk);
    inode->unsynced.clear();
  }
}

std::optional<std::string> SimDisk::contents(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second->data;
}

}  // namespace ringo::sim::detail
