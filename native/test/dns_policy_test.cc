// SPDX-License-Identifier: Apache-2.0
// The DNS interceptor's decisions: which queries it answers (and with what), drops or forwards.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../core/dns/message.h"
#include "../injectors/dns_policy.h"

namespace faultd::inj {
namespace {

std::vector<uint8_t> Query(const std::string& name, uint16_t qtype = core::dns::kTypeA) {
  std::vector<uint8_t> b = {0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.insert(b.end(), {0, 0, static_cast<uint8_t>(qtype), 0, 1});
  return b;
}

uint8_t RcodeOf(const DnsVerdict& v) { return v.answer.size() > 3 ? v.answer[3] & 0x0f : 0xff; }

TEST(DnsPolicy, ExactMatchAnswersOnlyTheNamedHost) {
  DnsPolicy p;
  p.names = {"gone.test"};
  EXPECT_EQ(Decide(p, Query("GONE.test"), 0).decision, DnsDecision::kAnswer);
  EXPECT_EQ(RcodeOf(Decide(p, Query("gone.test"), 0)), 3);
  EXPECT_EQ(Decide(p, Query("www.gone.test"), 0).decision, DnsDecision::kForward);
  EXPECT_EQ(Decide(p, Query("ok.test"), 0).decision, DnsDecision::kForward);
}

TEST(DnsPolicy, SubstringAndEmptyNames) {
  DnsPolicy p;
  p.names = {"gone"};
  p.substring = true;
  p.action = DnsAction::kServFail;
  EXPECT_EQ(RcodeOf(Decide(p, Query("api.gone.test"), 0)), 2);
  EXPECT_EQ(Decide(p, Query("ok.test"), 0).decision, DnsDecision::kForward);
  DnsPolicy all;
  all.action = DnsAction::kRefused;
  EXPECT_EQ(RcodeOf(Decide(all, Query("anything.example"), 0)), 5);
}

TEST(DnsPolicy, TimeoutDropsAndPercentageSplits) {
  DnsPolicy p;
  p.action = DnsAction::kTimeout;
  p.percentage = 30;
  EXPECT_EQ(Decide(p, Query("a.test"), 29.99).decision, DnsDecision::kDrop);
  EXPECT_EQ(Decide(p, Query("a.test"), 30).decision, DnsDecision::kForward);
  p.percentage = 0;
  EXPECT_EQ(Decide(p, Query("a.test"), 0).decision, DnsDecision::kForward);
}

TEST(DnsPolicy, SparedNamesAndTheirSubNamesAreNeverTouched) {
  DnsPolicy p;  // every name
  p.spared = {"hub.example.com"};
  EXPECT_EQ(Decide(p, Query("hub.example.com"), 0).decision, DnsDecision::kForward);
  EXPECT_EQ(Decide(p, Query("a.hub.example.com"), 0).decision, DnsDecision::kForward);
  EXPECT_EQ(Decide(p, Query("xhub.example.com"), 0).decision, DnsDecision::kAnswer);
}

TEST(DnsPolicy, SpoofAnswersTheMappedAddresses) {
  DnsPolicy p;
  p.action = DnsAction::kSpoof;
  p.spoof["api.example.com"] = {{10, 0, 0, 9}};
  const DnsVerdict v = Decide(p, Query("api.example.com"), 0);
  ASSERT_EQ(v.decision, DnsDecision::kAnswer);
  EXPECT_EQ(RcodeOf(v), 0);
  EXPECT_EQ(std::vector<uint8_t>(v.answer.end() - 4, v.answer.end()), (std::vector<uint8_t>{10, 0, 0, 9}));
  EXPECT_EQ(Decide(p, Query("other.example.com"), 0).decision, DnsDecision::kForward);
}

TEST(DnsPolicy, ASpoofedAnswerLargerThanTheClientTakesOverUdpIsTruncatedWithTc) {
  DnsPolicy p;
  p.action = DnsAction::kSpoof;
  for (uint8_t i = 0; i < 40; ++i) p.spoof["many.test"].push_back({10, 0, 1, i});  // 40 A records: 12+15+40*16 = 667 bytes
  const auto query = Query("many.test");
  const DnsVerdict v = Decide(p, query, 0);
  ASSERT_EQ(v.decision, DnsDecision::kAnswer);
  ASSERT_GT(v.answer.size(), 512U) << "the whole answer (TCP)";
  const auto q = core::dns::ParseQuery(query).query;
  ASSERT_TRUE(q);
  std::vector<uint8_t> udp = v.answer;
  core::dns::FitUdpResponse(udp, *q, query);
  EXPECT_LE(udp.size(), 512U) << "no EDNS: 512 bytes at most";
  EXPECT_NE(udp[2] & 0x02, 0) << "TC set";
  EXPECT_EQ(RcodeOf(DnsVerdict{DnsDecision::kAnswer, udp}), 0);
  EXPECT_EQ((udp[6] << 8) | udp[7], 0) << "no answer records";
  EXPECT_EQ(core::dns::ReadQuestion(udp), core::dns::ReadQuestion(query)) << "question echoed";
  EXPECT_EQ(core::dns::MessageId(udp), core::dns::MessageId(query));
  // One that fits is left as it is.
  p.spoof["many.test"].resize(10);
  const DnsVerdict small = Decide(p, query, 0);
  std::vector<uint8_t> fits = small.answer;
  core::dns::FitUdpResponse(fits, *q, query);
  EXPECT_EQ(fits, small.answer);
  EXPECT_EQ(fits[2] & 0x02, 0);
}

TEST(DnsPolicy, TheClientsEdnsSizeIsTheUdpLimit) {
  core::dns::Query q;
  EXPECT_EQ(core::dns::UdpResponseLimit(q), 512U);
  q.opt = core::dns::OptRecord{1232, 0, 0, false};
  EXPECT_EQ(core::dns::UdpResponseLimit(q), 1232U);
  q.opt->udp_payload_size = 100;
  EXPECT_EQ(core::dns::UdpResponseLimit(q), 512U) << "below 512 counts as 512 (RFC 6891 §6.2.5)";
}

TEST(DnsPolicy, WhatDoesNotParseIsForwarded) {
  DnsPolicy p;
  EXPECT_EQ(Decide(p, std::vector<uint8_t>{1, 2, 3}, 0).decision, DnsDecision::kForward);
  auto response = Query("a.test");
  response[2] |= 0x80;
  EXPECT_EQ(Decide(p, response, 0).decision, DnsDecision::kForward);
}

}  // namespace
}  // namespace faultd::inj
