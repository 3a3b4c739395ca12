// SPDX-License-Identifier: Apache-2.0
#include "sys_result.h"

#include <cerrno>

namespace faultd::core {

SysError ErrnoError(const char* syscall, std::string detail) noexcept {
  return SysError{errno, syscall, std::move(detail)};
}

}  // namespace faultd::core
