// SPDX-License-Identifier: Apache-2.0
#include "cpu_stress.h"

#include <sched.h>

#include <cerrno>

#include "../core/clock.h"
#include "../core/duty_cycle.h"

namespace faultd::inj {
namespace {

using core::MonotonicNs;
using core::ThreadCpuNs;

// Spins until the thread has received `cpu_target_ns` of CPU, the wall clock reaches
// `wall_deadline_ns`, or stop is requested. The CPU clock is a syscall (~0.2 µs), so a little
// arithmetic runs between reads to keep most of the burn in user space.
void Burn(int64_t cpu_target_ns, int64_t wall_deadline_ns, const std::atomic<bool>& stop) noexcept {
  volatile uint64_t sink = 0x9e3779b97f4a7c15ULL;
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 256; ++i) sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
    if (ThreadCpuNs() >= cpu_target_ns || MonotonicNs() >= wall_deadline_ns) return;
  }
}

}  // namespace

core::Result<std::unique_ptr<CpuStress>> CpuStress::Start(const CpuStressSpec& spec) noexcept {
  if (spec.workers < 1 || spec.load_pct < 0 || spec.load_pct > 100 || spec.period_us < 1000 ||
      spec.ramp_up_ms < 0) {
    return core::SysError{EINVAL, "cpu_stress", "workers >= 1, load 0..100, period >= 1 ms"};
  }
  std::unique_ptr<CpuStress> stress(new (std::nothrow) CpuStress(spec));
  if (!stress) return core::SysError{ENOMEM, "cpu_stress", {}};
  CpuStress* self = stress.get();
  const auto started = self->threads_.Start(
      spec.workers, "faultd-cpu", [self](int index, const std::atomic<bool>& stop) { self->Run(index, stop); });
  if (!started.ok()) return started.error();
  return stress;
}

void CpuStress::Fail(const char* syscall, int err) noexcept {
  // The first failure wins; syscall is published before errno so a reader never pairs them wrongly.
  const char* expected = "";
  if (worker_syscall_.compare_exchange_strong(expected, syscall)) worker_errno_.store(err);
}

core::SysError CpuStress::WorkerError() const noexcept {
  return core::SysError{worker_errno_.load(), worker_syscall_.load(), {}};
}

void CpuStress::Run(int index, const std::atomic<bool>& stop) noexcept {
  if (!spec_.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(spec_.cpus[static_cast<size_t>(index) % spec_.cpus.size()], &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) return Fail("sched_setaffinity", errno);
  }
  const core::DutyCycleSpec duty{spec_.load_pct, spec_.period_us * 1000, spec_.ramp_up_ms * core::kNsPerMs};
  const int64_t start_ns = MonotonicNs();
  const int64_t cpu0_ns = ThreadCpuNs();
  int64_t forgiven_ns = 0;  // starvation debt we chose not to make up
  int64_t period = 1;
  while (!stop.load(std::memory_order_relaxed)) {
    const int64_t now_ns = MonotonicNs();
    const int64_t cpu_now_ns = ThreadCpuNs();
    const int64_t used_ns = cpu_now_ns - cpu0_ns + forgiven_ns;
    forgiven_ns += core::ForgivenDebtNs(duty, now_ns - start_ns, used_ns);
    const int64_t period_end_ns = start_ns + period * duty.period_ns;
    const int64_t budget_ns =
        core::BusyBudgetNs(duty, period_end_ns - start_ns, cpu_now_ns - cpu0_ns + forgiven_ns);
    if (budget_ns > 0) Burn(cpu_now_ns + budget_ns, period_end_ns, stop);
    if (MonotonicNs() < period_end_ns) core::SleepUntilNs(period_end_ns);
    // After a stall longer than a period, continue from the current period, not the missed ones.
    period = (MonotonicNs() - start_ns) / duty.period_ns + 1;
  }
}

}  // namespace faultd::inj
