// SPDX-License-Identifier: Apache-2.0
// The systemd notification protocol (sd_notify(3)) without libsystemd: one datagram of
// newline-separated KEY=VALUE assignments to the AF_UNIX socket named by $NOTIFY_SOCKET.
// Node has no AF_UNIX datagram sockets, so the daemon's READY=1, STATUS=, WATCHDOG=1 and
// STOPPING=1 go through here.
#pragma once

#include <string_view>

#include "sys_result.h"

namespace faultd::core {

/// Sends `state` to `socket_path` (a filesystem path, or "@name" for an abstract socket).
/// EINVAL when the path is empty, relative or too long for sockaddr_un.
Status SdNotify(std::string_view socket_path, std::string_view state) noexcept;

}  // namespace faultd::core
