// SPDX-License-Identifier: Apache-2.0
// linux-disk-io-stress: each worker writes its own file of `file_bytes` over and over, in
// blocks, with O_DIRECT where the filesystem allows it (else buffered writes, each followed by
// fdatasync so the bytes reach the device). With `bytes_per_sec` > 0 the workers together hold
// that byte rate exactly; with `ops_per_sec` > 0 they write kIoAlignBytes (4 KiB) blocks and
// hold that many writes per second exactly (both core/rate_pacer.h). The files are created (O_EXCL, O_NOFOLLOW) but never
// removed here: faultd recorded their names in its ledger and removes them at revert. With
// `first_fd` >= 0 the files are not opened by name at all: faultd created them, recorded each
// one's device and inode, and passed them open as descriptors first_fd, first_fd + 1, … (so no
// file that appeared under the name meanwhile is ever written).
// Runs inside the faultd-stressor process, never in Node.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "../core/sys_result.h"
#include "../core/worker_threads.h"

namespace faultd::inj {

struct IoStressSpec {
  int workers = 1;              // >= 1
  std::string file_prefix;      // worker i writes `<file_prefix>-<i>`
  uint64_t file_bytes = 0;      // per worker, >= core::kIoAlignBytes
  double bytes_per_sec = 0;     // all workers together; 0 = as fast as the device goes
  double ops_per_sec = 0;       // all workers together, 4 KiB writes; 0 = not paced by operations
  int first_fd = -1;            // >= 0: worker i writes the open regular file first_fd + i instead of creating `<file_prefix>-<i>`
};

class IoStress {
 public:
  /// Equivalent to: `stress-ng --hdd <workers> --hdd-bytes <file_bytes> --hdd-opts direct`
  /// (or `fdatasync` where O_DIRECT is refused), plus an exact rate stress-ng does not have.
  static core::Result<std::unique_ptr<IoStress>> Start(const IoStressSpec& spec) noexcept;

  void RequestStop() noexcept { threads_.RequestStop(); }
  void Join() noexcept { threads_.Join(); }
  /// Bytes written so far, over all workers.
  [[nodiscard]] uint64_t WrittenBytes() const noexcept;
  /// Write calls (pwrite) completed so far, over all workers.
  [[nodiscard]] uint64_t WrittenOps() const noexcept;
  /// Workers that opened their file, and how many of them use O_DIRECT.
  [[nodiscard]] int OpenedWorkers() const noexcept { return opened_.load(); }
  [[nodiscard]] int DirectWorkers() const noexcept { return direct_.load(); }
  /// First error a worker hit (open EEXIST, write ENOSPC, ...), or errno 0.
  [[nodiscard]] core::SysError WorkerError() const noexcept;

 private:
  explicit IoStress(IoStressSpec spec) noexcept;
  void Run(int index, const std::atomic<bool>& stop) noexcept;
  void Fail(const char* syscall, int err) noexcept;

  IoStressSpec spec_;
  std::unique_ptr<std::atomic<uint64_t>[]> written_;
  std::unique_ptr<std::atomic<uint64_t>[]> ops_;
  std::atomic<int> opened_{0};
  std::atomic<int> direct_{0};
  std::atomic<int> worker_errno_{0};
  std::atomic<const char*> worker_syscall_{""};
  core::WorkerThreads threads_;
};

}  // namespace faultd::inj
