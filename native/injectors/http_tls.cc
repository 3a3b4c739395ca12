// SPDX-License-Identifier: Apache-2.0
#include "http_tls.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace faultd::inj {

namespace tls = core::tls;

core::Result<std::shared_ptr<const HttpTls>> LoadHttpTls(const std::string& cert_path, const std::string& key_path,
                                                         const std::string& upstream_ca_path) noexcept {
  auto server = tls::MakeServerContext({cert_path, key_path});
  if (!server.ok()) return server.error();
  auto client = tls::MakeClientContext({upstream_ca_path});
  if (!client.ok()) return client.error();
  auto loaded = std::make_shared<HttpTls>();
  loaded->server = std::move(server).value();
  loaded->client = std::move(client).value();
  return std::shared_ptr<const HttpTls>(std::move(loaded));
}

core::Status TlsTransport::StartServer(SSL_CTX* ctx) noexcept {
  auto s = tls::TlsStream::Accept(ctx, fd_.get(), /*pause_at_client_hello=*/true);
  if (!s.ok()) return s.error();
  stream_ = std::move(s).value();
  return core::Ok{};
}

core::Status TlsTransport::StartClient(SSL_CTX* ctx, const tls::ClientHello& hello) noexcept {
  // Offer what the client offered (nothing: no ALPN, HTTP/1.1 by convention).
  auto s = tls::TlsStream::Connect(ctx, fd_.get(), hello.sni, hello.offers_h2, hello.offers_http11);
  if (!s.ok()) return s.error();
  stream_ = std::move(s).value();
  return core::Ok{};
}

Transport::Io TlsTransport::Read(char* buf, size_t len, size_t* n, bool* exhausted) noexcept {
  if (!stream_ || !stream_->established()) return Io::kAgain;
  const tls::IoResult r = stream_->Read(buf, len);
  read_wants_write_ = false;
  switch (r.status) {
    case tls::IoStatus::kDone:
      *n = r.bytes;
      // Only when the socket was seen empty and OpenSSL holds nothing more may the
      // edge-triggered loop wait for readiness (else it reads on, up to kAgain).
      *exhausted = r.drained;
      return Io::kOk;
    case tls::IoStatus::kWantWrite:
      read_wants_write_ = true;
      return Io::kAgain;
    case tls::IoStatus::kWantRead:
    case tls::IoStatus::kClientHello:
      return Io::kAgain;
    case tls::IoStatus::kClosed: return Io::kEof;
    case tls::IoStatus::kError: return Io::kError;
  }
  return Io::kError;
}

Transport::Io TlsTransport::Writev(const iovec* iov, int count, size_t* n, bool* exhausted) noexcept {
  if (!stream_ || !stream_->established()) return Io::kAgain;
  // Pieces smaller than a record (an HTTP/2 frame header, a rewritten head before the body) are
  // joined into one record of up to 16 KiB: one SSL_write and one record instead of one per
  // piece. A piece of a record or more goes as it is. OpenSSL's retry rule holds: bytes not
  // taken are offered again first, and joined the same way, so never fewer of them.
  constexpr size_t kRecord = 16384;
  size_t total = 0;
  int i = 0;
  size_t skip = 0;  // bytes of iov[i] already written
  write_wants_read_ = false;
  while (i < count) {
    if (iov[i].iov_len == skip) {
      ++i;
      skip = 0;
      continue;
    }
    const char* data = static_cast<const char*>(iov[i].iov_base) + skip;
    size_t len = iov[i].iov_len - skip;
    char joined[kRecord];
    if (len < kRecord && i + 1 < count) {
      size_t filled = 0;
      size_t from = skip;
      for (int j = i; j < count && filled < kRecord; ++j, from = 0) {
        const size_t take = std::min(kRecord - filled, iov[j].iov_len - from);
        std::memcpy(joined + filled, static_cast<const char*>(iov[j].iov_base) + from, take);
        filled += take;
      }
      data = joined;
      len = filled;
    }
    const tls::IoResult r = stream_->Write(data, len);
    if (r.status != tls::IoStatus::kDone) {
      if (r.status == tls::IoStatus::kWantRead || r.status == tls::IoStatus::kWantWrite) {
        write_wants_read_ = r.status == tls::IoStatus::kWantRead;
        if (total == 0) return Io::kAgain;
        *n = total;
        *exhausted = true;
        return Io::kOk;
      }
      if (total == 0) return Io::kError;
      *n = total;
      *exhausted = true;
      return Io::kOk;
    }
    total += r.bytes;
    for (size_t left = r.bytes; left > 0 && i < count;) {  // advance through the pieces
      const size_t here = std::min(left, iov[i].iov_len - skip);
      skip += here;
      left -= here;
      if (skip == iov[i].iov_len) {
        ++i;
        skip = 0;
      }
    }
  }
  *n = total;
  *exhausted = false;
  return Io::kOk;
}

void TlsTransport::ShutdownWrite() noexcept {
  if (stream_ && stream_->established()) stream_->Shutdown();  // close_notify, best effort
  ::shutdown(fd_.get(), SHUT_WR);
}

Transport::Want TlsTransport::WaitsFor(bool for_read) const noexcept {
  if (for_read) return read_wants_write_ ? Want::kWrite : Want::kRead;
  return write_wants_read_ ? Want::kRead : Want::kWrite;
}

TlsHandshakes::Step TlsHandshakes::Advance(bool upstream_connected) noexcept {
  for (;;) {
    switch (state_) {
      case State::kClientHello: {
        const tls::IoStatus s = client_->stream()->Handshake();
        if (s == tls::IoStatus::kError || s == tls::IoStatus::kClosed) {
          error_ = "client TLS handshake: " +
                   (s == tls::IoStatus::kClosed ? std::string("closed") : client_->stream()->error());
          return Step::kFailed;
        }
        if (s != tls::IoStatus::kClientHello) return Step::kPending;
        const core::Status started = upstream_->StartClient(tls_->client.get(), client_->stream()->client_hello());
        if (!started.ok()) {
          upstream_failed_ = true;
          error_ = "upstream TLS: " + started.error().detail;
          return Step::kFailed;
        }
        state_ = State::kUpstream;
        continue;
      }
      case State::kUpstream: {
        if (!upstream_connected) return Step::kPending;
        const tls::IoStatus s = upstream_->stream()->Handshake();
        if (s == tls::IoStatus::kError || s == tls::IoStatus::kClosed) {
          upstream_failed_ = true;
          error_ = "upstream TLS handshake: " +
                   (s == tls::IoStatus::kClosed ? std::string("closed") : upstream_->stream()->error());
          return Step::kFailed;
        }
        if (s != tls::IoStatus::kDone) return Step::kPending;
        const tls::Alpn agreed = upstream_->stream()->alpn();
        client_->stream()->set_alpn_chooser([agreed](const tls::ClientHello&) { return agreed; });
        state_ = State::kClientFinish;
        continue;
      }
      case State::kClientFinish: {
        const tls::IoStatus s = client_->stream()->Handshake();
        if (s == tls::IoStatus::kError || s == tls::IoStatus::kClosed) {
          error_ = "client TLS handshake: " +
                   (s == tls::IoStatus::kClosed ? std::string("closed") : client_->stream()->error());
          return Step::kFailed;
        }
        if (s != tls::IoStatus::kDone) return Step::kPending;
        h2_ = client_->stream()->alpn() == tls::Alpn::kH2;
        state_ = State::kDone;
        return Step::kDone;
      }
      case State::kDone: return Step::kDone;
    }
  }
}

}  // namespace faultd::inj
