// SPDX-License-Identifier: Apache-2.0
// Tying a process's life to its parent's (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

namespace faultd::core {

/// The kernel SIGKILLs the calling process when its parent exits. False when PR_SET_PDEATHSIG
/// fails or `parent_pid` (0: not checked) is no longer the parent: it died before the call.
bool DieWithParent(pid_t parent_pid) noexcept;

}  // namespace faultd::core
