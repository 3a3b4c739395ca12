// SPDX-License-Identifier: Apache-2.0
#include "../core/duty_cycle.h"

#include <gtest/gtest.h>

namespace faultd::core {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(DutyCycle, ConstantLoadIntegral) {
  const DutyCycleSpec spec{50, 10 * kMs, 0};
  EXPECT_EQ(TargetCpuNs(spec, 0), 0);
  EXPECT_EQ(TargetCpuNs(spec, 100 * kMs), 50 * kMs);
  EXPECT_DOUBLE_EQ(TargetLoadPctAt(spec, 1), 50);
}

TEST(DutyCycle, RampIsLinearThenFlat) {
  const DutyCycleSpec spec{80, 10 * kMs, 1000 * kMs};
  EXPECT_DOUBLE_EQ(TargetLoadPctAt(spec, 0), 0);
  EXPECT_DOUBLE_EQ(TargetLoadPctAt(spec, 500 * kMs), 40);
  EXPECT_DOUBLE_EQ(TargetLoadPctAt(spec, 2000 * kMs), 80);
  // Integral of a ramp to 0.8 over 1 s is 0.4 s; then 0.8 per second.
  EXPECT_EQ(TargetCpuNs(spec, 1000 * kMs), 400 * kMs);
  EXPECT_EQ(TargetCpuNs(spec, 2000 * kMs), 1200 * kMs);
}

TEST(DutyCycle, BudgetClampedToPeriod) {
  const DutyCycleSpec spec{25, 10 * kMs, 0};
  EXPECT_EQ(BusyBudgetNs(spec, 10 * kMs, 0), 2'500'000);
  // Ahead of schedule: nothing to burn.
  EXPECT_EQ(BusyBudgetNs(spec, 10 * kMs, 5 * kMs), 0);
  // Far behind: never more than one period.
  EXPECT_EQ(BusyBudgetNs(spec, 1000 * kMs, 0), 10 * kMs);
}

TEST(DutyCycle, BudgetMakesUpSmallDebt) {
  const DutyCycleSpec spec{50, 10 * kMs, 0};
  // At 20 ms the worker should have 10 ms; it got 3 ms, so it burns 7 ms + the 5 ms share.
  EXPECT_EQ(BusyBudgetNs(spec, 30 * kMs, 3 * kMs), 10 * kMs);
  EXPECT_EQ(BusyBudgetNs(spec, 30 * kMs, 8 * kMs), 7 * kMs);
}

TEST(DutyCycle, LongStarvationIsForgivenBeyondTwoPeriods) {
  const DutyCycleSpec spec{50, 10 * kMs, 0};
  EXPECT_EQ(ForgivenDebtNs(spec, 100 * kMs, 50 * kMs), 0);
  EXPECT_EQ(ForgivenDebtNs(spec, 100 * kMs, 40 * kMs), 0);
  EXPECT_EQ(ForgivenDebtNs(spec, 1000 * kMs, 0), 500 * kMs - 20 * kMs);
}

TEST(DutyCycle, FullAndZeroLoad) {
  EXPECT_EQ(BusyBudgetNs({100, 10 * kMs, 0}, 10 * kMs, 0), 10 * kMs);
  EXPECT_EQ(BusyBudgetNs({0, 10 * kMs, 0}, 10 * kMs, 0), 0);
}

}  // namespace
}  // namespace faultd::core
