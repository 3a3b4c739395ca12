// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 message heads (RFC 9112): an incremental parser for request and response heads that
// works on views into the caller's read buffer (no copies), the framing of the body that follows
// (Content-Length, chunked, close-delimited, none, or a tunnel after Upgrade/CONNECT), and a
// serializer for heads the interceptor rewrites. Pure: no sockets, no allocation while parsing.
//
// Incremental use: FindHeadEnd(buf, scanned) tells where the head ends (or how far it looked, so
// the next call starts there); once it ends, ParseRequest/ParseResponse parse it in one pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace faultd::core::http {

/// Largest head accepted (request line/status line, headers, final empty line); larger → 431.
inline constexpr size_t kMaxHeadBytes = 64 * 1024;
/// Most header fields accepted in one head; more → 431.
inline constexpr size_t kMaxHeaders = 128;
/// The HTTP/2 connection preface (RFC 9113 §3.4): a client speaking h2c with prior knowledge.
inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct HeaderField {
  std::string_view name;
  std::string_view value;  ///< without leading/trailing spaces and tabs
};

/// How the body after a head is delimited.
enum class BodyKind {
  kNone,        ///< no body
  kLength,      ///< Content-Length bytes
  kChunked,     ///< chunked transfer coding (ChunkedFramer finds the end)
  kUntilClose,  ///< everything until the sender closes (responses only)
  kTunnel,      ///< after a 101 to an Upgrade or a 2xx to CONNECT: raw bytes both ways
};

enum class ParseResult {
  kIncomplete,  ///< the head has not ended yet
  kOk,
  kBad,       ///< malformed: answer 400 (request) / 502 (response) and close
  kTooLarge,  ///< head over kMaxHeadBytes or over kMaxHeaders fields: 431 and close
};

struct Head {
  /// Request: method and target; response: empty.
  std::string_view method;
  std::string_view target;
  /// Response: status code and reason phrase; request: 0.
  int status = 0;
  std::string_view reason;
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  int version_minor = 1;
  HeaderField headers[kMaxHeaders];
  size_t header_count = 0;
  /// Bytes of the whole head including its final empty line.
  size_t head_len = 0;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  /// The connection may carry another message after this one (version and Connection header).
  bool keep_alive = true;
  /// Request: `Upgrade` named in `Connection` with an Upgrade header; response: 101.
  bool upgrade = false;
  /// Request: `Expect: 100-continue`.
  bool expect_continue = false;
  /// Response: an interim 1xx other than 101 (another response head follows).
  bool interim = false;
};

/// Where the head that starts at buf[0] ends (its length, with the final empty line), or 0 when
/// it has not ended yet; `*scanned` is where the next call may resume looking (start at 0).
/// Lines may end in CRLF or a bare LF.
size_t FindHeadEnd(std::string_view buf, size_t* scanned) noexcept;

/// Parses the request head at the start of `buf`. Body: Transfer-Encoding chunked (as the final
/// coding) → kChunked, another Transfer-Encoding → kBad, Content-Length → kLength (differing
/// values → kBad), otherwise kNone. CONNECT has no body; its tunnel starts with a 2xx response.
/// `head_len`: what FindHeadEnd returned for `buf`, when the caller has it (the head is not
/// searched for again); 0: searched here.
ParseResult ParseRequest(std::string_view buf, Head* out, size_t head_len = 0) noexcept;

/// What a response's framing depends on in the request it answers.
struct RequestInfo {
  bool head = false;     ///< HEAD: the response has no body whatever its headers say
  bool connect = false;  ///< CONNECT: a 2xx starts a tunnel
  bool upgrade = false;  ///< the request asked for an Upgrade: a 101 starts a tunnel
};

/// Parses the response head at the start of `buf` (RFC 9112 §6.3 for its body); `head_len` as
/// for ParseRequest.
ParseResult ParseResponse(std::string_view buf, const RequestInfo& request, Head* out, size_t head_len = 0) noexcept;

/// Whether the comma-separated header value contains `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) noexcept;

/// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept;

/// The first value of header `name` in `head`, or nullptr.
const HeaderField* FindField(const Head& head, std::string_view name) noexcept;

/// Appends "NAME: VALUE\r\n" for each field of `headers` (anything with .name and .value).
template <typename Headers>
void AppendFields(std::string& out, const Headers& headers) {
  for (const auto& h : headers) {
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
}

/// Appends a request line "METHOD TARGET HTTP/1.m\r\n".
void AppendRequestLine(std::string& out, std::string_view method, std::string_view target, int version_minor);

/// Appends a status line "HTTP/1.m CODE REASON\r\n".
void AppendStatusLine(std::string& out, int version_minor, int status, std::string_view reason);

}  // namespace faultd::core::http
