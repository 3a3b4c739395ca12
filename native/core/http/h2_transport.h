// SPDX-License-Identifier: Apache-2.0
// Where the HTTP/2 bridge writes one side's bytes: a plain socket (sendmsg with an iovec, so a
// DATA frame's header and payload leave in one call without being joined first) or a TLS stream.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace faultd::core::tls {
class TlsStream;
}

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

/// An established TLS stream (not owned). Small pieces are joined into one TLS record of at most
/// 16 KiB (one SSL_write per record instead of one per piece); the join is the only copy, and
/// encryption copies anyway.
class TlsTransport final : public H2Transport {
 public:
  explicit TlsTransport(tls::TlsStream* stream) noexcept : stream_(stream) {}
  ssize_t Write(const iovec* iov, int iovcnt) noexcept override;
  /// The stream wants to read before it can write again (TLS 1.3 key update): poll for input.
  [[nodiscard]] bool blocked_on_read() const noexcept { return blocked_on_read_; }

 private:
  tls::TlsStream* stream_;
  bool blocked_on_read_ = false;
};

}  // namespace faultd::core::http
