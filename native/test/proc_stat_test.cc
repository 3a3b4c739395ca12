// SPDX-License-Identifier: Apache-2.0
#include "../core/proc_stat.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "../core/process_kill.h"

namespace faultd::core {
namespace {

TEST(ProcStat, ParsesStateAndStartTime) {
  const auto stat = ParseProcStat(
      "1234 (bash) S 1 1234 1234 34816 1234 4194304 1 2 3 4 5 6 7 8 20 0 1 0 987654 1000 200\n");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->start_ticks, 987654u);
}

TEST(ProcStat, NameWithSpacesAndParentheses) {
  const auto stat = ParseProcStat("42 (a) b (c)) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->start_ticks, 77u);
}

TEST(ProcStat, RejectsTruncatedAndGarbage) {
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("no paren here").has_value());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12ab 0").has_value());
}

TEST(ProcStat, ReadsOwnProcess) {
  const auto stat = ReadProcStat(getpid());
  ASSERT_TRUE(stat.ok());
  EXPECT_GT(stat.value().start_ticks, 0u);
}

TEST(ProcStat, MissingProcessIsEnoent) {
  const auto stat = ReadProcStat(getpid(), "/nonexistent-proc-root");
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().err, ENOENT);
}

TEST(ProcessKill, MismatchedStartTimeIsNotSignalled) {
  const auto own = ReadProcStat(getpid());
  ASSERT_TRUE(own.ok());
  // Signal 0 would be harmless anyway; the point is that a wrong start time is refused.
  const auto outcome = KillIfSameProcess(getpid(), own.value().start_ticks + 1, 0);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.value(), KillOutcome::kMismatch);
}

TEST(ProcessKill, RefusesInit) {
  EXPECT_FALSE(KillIfSameProcess(1, 0, 0).ok());
}

}  // namespace
}  // namespace faultd::core
