// SPDX-License-Identifier: Apache-2.0
#include "rlimit.h"

#include <sys/resource.h>

namespace faultd::core {
namespace {

std::optional<uint64_t> Finite(rlim_t value) noexcept {
  if (value == RLIM_INFINITY) return std::nullopt;
  return static_cast<uint64_t>(value);
}

}  // namespace

Result<Limit> MemlockLimit() noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_MEMLOCK, &lim) != 0) return ErrnoError("getrlimit");
  return Limit{Finite(lim.rlim_cur), Finite(lim.rlim_max)};
}

}  // namespace faultd::core
