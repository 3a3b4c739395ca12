// SPDX-License-Identifier: Apache-2.0
#include "clock.h"

#include <cerrno>
#include <ctime>

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

}  // namespace faultd::core
