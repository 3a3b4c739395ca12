// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 codec: head parsing (whole, split at every byte, malformed, limits), body framing
// rules of requests and responses, the chunked framer fed in random pieces, and the serializer.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "../core/http/h1_chunked.h"
#include "../core/http/h1_head.h"

namespace faultd::core::http {
namespace {

ParseResult Req(std::string_view text, Head* h) { return ParseRequest(text, h); }
ParseResult Resp(std::string_view text, Head* h, RequestInfo info = {}) { return ParseResponse(text, info, h); }

TEST(H1Head, ParsesARequestWithViewsIntoTheBuffer) {
  const std::string text = "POST /a/b?c=d HTTP/1.1\r\nHost: svc\r\nX-Pad:   spaced value \t\r\nContent-Length: 5\r\n\r\nhelloGET";
  Head h;
  ASSERT_EQ(Req(text, &h), ParseResult::kOk);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.target, "/a/b?c=d");
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.header_count, 3u);
  EXPECT_EQ(h.headers[1].name, "X-Pad");
  EXPECT_EQ(h.headers[1].value, "spaced value");
  EXPECT_EQ(h.headers[0].name.data(), text.data() + text.find("Host"));  // a view, not a copy
  EXPECT_EQ(h.head_len, text.find("hello"));
  EXPECT_EQ(h.body, BodyKind::kLength);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.upgrade);
}

TEST(H1Head, EveryPrefixIsIncompleteAndFindHeadEndResumes) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
  Head h;
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(Req(text.substr(0, n), &h), ParseResult::kIncomplete) << n;
  }
  // Growing the buffer byte by byte with a resumed scan finds the end exactly once, at the end.
  size_t scanned = 0;
  for (size_t n = 1; n <= text.size(); ++n) {
    const size_t end = FindHeadEnd(std::string_view(text).substr(0, n), &scanned);
    EXPECT_EQ(end, n == text.size() ? text.size() : 0u) << n;
  }
  // Bare LF line ends are accepted too.
  ASSERT_EQ(Req("GET /x HTTP/1.0\nHost: a\n\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.head_len, 25u);
  EXPECT_FALSE(h.keep_alive);  // HTTP/1.0 without keep-alive
}

TEST(H1Head, RequestFramingRules) {
  Head h;
  ASSERT_EQ(Req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kChunked);
  EXPECT_EQ(Req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &h), ParseResult::kBad);
  EXPECT_EQ(Req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", &h), ParseResult::kBad);
  EXPECT_EQ(Req("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", &h), ParseResult::kBad);
  ASSERT_EQ(Req("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.content_length, 3u);
  EXPECT_EQ(Req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &h), ParseResult::kBad);
  EXPECT_EQ(Req("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &h), ParseResult::kBad);
  ASSERT_EQ(Req("GET / HTTP/1.1\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kNone);
  ASSERT_EQ(Req("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(Req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_TRUE(h.keep_alive);
  ASSERT_EQ(Req("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_TRUE(h.upgrade);
  ASSERT_EQ(Req("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_FALSE(h.upgrade);  // Upgrade without Connection: upgrade is ignored
  ASSERT_EQ(Req("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_TRUE(h.expect_continue);
  ASSERT_EQ(Req("CONNECT svc:443 HTTP/1.1\r\nHost: svc:443\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.method, "CONNECT");
  EXPECT_EQ(h.body, BodyKind::kNone);
}

TEST(H1Head, MalformedRequestsAreBad) {
  Head h;
  for (const char* text : {"GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/2.0\r\n\r\n",
                           "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", "GET / HTTP/1.1\r\n: empty\r\n\r\n",
                           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
                           "G@T / HTTP/1.1\r\n\r\n", "GET /a\x01 HTTP/1.1\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}) {
    EXPECT_EQ(Req(text, &h), ParseResult::kBad) << text;
  }
}

TEST(H1Head, LimitsGiveTooLarge) {
  Head h;
  std::string big = "GET / HTTP/1.1\r\nX-Big: ";
  big.append(kMaxHeadBytes, 'a');
  EXPECT_EQ(Req(big, &h), ParseResult::kTooLarge);  // no end yet, already over the limit
  EXPECT_EQ(Req(big + "\r\n\r\n", &h), ParseResult::kTooLarge);
  std::string just = "GET / HTTP/1.1\r\nX-Big: ";
  just.append(kMaxHeadBytes - just.size() - 4, 'a').append("\r\n\r\n");
  ASSERT_EQ(just.size(), kMaxHeadBytes);
  EXPECT_EQ(Req(just, &h), ParseResult::kOk);
  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxHeaders; ++i) many.append("X-").append(std::to_string(i)).append(": v\r\n");
  EXPECT_EQ(Req(many + "\r\n", &h), ParseResult::kTooLarge);
}

TEST(H1Head, ResponseFramingRules) {
  Head h;
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "OK");
  EXPECT_EQ(h.body, BodyKind::kLength);
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", &h, {.head = true}), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kNone);
  ASSERT_EQ(Resp("HTTP/1.1 204 No Content\r\nContent-Length: 12\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kNone);
  ASSERT_EQ(Resp("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kNone);
  ASSERT_EQ(Resp("HTTP/1.1 100 Continue\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_TRUE(h.interim);
  EXPECT_EQ(h.body, BodyKind::kNone);
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kUntilClose);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kUntilClose);
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kChunked);  // RFC 9112 §6.3: chunked wins
  ASSERT_EQ(Resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", &h, {.upgrade = true}), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kTunnel);
  EXPECT_FALSE(h.interim);
  ASSERT_EQ(Resp("HTTP/1.1 200 Connection established\r\n\r\n", &h, {.connect = true}), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kTunnel);
  ASSERT_EQ(Resp("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n", &h, {.connect = true}), ParseResult::kOk);
  EXPECT_EQ(h.body, BodyKind::kNone);
  ASSERT_EQ(Resp("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", &h), ParseResult::kOk);  // empty reason
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.reason, "");
  ASSERT_EQ(Resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_FALSE(h.keep_alive);
  for (const char* bad : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "ICY 200 OK\r\n\r\n",
                          "HTTP/1.1 099 x\r\n\r\n"}) {
    EXPECT_EQ(Resp(bad, &h), ParseResult::kBad) << bad;
  }
}

TEST(H1Head, TokensAndSerializer) {
  EXPECT_TRUE(HasToken("keep-alive , Upgrade", "upgrade"));
  EXPECT_FALSE(HasToken("upgrades", "upgrade"));
  EXPECT_FALSE(HasToken("", "close"));
  std::string out;
  AppendRequestLine(out, "GET", "/x?y", 1);
  struct F { std::string name, value; };
  const std::vector<F> fields = {{"Host", "a"}, {"X", ""}};
  AppendFields(out, fields);
  out += "\r\n";
  EXPECT_EQ(out, "GET /x?y HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n");
  Head h;
  ASSERT_EQ(Req(out, &h), ParseResult::kOk);
  EXPECT_EQ(h.head_len, out.size());
  ASSERT_EQ(h.header_count, 2u);
  EXPECT_EQ(h.headers[1].value, "");
  out.clear();
  AppendStatusLine(out, 0, 503, "Service Unavailable");
  EXPECT_EQ(out, "HTTP/1.0 503 Service Unavailable\r\n");
  ASSERT_EQ(Resp(out + "\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.status, 503);
}

// Random request heads: parse whole, and a prefix at every length is incomplete or (once the
// head ends) the same result.
TEST(H1Head, RandomHeadsParseTheSameAtEverySplit) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string text = "GET /r";
    text.append(std::to_string(round)).append(" HTTP/1.1\r\n");
    const int fields = static_cast<int>(rng() % 20);
    for (int i = 0; i < fields; ++i) {
      text.append("H").append(std::to_string(i)).append(":").append(rng() % 3, ' ').append(rng() % 40, 'v');
      text.append(rng() % 2 ? "\r\n" : "\n");
    }
    text += rng() % 2 ? "\r\n" : "\n";
    const size_t head_len = text.size();
    text += "tail";
    Head whole;
    ASSERT_EQ(Req(text, &whole), ParseResult::kOk) << text;
    EXPECT_EQ(whole.head_len, head_len);
    EXPECT_EQ(whole.header_count, static_cast<size_t>(fields));
    size_t scanned = 0;
    size_t found = 0;
    for (size_t n = 1; n <= text.size() && found == 0; n += 1 + rng() % 7) {
      found = FindHeadEnd(std::string_view(text).substr(0, n), &scanned);
      if (found == 0) {
        EXPECT_LT(n, head_len);
      }
    }
    if (found == 0) found = FindHeadEnd(text, &scanned);
    EXPECT_EQ(found, head_len);
    // Given the end FindHeadEnd found (as the interceptor does), the parse is the same.
    Head known;
    ASSERT_EQ(ParseRequest(std::string_view(text).substr(0, found), &known, found), ParseResult::kOk);
    EXPECT_EQ(known.head_len, whole.head_len);
    EXPECT_EQ(known.header_count, whole.header_count);
    EXPECT_EQ(known.headers[known.header_count - 1].value, whole.headers[whole.header_count - 1].value);
  }
}

// A head end given by the caller is bounded as a searched one: over kMaxHeadBytes is 431.
TEST(H1Head, AKnownHeadEndIsStillBounded) {
  std::string text = "GET / HTTP/1.1\r\nX: " + std::string(kMaxHeadBytes, 'v') + "\r\n\r\n";
  size_t scanned = 0;
  const size_t end = FindHeadEnd(std::string_view(text).substr(0, kMaxHeadBytes + 3), &scanned);
  Head h;
  EXPECT_EQ(end, 0u);
  EXPECT_EQ(ParseRequest(text, &h), ParseResult::kTooLarge);
  text = "HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHeadBytes - 20, 'v') + "\r\n\r\n";
  const size_t response_end = FindHeadEnd(text, &(scanned = 0));
  ASSERT_GT(response_end, kMaxHeadBytes);
  EXPECT_EQ(ParseResponse(text, {}, &h, response_end), ParseResult::kTooLarge);
  EXPECT_EQ(ParseResponse(text, {}, &h), ParseResult::kTooLarge);
}

// Header names are tokens (RFC 9110 §5.6.2): every tchar passes, separators and controls do not.
TEST(H1Head, HeaderNameCharacters) {
  Head h;
  ASSERT_EQ(Req("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~aZ09: v\r\n\r\n", &h), ParseResult::kOk);
  EXPECT_EQ(h.headers[0].name, "!#$%&'*+-.^_`|~aZ09");
  static constexpr char kNotToken[] = "\"(),/;<=>?@[\\]{} \x7f\x80\xff\x01";
  for (const char c : std::string_view(kNotToken, sizeof kNotToken - 1)) {
    const std::string text = std::string("GET / HTTP/1.1\r\nA") + c + "b: v\r\n\r\n";
    EXPECT_EQ(Req(text, &h), ParseResult::kBad) << static_cast<int>(static_cast<unsigned char>(c));
  }
}

// Random bytes never crash the parsers and never claim more than they were given.
TEST(H1Head, RandomBytesAreBoundedAndNeverOverrun) {
  std::mt19937 rng(11);
  const std::string alphabet = "GET / HTTP/1.1\r\n:;,chunked Content-Length 0123456789\r\n\t\x01";
  for (int round = 0; round < 3000; ++round) {
    std::string text(rng() % 200, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    Head h;
    if (Req(text, &h) == ParseResult::kOk) {
      EXPECT_LE(h.head_len, text.size());
      EXPECT_LE(h.header_count, kMaxHeaders);
    }
    if (Resp(text, &h) == ParseResult::kOk) {
      EXPECT_LE(h.head_len, text.size());
    }
  }
}

std::string Chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof(size), "%zx", data.size());
  std::string out(size);
  return out.append("\r\n").append(data).append("\r\n");
}

TEST(H1Chunked, FindsTheEndFedInRandomPieces) {
  std::mt19937 rng(3);
  for (int round = 0; round < 300; ++round) {
    std::string body;
    uint64_t payload = 0;
    const int chunks = static_cast<int>(rng() % 6);
    for (int i = 0; i < chunks; ++i) {
      std::string data(1 + rng() % 3000, static_cast<char>('a' + i));
      payload += data.size();
      body += Chunk(data);
      if (rng() % 4 == 0) body.insert(body.rfind(data) - 2, ";ext=\"1\"");  // an extension
    }
    body += "0\r\n";
    if (rng() % 2) body += "X-Trailer: 1\r\nY: 2\r\n";
    body += "\r\n";
    const std::string stream = body + "GET /next HTTP/1.1\r\n\r\n";
    ChunkedFramer framer;
    size_t pos = 0;
    ChunkedFramer::Result r = ChunkedFramer::Result::kMore;
    while (r == ChunkedFramer::Result::kMore && pos < stream.size()) {
      const size_t piece = 1 + rng() % 700;
      size_t used = 0;
      r = framer.Consume(std::string_view(stream).substr(pos, piece), &used);
      pos += used;
    }
    ASSERT_EQ(r, ChunkedFramer::Result::kDone) << round;
    EXPECT_EQ(pos, body.size());
    EXPECT_EQ(framer.payload_bytes(), payload);
  }
}

TEST(H1Chunked, MalformedBodiesAreBad) {
  for (const char* bad : {"x\r\n", "5\r\nhelloX\r\n", "5\r\nhello\rX", "\r\n", "1;ext\rZ",
                          "10000000000000000\r\n"}) {
    ChunkedFramer framer;
    size_t used = 0;
    EXPECT_EQ(framer.Consume(bad, &used), ChunkedFramer::Result::kBad) << bad;
    EXPECT_LE(used, std::string_view(bad).size());
  }
  ChunkedFramer framer;
  size_t used = 0;
  EXPECT_EQ(framer.Consume("5\r\nhel", &used), ChunkedFramer::Result::kMore);
  EXPECT_EQ(used, 6u);
  EXPECT_EQ(framer.Consume("lo\r\n0\r\n\r\nrest", &used), ChunkedFramer::Result::kDone);
  EXPECT_EQ(used, 9u);
  // An endless trailer is refused rather than buffered forever.
  framer.Reset();
  std::string trailer = "0\r\nX: ";
  trailer.append(70 * 1024, 'a');
  EXPECT_EQ(framer.Consume(trailer, &used), ChunkedFramer::Result::kBad);
}

}  // namespace
}  // namespace faultd::core::http
