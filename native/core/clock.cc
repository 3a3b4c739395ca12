// SPDX-License-Identifier: Apache-2.0
#include "clock.h"

#include <sys/timex.h>

#include <cerrno>
#include <ctime>

#ifndef ADJ_SETOFFSET
#define ADJ_SETOFFSET 0x0100
#endif
#ifndef ADJ_NANO
#define ADJ_NANO 0x2000
#endif
#ifndef ADJ_MICRO
#define ADJ_MICRO 0x1000
#endif
#ifndef STA_NANO
#define STA_NANO 0x2000
#endif

namespace faultd::core {
namespace {

int64_t Read(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

}  // namespace

int64_t MonotonicNs() noexcept { return Read(CLOCK_MONOTONIC); }
int64_t ThreadCpuNs() noexcept { return Read(CLOCK_THREAD_CPUTIME_ID); }

void SleepUntilNs(int64_t deadline_ns) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / kNsPerSec);
  ts.tv_nsec = static_cast<long>(deadline_ns % kNsPerSec);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

ClockPair ReadClockPair(int tries) noexcept {
  ClockPair best{};
  best.bracket_ns = INT64_MAX;
  for (int i = 0; i < (tries < 1 ? 1 : tries); ++i) {
    const int64_t before = Read(CLOCK_MONOTONIC);
    const int64_t boot_before = Read(CLOCK_BOOTTIME);
    const int64_t real = Read(CLOCK_REALTIME);
    const int64_t boot_after = Read(CLOCK_BOOTTIME);
    const int64_t after = Read(CLOCK_MONOTONIC);
    if (after - before >= best.bracket_ns) continue;
    best = {real, before + (after - before) / 2, boot_before + (boot_after - boot_before) / 2, after - before};
  }
  return best;
}

Status StepRealtime(int64_t offset_ns) noexcept {
  // ADJ_NANO leaves STA_NANO set, which changes the unit of every later adjtimex offset: an
  // NTP daemon that did not set it would misread them. It is put back as it was.
  timex probe{};
  if (adjtimex(&probe) < 0) return ErrnoError("adjtimex");
  const bool was_nano = (probe.status & STA_NANO) != 0;
  timex tx{};
  tx.modes = ADJ_SETOFFSET | ADJ_NANO;
  // The kernel wants 0 <= tv_usec (nanoseconds with ADJ_NANO) < 1 s, the sign in tv_sec.
  int64_t sec = offset_ns / kNsPerSec;
  int64_t nsec = offset_ns % kNsPerSec;
  if (nsec < 0) {
    nsec += kNsPerSec;
    sec -= 1;
  }
  tx.time.tv_sec = static_cast<time_t>(sec);
  tx.time.tv_usec = static_cast<suseconds_t>(nsec);
  if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) return ErrnoError("clock_adjtime");
  if (!was_nano) {
    timex micro{};
    micro.modes = ADJ_MICRO;
    if (adjtimex(&micro) < 0) return ErrnoError("adjtimex", "ADJ_MICRO after the step");
  }
  return Ok{};
}

Result<NtpState> ReadNtpState() noexcept {
  timex tx{};
  const int state = adjtimex(&tx);
  if (state < 0) return ErrnoError("adjtimex");
  NtpState out;
  out.clock_state = state;
  out.status = tx.status;
  out.max_error_us = tx.maxerror;
  out.est_error_us = tx.esterror;
  out.offset_ns = (tx.status & STA_NANO) ? tx.offset : static_cast<int64_t>(tx.offset) * 1000;
  return out;
}

}  // namespace faultd::core
