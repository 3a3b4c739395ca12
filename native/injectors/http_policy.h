// SPDX-License-Identifier: Apache-2.0
// What the HTTP interceptor does with one request, decided once from its head and the client's
// address: pass it through untouched, answer it itself (block), delay it, or rewrite its status,
// body or headers. Wire-independent (HTTP/1.1 and HTTP/2 use the same types) and pure: no
// sockets, no clock; the random draw is passed in, so every decision is testable.
//
// Latency with direction `both` delays each side by the whole latency (the request before it is
// sent upstream, the response before its head is relayed), as a proxy's per-direction latency.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace faultd::inj {

/// One header field. `name` as received (HTTP/2: lower case); compared case-insensitively.
struct HttpHeader {
  std::string name;
  std::string value;
};

/// A request head as the policy sees it. `target` is the origin-form "/path?query" (HTTP/2
/// `:path`); an absolute-form target ("http://host/p?q") is accepted too.
struct HttpRequestHead {
  std::string method;
  std::string target;
  std::string authority;  ///< Host header / :authority (informational)
  std::vector<HttpHeader> headers;
};

struct HttpResponseHead {
  int status = 0;
  std::vector<HttpHeader> headers;
};

/// A header field as views into a buffer the caller owns (the HTTP/1.1 codec's read buffer).
struct HttpHeaderView {
  std::string_view name;
  std::string_view value;
};

/// A request head as views (no copies): what the HTTP/1.1 codec hands to Decide.
struct HttpRequestView {
  std::string_view method;
  std::string_view target;
  std::span<const HttpHeaderView> headers;
};

enum class HttpAction { kBlock, kLatency, kStatus, kBody, kHeader };
enum class HttpDirection { kRequest, kResponse, kBoth };

/// An address range a client may come from: `family` AF_INET (4 bytes used) or AF_INET6.
struct HttpSourceRange {
  int family = AF_INET;
  uint8_t addr[16] = {};
  int prefix_len = 32;
};

/// One `key=value` a request's query string must carry (compared percent-decoded).
struct HttpQueryParam {
  std::string key;
  std::string value;
};

struct HttpPolicy {
  HttpAction action = HttpAction::kBlock;

  // --- What a request must look like to match (every filter given must hold) ---
  /// The request path (before '?') starts with this; empty = every path.
  std::string path_prefix;
  /// Any of these methods (exact, upper case); empty = every method.
  std::vector<std::string> methods;
  /// Every one present: name case-insensitive, value exact.
  std::vector<HttpHeader> match_headers;
  /// Every one present in the query string.
  std::vector<HttpQueryParam> query;
  /// The client address is in any of these; empty = every client.
  std::vector<HttpSourceRange> sources;
  /// Share of matching requests faulted, 0–100 (drawn per request).
  double percentage = 100;

  // --- What a faulted request gets ---
  /// kBlock: the status answered; kStatus: the status the response's is replaced with.
  int status = 404;
  /// kStatus: a replacement response body when `has_body`; kBody: the replacement body.
  std::string body;
  bool has_body = false;
  /// kLatency: milliseconds added on each side the direction names.
  uint32_t latency_ms = 0;
  /// kLatency, kBody, kHeader: which side is touched.
  HttpDirection direction = HttpDirection::kBoth;
  /// kHeader: headers set (replacing every field of that name) and removed.
  std::vector<HttpHeader> set_headers;
  std::vector<std::string> remove_headers;
};

/// What one request gets. `faulted == false` means pass through untouched (every other member
/// then has its default). `body` points into the policy, which outlives every decision.
struct HttpDecision {
  /// The head matched the filters (before the percentage draw).
  bool matched = false;
  /// The request is faulted (matched and won the draw).
  bool faulted = false;
  /// Answer at once with `respond_status` and `respond_body` (text/plain); nothing goes upstream.
  bool respond_now = false;
  int respond_status = 0;
  std::string respond_body;
  /// Delay before the request is sent upstream / before the response head is relayed.
  uint32_t request_delay_ms = 0;
  uint32_t response_delay_ms = 0;
  /// Non-zero: the response's status code is replaced with this.
  int replace_status = 0;
  /// Replace the request's / the response's body with `body` (re-framed with Content-Length).
  bool replace_request_body = false;
  bool replace_response_body = false;
  std::string_view body;
  /// Apply ApplyHeaderEdits to the request's / the response's headers.
  bool edit_request_headers = false;
  bool edit_response_headers = false;
};

/// The decision for one request. `draw` is a uniform random number in [0, 1): a matching request
/// is faulted when draw * 100 < percentage. `client` is the peer address (an IPv4-mapped IPv6
/// address matches IPv4 ranges).
HttpDecision Decide(const HttpPolicy& policy, const HttpRequestView& head, const sockaddr_storage& client, double draw);
HttpDecision Decide(const HttpPolicy& policy, const HttpRequestHead& head, const sockaddr_storage& client, double draw);

/// Whether the head matches the policy's filters (percentage not drawn).
bool Matches(const HttpPolicy& policy, const HttpRequestView& head, const sockaddr_storage& client);

/// Removes the policy's remove_headers, then sets its set_headers (the first field of that name
/// keeps its place with the new value, later ones are removed; a new one is appended).
void ApplyHeaderEdits(const HttpPolicy& policy, std::vector<HttpHeader>& headers);

/// Makes `headers` describe a body of `length` bytes that replaces the original: drops
/// Content-Length, Transfer-Encoding, Content-Encoding, Trailer and Content-MD5, then appends
/// Content-Length: length.
void ReframeForBody(std::vector<HttpHeader>& headers, size_t length);

/// The body of a block answer: "faultd: request blocked (HTTP 404)\n".
std::string BlockBody(int status);

/// The reason phrase of a status code ("Not Found"; "" for an unknown code).
std::string_view ReasonPhrase(int status) noexcept;

/// ASCII case-insensitive equality of header names.
bool NameEquals(std::string_view a, std::string_view b) noexcept;

/// The first value of header `name`, or nullptr.
const std::string* FindHeader(const std::vector<HttpHeader>& headers, std::string_view name) noexcept;

/// Percent-decodes `text` ('+' becomes a space, as in form-encoded query strings); a malformed
/// escape is kept as is.
std::string PercentDecode(std::string_view text);

/// Parses "ADDR" or "ADDR/LEN" (IPv4 or IPv6); false when it is neither or LEN is out of range.
bool ParseSourceRange(std::string_view text, HttpSourceRange* out);

}  // namespace faultd::inj
