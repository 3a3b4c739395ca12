// SPDX-License-Identifier: Apache-2.0
// OpenSSL 3 contexts of the HTTP interceptor's TLS termination: a server context with the
// user's certificate (PEM, optionally a chain: leaf first, then intermediates) and key, offering
// ALPN "h2" and "http/1.1"; and a client context toward the upstream, verifying it against a CA
// file when one is given and not at all otherwise (the interceptor sits between a client and a
// server the user already trusts; --upstream-ca makes it strict). Errors are SysErrors whose
// `detail` is a sentence naming the file and OpenSSL's reason, so the stressor can print them
// before "ready".
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "../sys_result.h"

namespace faultd::core::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

struct ServerContextSpec {
  std::string cert_path;  // PEM: the leaf certificate, then any intermediates
  std::string key_path;   // PEM: the private key of the leaf
};

struct ClientContextSpec {
  std::string ca_path;  // PEM bundle to verify the upstream with; empty: no verification
};

/// Server side: certificate chain + key, checked to match; TLS 1.2 and 1.3.
Result<SslCtxPtr> MakeServerContext(const ServerContextSpec& spec) noexcept;

/// Client side (toward the upstream): verification against `ca_path` if given.
Result<SslCtxPtr> MakeClientContext(const ClientContextSpec& spec) noexcept;

/// OpenSSL's error queue as one line ("a; b"), emptied; "no OpenSSL error" when empty.
std::string TakeOpenSslErrors() noexcept;

}  // namespace faultd::core::tls
