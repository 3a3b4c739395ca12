// SPDX-License-Identifier: Apache-2.0
// The DNS wire format (RFC 1035, EDNS0 of RFC 6891), as much as the DNS interceptor needs: read
// a query's header, its one question and its OPT record, and build the interceptor's own answers
// (an error rcode, or address records) with the question echoed. Bounds-checked everywhere: a
// message that does not parse is never answered by faultd, it is forwarded unchanged and the
// upstream server answers it (FORMERR or whatever it says), so the interceptor never makes a
// malformed exchange worse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace faultd::core::dns {

inline constexpr size_t kHeaderBytes = 12;
/// Largest name on the wire (RFC 1035 §2.3.4), and largest label.
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxLabelBytes = 63;

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kClassIn = 1;

enum class Rcode : uint8_t { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };

/// The EDNS OPT pseudo-record of a message (RFC 6891 §6.1.2).
struct OptRecord {
  uint16_t udp_payload_size = 512;
  uint8_t extended_rcode = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
};

/// A standard query with exactly one question.
struct Query {
  uint16_t id = 0;
  /// Header flags word as sent (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
  uint16_t flags = 0;
  /// The question's name: lower-case ASCII, labels joined by '.', no trailing dot ("" = root).
  std::string name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  /// The question's bytes on the wire ([12, question_end)), echoed in answers.
  size_t question_end = 0;
  std::optional<OptRecord> opt;
};

/// Why a message is not a query faultd answers itself ("" when it is one).
struct ParsedQuery {
  std::optional<Query> query;
  std::string why_not;
};

/// Reads `message` as a standard query (QR=0, opcode QUERY, one question, no compression in the
/// question, every record of the other sections within bounds). Never reads past the span.
ParsedQuery ParseQuery(std::span<const uint8_t> message) noexcept;

/// The one question of a message, query or response.
struct Question {
  /// As Query::name: lower-case, no trailing dot.
  std::string name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool operator==(const Question&) const = default;
};

/// The question of any message (QR either way) with exactly one question whose name has no
/// compression; nullopt otherwise. Used to tell an upstream's answer to the forwarded query from
/// a reply that only reuses its transaction id (RFC 5452 §9.1).
std::optional<Question> ReadQuestion(std::span<const uint8_t> message) noexcept;

/// The rcode of the header of any message (0 for one shorter than a header).
uint8_t MessageRcode(std::span<const uint8_t> message) noexcept;

/// The number of questions in the header of any message (0 for one shorter than a header).
uint16_t QuestionCount(std::span<const uint8_t> message) noexcept;

/// The transaction id of any message (0 for one shorter than a header).
uint16_t MessageId(std::span<const uint8_t> message) noexcept;

/// Overwrites the transaction id (no-op for one shorter than a header).
void SetMessageId(std::span<uint8_t> message, uint16_t id) noexcept;

/// UDP payload size faultd's own answers advertise in their OPT record (the DNS flag day 2020 value).
inline constexpr uint16_t kAdvertisedUdpSize = 1232;

/// A response to `query` (whose bytes are `message`) with `rcode`, the question echoed, no
/// records, and an OPT record when the query had one (DO bit kept).
std::vector<uint8_t> BuildErrorResponse(const Query& query, std::span<const uint8_t> message, Rcode rcode);

/// A NOERROR response to `query` answering each of `addresses` (4 bytes: A, 16 bytes: AAAA; only
/// those of the question's type are put in, so an A query for an IPv6-only entry gets NODATA)
/// with `ttl_s`, the question echoed, and an OPT record when the query had one.
std::vector<uint8_t> BuildAddressResponse(const Query& query, std::span<const uint8_t> message,
                                          const std::vector<std::vector<uint8_t>>& addresses, uint32_t ttl_s);

/// Largest UDP response a client that sent `query` accepts: its EDNS payload size (at least
/// 512), or 512 without EDNS (RFC 1035 §4.2.1, RFC 6891 §6.2.5).
size_t UdpResponseLimit(const Query& query) noexcept;

/// Fits faultd's own `response` to `query` (whose bytes are `message`) into a UDP datagram: one
/// larger than UdpResponseLimit becomes its header and question with TC set, no records but the
/// OPT (RFC 2181 §9), so the client asks again over TCP, where the whole answer is given.
void FitUdpResponse(std::vector<uint8_t>& response, const Query& query, std::span<const uint8_t> message);

/// True if `name` (as Query::name) is `host` or, with `substring`, contains it; `host` is in
/// CanonicalName's form (so the comparison is case-insensitive).
bool NameMatches(const std::string& name, const std::string& host, bool substring) noexcept;

/// `host` as Query::name spells names: lower-case, no trailing dot.
std::string CanonicalName(std::string host);

}  // namespace faultd::core::dns
