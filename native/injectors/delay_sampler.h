// SPDX-License-Identifier: Apache-2.0
// Per-packet delays drawn as sch_netem draws them (net/sched/sch_netem.c: tabledist and
// get_crandom), so the NFQUEUE delayer that replaces netem on kernels without it gives the same
// distribution for the same `latency`, `jitter`, `correlation` and distribution table.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace faultd::inj {

/// netem's fixed-point scale of distribution tables (NETEM_DIST_SCALE).
constexpr int64_t kNetemDistScale = 8192;

struct DelaySpec {
  int64_t delay_ns = 0;
  int64_t jitter_ns = 0;   // sigma; 0 = constant delay
  double correlation_pct = 0;
  /// iproute2 distribution table (normal, pareto, paretonormal); empty = uniform jitter.
  std::vector<int16_t> table;
};

class DelaySampler {
 public:
  /// `seed` makes tests reproducible; the delayer seeds from std::random_device.
  DelaySampler(DelaySpec spec, uint64_t seed) noexcept;

  /// The next packet's delay in ns, never negative (netem clamps at zero the same way: a
  /// negative time_to_send offset means "now").
  int64_t Next() noexcept;

 private:
  uint32_t CorrelatedRandom() noexcept;

  DelaySpec spec_;
  uint32_t rho_;   // correlation as netem holds it: pct / 100 * UINT32_MAX
  uint32_t last_ = 0;
  std::mt19937 rng_;
};

}  // namespace faultd::inj
