// SPDX-License-Identifier: Apache-2.0
// rtnetlink link operations faultd needs for ingress faults: create a virtual device (an IFB
// that ingress traffic is redirected to), bring it up, delete it.
#pragma once

#include <string>

#include "../sys_result.h"

namespace faultd::core::nl {

/// Equivalent to: `ip link add <name> type <kind>` (EEXIST if the name is taken).
Status AddLink(const std::string& name, const std::string& kind) noexcept;

/// Equivalent to: `ip link set <name> up`.
Status SetLinkUp(const std::string& name) noexcept;

/// Equivalent to: `ip link del <name>`; false if there was no such device (idempotent).
Result<bool> DeleteLink(const std::string& name) noexcept;

}  // namespace faultd::core::nl
