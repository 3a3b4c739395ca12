// SPDX-License-Identifier: Apache-2.0
#include "http_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace faultd::inj {
namespace {

char Lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path of a target: origin-form up to '?' or '#'; an absolute-form target loses its scheme
// and authority first ("http://h:8/p?q" → "/p"); "*" and authority-form stay as they are.
std::string_view PathOf(std::string_view target) noexcept {
  if (const size_t scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
    const size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const size_t end = target.find_first_of("?#");
  return end == std::string_view::npos ? target : target.substr(0, end);
}

std::string_view QueryOf(std::string_view target) noexcept {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  const size_t hash = query.find('#');
  return hash == std::string_view::npos ? query : query.substr(0, hash);
}

bool QueryHas(std::string_view query, const HttpQueryParam& want) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (PercentDecode(key) == want.key && PercentDecode(value) == want.value) return true;
  }
  return false;
}

bool InRange(const HttpSourceRange& range, const sockaddr_storage& client) noexcept {
  const uint8_t* addr = nullptr;
  int family = client.ss_family;
  if (family == AF_INET) {
    addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&client)->sin_addr);
  } else if (family == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(&client)->sin6_addr;
    addr = a6->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) family = AF_INET, addr += 12;
  } else {
    return false;
  }
  if (family != range.family) return false;
  const int full = range.prefix_len / 8;
  if (std::memcmp(addr, range.addr, static_cast<size_t>(full)) != 0) return false;
  const int rest = range.prefix_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (addr[full] & mask) == (range.addr[full] & mask);
}

template <typename Headers>
bool HasHeader(const Headers& headers, const HttpHeader& want) {
  for (const auto& h : headers) {
    if (NameEquals(h.name, want.name) && h.value == want.value) return true;
  }
  return false;
}

template <typename Head>
bool MatchesHead(const HttpPolicy& p, std::string_view method, std::string_view target, const Head& headers,
                 const sockaddr_storage& client) {
  if (!p.methods.empty() && std::find(p.methods.begin(), p.methods.end(), method) == p.methods.end()) return false;
  if (!p.path_prefix.empty() && !PathOf(target).starts_with(p.path_prefix)) return false;
  if (!p.query.empty()) {
    const std::string_view query = QueryOf(target);
    for (const HttpQueryParam& q : p.query) {
      if (!QueryHas(query, q)) return false;
    }
  }
  for (const HttpHeader& h : p.match_headers) {
    if (!HasHeader(headers, h)) return false;
  }
  if (!p.sources.empty()) {
    bool any = false;
    for (const HttpSourceRange& r : p.sources) any = any || InRange(r, client);
    if (!any) return false;
  }
  return true;
}

HttpDecision Faulted(const HttpPolicy& p, bool matched, double draw) {
  HttpDecision d;
  d.matched = matched;
  if (!matched || !(draw * 100.0 < p.percentage)) return d;
  d.faulted = true;
  const bool request = p.direction != HttpDirection::kResponse;
  const bool response = p.direction != HttpDirection::kRequest;
  switch (p.action) {
    case HttpAction::kBlock:
      d.respond_now = true;
      d.respond_status = p.status;
      d.respond_body = BlockBody(p.status);
      break;
    case HttpAction::kLatency:
      d.request_delay_ms = request ? p.latency_ms : 0;
      d.response_delay_ms = response ? p.latency_ms : 0;
      break;
    case HttpAction::kStatus:
      d.replace_status = p.status;
      d.replace_response_body = p.has_body;
      d.body = p.body;
      break;
    case HttpAction::kBody:
      d.replace_request_body = request;
      d.replace_response_body = response;
      d.body = p.body;
      break;
    case HttpAction::kHeader:
      d.edit_request_headers = request;
      d.edit_response_headers = response;
      break;
  }
  return d;
}

}  // namespace

bool NameEquals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

const std::string* FindHeader(const std::vector<HttpHeader>& headers, std::string_view name) noexcept {
  for (const HttpHeader& h : headers) {
    if (NameEquals(h.name, name)) return &h.value;
  }
  return nullptr;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool ParseSourceRange(std::string_view text, HttpSourceRange* out) {
  const size_t slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  HttpSourceRange r;
  if (inet_pton(AF_INET, addr.c_str(), r.addr) == 1) {
    r.family = AF_INET;
    r.prefix_len = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), r.addr) == 1) {
    r.family = AF_INET6;
    r.prefix_len = 128;
  } else {
    return false;
  }
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    int value = -1;
    const auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
    if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() || value < 0 || value > r.prefix_len) return false;
    r.prefix_len = value;
  }
  *out = r;
  return true;
}

bool Matches(const HttpPolicy& policy, const HttpRequestView& head, const sockaddr_storage& client) {
  return MatchesHead(policy, head.method, head.target, head.headers, client);
}

HttpDecision Decide(const HttpPolicy& policy, const HttpRequestView& head, const sockaddr_storage& client, double draw) {
  return Faulted(policy, Matches(policy, head, client), draw);
}

HttpDecision Decide(const HttpPolicy& policy, const HttpRequestHead& head, const sockaddr_storage& client, double draw) {
  return Faulted(policy, MatchesHead(policy, head.method, head.target, head.headers, client), draw);
}

void ApplyHeaderEdits(const HttpPolicy& policy, std::vector<HttpHeader>& headers) {
  for (const std::string& name : policy.remove_headers) {
    std::erase_if(headers, [&](const HttpHeader& h) { return NameEquals(h.name, name); });
  }
  for (const HttpHeader& set : policy.set_headers) {
    bool placed = false;
    std::erase_if(headers, [&](HttpHeader& h) {
      if (!NameEquals(h.name, set.name)) return false;
      if (placed) return true;
      h.value = set.value;
      placed = true;
      return false;
    });
    if (!placed) headers.push_back(set);
  }
}

void ReframeForBody(std::vector<HttpHeader>& headers, size_t length) {
  std::erase_if(headers, [](const HttpHeader& h) {
    return NameEquals(h.name, "content-length") || NameEquals(h.name, "transfer-encoding") ||
           NameEquals(h.name, "content-encoding") || NameEquals(h.name, "trailer") || NameEquals(h.name, "content-md5");
  });
  headers.push_back({"Content-Length", std::to_string(length)});
}

std::string BlockBody(int status) { return "faultd: request blocked (HTTP " + std::to_string(status) + ")\n"; }

std::string_view ReasonPhrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 418: return "I'm a teapot";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace faultd::inj
