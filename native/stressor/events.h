// SPDX-License-Identifier: Apache-2.0
// The JSON lines a stressor prints on stdout for faultd (stressor-process.ts reads them):
// {"event":"ready"}, {"event":"error","errno":N,"syscall":"...","message":"..."}, and each
// mode's own events. Every line is flushed at once: faultd waits for them.
#pragma once

#include <string>
#include <string_view>

#include "../core/sys_result.h"
#include "options.h"

namespace faultd::stressor {

/// `text` as the inside of a JSON string: quotes and backslashes escaped, control characters dropped.
std::string JsonEscape(std::string_view text);

/// Prints `line` and a newline, and flushes.
void EmitLine(std::string_view line);

/// {"event":"ready"}: the load is running.
void EmitReady();

/// {"event":"error",...}: the stress failed; faultd shows `syscall: message`.
void EmitError(const core::SysError& error);

}  // namespace faultd::stressor
