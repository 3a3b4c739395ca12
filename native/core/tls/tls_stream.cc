// SPDX-License-Identifier: Apache-2.0
#include "tls_stream.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "tls_context.h"

namespace faultd::core::tls {
namespace {

// The stream of an SSL, for the context-wide callbacks.
int StreamIndex() noexcept {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsStream* StreamOf(SSL* ssl) noexcept { return static_cast<TlsStream*>(SSL_get_ex_data(ssl, StreamIndex())); }

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Reads a 16-bit big-endian length at p (caller checked the bounds).
size_t Be16(const unsigned char* p) noexcept { return (static_cast<size_t>(p[0]) << 8) | p[1]; }

// server_name extension (RFC 6066 §3): list length, then (type, length, name)...; host_name = 0.
std::string ParseSni(const unsigned char* p, size_t len) noexcept {
  if (len < 2 || Be16(p) != len - 2) return {};
  for (size_t i = 2; i + 3 <= len;) {
    const unsigned type = p[i];
    const size_t n = Be16(p + i + 1);
    if (i + 3 + n > len) break;
    if (type == 0) return std::string(reinterpret_cast<const char*>(p + i + 3), n);
    i += 3 + n;
  }
  return {};
}

// ALPN extension (RFC 7301 §3.1): list length, then (length, name)...
void ParseAlpn(const unsigned char* p, size_t len, ClientHello* hello) noexcept {
  if (len < 2 || Be16(p) != len - 2) return;
  for (size_t i = 2; i < len;) {
    const size_t n = p[i];
    if (i + 1 + n > len) break;
    const std::string_view name(reinterpret_cast<const char*>(p + i + 1), n);
    if (name == "h2") hello->offers_h2 = true;
    if (name == "http/1.1") hello->offers_http11 = true;
    i += 1 + n;
  }
}

Alpn DefaultChoice(const ClientHello& hello) noexcept {
  if (hello.offers_h2) return Alpn::kH2;
  if (hello.offers_http11) return Alpn::kHttp11;
  return Alpn::kNone;
}

// Reports each read(2) of the socket BIO to its stream (see IoResult::drained).
long SocketReadCallback(BIO* bio, int oper, const char*, size_t len, int, long, int ret, size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    if (auto* stream = reinterpret_cast<TlsStream*>(BIO_get_callback_arg(bio)))
      stream->OnSocketRead(len, processed != nullptr ? *processed : 0, ret > 0);
  }
  return ret;
}

int ClientHelloCallback(SSL* ssl, int* alert, void* /*arg*/) {
  TlsStream* stream = StreamOf(ssl);
  if (stream == nullptr) return SSL_CLIENT_HELLO_SUCCESS;
  const int r = stream->OnClientHello(ssl);
  if (r == SSL_CLIENT_HELLO_ERROR) *alert = SSL_AD_INTERNAL_ERROR;
  return r;
}

int AlpnSelectCallback(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                       unsigned int inlen, void* /*arg*/) {
  TlsStream* stream = StreamOf(ssl);
  if (stream == nullptr) return SSL_TLSEXT_ERR_NOACK;
  return stream->OnAlpnSelect(out, outlen, in, inlen);
}

}  // namespace

const char* AlpnName(Alpn alpn) noexcept {
  switch (alpn) {
    case Alpn::kH2: return "h2";
    case Alpn::kHttp11: return "http/1.1";
    case Alpn::kNone: break;
  }
  return "";
}

void InstallServerCallbacks(SSL_CTX* ctx) noexcept {
  SSL_CTX_set_client_hello_cb(ctx, ClientHelloCallback, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, AlpnSelectCallback, nullptr);
}

Result<std::unique_ptr<TlsStream>> TlsStream::Accept(SSL_CTX* ctx, int fd, bool pause_at_client_hello) noexcept {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return SysError{ENOMEM, "SSL_new", TakeOpenSslErrors()};
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl, true));
  stream->pause_ = pause_at_client_hello;
  SSL_set_ex_data(ssl, StreamIndex(), stream.get());
  // A peer that closes without close_notify is a closed connection, not an error to report.
  SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_set_fd(ssl, fd) != 1) return SysError{EINVAL, "SSL_set_fd", TakeOpenSslErrors()};
  stream->WatchSocketReads();
  SSL_set_accept_state(ssl);
  return stream;
}

Result<std::unique_ptr<TlsStream>> TlsStream::Connect(SSL_CTX* ctx, int fd, const std::string& sni, bool offer_h2,
                                                      bool offer_http11) noexcept {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return SysError{ENOMEM, "SSL_new", TakeOpenSslErrors()};
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl, false));
  SSL_set_ex_data(ssl, StreamIndex(), stream.get());
  SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_set_fd(ssl, fd) != 1) return SysError{EINVAL, "SSL_set_fd", TakeOpenSslErrors()};
  stream->WatchSocketReads();
  if (!sni.empty()) {
    if (SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1)
      return SysError{EINVAL, "SSL_set_tlsext_host_name", "server name '" + sni + "': " + TakeOpenSslErrors()};
    if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) SSL_set1_host(ssl, sni.c_str());
  }
  unsigned char protos[sizeof kAlpnH2 + sizeof kAlpnHttp11];
  size_t n = 0;
  if (offer_h2) {
    std::memcpy(protos + n, kAlpnH2, sizeof kAlpnH2);
    n += sizeof kAlpnH2;
  }
  if (offer_http11) {
    std::memcpy(protos + n, kAlpnHttp11, sizeof kAlpnHttp11);
    n += sizeof kAlpnHttp11;
  }
  // SSL_set_alpn_protos returns 0 on success (unlike most of OpenSSL).
  if (n > 0 && SSL_set_alpn_protos(ssl, protos, static_cast<unsigned>(n)) != 0)
    return SysError{EINVAL, "SSL_set_alpn_protos", TakeOpenSslErrors()};
  SSL_set_connect_state(ssl);
  return stream;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

void TlsStream::WatchSocketReads() noexcept {
  BIO* rbio = SSL_get_rbio(ssl_);
  BIO_set_callback_ex(rbio, SocketReadCallback);
  BIO_set_callback_arg(rbio, reinterpret_cast<char*>(this));
}

int TlsStream::OnClientHello(SSL* ssl) noexcept {
  if (!hello_seen_) {
    hello_seen_ = true;
    const unsigned char* p = nullptr;
    size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) == 1) hello_.sni = ParseSni(p, len);
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len) == 1)
      ParseAlpn(p, len, &hello_);
    if (pause_) return SSL_CLIENT_HELLO_RETRY;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

int TlsStream::OnAlpnSelect(const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                            unsigned int inlen) noexcept {
  const Alpn choice = chooser_ ? chooser_(hello_) : DefaultChoice(hello_);
  const unsigned char* want = choice == Alpn::kH2 ? kAlpnH2 : choice == Alpn::kHttp11 ? kAlpnHttp11 : nullptr;
  if (want == nullptr) return SSL_TLSEXT_ERR_NOACK;
  // Point into the client's list (it outlives the callback), as OpenSSL expects.
  for (unsigned i = 0; i < inlen;) {
    const unsigned n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == want[0] && std::memcmp(in + i + 1, want + 1, n) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

Alpn TlsStream::alpn() const noexcept {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  const std::string_view name(reinterpret_cast<const char*>(p), p == nullptr ? 0 : len);
  if (name == "h2") return Alpn::kH2;
  if (name == "http/1.1") return Alpn::kHttp11;
  return Alpn::kNone;
}

IoStatus TlsStream::Classify(int ret, const char* call) noexcept {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ: return IoStatus::kWantRead;
    case SSL_ERROR_WANT_WRITE: return IoStatus::kWantWrite;
    case SSL_ERROR_WANT_CLIENT_HELLO_CB: return IoStatus::kClientHello;
    case SSL_ERROR_ZERO_RETURN: return IoStatus::kClosed;
    case SSL_ERROR_SYSCALL:
      if (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) {
        ERR_clear_error();
        if (established_) return IoStatus::kClosed;
        error_ = std::string(call) + ": the peer closed the connection during the TLS handshake";
        return IoStatus::kError;
      }
      error_ = std::string(call) + ": " + std::strerror(saved_errno);
      ERR_clear_error();
      return IoStatus::kError;
    default: break;
  }
  error_ = std::string(call) + ": " + TakeOpenSslErrors();
  if (!server_) {
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK)
      error_ += " (upstream certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
  }
  return IoStatus::kError;
}

IoStatus TlsStream::Handshake() noexcept {
  if (established_) return IoStatus::kDone;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return IoStatus::kDone;
  }
  return Classify(r, "SSL_do_handshake");
}

IoResult TlsStream::Read(void* buf, size_t len) noexcept {
  ERR_clear_error();
  size_t got = 0;
  socket_read_ = false;
  const int r = SSL_read_ex(ssl_, buf, len, &got);
  if (r == 1) return {IoStatus::kDone, got, socket_read_ && socket_short_ && SSL_has_pending(ssl_) == 0};
  return {Classify(r, "SSL_read"), 0};
}

IoResult TlsStream::Write(const void* buf, size_t len) noexcept {
  if (len < retry_len_) {
    error_ = "SSL_write: a retried write offered fewer bytes than the one OpenSSL holds";
    return {IoStatus::kError, 0};
  }
  if (len == 0) return {IoStatus::kDone, 0};
  ERR_clear_error();
  size_t put = 0;
  const int r = SSL_write_ex(ssl_, buf, retry_len_ != 0 ? retry_len_ : len, &put);
  if (r == 1) {
    retry_len_ = 0;
    return {IoStatus::kDone, put};
  }
  const IoStatus status = Classify(r, "SSL_write");
  if (status == IoStatus::kWantRead || status == IoStatus::kWantWrite) {
    if (retry_len_ == 0) retry_len_ = len;
  }
  return {status, 0};
}

IoStatus TlsStream::Shutdown() noexcept {
  ERR_clear_error();
  const int r = SSL_shutdown(ssl_);
  if (r >= 0) return IoStatus::kDone;
  return Classify(r, "SSL_shutdown");
}

}  // namespace faultd::core::tls
