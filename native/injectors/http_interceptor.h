// SPDX-License-Identifier: Apache-2.0
// The HTTP interceptor: the local proxy that faultd's nf_tables nat chain redirects a service's
// HTTP traffic to (`redirect to :PORT`). It listens on the IPv4+IPv6 wildcard, connects each
// client connection to its original destination (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST, or a
// fixed upstream) with sockets carrying `mark` (SO_MARK, which the chain accepts before it
// redirects), and relays HTTP/1.1: a request its HttpPolicy faults is blocked, delayed or
// rewritten; every other request and its response pass through byte for byte, straight from the
// read buffers (no re-serializing, no re-chunking).
//
// Threads: one epoll loop per thread, each with its own SO_REUSEPORT listener, so the kernel
// spreads connections over the loops and a connection lives in one thread only.
//
// TLS and HTTP/2 (native/core/tls, native/core/http/h2_*, injectors/http_tls):
//  - Transport: each side of a connection is a byte stream behind this small interface, over its
//    non-blocking fd. PlainTransport is read/writev/shutdown; TlsTransport (OpenSSL over the
//    same fd, http_tls.h) reports through WaitsFor() which readiness an operation that returned
//    kAgain waits for (SSL_ERROR_WANT_READ/WRITE). With spec.tls both sides are TLS and their
//    handshakes run coupled before any byte is relayed (TlsHandshakes: the client's SNI and ALPN
//    offer go upstream, the upstream's choice comes back).
//  - Codec selection: a connection whose first client bytes are the HTTP/2 preface
//    (core::http::kH2Preface), or whose TLS ALPN chose "h2", is not an HTTP/1.1 exchange: the
//    loop hands it to the HTTP/2 bridge (StartH2/DriveH2), fed the bytes either side sent so
//    far, which decides each stream with the same Decide() (HttpRequestHead from
//    :method/:path/:authority/headers).
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "../core/sys_result.h"
#include "../core/unique_fd.h"
#include "http_policy.h"

namespace faultd::inj {

struct HttpTls;  // http_tls.h: the TLS contexts (--tls-cert/--tls-key/--upstream-ca)

/// One side's byte stream over a non-blocking socket.
class Transport {
 public:
  enum class Io { kOk, kAgain, kEof, kError };
  enum class Want { kRead, kWrite };

  virtual ~Transport() = default;
  [[nodiscard]] virtual int fd() const noexcept = 0;
  /// Reads up to `len` bytes into `buf` (`*n` of them with kOk). `*exhausted` true: wait for
  /// readiness before reading again (a short plain read means the socket is drained).
  virtual Io Read(char* buf, size_t len, size_t* n, bool* exhausted) noexcept = 0;
  /// Writes the buffers in order (`*n` bytes written with kOk); `*exhausted` as for Read.
  virtual Io Writev(const iovec* iov, int count, size_t* n, bool* exhausted) noexcept = 0;
  /// No more bytes will be written (half-close once everything written has been sent).
  virtual void ShutdownWrite() noexcept = 0;
  /// After kAgain from Read (`for_read`) or Writev: the readiness the operation waits for.
  [[nodiscard]] virtual Want WaitsFor(bool for_read) const noexcept { return for_read ? Want::kRead : Want::kWrite; }
};

/// The plain TCP transport: read(2), writev(2), shutdown(2).
class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(core::UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  [[nodiscard]] int fd() const noexcept override { return fd_.get(); }
  Io Read(char* buf, size_t len, size_t* n, bool* exhausted) noexcept override;
  Io Writev(const iovec* iov, int count, size_t* n, bool* exhausted) noexcept override;
  void ShutdownWrite() noexcept override;

 private:
  core::UniqueFd fd_;
};

struct HttpInterceptorSpec {
  /// Port on the IPv4+IPv6 wildcard; 0 picks a free one (see port()).
  uint16_t port = 0;
  uint32_t mark = 0;
  /// Event loops (threads), each with its own SO_REUSEPORT listener.
  int threads = 1;
  /// A fixed upstream (tests, bench); without it each connection goes to its original destination.
  bool has_upstream = false;
  sockaddr_storage upstream{};
  socklen_t upstream_len = 0;
  /// After SIGTERM: longest wait for the exchanges in flight.
  uint32_t grace_ms = 2000;
  /// A connection with no bytes either way for this long is closed (a tunnel: ten times this).
  uint32_t idle_timeout_ms = 60'000;
  /// Most client connections open at once (over all threads).
  uint32_t max_connections = 4096;
  /// Set: TLS is terminated on both sides (ALPN h2 / http/1.1, the upstream's choice).
  std::shared_ptr<const HttpTls> tls;
};

struct HttpStats {
  uint64_t connections = 0;  ///< client connections accepted
  uint64_t open = 0;         ///< client connections open now
  uint64_t requests = 0;     ///< request heads parsed
  uint64_t matched = 0;      ///< requests matching the filters
  uint64_t faulted = 0;      ///< requests faulted (matched and won the percentage draw)
  uint64_t passed = 0;       ///< requests passed through untouched
  uint64_t upstream_errors = 0;  ///< failed upstream connects, upstream gone mid-exchange, bad responses
};

class HttpInterceptor {
 public:
  /// Binds one listener per thread on [::]:port (dual-stack), or 0.0.0.0:port without IPv6.
  static core::Result<HttpInterceptor> Bind(const HttpInterceptorSpec& spec) noexcept;

  [[nodiscard]] uint16_t port() const noexcept { return port_; }

  /// Serves until one of `stop_signals` arrives, then stops accepting, finishes the exchanges
  /// in flight (idle keep-alive connections are closed at once) and returns when none is left
  /// or after grace_ms. `on_tick` is called about once a second, from the calling thread.
  core::Status Run(const HttpPolicy& policy, const sigset_t& stop_signals,
                   const std::function<void(const HttpStats&)>& on_tick) noexcept;

 private:
  HttpInterceptor(const HttpInterceptorSpec& spec, std::vector<core::UniqueFd> listeners, uint16_t port) noexcept
      : spec_(spec), listeners_(std::move(listeners)), port_(port) {}

  HttpInterceptorSpec spec_;
  std::vector<core::UniqueFd> listeners_;
  uint16_t port_;
};

}  // namespace faultd::inj
