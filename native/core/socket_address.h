// SPDX-License-Identifier: Apache-2.0
// The address a listening socket binds to: the family's wildcard or loopback address and a port,
// ready for bind(2), and the port a socket got. One place for the sockaddr_in / sockaddr_in6 filling the interceptors share.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace faultd::core {

enum class BindScope { kAnyAddress, kLoopback };

/// Fills `out` with `family`'s (AF_INET or AF_INET6) wildcard or loopback address and `port`
/// (host order); returns the length to pass to bind(2).
inline socklen_t ListenAddress(int family, BindScope scope, uint16_t port, sockaddr_storage* out) noexcept {
  *out = sockaddr_storage{};
  if (family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(out);
    a->sin6_family = AF_INET6;
    a->sin6_addr = scope == BindScope::kLoopback ? in6addr_loopback : in6addr_any;
    a->sin6_port = htons(port);
    return sizeof(*a);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(out);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(scope == BindScope::kLoopback ? INADDR_LOOPBACK : INADDR_ANY);
  a->sin_port = htons(port);
  return sizeof(*a);
}

/// The local port `fd` is bound to (host order), or 0 when getsockname fails.
inline uint16_t BoundPort(int fd) noexcept {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace faultd::core
