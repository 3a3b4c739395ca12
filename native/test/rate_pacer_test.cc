// SPDX-License-Identifier: Apache-2.0
#include "../core/rate_pacer.h"

#include <gtest/gtest.h>

namespace faultd::core {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr uint64_t kMiB = 1 << 20;

TEST(RatePacer, EarnedTimeIsBytesOverRate) {
  EXPECT_EQ(EarnedAtNs(10.0 * kMiB, 0), 0);
  EXPECT_EQ(EarnedAtNs(10.0 * kMiB, 10 * kMiB), 1000 * kMs);
  EXPECT_EQ(EarnedAtNs(4096.0, 1024), 250 * kMs);
}

TEST(RatePacer, SmallLagIsMadeUpLongLagForgiven) {
  // 1 MiB/s, 1 MiB written: earned at 1 s. At 1.1 s it is 100 ms behind: kept.
  EXPECT_EQ(ForgivenLagNs(1.0 * kMiB, kMiB, 1100 * kMs), 0);
  // At 3 s it is 2 s behind: all but kMaxLagNs forgiven.
  EXPECT_EQ(ForgivenLagNs(1.0 * kMiB, kMiB, 3000 * kMs), 2000 * kMs - kMaxLagNs);
  // Ahead of the rate: nothing forgiven.
  EXPECT_EQ(ForgivenLagNs(1.0 * kMiB, 2 * kMiB, 1000 * kMs), 0);
}

TEST(RatePacer, BlockIsAHundredthOfASecondAligned) {
  EXPECT_EQ(PacedBlockBytes(0, kMiB), kMiB);                    // unpaced: largest block
  EXPECT_EQ(PacedBlockBytes(10.0 * kMiB, kMiB), 104'857 / 4096 * 4096);
  EXPECT_EQ(PacedBlockBytes(1000.0, kMiB), kIoAlignBytes);      // never below the alignment
  EXPECT_EQ(PacedBlockBytes(1e12, kMiB), kMiB);                 // never above the largest
}

TEST(RatePacer, OperationsAreEarnedAsBytesAre) {
  // iops: the unit is one write. 200/s: the 1st write is due at once, the 2nd at 5 ms, the 201st at 1 s.
  EXPECT_EQ(EarnedAtNs(200.0, 0), 0);
  EXPECT_EQ(EarnedAtNs(200.0, 1), 5 * kMs);
  EXPECT_EQ(EarnedAtNs(200.0, 200), 1000 * kMs);
  // Split over 3 workers, each paces 200/3 per second: together 200 writes in 1 s (±1 each).
  EXPECT_NEAR(static_cast<double>(EarnedAtNs(200.0 / 3, 66)), 990.0 * kMs, 1.0);
  // 10 writes behind at 200/s is 50 ms: made up. 1 s behind: all but kMaxLagNs forgiven.
  EXPECT_EQ(ForgivenLagNs(200.0, 190, 1000 * kMs), 0);
  EXPECT_EQ(ForgivenLagNs(200.0, 200, 2000 * kMs), 1000 * kMs - kMaxLagNs);
}

TEST(RatePacer, PacedOperationsStayWithinOneOfTheRate) {
  // A simulated writer doing one operation whenever it is earned, on an infinitely fast device.
  const double iops = 250.0;
  uint64_t done = 0;
  for (int64_t t = 0; t <= 5000 * kMs; t += kMs / 10) {
    while (EarnedAtNs(iops, done) <= t) done += 1;
    const double target = iops * static_cast<double>(t) / 1e9;
    EXPECT_LE(static_cast<double>(done) - target, 1.0);
    EXPECT_GE(static_cast<double>(done), target);
  }
}

TEST(RatePacer, PacedWriterStaysWithinOneBlockOfTheRate) {
  // A simulated writer on an infinitely fast device: it writes whenever its bytes are earned.
  const double rate = 3.0 * kMiB;
  const uint64_t block = PacedBlockBytes(rate, kMiB);
  uint64_t done = 0;
  for (int64_t t = 0; t <= 5000 * kMs; t += kMs) {
    while (EarnedAtNs(rate, done) <= t) done += block;
    const double target = rate * static_cast<double>(t) / 1e9;
    EXPECT_LE(static_cast<double>(done) - target, static_cast<double>(block));
    EXPECT_GE(static_cast<double>(done), target);
  }
}

}  // namespace
}  // namespace faultd::core
