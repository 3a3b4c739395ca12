// SPDX-License-Identifier: Apache-2.0
#include "h2_transport.h"

#include <sys/socket.h>

#include <cerrno>


namespace faultd::core::http {

ssize_t FdTransport::Write(const iovec* iov, int iovcnt) noexcept {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  for (;;) {
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

}  // namespace faultd::core::http
