// SPDX-License-Identifier: Apache-2.0
// TLS termination: contexts from PEM files (clear errors for unreadable files and a key that
// does not match), handshakes over non-blocking socketpairs, ALPN choice, SNI, upstream
// verification, a 1 MiB transfer and close_notify.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "../core/tls/tls_context.h"
#include "../core/tls/tls_stream.h"
#include "../core/unique_fd.h"
#include "tls_test_certs.h"

namespace faultd::core::tls {
namespace {

using faultd::test::MakeTestCert;
using faultd::test::TestCert;

struct SocketPair {
  UniqueFd a, b;
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a.Reset(fds[0]);
    b.Reset(fds[1]);
  }
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_ = new TestCert;
    other_ = new TestCert;
    MakeTestCert("localhost", cert_);
    MakeTestCert("other.test", other_);
  }
  static void TearDownTestSuite() {
    delete cert_;
    delete other_;
  }
  static SslCtxPtr Server() {
    auto ctx = MakeServerContext({cert_->cert_path, cert_->key_path});
    EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error().detail);
    return std::move(ctx).value();
  }
  static SslCtxPtr Client(const std::string& ca) {
    auto ctx = MakeClientContext({ca});
    EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error().detail);
    return std::move(ctx).value();
  }
  static TestCert* cert_;
  static TestCert* other_;
};
TestCert* TlsTest::cert_ = nullptr;
TestCert* TlsTest::other_ = nullptr;

// Steps both handshakes until both are established or one fails; returns the last statuses.
std::pair<IoStatus, IoStatus> Shake(TlsStream& server, TlsStream& client) {
  IoStatus s = IoStatus::kWantRead, c = IoStatus::kWantRead;
  for (int i = 0; i < 100; ++i) {
    if (c != IoStatus::kDone && c != IoStatus::kError) c = client.Handshake();
    if (s != IoStatus::kDone && s != IoStatus::kError && s != IoStatus::kClientHello) s = server.Handshake();
    if ((s == IoStatus::kDone || s == IoStatus::kError || s == IoStatus::kClientHello) &&
        (c == IoStatus::kDone || c == IoStatus::kError))
      break;
    if (s == IoStatus::kClientHello || s == IoStatus::kError) {
      if (c == IoStatus::kWantRead) break;  // the client waits on a server that paused or failed
    }
  }
  return {s, c};
}

TEST_F(TlsTest, MissingCertificateFileIsAnErrnoNamingIt) {
  auto ctx = MakeServerContext({cert_->dir + "/absent.pem", cert_->key_path});
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().err, ENOENT);
  EXPECT_STREQ(ctx.error().syscall, "open");
  EXPECT_NE(ctx.error().detail.find("absent.pem"), std::string::npos) << ctx.error().detail;
}

TEST_F(TlsTest, KeyOfAnotherCertificateIsRefusedSayingSo) {
  auto ctx = MakeServerContext({cert_->cert_path, other_->key_path});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.error().detail.find("does not match the certificate"), std::string::npos) << ctx.error().detail;
}

TEST_F(TlsTest, NonPemCertificateAndMissingCaAreRefused) {
  auto ctx = MakeServerContext({cert_->key_path, cert_->key_path});  // a key where the certificate should be
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.error().detail.find("no usable PEM certificate"), std::string::npos) << ctx.error().detail;
  auto client = MakeClientContext({cert_->dir + "/no-ca.pem"});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().err, ENOENT);
}

struct Alpns {
  bool h2, h11;
};

// One handshake with the default chooser; returns the protocols agreed on each side.
std::pair<Alpn, Alpn> Negotiate(SSL_CTX* sctx, SSL_CTX* cctx, Alpns offer, const AlpnChooser& chooser = {}) {
  SocketPair p;
  auto server = TlsStream::Accept(sctx, p.a.get(), false);
  auto client = TlsStream::Connect(cctx, p.b.get(), "localhost", offer.h2, offer.h11);
  EXPECT_TRUE(server.ok() && client.ok());
  if (chooser) server.value()->set_alpn_chooser(chooser);
  auto [s, c] = Shake(*server.value(), *client.value());
  EXPECT_EQ(s, IoStatus::kDone) << server.value()->error();
  EXPECT_EQ(c, IoStatus::kDone) << client.value()->error();
  EXPECT_EQ(server.value()->client_hello().sni, "localhost");
  return {server.value()->alpn(), client.value()->alpn()};
}

TEST_F(TlsTest, AlpnPrefersH2WhenOfferedAndFallsBackToHttp11OrNone) {
  auto sctx = Server();
  auto cctx = Client("");
  EXPECT_EQ(Negotiate(sctx.get(), cctx.get(), {true, true}), std::make_pair(Alpn::kH2, Alpn::kH2));
  EXPECT_EQ(Negotiate(sctx.get(), cctx.get(), {false, true}), std::make_pair(Alpn::kHttp11, Alpn::kHttp11));
  EXPECT_EQ(Negotiate(sctx.get(), cctx.get(), {false, false}), std::make_pair(Alpn::kNone, Alpn::kNone));
}

TEST_F(TlsTest, ChooserKeepsHttp11WhenTheUpstreamCannotDoH2) {
  auto sctx = Server();
  auto cctx = Client("");
  bool asked = false;
  auto upstream_h1_only = [&](const ClientHello& hello) {
    asked = true;
    EXPECT_TRUE(hello.offers_h2);
    EXPECT_TRUE(hello.offers_http11);
    return Alpn::kHttp11;
  };
  EXPECT_EQ(Negotiate(sctx.get(), cctx.get(), {true, true}, upstream_h1_only),
            std::make_pair(Alpn::kHttp11, Alpn::kHttp11));
  EXPECT_TRUE(asked);
  // A choice the client did not offer is no ALPN at all, not a failed handshake.
  EXPECT_EQ(Negotiate(sctx.get(), cctx.get(), {false, true}, [](const ClientHello&) { return Alpn::kH2; }),
            std::make_pair(Alpn::kNone, Alpn::kNone));
}

TEST_F(TlsTest, PauseAtClientHelloGivesSniAndOfferBeforeTheChoice) {
  auto sctx = Server();
  auto cctx = Client("");
  SocketPair p;
  auto server = TlsStream::Accept(sctx.get(), p.a.get(), true);
  auto client = TlsStream::Connect(cctx.get(), p.b.get(), "localhost", true, true);
  ASSERT_TRUE(server.ok() && client.ok());
  auto [s, c] = Shake(*server.value(), *client.value());
  ASSERT_EQ(s, IoStatus::kClientHello);
  EXPECT_EQ(c, IoStatus::kWantRead);
  EXPECT_EQ(server.value()->client_hello().sni, "localhost");
  EXPECT_TRUE(server.value()->client_hello().offers_h2);
  // Here the interceptor would ask the upstream; say it answered http/1.1.
  server.value()->set_alpn_chooser([](const ClientHello&) { return Alpn::kHttp11; });
  std::tie(s, c) = Shake(*server.value(), *client.value());
  EXPECT_EQ(s, IoStatus::kDone) << server.value()->error();
  EXPECT_EQ(c, IoStatus::kDone) << client.value()->error();
  EXPECT_EQ(client.value()->alpn(), Alpn::kHttp11);
}

TEST_F(TlsTest, UpstreamVerifiedAgainstCaAndName) {
  auto sctx = Server();
  auto trusting = Client(cert_->cert_path);
  auto wrong_ca = Client(other_->cert_path);
  struct Case {
    SSL_CTX* ctx;
    const char* sni;
    bool ok;
    const char* reason;
  };
  for (const Case& k : {Case{trusting.get(), "localhost", true, ""},
                        Case{trusting.get(), "other.test", false, "hostname mismatch"},
                        Case{wrong_ca.get(), "localhost", false, "self-signed certificate"}}) {
    SocketPair p;
    auto server = TlsStream::Accept(sctx.get(), p.a.get(), false);
    auto client = TlsStream::Connect(k.ctx, p.b.get(), k.sni, false, true);
    ASSERT_TRUE(server.ok() && client.ok());
    auto [s, c] = Shake(*server.value(), *client.value());
    if (k.ok) {
      EXPECT_EQ(c, IoStatus::kDone) << client.value()->error();
    } else {
      EXPECT_EQ(c, IoStatus::kError) << k.sni;
      EXPECT_NE(client.value()->error().find(k.reason), std::string::npos) << client.value()->error();
    }
  }
}

TEST_F(TlsTest, OneMebibyteBothWaysThroughSmallSocketBuffersThenCloseNotify) {
  auto sctx = Server();
  auto cctx = Client("");
  SocketPair p;
  const int small = 16384;
  for (int fd : {p.a.get(), p.b.get()}) {
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  }
  auto server = TlsStream::Accept(sctx.get(), p.a.get(), false);
  auto client = TlsStream::Connect(cctx.get(), p.b.get(), "localhost", true, true);
  ASSERT_TRUE(server.ok() && client.ok());
  TlsStream& s = *server.value();
  TlsStream& c = *client.value();
  auto [hs, hc] = Shake(s, c);
  ASSERT_EQ(hs, IoStatus::kDone);
  ASSERT_EQ(hc, IoStatus::kDone);

  std::vector<unsigned char> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 2654435761u >> 24);
  std::vector<unsigned char> got;
  size_t sent = 0;
  size_t would_block = 0;
  unsigned char buf[20000];
  while (got.size() < data.size()) {
    while (sent < data.size()) {  // until the socket is full
      IoResult w = c.Write(data.data() + sent, data.size() - sent);
      ASSERT_NE(w.status, IoStatus::kError) << c.error();
      sent += w.bytes;
      if (w.status != IoStatus::kDone) {
        ++would_block;
        break;
      }
    }
    for (;;) {  // until it is empty
      IoResult r = s.Read(buf, sizeof buf);
      ASSERT_NE(r.status, IoStatus::kError) << s.error();
      got.insert(got.end(), buf, buf + r.bytes);
      if (r.status != IoStatus::kDone) break;
    }
  }
  EXPECT_EQ(got, data);
  EXPECT_GT(would_block, 0u) << "the socket buffers never filled: the retry path was not exercised";

  EXPECT_EQ(c.Shutdown(), IoStatus::kDone);
  EXPECT_EQ(s.Read(buf, sizeof buf).status, IoStatus::kClosed);
}

TEST_F(TlsTest, ReadSaysDrainedOnlyWhenTheSocketWasEmptyAndNothingIsBuffered) {
  auto sctx = Server();
  auto cctx = Client("");
  SocketPair p;
  auto server = TlsStream::Accept(sctx.get(), p.a.get(), false);
  auto client = TlsStream::Connect(cctx.get(), p.b.get(), "localhost", false, true);
  ASSERT_TRUE(server.ok() && client.ok());
  auto [hs, hc] = Shake(*server.value(), *client.value());
  ASSERT_EQ(hs, IoStatus::kDone);
  ASSERT_EQ(hc, IoStatus::kDone);
  TlsStream& s = *server.value();
  TlsStream& c = *client.value();
  char buf[4096];
  ASSERT_EQ(c.Write("ping", 4).bytes, 4u);
  IoResult r = s.Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kDone);
  EXPECT_EQ(r.bytes, 4u);
  EXPECT_TRUE(r.drained) << "one small record, the socket then empty";
  const std::string big(200000, 'b');
  size_t sent = 0;
  while (sent < big.size()) {
    const IoResult w = c.Write(big.data() + sent, big.size() - sent);
    if (w.status != IoStatus::kDone) break;
    sent += w.bytes;
  }
  ASSERT_GT(sent, 3 * sizeof buf);
  r = s.Read(buf, sizeof buf);
  ASSERT_EQ(r.status, IoStatus::kDone);
  EXPECT_FALSE(r.drained) << "more than one buffer waits";
  size_t got = r.bytes;
  bool drained = false;
  while (got < sent) {
    r = s.Read(buf, sizeof buf);
    ASSERT_EQ(r.status, IoStatus::kDone) << "a read after drained=false found data";
    got += r.bytes;
    drained = r.drained;
    if (drained) break;
  }
  EXPECT_EQ(got, sent) << "drained only after the last byte";
  EXPECT_TRUE(drained);
  EXPECT_EQ(s.Read(buf, sizeof buf).status, IoStatus::kWantRead);
}

TEST_F(TlsTest, PlainTextClientIsAHandshakeErrorNotACrash) {
  auto sctx = Server();
  SocketPair p;
  auto server = TlsStream::Accept(sctx.get(), p.a.get(), false);
  ASSERT_TRUE(server.ok());
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(p.b.get(), req, sizeof req - 1), static_cast<ssize_t>(sizeof req - 1));
  EXPECT_EQ(server.value()->Handshake(), IoStatus::kError);
  EXPECT_FALSE(server.value()->error().empty());
}

}  // namespace
}  // namespace faultd::core::tls
