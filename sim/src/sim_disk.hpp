// SimDisk: the simulated disk. Files live in memory, each with two images: the bytes as
// the page cache sees them (`data`, what reads return) and as the platter holds them
// (`durable`, what survives a crash). Writes since the last fsync are kept in order, so a
// crash can keep, drop or tear each of them, as the seed decides. Faults: EIO and short
// transfers, drawn from the seed. Private to sim/.
//
// Contract: file ops never wait (they return at once; the kernel adds the completion
// latency). fsync makes durable == data. After crash() every file's data == durable:
// the fsynced bytes plus a seeded choice of the later writes, whole or torn. A file never
// grows past kMaxFileSize.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "descriptor_table.hpp"
#include "device_host.hpp"
#include "ringo/internal/core/ring.hpp"
#include "ringo/sim/fault_config.hpp"

namespace ringo::sim::detail {

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

// An open file description: what a descriptor of a file refers to.
struct OpenFile {
  std::shared_ptr<Inode> inode;
  bool readable = true;
  bool writable = false;
  bool append = false;
  uint64_t position = 0;  // for offset -1 (the file position)
};

class SimDisk {
 public:
  // The simulated disk holds files in memory: past this a write fails with EFBIG.
  static constexpr uint64_t kMaxFileSize = uint64_t{1} << 30;

  SimDisk(DeviceHost host, DescriptorTable& fds, const FaultConfig& faults) noexcept
      : host_(host), fds_(fds), faults_(faults) {}

  // OPENAT: a new descriptor, or a negative errno.
  int32_t open(const Sqe& sqe);
  // FSYNC, READ(V), WRITE(V) on a descriptor: bytes moved (0 for fsync) or a negative
  // errno (EBADF if fd is not open, EINVAL if it is not a file).
  int32_t io(const Sqe& sqe);
  // SysOp::file_size: the size in the page cache, or a negative errno.
  int64_t size(int32_t fd);
  // Power loss, after the kernel closed every descriptor: each file keeps its durable
  // bytes plus, chosen by the seed, some of the unsynced writes, whole or torn.
  void crash();
  std::optional<std::string> contents(const std::string& path) const;

 private:
  int32_t transfer(OpenFile& file, const Sqe& sqe);

  DeviceHost host_;
  DescriptorTable& fds_;
  const FaultConfig& faults_;
  std::map<std::string, std::shared_ptr<Inode>> files_;  // by path
};

}  // namespace ringo::sim::detail
