// SPDX-License-Identifier: Apache-2.0
// Reserving disk blocks for a file at once (fallocate(2)), which Node does not expose: the
// disk-fill fault takes a filesystem's free space without writing the bytes.
#pragma once

#include <cstdint>

#include "sys_result.h"

namespace faultd::core {

/// Allocates bytes [0, length) of the open file `fd`. EOPNOTSUPP on filesystems without
/// fallocate (the caller falls back to writing); ENOSPC when the space is not there.
Status Fallocate(int fd, std::uint64_t length) noexcept;

}  // namespace faultd::core
