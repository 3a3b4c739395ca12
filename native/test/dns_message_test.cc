// SPDX-License-Identifier: Apache-2.0
// The DNS wire reader and the interceptor's own answers: a query as dig sends it (with EDNS and
// a cookie) is read; answers echo the question and keep EDNS; every truncation and a run of
// random bytes is refused without reading out of bounds (ASan build: see STYLE.md D10).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../core/dns/message.h"

namespace faultd::core::dns {
namespace {

void Put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// A query for `name` (dotted), with an OPT record (udp size 1232, DO, a cookie option) if `edns`.
std::vector<uint8_t> MakeQuery(uint16_t id, const std::string& name, uint16_t qtype, bool edns, uint16_t flags = 0x0120) {
  std::vector<uint8_t> b;
  Put16(b, id);
  Put16(b, flags);
  Put16(b, 1);
  Put16(b, 0);
  Put16(b, 0);
  Put16(b, edns ? 1 : 0);
  size_t start = 0;
  while (start <= name.size() && !name.empty()) {
    const size_t dot = name.find('.', start);
    const size_t end = dot == std::string::npos ? name.size() : dot;
    b.push_back(static_cast<uint8_t>(end - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(end));
    start = end + 1;
  }
  b.push_back(0);
  Put16(b, qtype);
  Put16(b, kClassIn);
  if (edns) {
    b.push_back(0);
    Put16(b, kTypeOpt);
    Put16(b, 1232);
    b.insert(b.end(), {0, 0, 0x80, 0x00});  // ext rcode 0, version 0, DO
    Put16(b, 12);                            // rdlength: one COOKIE option of 8 bytes
    Put16(b, 10);
    Put16(b, 8);
    b.insert(b.end(), {1, 2, 3, 4, 5, 6, 7, 8});
  }
  return b;
}

TEST(DnsMessage, ReadsAQueryWithEdns) {
  const auto msg = MakeQuery(0xbeef, "Api.Example.COM", kTypeAaaa, true);
  const ParsedQuery parsed = ParseQuery(msg);
  ASSERT_TRUE(parsed.query) << parsed.why_not;
  const Query& q = *parsed.query;
  EXPECT_EQ(q.id, 0xbeef);
  EXPECT_EQ(q.name, "api.example.com");
  EXPECT_EQ(q.qtype, kTypeAaaa);
  EXPECT_EQ(q.qclass, kClassIn);
  EXPECT_EQ(q.question_end, 12u + 17u + 4u);
  ASSERT_TRUE(q.opt);
  EXPECT_EQ(q.opt->udp_payload_size, 1232);
  EXPECT_TRUE(q.opt->dnssec_ok);
}

TEST(DnsMessage, ReadsTheRootAndAQueryWithoutEdns) {
  const ParsedQuery root = ParseQuery(MakeQuery(1, "", 2, false));
  ASSERT_TRUE(root.query) << root.why_not;
  EXPECT_EQ(root.query->name, "");
  EXPECT_FALSE(root.query->opt);
}

TEST(DnsMessage, ErrorResponseEchoesTheQuestionAndKeepsEdns) {
  const auto msg = MakeQuery(0x1234, "gone.example", kTypeA, true);
  const Query q = *ParseQuery(msg).query;
  const auto out = BuildErrorResponse(q, msg, Rcode::kNxDomain);
  // QR, RD and RA set, rcode 3; the query's AD bit (dig sets it) is not claimed in an answer.
  const std::vector<uint8_t> header = {0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 1};
  ASSERT_GE(out.size(), 12u);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 12), header);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 12, out.begin() + static_cast<long>(q.question_end)),
            std::vector<uint8_t>(msg.begin() + 12, msg.begin() + static_cast<long>(q.question_end)));
  const std::vector<uint8_t> opt = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + static_cast<long>(q.question_end), out.end()), opt);
  // The answer reads back as a message of the same id; rcodes other than NXDOMAIN too.
  EXPECT_EQ(MessageId(out), 0x1234);
  EXPECT_EQ(BuildErrorResponse(q, msg, Rcode::kServFail)[3] & 0x0f, 2);
  EXPECT_EQ(BuildErrorResponse(q, msg, Rcode::kRefused)[3] & 0x0f, 5);
}

TEST(DnsMessage, ErrorResponseWithoutEdnsHasNoAdditionalRecord) {
  const auto msg = MakeQuery(7, "x.test", kTypeA, false, 0x0100);
  const Query q = *ParseQuery(msg).query;
  const auto out = BuildErrorResponse(q, msg, Rcode::kServFail);
  EXPECT_EQ(out.size(), q.question_end);
  EXPECT_EQ(out[2], 0x81);
  EXPECT_EQ(out[3], 0x82);
  EXPECT_EQ(out[11], 0);
}

TEST(DnsMessage, AddressResponseAnswersOnlyTheAskedType) {
  const std::vector<std::vector<uint8_t>> addresses = {{10, 0, 0, 9}, std::vector<uint8_t>(16, 0)};
  const auto a = MakeQuery(9, "api.example.com", kTypeA, false);
  const Query qa = *ParseQuery(a).query;
  const auto out = BuildAddressResponse(qa, a, addresses, 30);
  EXPECT_EQ(out[7], 1);  // one answer
  const std::vector<uint8_t> rr = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 9};
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + static_cast<long>(qa.question_end), out.end()), rr);
  const auto mx = MakeQuery(9, "api.example.com", 15, false);
  const auto nodata = BuildAddressResponse(*ParseQuery(mx).query, mx, addresses, 30);
  EXPECT_EQ(nodata[3] & 0x0f, 0);
  EXPECT_EQ(nodata[7], 0);
}

TEST(DnsMessage, RefusesWhatIsNotAPlainQuery) {
  EXPECT_EQ(ParseQuery({}).why_not, "shorter than a DNS header");
  auto response = MakeQuery(1, "a.b", kTypeA, false, 0x8180);
  EXPECT_EQ(ParseQuery(response).why_not, "a response, not a query");
  auto notify = MakeQuery(1, "a.b", kTypeA, false, 0x2000);
  EXPECT_EQ(ParseQuery(notify).why_not, "opcode is not QUERY");
  auto two = MakeQuery(1, "a.b", kTypeA, false);
  two[5] = 2;
  EXPECT_EQ(ParseQuery(two).why_not, "not exactly one question");
  auto pointer = MakeQuery(1, "a.b", kTypeA, false);
  pointer[12] = 0xc0;
  EXPECT_EQ(ParseQuery(pointer).why_not, "compressed or extended label in the question");
  auto trailing = MakeQuery(1, "a.b", kTypeA, false);
  trailing.push_back(0);
  EXPECT_EQ(ParseQuery(trailing).why_not, "trailing bytes after the last record");
  auto two_opts = MakeQuery(1, "a.b", kTypeA, true);
  const std::vector<uint8_t> opt(two_opts.end() - 23, two_opts.end());
  two_opts.insert(two_opts.end(), opt.begin(), opt.end());
  two_opts[11] = 2;
  EXPECT_EQ(ParseQuery(two_opts).why_not, "more than one OPT record");
}

TEST(DnsMessage, RefusesNamesOverTheWireLimit) {
  std::string name;
  for (int i = 0; i < 5; ++i) name += std::string(63, 'a') + ".";
  name.pop_back();  // 5 × 64 + 1 > 255
  EXPECT_EQ(ParseQuery(MakeQuery(1, name, kTypeA, false)).why_not, "name longer than 255 bytes");
}

TEST(DnsMessage, EveryTruncationIsRefusedWithinBounds) {
  const auto msg = MakeQuery(0xabcd, "www.example.org", kTypeA, true);
  ASSERT_TRUE(ParseQuery(msg).query);
  for (size_t len = 0; len < msg.size(); ++len) {
    const std::vector<uint8_t> cut(msg.begin(), msg.begin() + static_cast<long>(len));
    EXPECT_FALSE(ParseQuery(cut).query) << "length " << len;
  }
}

// Every message the reader accepts is one faultd can answer: the question within the bytes, and
// an error response built from it that carries the same question and id, as a response.
void ExpectAnswerable(const std::vector<uint8_t>& bytes, const Query& q) {
  ASSERT_LE(q.question_end, bytes.size());
  ASSERT_GE(q.question_end, kHeaderBytes + 5);
  const auto response = BuildErrorResponse(q, bytes, Rcode::kServFail);
  EXPECT_EQ(ReadQuestion(response), (Question{q.name, q.qtype, q.qclass}));
  EXPECT_EQ(MessageId(response), q.id);
  EXPECT_EQ(MessageRcode(response), 2);
  EXPECT_NE(response[2] & 0x80, 0) << "QR set";
}

TEST(DnsMessage, RandomBytesNeverCrashTheReader) {
  std::mt19937 rng(42);
  size_t parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes(rng() % 80);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    if (bytes.size() > 2 && rng() % 2) bytes[2] &= 0x07;  // often a query header
    const auto q = ParseQuery(bytes).query;
    if (!q) continue;
    ++parsed;
    ExpectAnswerable(bytes, *q);
  }
  // Mutations of real queries (a byte changed, or cut short): many still parse, and those must
  // be answerable; under ASan/UBSan any read past the bytes fails the run.
  const std::vector<std::vector<uint8_t>> seeds = {MakeQuery(1, "api.example.com", kTypeA, true), MakeQuery(2, "v6.test", kTypeAaaa, false)};
  size_t mutated_parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes = seeds[static_cast<size_t>(i) % seeds.size()];
    bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    const auto q = ParseQuery(bytes).query;
    if (!q) continue;
    ++mutated_parsed;
    ExpectAnswerable(bytes, *q);
  }
  EXPECT_GT(mutated_parsed, 1000U) << "the mutations reach the code past the header";
  RecordProperty("random_parsed", static_cast<int>(parsed));
}

TEST(DnsMessage, ReadsTheQuestionOfQueriesAndResponses) {
  const auto query = MakeQuery(7, "Api.Example.com", kTypeAaaa, true);
  const auto q = ReadQuestion(query);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(*q, (Question{"api.example.com", kTypeAaaa, kClassIn}));
  // A response (QR set, an rcode) still has its question read; its case does not matter.
  auto response = MakeQuery(7, "API.example.COM", kTypeAaaa, false);
  response[2] |= 0x80;
  response[3] |= 0x03;
  EXPECT_EQ(ReadQuestion(response), q);
  EXPECT_EQ(MessageRcode(response), 3);
  EXPECT_NE(ReadQuestion(MakeQuery(7, "api.example.com", kTypeA, false)), q) << "another type";
  EXPECT_NE(ReadQuestion(MakeQuery(7, "api.example.org", kTypeAaaa, false)), q) << "another name";
  // No question, or a header only: none.
  std::vector<uint8_t> bare(query.begin(), query.begin() + 12);
  bare[5] = 0;
  EXPECT_EQ(QuestionCount(bare), 0);
  EXPECT_FALSE(ReadQuestion(bare).has_value());
  for (size_t len = 0; len < 12 + 17 + 4; ++len) {
    EXPECT_FALSE(ReadQuestion(std::span<const uint8_t>(query).first(len)).has_value()) << "length " << len;
  }
}

TEST(DnsMessage, MatchesExactlyOrBySubstring) {
  EXPECT_EQ(CanonicalName("API.Example.com."), "api.example.com");
  EXPECT_TRUE(NameMatches("api.example.com", "api.example.com", false));
  EXPECT_FALSE(NameMatches("www.api.example.com", "api.example.com", false));
  EXPECT_TRUE(NameMatches("www.api.example.com", "example", true));
  EXPECT_FALSE(NameMatches("www.api.example.org", "example.com", true));
}

TEST(DnsMessage, SetsTheIdOfAnyMessage) {
  auto msg = MakeQuery(1, "a", kTypeA, false);
  SetMessageId(msg, 0xfeed);
  EXPECT_EQ(MessageId(msg), 0xfeed);
  std::vector<uint8_t> tiny = {1, 2};
  SetMessageId(tiny, 5);
  EXPECT_EQ(tiny, (std::vector<uint8_t>{1, 2}));
}

}  // namespace
}  // namespace faultd::core::dns
