// SPDX-License-Identifier: Apache-2.0
// Functional checks of the injectors' start/stop paths (load accuracy is measured in the bench).
#include "../injectors/cpu_stress.h"

#include <gtest/gtest.h>

#include <ctime>

#include "../core/clock.h"
#include "../injectors/memory_stress.h"

namespace faultd::inj {
namespace {

int64_t ProcessCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * core::kNsPerSec + ts.tv_nsec;
}

TEST(CpuStress, RejectsBadSpec) {
  EXPECT_FALSE(CpuStress::Start({0, 50, {}, 0, 10'000}).ok());
  EXPECT_FALSE(CpuStress::Start({1, 101, {}, 0, 10'000}).ok());
}

TEST(CpuStress, HalfLoadOverHalfSecondIsRoughlyHalf) {
  auto stress = CpuStress::Start({1, 50, {}, 0, 10'000});
  ASSERT_TRUE(stress.ok());
  const int64_t cpu0 = ProcessCpuNs();
  const int64_t wall0 = core::MonotonicNs();
  core::SleepUntilNs(wall0 + 500 * core::kNsPerMs);
  const double pct = 100.0 * static_cast<double>(ProcessCpuNs() - cpu0) / static_cast<double>(core::MonotonicNs() - wall0);
  stress.value()->RequestStop();
  stress.value()->Join();
  EXPECT_NEAR(pct, 50.0, 10.0);  // loose: shared CI machine; the bench checks 0.5 pp
  EXPECT_EQ(stress.value()->WorkerError().err, 0);
}

TEST(CpuStress, BadAffinityIsReported) {
  auto stress = CpuStress::Start({1, 10, {1023}, 0, 10'000});
  ASSERT_TRUE(stress.ok());
  stress.value()->Join();
  EXPECT_EQ(stress.value()->WorkerError().err, EINVAL);
}

TEST(MemoryStress, PopulatesAllBytes) {
  auto stress = MemoryStress::Start({2, 8 << 20, false, 0});
  ASSERT_TRUE(stress.ok());
  for (int i = 0; i < 200 && !stress.value()->Complete(); ++i) core::SleepUntilNs(core::MonotonicNs() + 10 * core::kNsPerMs);
  EXPECT_TRUE(stress.value()->Complete());
  EXPECT_EQ(stress.value()->PopulatedBytes(), 16u << 20);
  stress.value()->RequestStop();
  stress.value()->Join();
}

}  // namespace
}  // namespace faultd::inj
