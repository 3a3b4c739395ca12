// SPDX-License-Identifier: Apache-2.0
// The paired clock read of linux-time-chaos (the step itself changes the host's clock and is
// tested by the privileged suite, measured from another process).
#include "../core/clock.h"

#include <gtest/gtest.h>

#include <ctime>

namespace faultd::core {
namespace {

int64_t Now(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

TEST(ClockPair, MidpointsLieInsideTheCallAndTheBracketIsSmall) {
  const int64_t before = Now(CLOCK_MONOTONIC);
  const int64_t real_before = Now(CLOCK_REALTIME);
  const ClockPair pair = ReadClockPair();
  const int64_t real_after = Now(CLOCK_REALTIME);
  const int64_t after = Now(CLOCK_MONOTONIC);
  EXPECT_GE(pair.monotonic_ns, before);
  EXPECT_LE(pair.monotonic_ns, after);
  EXPECT_GE(pair.realtime_ns, real_before);
  EXPECT_LE(pair.realtime_ns, real_after);
  // BOOTTIME = MONOTONIC + time suspended (0 on a machine that never slept): the two midpoints
  // come from different pairs of reads, so they may differ by up to the bracket either way.
  EXPECT_GE(pair.boottime_ns + pair.bracket_ns, pair.monotonic_ns);
  EXPECT_GE(pair.bracket_ns, 0);
  EXPECT_LT(pair.bracket_ns, 1'000'000);  // a vDSO read pair: well under 1 ms even on a busy host
}

TEST(ClockPair, TheBestOfManyIsNoWorseThanOne) {
  int64_t single_total = 0;
  int64_t best_total = 0;
  for (int i = 0; i < 200; ++i) {
    single_total += ReadClockPair(1).bracket_ns;
    best_total += ReadClockPair(9).bracket_ns;
  }
  EXPECT_LE(best_total, single_total);
}

TEST(NtpState, ReadsWithoutPrivilege) {
  const auto state = ReadNtpState();
  ASSERT_TRUE(state.ok());
  EXPECT_GE(state.value().clock_state, 0);
  EXPECT_LE(state.value().clock_state, 5);
}

}  // namespace
}  // namespace faultd::core
