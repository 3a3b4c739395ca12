// SPDX-License-Identifier: Apache-2.0
#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>

#include "tls_stream.h"

namespace faultd::core::tls {
namespace {

// fopen first, so that a missing or unreadable file is an errno naming the path rather than
// OpenSSL's "system lib" line.
Status CheckReadable(const std::string& path, const char* what) noexcept {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return ErrnoError("open", std::string(what) + " '" + path + "' cannot be read");
  std::fclose(f);
  return Ok{};
}

SysError TlsError(const char* call, std::string sentence) noexcept {
  return SysError{EINVAL, call, sentence + ": " + TakeOpenSslErrors()};
}

SysError KeyMismatch(const char* call, const ServerContextSpec& spec) noexcept {
  return TlsError(call, "the TLS key '" + spec.key_path + "' does not match the certificate '" + spec.cert_path + "'");
}

Result<SslCtxPtr> NewContext(const SSL_METHOD* method) noexcept {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return TlsError("SSL_CTX_new", "cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // The interceptor writes whatever it has and offers the rest again (see TlsStream::Write).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  // Read as much as the socket has into OpenSSL's buffer (one read(2) for several records)
  // rather than a 5-byte header read and a body read per record. TlsStream's callers read until
  // kWantRead anyway, so bytes held in that buffer are never left behind.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  return ctx;
}

}  // namespace

std::string TakeOpenSslErrors() noexcept {
  std::string out;
  char line[256];
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    ERR_error_string_n(e, line, sizeof line);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

Result<SslCtxPtr> MakeServerContext(const ServerContextSpec& spec) noexcept {
  if (auto s = CheckReadable(spec.cert_path, "the TLS certificate file"); !s.ok()) return s.error();
  if (auto s = CheckReadable(spec.key_path, "the TLS key file"); !s.ok()) return s.error();
  auto made = NewContext(TLS_server_method());
  if (!made.ok()) return made.error();
  SslCtxPtr ctx = std::move(made).value();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), spec.cert_path.c_str()) != 1)
    return TlsError("SSL_CTX_use_certificate_chain_file",
                    "the TLS certificate file '" + spec.cert_path + "' holds no usable PEM certificate");
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), spec.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate here already (X509_check_private_key).
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
      return KeyMismatch("SSL_CTX_use_PrivateKey_file", spec);
    return TlsError("SSL_CTX_use_PrivateKey_file",
                    "the TLS key file '" + spec.key_path + "' holds no usable PEM private key");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) return KeyMismatch("SSL_CTX_check_private_key", spec);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
  InstallServerCallbacks(ctx.get());
  return ctx;
}

Result<SslCtxPtr> MakeClientContext(const ClientContextSpec& spec) noexcept {
  if (!spec.ca_path.empty()) {
    if (auto s = CheckReadable(spec.ca_path, "the upstream CA file"); !s.ok()) return s.error();
  }
  auto made = NewContext(TLS_client_method());
  if (!made.ok()) return made.error();
  SslCtxPtr ctx = std::move(made).value();
  if (spec.ca_path.empty()) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    if (SSL_CTX_load_verify_locations(ctx.get(), spec.ca_path.c_str(), nullptr) != 1)
      return TlsError("SSL_CTX_load_verify_locations",
                      "the upstream CA file '" + spec.ca_path + "' holds no usable PEM certificate");
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

}  // namespace faultd::core::tls
