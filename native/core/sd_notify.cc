// SPDX-License-Identifier: Apache-2.0
#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "unique_fd.h"

namespace faultd::core {

Status SdNotify(std::string_view socket_path, std::string_view state) noexcept {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const bool abstract = !socket_path.empty() && socket_path.front() == '@';
  if (socket_path.empty() || (!abstract && socket_path.front() != '/') || socket_path.size() >= sizeof(address.sun_path)) {
    errno = EINVAL;
    return ErrnoError("connect", "NOTIFY_SOCKET must be an absolute path or @abstract name shorter than 108 bytes");
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  if (abstract) address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size() + (abstract ? 0 : 1));
  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError("socket");
  for (;;) {
    const ssize_t sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), length);
    if (sent >= 0) return Ok{};
    if (errno != EINTR) return ErrnoError("sendto", std::string(socket_path));
  }
}

}  // namespace faultd::core
