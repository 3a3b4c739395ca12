// SPDX-License-Identifier: Apache-2.0
// Signalling a process only if it is still the one we started.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>

#include "proc_stat.h"
#include "sys_result.h"

namespace faultd::core {

enum class KillOutcome {
  kSignalled,  // the process matched (pid and start time) and was signalled
  kAbsent,     // no such pid, or it is already a zombie: nothing to do
  kMismatch,   // the pid now belongs to another process (pid reuse): left alone
  kReused,     // kill(2) path only: the pid changed owner between the signal and the check after
               // it, so the signal may have reached the new process (reported, cannot be undone)
};

/// How a signal reaches its process.
enum class SignalPath {
  kPidfd,            // pidfd_open + pidfd_send_signal (Linux 5.3+): race-free
  kPidStartChecked,  // kill(2) between two start-time checks: the fallback for older kernels
};

/// Which path this kernel allows, asked at run time: pidfd_open(2) on our own pid. ENOSYS (a
/// kernel before 5.3) or EPERM (a seccomp filter that predates the syscall, such as Docker's
/// before 20.10) mean kPidStartChecked. Not cached: a few microseconds.
SignalPath DetectSignalPath() noexcept;

/// Equivalent to: `kill -SIG <pid>`, but only when /proc/<pid>/stat still shows `start_ticks`.
/// kPidfd: the pidfd pins the process, the start time is re-read after opening it, and the
/// signal goes through pidfd_send_signal(2); where the kernel answers ENOSYS/EPERM it takes the
/// kPidStartChecked path instead. kPidStartChecked (forced, or the fallback): the start time is
/// read immediately before and after kill(2); see KillByPidChecked.
Result<KillOutcome> KillIfSameProcess(pid_t pid, uint64_t start_ticks, int signal,
                                      SignalPath path = SignalPath::kPidfd) noexcept;

/// What the kill(2) path uses, injectable for tests: the stat read and the kill (0 or errno).
struct PidSignalOps {
  std::function<Result<ProcStat>(pid_t)> read_stat;
  std::function<int(pid_t, int)> send;
};

/// The kill(2) path: read the start time, kill(pid) only if it matches, read it again. The
/// window in which a reused pid could be hit is the time between the first read and the kill,
/// a few microseconds, and the pid must have exited and the kernel must have cycled through
/// every other free pid (pid_max) within it. The second read reports such a reuse (kReused).
Result<KillOutcome> KillByPidChecked(pid_t pid, uint64_t start_ticks, int signal, const PidSignalOps& ops) noexcept;

}  // namespace faultd::core
