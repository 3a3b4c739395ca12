// SPDX-License-Identifier: Apache-2.0
#include "process_kill.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "unique_fd.h"

// Old kernel headers (CentOS 7's 3.10, Ubuntu 16.04's 4.4) lack these numbers; the syscalls are
// feature-tested at run time. Since Linux 5.1 new syscalls share one number on every
// architecture except alpha (+110) and mips (per ABI: o32 +4000, n64 +5000, n32 +6000).
#if !defined(__NR_pidfd_send_signal) || !defined(__NR_pidfd_open)
#if defined(__alpha__)
#define FAULTD_NR_OFFSET 110
#elif defined(__mips__) && _MIPS_SIM == _MIPS_SIM_ABI32
#define FAULTD_NR_OFFSET 4000
#elif defined(__mips__) && _MIPS_SIM == _MIPS_SIM_ABI64
#define FAULTD_NR_OFFSET 5000
#elif defined(__mips__) && _MIPS_SIM == _MIPS_SIM_NABI32
#define FAULTD_NR_OFFSET 6000
#else
#define FAULTD_NR_OFFSET 0
#endif
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal (424 + FAULTD_NR_OFFSET)
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open (434 + FAULTD_NR_OFFSET)
#endif

namespace faultd::core {
namespace {

bool IsGone(int err) noexcept { return err == ENOENT || err == ESRCH; }

// pidfd_open/pidfd_send_signal refused by a kernel that predates them, or by a seccomp filter
// that does (they answer EPERM for unknown syscalls); a real pidfd_open never says EPERM.
bool IsUnavailable(int err) noexcept { return err == ENOSYS || err == EPERM; }

// Reads the stat of `pid` and classifies it against the expected start time.
Result<KillOutcome> Classify(pid_t pid, uint64_t start_ticks, const PidSignalOps& ops) noexcept {
  const auto stat = ops.read_stat(pid);
  if (!stat.ok()) {
    if (IsGone(stat.error().err)) return KillOutcome::kAbsent;
    return stat.error();
  }
  if (stat.value().start_ticks != start_ticks) return KillOutcome::kMismatch;
  if (stat.value().state == 'Z' || stat.value().state == 'X') return KillOutcome::kAbsent;
  return KillOutcome::kSignalled;
}

const PidSignalOps& RealOps() noexcept {
  static const PidSignalOps ops{
      [](pid_t pid) { return ReadProcStat(pid); },
      [](pid_t pid, int signal) { return ::kill(pid, signal) == 0 ? 0 : errno; },
  };
  return ops;
}

}  // namespace

SignalPath DetectSignalPath() noexcept {
  const UniqueFd own(static_cast<int>(::syscall(__NR_pidfd_open, ::getpid(), 0)));
  if (!own.valid() && IsUnavailable(errno)) return SignalPath::kPidStartChecked;
  return SignalPath::kPidfd;
}

Result<KillOutcome> KillByPidChecked(pid_t pid, uint64_t start_ticks, int signal, const PidSignalOps& ops) noexcept {
  if (pid <= 1) return SysError{EINVAL, "kill", "refusing to signal pid <= 1"};
  auto before = Classify(pid, start_ticks, ops);
  if (!before.ok() || before.value() != KillOutcome::kSignalled) return before;
  const int err = ops.send(pid, signal);
  if (err != 0) {
    if (IsGone(err)) return KillOutcome::kAbsent;
    errno = err;
    return ErrnoError("kill");
  }
  // Gone or a zombie now is the expected effect of a fatal signal; another start time means the
  // pid was reused around the kill.
  const auto after = Classify(pid, start_ticks, ops);
  if (after.ok() && after.value() == KillOutcome::kMismatch) return KillOutcome::kReused;
  return KillOutcome::kSignalled;
}

Result<KillOutcome> KillIfSameProcess(pid_t pid, uint64_t start_ticks, int signal, SignalPath path) noexcept {
  if (pid <= 1) return SysError{EINVAL, "kill", "refusing to signal pid <= 1"};
  if (path == SignalPath::kPidStartChecked) return KillByPidChecked(pid, start_ticks, signal, RealOps());
  UniqueFd pidfd(static_cast<int>(::syscall(__NR_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    if (IsGone(errno)) return KillOutcome::kAbsent;
    if (IsUnavailable(errno)) return KillByPidChecked(pid, start_ticks, signal, RealOps());
    return ErrnoError("pidfd_open");
  }
  // The pidfd now refers to one process for good; verify it is the one we started.
  auto outcome = Classify(pid, start_ticks, RealOps());
  if (!outcome.ok() || outcome.value() != KillOutcome::kSignalled) return outcome;
  if (::syscall(__NR_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0) {
    if (IsGone(errno)) return KillOutcome::kAbsent;
    // A filter that allows pidfd_open but not pidfd_send_signal: the pidfd proves nothing then.
    if (IsUnavailable(errno)) return KillByPidChecked(pid, start_ticks, signal, RealOps());
    return ErrnoError("pidfd_send_signal");
  }
  return KillOutcome::kSignalled;
}

}  // namespace faultd::core
