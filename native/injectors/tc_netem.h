// SPDX-License-Identifier: Apache-2.0
// netem options (TCA_OPTIONS of a "netem" qdisc), encoded exactly as iproute2's q_netem.c
// (v6.1) does for the same parameters, so tests can compare bytes with `tc`. Units are in the
// field names; percentages are 0..100 and become rint(p / 100 * UINT32_MAX) as in iproute2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../core/psched.h"
#include "../core/sys_result.h"

namespace faultd::inj {

struct NetemSpec {
  uint32_t delay_us = 0;
  uint32_t jitter_us = 0;
  double delay_corr_pct = 0;
  double loss_pct = 0;
  double loss_corr_pct = 0;
  double duplicate_pct = 0;
  double duplicate_corr_pct = 0;
  double corrupt_pct = 0;
  double corrupt_corr_pct = 0;
  double reorder_pct = 0;
  double reorder_corr_pct = 0;
  uint32_t gap = 0;              // with reorder; 0 becomes 1, as in iproute2
  uint32_t limit_packets = 1000; // iproute2's default
  /// Delay distribution table (NETEM_DIST_SCALE units); empty = uniform jitter.
  std::vector<int16_t> distribution;
};

/// Equivalent to the TCA_OPTIONS that `tc qdisc add dev X root netem delay <d>us <j>us <c>%
/// loss <l>% <lc>% duplicate … corrupt … reorder … gap … limit … distribution <name>` sends.
/// Returns the whole attribute (header included). EINVAL for combinations tc refuses.
core::Result<std::vector<uint8_t>> EncodeNetemOptions(const NetemSpec& spec, const core::Psched& psched) noexcept;

/// Reads an iproute2 distribution table (`<dir>/<name>.dist`, e.g. normal, pareto).
core::Result<std::vector<int16_t>> ReadNetemDistribution(const std::string& dir, const std::string& name) noexcept;

}  // namespace faultd::inj
