// SPDX-License-Identifier: Apache-2.0
// Where the HTTP/2 bridge writes one side's bytes. The interceptor gives it its own connection
// sides (plain or TLS); FdTransport is a plain socket (sendmsg with an iovec, so a DATA frame's
// header and payload leave in one call without being joined first).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace faultd::core::http {

/// A non-blocking byte sink. Write takes as many leading bytes of `iov` as it can without
/// blocking and returns their count (0 when full), or -1 when the connection is broken. The
/// bytes it did not take are offered again first, and no fewer of them, by the next call.
class H2Transport {
 public:
  virtual ~H2Transport() = default;
  virtual ssize_t Write(const iovec* iov, int iovcnt) noexcept = 0;
};

/// A connected non-blocking socket (not owned). SIGPIPE is never raised (MSG_NOSIGNAL).
class FdTransport final : public H2Transport {
 public:
  explicit FdTransport(int fd) noexcept : fd_(fd) {}
  ssize_t Write(const iovec* iov, int iovcnt) noexcept override;

 private:
  int fd_;
};

}  // namespace faultd::core::http
