// SPDX-License-Identifier: Apache-2.0
// The life of a load-carrying stressor (see lifecycle.h).
#include "lifecycle.h"

#include <fcntl.h>

#include <cerrno>
#include <string_view>

#include "../core/parent_death.h"

namespace faultd::stressor {

bool TieToParent(pid_t parent_pid) noexcept {
  if (!core::DieWithParent(parent_pid)) return false;
  const int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!write(fd, "1000", 4);
    close(fd);
  }
  return true;
}

bool WaitForGo() noexcept {
  char line[8] = {};
  size_t used = 0;
  while (used < sizeof(line) - 1) {
    const ssize_t n = read(STDIN_FILENO, line + used, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (line[used] == '\n') return std::string_view(line, used) == "go";
    ++used;
  }
  return false;
}

sigset_t BlockStopSignals() noexcept {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

}  // namespace faultd::stressor
