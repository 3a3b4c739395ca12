// SPDX-License-Identifier: Apache-2.0
#include "duty_cycle.h"

#include <algorithm>

namespace faultd::core {

double TargetLoadPctAt(const DutyCycleSpec& spec, int64_t elapsed_ns) noexcept {
  if (elapsed_ns <= 0) return spec.ramp_up_ns > 0 ? 0.0 : spec.load_pct;
  if (spec.ramp_up_ns <= 0 || elapsed_ns >= spec.ramp_up_ns) return spec.load_pct;
  return spec.load_pct * static_cast<double>(elapsed_ns) / static_cast<double>(spec.ramp_up_ns);
}

int64_t TargetCpuNs(const DutyCycleSpec& spec, int64_t elapsed_ns) noexcept {
  if (elapsed_ns <= 0) return 0;
  const double fraction = spec.load_pct / 100.0;
  const auto t = static_cast<double>(elapsed_ns);
  if (spec.ramp_up_ns <= 0) return static_cast<int64_t>(fraction * t);
  const auto ramp = static_cast<double>(spec.ramp_up_ns);
  if (t < ramp) return static_cast<int64_t>(fraction * t * t / (2.0 * ramp));
  return static_cast<int64_t>(fraction * (t - ramp / 2.0));
}

int64_t BusyBudgetNs(const DutyCycleSpec& spec, int64_t period_end_elapsed_ns, int64_t used_cpu_ns) noexcept {
  const int64_t wanted = TargetCpuNs(spec, period_end_elapsed_ns) - used_cpu_ns;
  return std::clamp<int64_t>(wanted, 0, spec.period_ns);
}

int64_t ForgivenDebtNs(const DutyCycleSpec& spec, int64_t elapsed_ns, int64_t used_cpu_ns) noexcept {
  const int64_t debt = TargetCpuNs(spec, elapsed_ns) - used_cpu_ns;
  return std::max<int64_t>(0, debt - kMaxDebtPeriods * spec.period_ns);
}

}  // namespace faultd::core
