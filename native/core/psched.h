// SPDX-License-Identifier: Apache-2.0
// The kernel's packet-scheduler clock (/proc/net/psched), needed to express times in the
// "ticks" that tc_netem_qopt and tc_tbf_qopt carry. The conversion mirrors iproute2's
// tc_core.c exactly, so our messages are byte-identical to what `tc` sends.
#pragma once

#include <cstdint>
#include <string_view>

#include "sys_result.h"

namespace faultd::core {

struct Psched {
  double tick_in_usec = 1;
  double clock_factor = 1;
};

/// Parses the text of /proc/net/psched ("%08x%08x%08x%08x": t2us us2t clock_res ...).
Result<Psched> ParsePsched(std::string_view text) noexcept;
/// Reads /proc/net/psched.
Result<Psched> ReadPsched(const char* path = "/proc/net/psched") noexcept;

/// Microseconds → ticks as iproute2's tc_core_time2tick (truncating). `fits` is false when the
/// result needs more than 32 bits (iproute2's tc_core_time2big).
uint32_t UsecToTicks(const Psched& psched, uint32_t usec, bool* fits) noexcept;

/// Transmission time of `size` bytes at `rate` bytes/s, in ticks (iproute2's tc_calc_xmittime).
uint32_t XmitTimeTicks(const Psched& psched, uint64_t rate, uint32_t size) noexcept;

}  // namespace faultd::core
