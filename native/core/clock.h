// SPDX-License-Identifier: Apache-2.0
// Clock helpers in nanoseconds. CLOCK_MONOTONIC for deadlines, CLOCK_THREAD_CPUTIME_ID for the
// CPU time the calling thread actually received (what the duty-cycle controller regulates), and
// the system clock's reads and steps that linux-time-chaos makes: a paired read of
// CLOCK_REALTIME with CLOCK_MONOTONIC and CLOCK_BOOTTIME, an atomic relative step of
// CLOCK_REALTIME, and the kernel's NTP state (adjtimex).
#pragma once

#include <cstdint>

#include "sys_result.h"

namespace faultd::core {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t MonotonicNs() noexcept;
int64_t ThreadCpuNs() noexcept;
/// Sleeps until the absolute CLOCK_MONOTONIC time `deadline_ns`, resuming after signals.
void SleepUntilNs(int64_t deadline_ns) noexcept;

/// CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME read together. `bracket_ns` is the
/// CLOCK_MONOTONIC time between the two monotonic reads around the others: how far apart the
/// three reads can be (the monotonic and boottime values are the bracket's midpoint).
struct ClockPair {
  int64_t realtime_ns = 0;
  int64_t monotonic_ns = 0;
  int64_t boottime_ns = 0;
  int64_t bracket_ns = 0;
};

/// The pair with the smallest bracket of `tries` reads, as PTP's cross-timestamps pick theirs
/// (the read that was not preempted between its clock_gettime calls).
ClockPair ReadClockPair(int tries = 9) noexcept;

/// Adds `offset_ns` to CLOCK_REALTIME in one kernel operation: clock_adjtime(CLOCK_REALTIME,
/// {ADJ_SETOFFSET | ADJ_NANO}). No read-modify-write, so nothing is lost between a read and the
/// write. Equivalent to `date -s "@$(($(date +%s) + offset))"` without its read-to-write error.
/// Needs CAP_SYS_TIME. The kernel marks the clock unsynchronised (STA_UNSYNC) after any step.
Status StepRealtime(int64_t offset_ns) noexcept;

/// The kernel's NTP state: adjtimex(2) with no modes set (reads only, no privilege).
struct NtpState {
  int clock_state = 0;  // the return value: TIME_OK, TIME_INS, …, TIME_ERROR (5: unsynchronised)
  int status = 0;       // STA_* bits (STA_UNSYNC = 0x40)
  int64_t max_error_us = 0;
  int64_t est_error_us = 0;
  int64_t offset_ns = 0;  // the PLL's remaining offset
};

/// Equivalent to `adjtimex --print` (status, maxerror, esterror, offset).
Result<NtpState> ReadNtpState() noexcept;

}  // namespace faultd::core
