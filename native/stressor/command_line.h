// SPDX-License-Identifier: Apache-2.0
// The faultd-stressor command line, read through the table of modes:
//   faultd-stressor <mode> [mode options] [common options]
// The common options of the load modes (--parent-pid=PID, --tag=FAULT_ID, --wait-go) are read
// here once; every other argument goes to the mode's parse, then the mode's validate checks the
// whole. The usage text is built from the table.
#pragma once

#include <sys/types.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "mode.h"

namespace faultd::stressor {

/// A command line that parsed and validated.
struct Command {
  const ModeInfo* mode = nullptr;
  std::unique_ptr<ModeOptions> options;
  /// Exit at once if this is not the parent (0: not checked).
  pid_t parent_pid = 0;
  /// Start no load until a line "go" arrives on stdin.
  bool wait_go = false;
};

/// The result of reading a command line: `error` is empty exactly when `command` is usable.
struct ParsedCommandLine {
  Command command;
  /// Why the command line is refused, naming the mode, the argument and the allowed range.
  std::string error;
  /// What to print under the error: the mode's own usage line, or the whole usage text.
  std::string usage;
};

/// Reads `args` (argv without argv[0]).
ParsedCommandLine ParseCommandLine(std::span<const std::string_view> args);

/// `faultd-stressor <mode> <synopsis>` of one mode.
std::string ModeUsage(const ModeInfo& mode);

/// Every mode's usage line and the common options, from the table of modes.
std::string UsageText();

}  // namespace faultd::stressor
