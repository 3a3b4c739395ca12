// SPDX-License-Identifier: Apache-2.0
// tbf options (TCA_OPTIONS of a "tbf" qdisc: rate limit), encoded exactly as iproute2's
// q_tbf.c (v6.1) does for `rate R burst B (limit L | latency T)`, on an Ethernet link layer
// without mpu, overhead or peakrate.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/psched.h"
#include "../core/sys_result.h"

namespace faultd::inj {

struct TbfSpec {
  uint64_t rate_bytes_per_sec = 0;  // > 0
  uint32_t burst_bytes = 0;         // > 0
  uint32_t limit_bytes = 0;         // queue size; 0 = derive from latency_us
  uint32_t latency_us = 0;          // used when limit_bytes == 0
};

/// Equivalent to the TCA_OPTIONS of `tc qdisc add dev X root tbf rate <r> burst <b> limit <l>`
/// (or `latency <t>`). Returns the whole attribute (header included).
core::Result<std::vector<uint8_t>> EncodeTbfOptions(const TbfSpec& spec, const core::Psched& psched) noexcept;

}  // namespace faultd::inj
