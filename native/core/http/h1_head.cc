// SPDX-License-Identifier: Apache-2.0
#include "h1_head.h"

#include <array>
#include <cstring>

namespace faultd::core::http {
namespace {

char Lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 §5.6.2 tchar, as a table: every byte of every header name is checked.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool IsToken(char c) noexcept { return kTokenChars[static_cast<unsigned char>(c)]; }

std::string_view Trim(std::string_view v) noexcept {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The next line of `rest` without its CRLF/LF; advances `rest`. False when no line is left.
bool NextLine(std::string_view& rest, std::string_view* line) noexcept {
  const size_t lf = rest.find('\n');
  if (lf == std::string_view::npos) return false;
  *line = rest.substr(0, lf != 0 && rest[lf - 1] == '\r' ? lf - 1 : lf);
  rest.remove_prefix(lf + 1);
  return true;
}

bool ParseVersion(std::string_view v, int* minor) noexcept {
  if (v.size() != 8 || !v.starts_with("HTTP/1.") || v[7] < '0' || v[7] > '9') return false;
  *minor = v[7] - '0';
  return true;
}

bool ParseLength(std::string_view v, uint64_t* out) noexcept {
  if (v.empty() || v.size() > 18) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

// The header lines after the start line, into out->headers; the framing-related ones read.
struct Framing {
  bool has_length = false;
  uint64_t length = 0;
  bool has_te = false;
  bool chunked_last = false;
  bool close = false;
  bool keep_alive = false;
  bool connection_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
};

ParseResult ParseFields(std::string_view rest, Head* out, Framing* f) noexcept {
  std::string_view line;
  out->header_count = 0;
  while (NextLine(rest, &line)) {
    if (line.empty()) return ParseResult::kOk;
    if (line.front() == ' ' || line.front() == '\t') return ParseResult::kBad;  // obsolete line folding
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return ParseResult::kBad;
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsToken(c)) return ParseResult::kBad;
    }
    const std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      if (c == '\0' || c == '\r' || c == '\n') return ParseResult::kBad;
    }
    if (out->header_count == kMaxHeaders) return ParseResult::kTooLarge;
    out->headers[out->header_count++] = {name, value};
    switch (Lower(name[0])) {
      case 'c':
        if (EqualsIgnoreCase(name, "content-length")) {
          uint64_t n = 0;
          // A list of equal values ("5, 5") is one length (RFC 9110 §8.6); differing ones are not.
          std::string_view list = value;
          bool any = false;
          while (!list.empty() || !any) {
            const size_t comma = list.find(',');
            if (!ParseLength(Trim(list.substr(0, comma)), &n)) return ParseResult::kBad;
            if ((f->has_length || any) && n != f->length) return ParseResult::kBad;
            f->has_length = true;
            f->length = n;
            any = true;
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
          }
        } else if (EqualsIgnoreCase(name, "connection")) {
          if (HasToken(value, "close")) f->close = true;
          if (HasToken(value, "keep-alive")) f->keep_alive = true;
          if (HasToken(value, "upgrade")) f->connection_upgrade = true;
        }
        break;
      case 't':
        if (EqualsIgnoreCase(name, "transfer-encoding")) {
          f->has_te = true;
          // The final coding decides: "gzip, chunked" is chunked; "chunked, gzip" is not.
          std::string_view last = value;
          const size_t comma = last.rfind(',');
          if (comma != std::string_view::npos) last = last.substr(comma + 1);
          f->chunked_last = EqualsIgnoreCase(Trim(last), "chunked");
        }
        break;
      case 'u':
        if (EqualsIgnoreCase(name, "upgrade")) f->has_upgrade = true;
        break;
      case 'e':
        if (EqualsIgnoreCase(name, "expect") && EqualsIgnoreCase(value, "100-continue")) f->expect_continue = true;
        break;
      default:
        break;
    }
  }
  return ParseResult::kIncomplete;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool HasToken(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (EqualsIgnoreCase(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

const HeaderField* FindField(const Head& head, std::string_view name) noexcept {
  for (size_t i = 0; i < head.header_count; ++i) {
    if (EqualsIgnoreCase(head.headers[i].name, name)) return &head.headers[i];
  }
  return nullptr;
}

size_t FindHeadEnd(std::string_view buf, size_t* scanned) noexcept {
  // A head ends at "\n\n" or "\n\r\n"; resume one or two bytes back so a split end is seen.
  size_t i = *scanned >= 2 ? *scanned - 2 : 0;
  const char* data = buf.data();
  const size_t n = buf.size();
  while (i < n) {
    const void* hit = std::memchr(data + i, '\n', n - i);
    if (hit == nullptr) break;
    const size_t lf = static_cast<size_t>(static_cast<const char*>(hit) - data);
    if (lf + 1 < n && data[lf + 1] == '\n') return lf + 2;
    if (lf + 2 < n && data[lf + 1] == '\r' && data[lf + 2] == '\n') return lf + 3;
    if (lf + 2 >= n) {  // the end may still arrive: look here again next time
      *scanned = lf + 2 <= n ? lf + 2 : n;
      return 0;
    }
    i = lf + 1;
  }
  *scanned = n;
  return 0;
}

// Finds a whole head at the start of `buf` (within kMaxHeadBytes): its length, the start line,
// and the field lines after it.
// `known_end`: the head's length when the caller's FindHeadEnd already found it (0: look here).
static ParseResult SplitHead(std::string_view buf, size_t known_end, size_t* end, std::string_view* fields,
                             std::string_view* start_line) noexcept {
  size_t scanned = 0;
  *end = known_end != 0 && known_end <= buf.size() ? known_end : FindHeadEnd(buf.substr(0, kMaxHeadBytes + 3), &scanned);
  if (*end == 0) return buf.size() > kMaxHeadBytes ? ParseResult::kTooLarge : ParseResult::kIncomplete;
  if (*end > kMaxHeadBytes) return ParseResult::kTooLarge;
  *fields = buf.substr(0, *end);
  NextLine(*fields, start_line);
  return ParseResult::kOk;
}

ParseResult ParseRequest(std::string_view buf, Head* out, size_t head_len) noexcept {
  size_t end = 0;
  std::string_view rest;
  std::string_view line;
  if (const ParseResult r = SplitHead(buf, head_len, &end, &rest, &line); r != ParseResult::kOk) return r;
  // request-line = method SP request-target SP HTTP-version
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) return ParseResult::kBad;
  out->method = line.substr(0, sp1);
  out->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : out->method) {
    if (!IsToken(c)) return ParseResult::kBad;
  }
  for (char c : out->target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return ParseResult::kBad;
  }
  if (!ParseVersion(line.substr(sp2 + 1), &out->version_minor)) return ParseResult::kBad;
  out->status = 0;
  out->reason = {};
  out->head_len = end;
  Framing f;
  if (const ParseResult r = ParseFields(rest, out, &f); r != ParseResult::kOk) return r == ParseResult::kIncomplete ? ParseResult::kBad : r;
  out->keep_alive = out->version_minor >= 1 ? !f.close : (f.keep_alive && !f.close);
  out->upgrade = f.connection_upgrade && f.has_upgrade;
  out->expect_continue = f.expect_continue;
  out->interim = false;
  out->content_length = 0;
  if (f.has_te) {
    // RFC 9112 §6.1: another final coding cannot be framed, and Transfer-Encoding with
    // Content-Length is how requests are smuggled past a proxy: both refused.
    if (!f.chunked_last || f.has_length || out->version_minor == 0) return ParseResult::kBad;
    out->body = BodyKind::kChunked;
  } else if (f.has_length && f.length > 0) {
    out->body = BodyKind::kLength;
    out->content_length = f.length;
  } else {
    out->body = BodyKind::kNone;
  }
  return ParseResult::kOk;
}

ParseResult ParseResponse(std::string_view buf, const RequestInfo& request, Head* out, size_t head_len) noexcept {
  size_t end = 0;
  std::string_view rest;
  std::string_view line;
  if (const ParseResult r = SplitHead(buf, head_len, &end, &rest, &line); r != ParseResult::kOk) return r;
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  if (line.size() < 12 || !ParseVersion(line.substr(0, 8), &out->version_minor) || line[8] != ' ') return ParseResult::kBad;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return ParseResult::kBad;
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100 || (line.size() > 12 && line[12] != ' ')) return ParseResult::kBad;
  out->status = status;
  out->reason = line.size() > 13 ? line.substr(13) : std::string_view();
  out->method = {};
  out->target = {};
  out->head_len = end;
  Framing f;
  if (const ParseResult r = ParseFields(rest, out, &f); r != ParseResult::kOk) return r == ParseResult::kIncomplete ? ParseResult::kBad : r;
  out->keep_alive = out->version_minor >= 1 ? !f.close : (f.keep_alive && !f.close);
  out->upgrade = status == 101;
  out->expect_continue = false;
  out->interim = status < 200 && status != 101;
  out->content_length = 0;
  if ((status == 101 && request.upgrade) || (request.connect && status >= 200 && status < 300)) {
    out->body = BodyKind::kTunnel;
  } else if (status < 200 || status == 204 || status == 304 || request.head) {
    out->body = BodyKind::kNone;
  } else if (f.has_te) {
    out->body = f.chunked_last ? BodyKind::kChunked : BodyKind::kUntilClose;
    if (!f.chunked_last) out->keep_alive = false;
  } else if (f.has_length) {
    out->body = f.length > 0 ? BodyKind::kLength : BodyKind::kNone;
    out->content_length = f.length;
  } else {
    out->body = BodyKind::kUntilClose;
    out->keep_alive = false;
  }
  return ParseResult::kOk;
}

void AppendRequestLine(std::string& out, std::string_view method, std::string_view target, int version_minor) {
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.");
  out.push_back(static_cast<char>('0' + version_minor));
  out.append("\r\n");
}

void AppendStatusLine(std::string& out, int version_minor, int status, std::string_view reason) {
  out.append("HTTP/1.");
  out.push_back(static_cast<char>('0' + version_minor));
  out.push_back(' ');
  out.append(std::to_string(status));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
}

}  // namespace faultd::core::http
