// SPDX-License-Identifier: Apache-2.0
// Resource limits Node cannot read (getrlimit is not exposed by Node).
#pragma once

#include <cstdint>
#include <optional>

#include "sys_result.h"

namespace faultd::core {

struct Limit {
  std::optional<uint64_t> soft;  // nullopt = unlimited
  std::optional<uint64_t> hard;
};

/// RLIMIT_MEMLOCK of the calling process, in bytes. Equivalent to: `ulimit -l` (in KiB).
Result<Limit> MemlockLimit() noexcept;

}  // namespace faultd::core
