// SPDX-License-Identifier: Apache-2.0
// Reading /proc/<pid>/stat. A process is identified by (pid, start time): the start time
// (field 22, clock ticks since boot) differs when the kernel reuses a pid, so a revert that
// compares it never signals an unrelated process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "sys_result.h"

namespace faultd::core {

struct ProcStat {
  char state = '?';           // field 3: R, S, D, Z, T, ...
  uint64_t start_ticks = 0;   // field 22
};

/// Parses the text of /proc/<pid>/stat. The command name (field 2) may contain spaces and
/// parentheses, so parsing resumes after its last ')'. Returns nullopt on malformed text.
std::optional<ProcStat> ParseProcStat(std::string_view text) noexcept;

/// Reads /proc/<pid>/stat (root given for tests). ENOENT/ESRCH mean the process is gone.
Result<ProcStat> ReadProcStat(pid_t pid, const char* proc_root = "/proc") noexcept;

}  // namespace faultd::core
