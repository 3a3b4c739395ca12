// SPDX-License-Identifier: Apache-2.0
#include "message.h"

#include <algorithm>
#include <cctype>

namespace faultd::core::dns {
namespace {

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint16_t kFlagCd = 0x0010;
constexpr uint16_t kDnssecOk = 0x8000;
constexpr uint8_t kPointerMask = 0xc0;

// A bounds-checked reader: every read fails (and stays failed) past the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool U8(uint8_t* out) {
    if (pos_ + 1 > bytes_.size()) return false;
    *out = bytes_[pos_++];
    return true;
  }
  bool U16(uint16_t* out) {
    if (pos_ + 2 > bytes_.size()) return false;
    *out = static_cast<uint16_t>((bytes_[pos_] << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* out) {
    uint16_t hi = 0;
    uint16_t lo = 0;
    if (!U16(&hi) || !U16(&lo)) return false;
    *out = (static_cast<uint32_t>(hi) << 16) | lo;
    return true;
  }
  bool Skip(size_t n) {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  [[nodiscard]] size_t pos() const { return pos_; }
  [[nodiscard]] std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// The question's name, without compression (a query has nothing before it to point to).
bool ReadQuestionName(Reader& r, std::string* name, std::string* why) {
  size_t wire = 0;
  for (;;) {
    uint8_t len = 0;
    if (!r.U8(&len)) return *why = "name runs past the end", false;
    wire += 1 + len;
    if (wire > kMaxNameBytes) return *why = "name longer than 255 bytes", false;
    if (len == 0) return true;
    if ((len & kPointerMask) != 0) return *why = "compressed or extended label in the question", false;
    const auto at = r.pos();
    if (!r.Skip(len)) return *why = "label runs past the end", false;
    if (!name->empty()) name->push_back('.');
    for (size_t i = 0; i < len; ++i) name->push_back(static_cast<char>(std::tolower(r.bytes()[at + i])));
  }
}

// Skips a name of any section: labels, ending in a root label or a compression pointer.
bool SkipName(Reader& r) {
  size_t wire = 0;
  for (;;) {
    uint8_t len = 0;
    if (!r.U8(&len)) return false;
    if ((len & kPointerMask) == kPointerMask) return r.Skip(1);
    if ((len & kPointerMask) != 0) return false;  // extended label types (RFC 6891 §5) are obsolete
    wire += 1 + len;
    if (wire > kMaxNameBytes) return false;
    if (len == 0) return true;
    if (!r.Skip(len)) return false;
  }
}

void PutU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  PutU16(out, static_cast<uint16_t>(v >> 16));
  PutU16(out, static_cast<uint16_t>(v));
}

// Header and question of a response to `q`; the counts are filled in by the callers.
std::vector<uint8_t> ResponseStart(const Query& q, std::span<const uint8_t> message, Rcode rcode, uint16_t answers) {
  std::vector<uint8_t> out;
  out.reserve(q.question_end + 64);
  PutU16(out, q.id);
  // QR, the query's opcode, RD and CD; RA set (faultd answers as a recursive resolver would).
  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (q.flags & (kOpcodeMask | kFlagRd | kFlagCd)) | kFlagRa |
                                               static_cast<uint16_t>(rcode));
  PutU16(out, flags);
  PutU16(out, 1);
  PutU16(out, answers);
  PutU16(out, 0);
  PutU16(out, q.opt ? 1 : 0);
  out.insert(out.end(), message.begin() + kHeaderBytes, message.begin() + static_cast<std::ptrdiff_t>(q.question_end));
  return out;
}

void PutOpt(std::vector<uint8_t>& out, const Query& q) {
  if (!q.opt) return;
  out.push_back(0);  // root name
  PutU16(out, kTypeOpt);
  PutU16(out, kAdvertisedUdpSize);
  out.push_back(0);  // extended rcode
  out.push_back(0);  // version 0
  PutU16(out, q.opt->dnssec_ok ? kDnssecOk : 0);
  PutU16(out, 0);  // no options
}

}  // namespace

ParsedQuery ParseQuery(std::span<const uint8_t> message) noexcept {
  ParsedQuery result;
  Reader r(message);
  Query q;
  uint16_t counts[4] = {};
  if (!r.U16(&q.id) || !r.U16(&q.flags)) return {std::nullopt, "shorter than a DNS header"};
  for (uint16_t& c : counts) {
    if (!r.U16(&c)) return {std::nullopt, "shorter than a DNS header"};
  }
  if ((q.flags & kFlagQr) != 0) return {std::nullopt, "a response, not a query"};
  if ((q.flags & kOpcodeMask) != 0) return {std::nullopt, "opcode is not QUERY"};
  if (counts[0] != 1) return {std::nullopt, "not exactly one question"};
  std::string why;
  if (!ReadQuestionName(r, &q.name, &why)) return {std::nullopt, why};
  if (!r.U16(&q.qtype) || !r.U16(&q.qclass)) return {std::nullopt, "question runs past the end"};
  q.question_end = r.pos();
  // Answer, authority and additional records: walked within bounds, the OPT record kept.
  const uint32_t records = static_cast<uint32_t>(counts[1]) + counts[2] + counts[3];
  for (uint32_t i = 0; i < records; ++i) {
    const bool additional = i >= static_cast<uint32_t>(counts[1]) + counts[2];
    const size_t name_at = r.pos();
    uint16_t type = 0;
    uint16_t rclass = 0;
    uint32_t ttl = 0;
    uint16_t rdlength = 0;
    if (!SkipName(r) || !r.U16(&type) || !r.U16(&rclass) || !r.U32(&ttl) || !r.U16(&rdlength) || !r.Skip(rdlength)) {
      return {std::nullopt, "a record runs past the end"};
    }
    if (type != kTypeOpt) continue;
    if (!additional || message[name_at] != 0) return {std::nullopt, "OPT record outside the additional section or not at the root"};
    if (q.opt) return {std::nullopt, "more than one OPT record"};
    q.opt = OptRecord{rclass, static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16), (ttl & kDnssecOk) != 0};
  }
  if (r.pos() != message.size()) return {std::nullopt, "trailing bytes after the last record"};
  result.query = std::move(q);
  return result;
}

std::optional<Question> ReadQuestion(std::span<const uint8_t> message) noexcept {
  if (QuestionCount(message) != 1) return std::nullopt;
  Reader r(message);
  if (!r.Skip(kHeaderBytes)) return std::nullopt;
  Question q;
  std::string why;
  if (!ReadQuestionName(r, &q.name, &why) || !r.U16(&q.qtype) || !r.U16(&q.qclass)) return std::nullopt;
  return q;
}

uint8_t MessageRcode(std::span<const uint8_t> message) noexcept {
  return message.size() < kHeaderBytes ? 0 : static_cast<uint8_t>(message[3] & 0x0f);
}

uint16_t QuestionCount(std::span<const uint8_t> message) noexcept {
  return message.size() < kHeaderBytes ? 0 : static_cast<uint16_t>((message[4] << 8) | message[5]);
}

uint16_t MessageId(std::span<const uint8_t> message) noexcept {
  if (message.size() < kHeaderBytes) return 0;
  return static_cast<uint16_t>((message[0] << 8) | message[1]);
}

void SetMessageId(std::span<uint8_t> message, uint16_t id) noexcept {
  if (message.size() < kHeaderBytes) return;
  message[0] = static_cast<uint8_t>(id >> 8);
  message[1] = static_cast<uint8_t>(id);
}

std::vector<uint8_t> BuildErrorResponse(const Query& query, std::span<const uint8_t> message, Rcode rcode) {
  std::vector<uint8_t> out = ResponseStart(query, message, rcode, 0);
  PutOpt(out, query);
  return out;
}

std::vector<uint8_t> BuildAddressResponse(const Query& query, std::span<const uint8_t> message,
                                          const std::vector<std::vector<uint8_t>>& addresses, uint32_t ttl_s) {
  const size_t want = query.qtype == kTypeA ? 4 : query.qtype == kTypeAaaa ? 16 : 0;
  std::vector<const std::vector<uint8_t>*> fitting;
  if (query.qclass == kClassIn) {
    for (const auto& a : addresses) {
      if (a.size() == want) fitting.push_back(&a);
    }
  }
  std::vector<uint8_t> out = ResponseStart(query, message, Rcode::kNoError, static_cast<uint16_t>(fitting.size()));
  for (const auto* a : fitting) {
    PutU16(out, 0xc000 | kHeaderBytes);  // the question's name
    PutU16(out, query.qtype);
    PutU16(out, kClassIn);
    PutU32(out, ttl_s);
    PutU16(out, static_cast<uint16_t>(a->size()));
    out.insert(out.end(), a->begin(), a->end());
  }
  PutOpt(out, query);
  return out;
}

size_t UdpResponseLimit(const Query& query) noexcept {
  constexpr size_t kClassicUdp = 512;
  return query.opt ? std::max<size_t>(kClassicUdp, query.opt->udp_payload_size) : kClassicUdp;
}

void FitUdpResponse(std::vector<uint8_t>& response, const Query& query, std::span<const uint8_t> message) {
  if (response.size() <= UdpResponseLimit(query) || response.size() < kHeaderBytes) return;
  const auto rcode = static_cast<Rcode>(response[3] & 0x0f);
  std::vector<uint8_t> truncated = ResponseStart(query, message, rcode, 0);
  truncated[2] |= kFlagTc >> 8;
  PutOpt(truncated, query);
  response = std::move(truncated);
}

std::string CanonicalName(std::string host) {
  while (!host.empty() && host.back() == '.') host.pop_back();
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

bool NameMatches(const std::string& name, const std::string& host, bool substring) noexcept {
  if (substring) return name.find(host) != std::string::npos;
  return name == host;
}

}  // namespace faultd::core::dns
