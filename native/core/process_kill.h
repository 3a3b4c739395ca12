// SPDX-License-Identifier: Apache-2.0
// Signalling a process only if it is still the one we started.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "sys_result.h"

namespace faultd::core {

enum class KillOutcome {
  kSignalled,  // the process matched (pid and start time) and was signalled
  kAbsent,     // no such pid, or it is already a zombie: nothing to do
  kMismatch,   // the pid now belongs to another process (pid reuse): left alone
};

/// Equivalent to: `kill -SIG <pid>`, but only when /proc/<pid>/stat still shows `start_ticks`.
/// Race-free where pidfd_open(2) exists (Linux 5.3+): the pidfd pins the process, the start
/// time is re-read after opening it, and the signal goes through pidfd_send_signal(2). On older
/// kernels it falls back to check-then-kill(2), whose window is microseconds.
Result<KillOutcome> KillIfSameProcess(pid_t pid, uint64_t start_ticks, int signal) noexcept;

}  // namespace faultd::core
