// SPDX-License-Identifier: Apache-2.0
#include "file_lock.h"

#include <sys/file.h>

#include <cerrno>

namespace faultd::core {

Result<bool> TryLock(int fd, LockMode mode) noexcept {
  const int op = mode == LockMode::kShared ? LOCK_SH : mode == LockMode::kExclusive ? LOCK_EX : LOCK_UN;
  for (;;) {
    if (::flock(fd, op | (mode == LockMode::kUnlock ? 0 : LOCK_NB)) == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    return ErrnoError("flock");
  }
}

}  // namespace faultd::core
