// SPDX-License-Identifier: Apache-2.0
// A non-blocking TLS byte stream over a connected socket (OpenSSL 3): the server side that faces
// the client (ALPN "h2" / "http/1.1" chosen per connection) and the client side that faces the
// upstream (SNI = the client's SNI, ALPN = what the client was given). The caller owns the fd
// and its readiness: every call returns at once with what it needs next (read or write
// readiness), so one event loop drives any number of streams.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "../sys_result.h"

namespace faultd::core::tls {

/// The application protocol agreed by ALPN. kNone: no ALPN (HTTP/1.1 by convention).
enum class Alpn : uint8_t { kNone, kHttp11, kH2 };
const char* AlpnName(Alpn alpn) noexcept;

/// What the client's ClientHello carried, as far as the interceptor cares.
struct ClientHello {
  std::string sni;  // empty: no server_name extension
  bool offers_h2 = false;
  bool offers_http11 = false;
};

/// Picks the protocol for one connection from the client's offer. The default picks "h2" when
/// offered, else "http/1.1" when offered. A choice the client did not offer means "no ALPN".
using AlpnChooser = std::function<Alpn(const ClientHello&)>;

enum class IoStatus : uint8_t {
  kDone,         // the call did its job (bytes moved, handshake or shutdown complete)
  kWantRead,     // call again when the fd is readable
  kWantWrite,    // call again when the fd is writable
  kClientHello,  // server handshake paused after the ClientHello: choose, then Handshake() again
  kClosed,       // the peer closed (close_notify or EOF)
  kError,        // fatal: see error()
};

struct IoResult {
  IoStatus status = IoStatus::kDone;
  size_t bytes = 0;
  /// Read: the socket was found empty during this call (a read(2) came back short) and OpenSSL
  /// holds no further bytes, so an edge-triggered caller may wait for readiness.
  bool drained = false;
};

class TlsStream {
 public:
  /// Server side over an accepted, non-blocking `fd` (not owned). With `pause_at_client_hello`
  /// the first Handshake() calls that see the ClientHello return kClientHello, so the caller can
  /// ask the upstream which protocols it speaks before the ALPN choice is made.
  static Result<std::unique_ptr<TlsStream>> Accept(SSL_CTX* ctx, int fd, bool pause_at_client_hello) noexcept;

  /// Client side over a connected (or connecting), non-blocking `fd` (not owned). `sni` empty:
  /// no server_name. `offer_h2` / `offer_http11`: the ALPN list (none offered: no ALPN).
  /// With a verifying context, the upstream's certificate must also name `sni` when given.
  static Result<std::unique_ptr<TlsStream>> Connect(SSL_CTX* ctx, int fd, const std::string& sni, bool offer_h2,
                                                    bool offer_http11) noexcept;
  /// Observes the socket reads OpenSSL makes (for IoResult::drained).
  void OnSocketRead(size_t asked, size_t got, bool ok) noexcept {
    socket_read_ = true;
    socket_short_ = !ok || got < asked;
  }

  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  /// One handshake step: kDone once established.
  IoStatus Handshake() noexcept;
  [[nodiscard]] bool established() const noexcept { return established_; }

  /// Reads decrypted bytes (kDone with bytes > 0, or kWantRead/kWantWrite/kClosed/kError).
  IoResult Read(void* buf, size_t len) noexcept;

  /// Encrypts and sends up to `len` bytes; `bytes` says how many were taken. Contract (OpenSSL's
  /// retry rule): after kWantRead/kWantWrite, the next Write must offer the same bytes again
  /// first, and at least as many.
  IoResult Write(const void* buf, size_t len) noexcept;

  /// Sends close_notify (does not wait for the peer's). kDone when sent.
  IoStatus Shutdown() noexcept;

  /// Server side: the ClientHello seen (valid from kClientHello / kDone on).
  [[nodiscard]] const ClientHello& client_hello() const noexcept { return hello_; }
  /// Server side: replaces the default chooser (call before the handshake reaches ALPN).
  void set_alpn_chooser(AlpnChooser chooser) noexcept { chooser_ = std::move(chooser); }
  /// The protocol agreed (after the handshake).
  [[nodiscard]] Alpn alpn() const noexcept;

  /// Why the last call returned kError.
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  // OpenSSL callbacks (installed by InstallServerCallbacks).
  int OnClientHello(SSL* ssl) noexcept;
  int OnAlpnSelect(const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen) noexcept;

 private:
  TlsStream(SSL* ssl, bool server) noexcept : ssl_(ssl), server_(server) {}
  IoStatus Classify(int ret, const char* call) noexcept;

  SSL* ssl_;
  bool server_;
  bool established_ = false;
  bool pause_ = false;
  bool hello_seen_ = false;
  size_t retry_len_ = 0;  // Write: bytes OpenSSL holds for a retry
  bool socket_read_ = false;   // Read: OpenSSL read the socket during this call
  bool socket_short_ = false;  // ... and its last read came back short (or EAGAIN)
  void WatchSocketReads() noexcept;
  ClientHello hello_;
  AlpnChooser chooser_;
  std::string error_;
};

/// Installs the ClientHello and ALPN callbacks on a server context (MakeServerContext does it).
void InstallServerCallbacks(SSL_CTX* ctx) noexcept;

}  // namespace faultd::core::tls
