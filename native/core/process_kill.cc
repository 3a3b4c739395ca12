// SPDX-License-Identifier: Apache-2.0
#include "process_kill.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "proc_stat.h"
#include "unique_fd.h"

// Old kernel headers (CentOS 7) lack these numbers; the syscalls are feature-tested at run time.
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace faultd::core {
namespace {

bool IsGone(int err) noexcept { return err == ENOENT || err == ESRCH; }

// Reads the stat of `pid` and classifies it against the expected start time.
Result<KillOutcome> Classify(pid_t pid, uint64_t start_ticks) noexcept {
  const auto stat = ReadProcStat(pid);
  if (!stat.ok()) {
    if (IsGone(stat.error().err)) return KillOutcome::kAbsent;
    return stat.error();
  }
  if (stat.value().start_ticks != start_ticks) return KillOutcome::kMismatch;
  if (stat.value().state == 'Z' || stat.value().state == 'X') return KillOutcome::kAbsent;
  return KillOutcome::kSignalled;
}

}  // namespace

Result<KillOutcome> KillIfSameProcess(pid_t pid, uint64_t start_ticks, int signal) noexcept {
  if (pid <= 1) return SysError{EINVAL, "kill", "refusing to signal pid <= 1"};
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    if (IsGone(errno)) return KillOutcome::kAbsent;
    if (errno != ENOSYS) return ErrnoError("pidfd_open");
    // Pre-5.3 kernel: check, then kill.
    auto outcome = Classify(pid, start_ticks);
    if (!outcome.ok() || outcome.value() != KillOutcome::kSignalled) return outcome;
    if (::kill(pid, signal) != 0) {
      if (IsGone(errno)) return KillOutcome::kAbsent;
      return ErrnoError("kill");
    }
    return KillOutcome::kSignalled;
  }
  // The pidfd now refers to one process for good; verify it is the one we started.
  auto outcome = Classify(pid, start_ticks);
  if (!outcome.ok() || outcome.value() != KillOutcome::kSignalled) return outcome;
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0) {
    if (IsGone(errno)) return KillOutcome::kAbsent;
    return ErrnoError("pidfd_send_signal");
  }
  return KillOutcome::kSignalled;
}

}  // namespace faultd::core
