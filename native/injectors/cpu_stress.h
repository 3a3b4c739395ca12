// SPDX-License-Identifier: Apache-2.0
// linux-cpu-stress: N worker threads, each holding `load_pct` % of one CPU with the feedback
// duty cycle of core/duty_cycle.h. Runs inside the faultd-stressor process, never in Node.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/sys_result.h"
#include "../core/worker_threads.h"

namespace faultd::inj {

struct CpuStressSpec {
  int workers = 1;              // >= 1
  double load_pct = 100.0;      // 0..100, per worker
  std::vector<int> cpus;        // affinity: worker i is pinned to cpus[i % size]; empty = any
  int64_t ramp_up_ms = 0;       // load rises linearly from 0 over this time
  int64_t period_us = 10'000;   // duty-cycle period; 100 ms windows hold 10 periods
};

class CpuStress {
 public:
  /// Equivalent to: `stress-ng --cpu <workers> --cpu-load <load_pct> [--taskset <cpus>]`.
  static core::Result<std::unique_ptr<CpuStress>> Start(const CpuStressSpec& spec) noexcept;

  void RequestStop() noexcept { threads_.RequestStop(); }
  void Join() noexcept { threads_.Join(); }
  /// First error a worker hit after start (e.g. sched_setaffinity), or errno 0.
  [[nodiscard]] core::SysError WorkerError() const noexcept;

 private:
  explicit CpuStress(CpuStressSpec spec) noexcept : spec_(std::move(spec)) {}
  void Run(int index, const std::atomic<bool>& stop) noexcept;
  void Fail(const char* syscall, int err) noexcept;

  CpuStressSpec spec_;
  std::atomic<int> worker_errno_{0};
  std::atomic<const char*> worker_syscall_{""};
  core::WorkerThreads threads_;
};

}  // namespace faultd::inj
