// SPDX-License-Identifier: Apache-2.0
// linux-memory-stress: each worker maps `bytes_per_worker` of anonymous memory and makes it
// resident (MADV_POPULATE_WRITE where the kernel has it, else one write per page), optionally
// mlock()ed, rising linearly over `ramp_up_ms`. Afterwards it rewrites one byte per page every
// few seconds so the pages stay hot (Harness: "keeps rewriting to that same memory space").
// Runs inside the faultd-stressor process, never in Node.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/sys_result.h"
#include "../core/worker_threads.h"

namespace faultd::inj {

struct MemoryStressSpec {
  int workers = 1;                 // >= 1
  uint64_t bytes_per_worker = 0;   // > 0
  bool lock = false;               // mlock (needs CAP_IPC_LOCK or a large RLIMIT_MEMLOCK)
  int64_t ramp_up_ms = 0;
  bool madvise_populate = true;    // false: one write per page from the start, the path kernels
                                   // before 5.14 take after their first EINVAL (forced by tests)
};

class MemoryStress {
 public:
  /// Equivalent to: `stress-ng --vm <workers> --vm-bytes <bytes_per_worker> --vm-keep
  /// [--vm-locked]`, without stress-ng's continuous remapping.
  static core::Result<std::unique_ptr<MemoryStress>> Start(const MemoryStressSpec& spec) noexcept;

  void RequestStop() noexcept { threads_.RequestStop(); }
  void Join() noexcept { threads_.Join(); }
  /// Bytes made resident so far, over all workers.
  [[nodiscard]] uint64_t PopulatedBytes() const noexcept;
  /// True once every worker has populated its whole region.
  [[nodiscard]] bool Complete() const noexcept;
  /// First error a worker hit (mmap ENOMEM, mlock EPERM/ENOMEM, ...), or errno 0.
  [[nodiscard]] core::SysError WorkerError() const noexcept;

 private:
  explicit MemoryStress(MemoryStressSpec spec) noexcept;
  void Run(int index, const std::atomic<bool>& stop) noexcept;
  void Fail(const char* syscall, int err) noexcept;

  MemoryStressSpec spec_;
  std::unique_ptr<std::atomic<uint64_t>[]> populated_;
  std::atomic<int> worker_errno_{0};
  std::atomic<const char*> worker_syscall_{""};
  core::WorkerThreads threads_;
};

}  // namespace faultd::inj
