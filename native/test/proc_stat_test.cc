// SPDX-License-Identifier: Apache-2.0
#include "../core/proc_stat.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <utility>
#include <vector>

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

TEST(ProcessKill, RefusesInitOnThePidPath) {
  EXPECT_FALSE(KillIfSameProcess(1, 0, 0, SignalPath::kPidStartChecked).ok());
}

TEST(ProcessKill, ThisKernelHasPidfds) {
  // 6.x here; the fallback is selected only by ENOSYS/EPERM, which the tests below force.
  EXPECT_EQ(DetectSignalPath(), SignalPath::kPidfd);
}

// The kill(2) path with scripted stat reads: `stats` answers the reads in order, `sent` records kills.
struct ScriptedPid {
  explicit ScriptedPid(std::vector<Result<ProcStat>> answers, int kill_errno = 0)
      : stats(std::move(answers)), send_errno(kill_errno) {}
  std::vector<Result<ProcStat>> stats;
  size_t reads = 0;
  std::vector<int> sent;
  int send_errno = 0;
  PidSignalOps Ops() {
    return {[this](pid_t) { return stats.at(reads++); },
            [this](pid_t, int signal) {
              sent.push_back(signal);
              return send_errno;
            }};
  }
};

ProcStat Running(uint64_t start) { return ProcStat{'S', start}; }

TEST(ProcessKillByPid, MatchingStartTimeBeforeAndAfterIsSignalled) {
  ScriptedPid p({Running(500), Running(500)});
  const auto outcome = KillByPidChecked(4242, 500, SIGTERM, p.Ops());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.value(), KillOutcome::kSignalled);
  EXPECT_EQ(p.sent, std::vector<int>{SIGTERM});
  EXPECT_EQ(p.reads, 2u);
}

TEST(ProcessKillByPid, ChangedStartTimeBeforeIsNotSignalled) {
  ScriptedPid p({Running(501)});
  const auto outcome = KillByPidChecked(4242, 500, SIGKILL, p.Ops());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.value(), KillOutcome::kMismatch);
  EXPECT_TRUE(p.sent.empty());
}

TEST(ProcessKillByPid, ChangedStartTimeAfterIsReportedAsReused) {
  ScriptedPid p({Running(500), Running(777)});
  const auto outcome = KillByPidChecked(4242, 500, SIGKILL, p.Ops());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.value(), KillOutcome::kReused);
  EXPECT_EQ(p.sent, std::vector<int>{SIGKILL});
}

TEST(ProcessKillByPid, GoneOrZombieAfterTheSignalIsSignalled) {
  ScriptedPid gone({Running(500), SysError{ENOENT, "open", {}}});
  EXPECT_EQ(KillByPidChecked(4242, 500, SIGKILL, gone.Ops()).value(), KillOutcome::kSignalled);
  ScriptedPid zombie({Running(500), ProcStat{'Z', 500}});
  EXPECT_EQ(KillByPidChecked(4242, 500, SIGKILL, zombie.Ops()).value(), KillOutcome::kSignalled);
}

TEST(ProcessKillByPid, AbsentOrZombieBeforeIsNotSignalled) {
  ScriptedPid gone({SysError{ESRCH, "open", {}}});
  EXPECT_EQ(KillByPidChecked(4242, 500, SIGKILL, gone.Ops()).value(), KillOutcome::kAbsent);
  ScriptedPid zombie({ProcStat{'Z', 500}});
  EXPECT_EQ(KillByPidChecked(4242, 500, SIGKILL, zombie.Ops()).value(), KillOutcome::kAbsent);
  EXPECT_TRUE(gone.sent.empty());
  EXPECT_TRUE(zombie.sent.empty());
}

TEST(ProcessKillByPid, KillErrorsAreReported) {
  ScriptedPid exited({Running(500)}, ESRCH);
  EXPECT_EQ(KillByPidChecked(4242, 500, SIGKILL, exited.Ops()).value(), KillOutcome::kAbsent);
  ScriptedPid denied({Running(500)}, EPERM);
  const auto outcome = KillByPidChecked(4242, 500, SIGKILL, denied.Ops());
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().err, EPERM);
  EXPECT_STREQ(outcome.error().syscall, "kill");
}

TEST(ProcessKillByPid, RealChildThroughTheForcedPidPath) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  const auto stat = ReadProcStat(child);
  ASSERT_TRUE(stat.ok());
  const uint64_t start = stat.value().start_ticks;
  EXPECT_EQ(KillIfSameProcess(child, start + 1, SIGKILL, SignalPath::kPidStartChecked).value(), KillOutcome::kMismatch);
  EXPECT_EQ(KillIfSameProcess(child, start, 0, SignalPath::kPidStartChecked).value(), KillOutcome::kSignalled);
  EXPECT_EQ(KillIfSameProcess(child, start, SIGKILL, SignalPath::kPidStartChecked).value(), KillOutcome::kSignalled);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(KillIfSameProcess(child, start, SIGKILL, SignalPath::kPidStartChecked).value(), KillOutcome::kAbsent);
}

}  // namespace
}  // namespace faultd::core
