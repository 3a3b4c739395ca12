// SPDX-License-Identifier: Apache-2.0
#include "memory_stress.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "../core/clock.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL and we touch pages
#endif

namespace faultd::inj {
namespace {

constexpr uint64_t kChunkBytes = 64ULL << 20;      // unit of populate, progress and stop checks
constexpr int64_t kRewriteIntervalNs = 2'000'000'000;
constexpr int64_t kStopPollNs = 50'000'000;

// Makes [addr, addr+len) resident and writable-private. Returns 0 or an errno.
int Populate(char* addr, uint64_t len, uint64_t page, bool* use_madvise) noexcept {
  if (*use_madvise) {
    if (madvise(addr, len, MADV_POPULATE_WRITE) == 0) return 0;
    if (errno != EINVAL) return errno;
    *use_madvise = false;  // kernel before 5.14
  }
  for (uint64_t off = 0; off < len; off += page) addr[off] = static_cast<char>(off);
  return 0;
}

}  // namespace

MemoryStress::MemoryStress(MemoryStressSpec spec) noexcept : spec_(spec) {}

core::Result<std::unique_ptr<MemoryStress>> MemoryStress::Start(const MemoryStressSpec& spec) noexcept {
  if (spec.workers < 1 || spec.bytes_per_worker == 0 || spec.ramp_up_ms < 0) {
    return core::SysError{EINVAL, "memory_stress", "workers >= 1, bytes > 0"};
  }
  std::unique_ptr<MemoryStress> stress(new (std::nothrow) MemoryStress(spec));
  if (!stress) return core::SysError{ENOMEM, "memory_stress", {}};
  stress->populated_.reset(new (std::nothrow) std::atomic<uint64_t>[static_cast<size_t>(spec.workers)]);
  if (!stress->populated_) return core::SysError{ENOMEM, "memory_stress", {}};
  for (int i = 0; i < spec.workers; ++i) stress->populated_[static_cast<size_t>(i)].store(0);
  MemoryStress* self = stress.get();
  const auto started = self->threads_.Start(
      spec.workers, "faultd-mem", [self](int index, const std::atomic<bool>& stop) { self->Run(index, stop); });
  if (!started.ok()) return started.error();
  return stress;
}

uint64_t MemoryStress::PopulatedBytes() const noexcept {
  uint64_t total = 0;
  for (int i = 0; i < spec_.workers; ++i) total += populated_[static_cast<size_t>(i)].load();
  return total;
}

bool MemoryStress::Complete() const noexcept {
  return PopulatedBytes() == spec_.bytes_per_worker * static_cast<uint64_t>(spec_.workers);
}

core::SysError MemoryStress::WorkerError() const noexcept {
  return core::SysError{worker_errno_.load(), worker_syscall_.load(), {}};
}

void MemoryStress::Fail(const char* syscall, int err) noexcept {
  // The first failure wins; syscall is published before errno so a reader never pairs them wrongly.
  const char* expected = "";
  if (worker_syscall_.compare_exchange_strong(expected, syscall)) worker_errno_.store(err);
}

void MemoryStress::Run(int index, const std::atomic<bool>& stop) noexcept {
  const uint64_t len = spec_.bytes_per_worker;
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  void* mapped = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) return Fail("mmap", errno);
  auto* base = static_cast<char*>(mapped);
  std::atomic<uint64_t>& populated = populated_[static_cast<size_t>(index)];
  bool use_madvise = spec_.madvise_populate;
  const int64_t start_ns = core::MonotonicNs();
  const int64_t ramp_ns = spec_.ramp_up_ms * core::kNsPerMs;
  uint64_t done = 0;
  while (done < len && !stop.load(std::memory_order_relaxed)) {
    if (ramp_ns > 0) {
      // Chunk k may start once the ramp has reached its first byte.
      const auto due_ns = start_ns + static_cast<int64_t>(static_cast<double>(ramp_ns) * static_cast<double>(done) /
                                                          static_cast<double>(len));
      if (core::MonotonicNs() < due_ns) {
        core::SleepUntilNs(std::min(due_ns, core::MonotonicNs() + kStopPollNs));
        continue;
      }
    }
    const uint64_t step = std::min(kChunkBytes, len - done);
    if (const int err = Populate(base + done, step, page, &use_madvise); err != 0) {
      munmap(mapped, len);
      return Fail("madvise", err);
    }
    if (spec_.lock && mlock(base + done, step) != 0) {
      const int err = errno;
      munmap(mapped, len);
      return Fail("mlock", err);
    }
    done += step;
    populated.store(done);
  }
  // Keep the pages hot until stopped.
  int64_t next_rewrite_ns = core::MonotonicNs() + kRewriteIntervalNs;
  while (!stop.load(std::memory_order_relaxed)) {
    const int64_t now_ns = core::MonotonicNs();
    if (now_ns >= next_rewrite_ns) {
      for (uint64_t off = 0; off < done; off += page) base[off] = static_cast<char>(base[off] + 1);
      next_rewrite_ns = now_ns + kRewriteIntervalNs;
    }
    core::SleepUntilNs(std::min(next_rewrite_ns, core::MonotonicNs() + kStopPollNs));
  }
  munmap(mapped, len);
}

}  // namespace faultd::inj
