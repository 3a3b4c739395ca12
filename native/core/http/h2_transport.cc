// SPDX-License-Identifier: Apache-2.0
#include "h2_transport.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../tls/tls_stream.h"

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

ssize_t TlsTransport::Write(const iovec* iov, int iovcnt) noexcept {
  constexpr size_t kRecord = 16384;
  blocked_on_read_ = false;
  ssize_t total = 0;
  int i = 0;
  size_t skip = 0;  // bytes of iov[i] already taken
  while (i < iovcnt) {
    const void* data;
    size_t len;
    unsigned char joined[kRecord];
    if (iov[i].iov_len - skip >= kRecord || i + 1 == iovcnt) {
      data = static_cast<const char*>(iov[i].iov_base) + skip;  // large or last piece: as is
      len = iov[i].iov_len - skip;
    } else {
      len = 0;
      for (int j = i; j < iovcnt && len < kRecord; ++j) {
        const size_t from = j == i ? skip : 0;
        const size_t take = std::min(kRecord - len, iov[j].iov_len - from);
        std::memcpy(joined + len, static_cast<const char*>(iov[j].iov_base) + from, take);
        len += take;
      }
      data = joined;
    }
    const tls::IoResult r = stream_->Write(data, len);
    if (r.status == tls::IoStatus::kError || r.status == tls::IoStatus::kClosed) return total > 0 ? total : -1;
    if (r.status == tls::IoStatus::kWantRead) blocked_on_read_ = true;
    if (r.bytes == 0) return total;
    total += static_cast<ssize_t>(r.bytes);
    // Advance through the iovec by r.bytes.
    size_t left = r.bytes;
    while (left > 0 && i < iovcnt) {
      const size_t here = iov[i].iov_len - skip;
      if (left >= here) {
        left -= here;
        ++i;
        skip = 0;
      } else {
        skip += left;
        left = 0;
      }
    }
    while (i < iovcnt && iov[i].iov_len == skip) {
      ++i;
      skip = 0;
    }
    if (r.bytes < len) return total;  // partial: the socket is full
  }
  return total;
}

}  // namespace faultd::core::http
