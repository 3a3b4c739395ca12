// SPDX-License-Identifier: Apache-2.0
// Clock helpers in nanoseconds. CLOCK_MONOTONIC for deadlines, CLOCK_THREAD_CPUTIME_ID for the
// CPU time the calling thread actually received (what the duty-cycle controller regulates).
#pragma once

#include <cstdint>

namespace faultd::core {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t MonotonicNs() noexcept;
int64_t ThreadCpuNs() noexcept;
/// Sleeps until the absolute CLOCK_MONOTONIC time `deadline_ns`, resuming after signals.
void SleepUntilNs(int64_t deadline_ns) noexcept;

}  // namespace faultd::core
