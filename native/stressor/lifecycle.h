// SPDX-License-Identifier: Apache-2.0
// The life of a load-carrying stressor, shared by every Lifecycle::kLoad mode: tied to faultd
// (PR_SET_PDEATHSIG, oom_score_adj=1000), idle until "go" on stdin when asked, and stopped at
// once by SIGTERM/SIGINT/SIGHUP.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace faultd::stressor {

/// Killed when the parent dies, first in line for the OOM killer. False when PR_SET_PDEATHSIG
/// fails or `parent_pid` (0: not checked) is already gone.
bool TieToParent(pid_t parent_pid) noexcept;

/// Reads stdin until a line "go"; false on EOF or anything else (faultd gave up: exit quietly).
bool WaitForGo() noexcept;

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (before any worker thread exists, so
/// workers inherit the mask and only the main thread's sigtimedwait receives them); returns them.
sigset_t BlockStopSignals() noexcept;

/// Runs until a stop signal or until `still_ok()` turns false (polled every 100 ms); returns
/// only in the second case. A stop signal ends the process at once with _exit(0): the kernel
/// tears down the workers and their memory, so a stop never waits for a worker's period or a
/// large munmap.
template <typename Check>
void RunUntilStopOrFailure(const sigset_t& stop_signals, Check still_ok) {
  const timespec poll{0, 100'000'000};
  for (;;) {
    if (sigtimedwait(&stop_signals, nullptr, &poll) > 0) {
      std::fflush(stdout);
      _exit(0);
    }
    if (!still_ok()) return;
  }
}

}  // namespace faultd::stressor
