// SPDX-License-Identifier: Apache-2.0
#include "file_space.h"

#include <fcntl.h>

#include <cerrno>

namespace faultd::core {

Status Fallocate(int fd, std::uint64_t length) noexcept {
  for (;;) {
    if (::fallocate(fd, 0, 0, static_cast<off_t>(length)) == 0) return Ok{};
    if (errno != EINTR) return ErrnoError("fallocate");
  }
}

}  // namespace faultd::core
