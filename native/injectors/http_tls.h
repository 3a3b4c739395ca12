// SPDX-License-Identifier: Apache-2.0
// TLS for the HTTP interceptor (--tls-cert/--tls-key/--upstream-ca): the contexts loaded once
// at startup, TLS as the interceptor's Transport on either side of a connection, and the pair of
// handshakes of one intercepted connection, ordered so the client is given the protocol the
// upstream speaks: the client's ClientHello (SNI, ALPN offer) first; then the upstream handshake
// with that SNI and offer; then the client's handshake, completed with the upstream's choice
// (h2 only when the upstream also chose h2, so a stream is never bridged h2 → HTTP/1.1).
#pragma once

#include <memory>
#include <string>

#include "../core/sys_result.h"
#include "../core/tls/tls_context.h"
#include "../core/tls/tls_stream.h"
#include "../core/unique_fd.h"
#include "http_interceptor.h"

namespace faultd::inj {

/// The two contexts, shared by every loop thread (SSL_CTX is safe to share once set up).
struct HttpTls {
  core::tls::SslCtxPtr server;  // the user's certificate and key
  core::tls::SslCtxPtr client;  // towards the upstream (verifying with --upstream-ca if given)
};

/// Loads the certificate chain and key (checked to match) and the upstream CA, if any.
core::Result<std::shared_ptr<const HttpTls>> LoadHttpTls(const std::string& cert_path, const std::string& key_path,
                                                         const std::string& upstream_ca_path) noexcept;

/// One side's TLS over its socket (owned). The server side's stream exists from the start; the
/// client side's is started once the client's SNI and offer are known (StartClient).
class TlsTransport final : public Transport {
 public:
  explicit TlsTransport(core::UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  core::Status StartServer(SSL_CTX* ctx) noexcept;
  core::Status StartClient(SSL_CTX* ctx, const core::tls::ClientHello& hello) noexcept;
  [[nodiscard]] core::tls::TlsStream* stream() noexcept { return stream_.get(); }

  [[nodiscard]] int fd() const noexcept override { return fd_.get(); }
  Io Read(char* buf, size_t len, size_t* n, bool* exhausted) noexcept override;
  Io Writev(const iovec* iov, int count, size_t* n, bool* exhausted) noexcept override;
  void ShutdownWrite() noexcept override;
  [[nodiscard]] Want WaitsFor(bool for_read) const noexcept override;

 private:
  core::UniqueFd fd_;
  std::unique_ptr<core::tls::TlsStream> stream_;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
};

/// The pair of handshakes of one connection (see the header comment).
class TlsHandshakes {
 public:
  enum class Step { kPending, kDone, kFailed };
  TlsHandshakes(std::shared_ptr<const HttpTls> tls, TlsTransport* client, TlsTransport* upstream) noexcept
      : tls_(std::move(tls)), client_(client), upstream_(upstream) {}

  /// Moves both handshakes as far as the sockets allow. `upstream_connected`: the upstream's
  /// TCP connect has completed. kFailed: error() says which side and why.
  Step Advance(bool upstream_connected) noexcept;
  /// After kDone: both sides agreed on h2.
  [[nodiscard]] bool h2() const noexcept { return h2_; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  /// Whether a failure was the upstream's (counted as an upstream error).
  [[nodiscard]] bool upstream_failed() const noexcept { return upstream_failed_; }

 private:
  enum class State { kClientHello, kUpstream, kClientFinish, kDone };
  std::shared_ptr<const HttpTls> tls_;
  TlsTransport* client_;
  TlsTransport* upstream_;
  State state_ = State::kClientHello;
  bool h2_ = false;
  bool upstream_failed_ = false;
  std::string error_;
};

}  // namespace faultd::inj
