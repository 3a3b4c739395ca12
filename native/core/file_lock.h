// SPDX-License-Identifier: Apache-2.0
// Advisory whole-file locks (flock(2)), which Node does not expose. The ledger uses them so that
// several faultd processes sharing one state dir never lose a record to a concurrent compaction.
#pragma once

#include "sys_result.h"

namespace faultd::core {

enum class LockMode { kShared, kExclusive, kUnlock };

/// Equivalent to: `flock -n [-s|-x|-u] <fd>`. Never blocks: returns false when the lock is held
/// elsewhere (EWOULDBLOCK), true when taken (or released).
Result<bool> TryLock(int fd, LockMode mode) noexcept;

}  // namespace faultd::core
