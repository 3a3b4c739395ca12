// SPDX-License-Identifier: Apache-2.0
#include "parent_death.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

namespace faultd::core {

bool DieWithParent(pid_t parent_pid) noexcept {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return false;
  // The parent may have died before prctl took effect: then we were re-parented already.
  return parent_pid == 0 || getppid() == parent_pid;
}

}  // namespace faultd::core
