// The disk reader threads that run AioRings' page-cache misses (disk_readers.hpp).
#include "disk_readers.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "aio_sys.hpp"
#include "mailbox.hpp"

namespace ringo::aio {
namespace {

class DiskReaders {
 public:
  static DiskReaders& get() {
    static DiskReaders* h = new DiskReaders;  // never destroyed: threads may run during exit
    return *h;
  }

  void post(const DiskReadJob& job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(job);
      if (idle_ == 0 && threads_ < kMaxDiskReaders) {
        ++threads_;
        std::thread([this] { run(); }).detach();
      }
    }
    cv_.notify_one();
  }

 private:
  static constexpr unsigned kMaxDiskReaders = 4;

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return !jobs_.empty(); });
      --idle_;
      const DiskReadJob job = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      read(job);
      lock.lock();
    }
  }

  static void read(const DiskReadJob& job) {
    const Sqe& s = job.sqe;
    void* addr = reinterpret_cast<void*>(static_cast<uintptr_t>(s.addr));
    const long r = s.opcode == Opcode::read ? ::pread(s.fd, addr, s.len, static_cast<off_t>(s.off))
                                            : ::preadv(s.fd, static_cast<const iovec*>(addr), static_cast<int>(s.len),
                                                       static_cast<off_t>(s.off));
    (void)AioRing::Mailbox::deliver(job.ring_id, Cqe{job.handle, sys::neg_errno(r), kDiskReadResult});
    job.outstanding->fetch_sub(1, std::memory_order_release);
    job.outstanding->notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<DiskReadJob> jobs_;
  unsigned idle_ = 0;
  unsigned threads_ = 0;
};

}  // namespace

void run_on_disk_reader(const DiskReadJob& job) { DiskReaders::get().post(job); }

}  // namespace ringo::aio
