// SPDX-License-Identifier: Apache-2.0
// Duty-cycle maths for exact CPU load. A worker regulates the CPU time it actually received
// (CLOCK_THREAD_CPUTIME_ID), not the wall time it spun: at each period boundary it computes how
// much CPU it should have used by the end of the next period (the integral of the target load,
// which rises linearly during ramp-up) and burns exactly the difference. Time lost to preemption
// is made up in the next periods, bounded by kMaxDebtPeriods so a long stall never turns into a
// long 100 % burst. Short periods keep 100 ms windows steady (stress-ng's shape, with feedback).
#pragma once

#include <cstdint>

namespace faultd::core {

/// Largest CPU debt (in periods) carried forward after the worker was starved.
constexpr int64_t kMaxDebtPeriods = 2;

struct DutyCycleSpec {
  double load_pct = 100.0;   // 0..100, per worker
  int64_t period_ns = 0;     // > 0
  int64_t ramp_up_ns = 0;    // >= 0; load rises linearly from 0 to load_pct over this time
};

/// Load (0..100 %) wanted at `elapsed_ns` after start.
double TargetLoadPctAt(const DutyCycleSpec& spec, int64_t elapsed_ns) noexcept;

/// CPU time (ns) the worker should have received from start to `elapsed_ns`: the integral of
/// TargetLoadPctAt over [0, elapsed_ns].
int64_t TargetCpuNs(const DutyCycleSpec& spec, int64_t elapsed_ns) noexcept;

/// CPU time to burn in the period that ends at `period_end_elapsed_ns`, given the CPU time
/// `used_cpu_ns` already received. Clamped to [0, period length]; debt beyond kMaxDebtPeriods
/// periods is forgiven by the caller moving its baseline (see ForgivenDebtNs).
int64_t BusyBudgetNs(const DutyCycleSpec& spec, int64_t period_end_elapsed_ns, int64_t used_cpu_ns) noexcept;

/// How much of the debt at `elapsed_ns` exceeds kMaxDebtPeriods periods (to be forgiven).
int64_t ForgivenDebtNs(const DutyCycleSpec& spec, int64_t elapsed_ns, int64_t used_cpu_ns) noexcept;

}  // namespace faultd::core
