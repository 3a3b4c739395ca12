// SPDX-License-Identifier: Apache-2.0
// The table of faultd-stressor modes. A new mode is one mode_<name>.cc and one row here.
#include "mode.h"

namespace faultd::stressor {
namespace {

// Pointers, not copies: the rows are defined in other translation units.
const ModeInfo* const kModes[] = {&kCpuMode, &kMemoryMode, &kIoMode, &kDelayMode, &kDnsMode, &kHttpMode, &kPidsMode, &kProbeQdiscMode, &kProbeNfqueueMode, &kProbeNatMode, &kProbeIfbMode, &kProbeXtablesMode};

}  // namespace

std::span<const ModeInfo* const> AllModes() noexcept { return kModes; }

const ModeInfo* FindMode(std::string_view name) noexcept {
  for (const ModeInfo* mode : kModes) {
    if (mode->name == name) return mode;
  }
  return nullptr;
}

}  // namespace faultd::stressor
