// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "../core/netlink/attr.h"
#include "../core/netlink/socket.h"
#include "../core/psched.h"
#include "../injectors/tc_dump.h"
#include "../injectors/tc_netem.h"
#include "../injectors/tc_steer.h"

namespace faultd::core {
namespace {

TEST(AttrWriter, PadsAndNests) {
  nl::AttrWriter w(256);
  const size_t outer = w.NestBegin(2);
  w.PutU32(1, 0xdeadbeef);
  w.PutString(3, "ab");  // 3 bytes of payload, padded to 4
  w.NestEnd(outer);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w.size(), 4u + 8u + 8u);
  const auto attrs = nl::ParseAttrs(w.bytes());
  ASSERT_EQ(attrs.size(), 1u);
  EXPECT_EQ(attrs[0].type, 2);
  const auto inner = nl::ParseAttrs(attrs[0].payload);
  ASSERT_EQ(inner.size(), 2u);
  EXPECT_EQ(inner[0].As<uint32_t>().value(), 0xdeadbeefu);
  EXPECT_EQ(inner[1].AsString(), "ab");
}

TEST(AttrWriter, RefusesToOverflowItsBound) {
  nl::AttrWriter w(8);
  EXPECT_TRUE(w.PutU32(1, 1));
  EXPECT_FALSE(w.PutU32(2, 2));
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.size(), 8u);
}

TEST(ParseAttrs, StopsAtMalformedLength) {
  const std::vector<uint8_t> bytes = {8, 0, 1, 0, 1, 2, 3, 4, 200, 0, 2, 0};
  EXPECT_EQ(nl::ParseAttrs(bytes).size(), 1u);
}

TEST(DecodeError, ReadsExtackMessage) {
  // nlmsgerr (error -2 + capped header) followed by NLMSGERR_ATTR_MSG.
  nl::AttrWriter w(256);
  nlmsgerr err{};
  err.error = -2;
  w.AppendStruct(err);
  w.PutString(1, "Specified qdisc kind is unknown");
  const SysError e = nl::DecodeError(w.bytes(), 0x100 | 0x200, "RTM_NEWQDISC");
  EXPECT_EQ(e.err, 2);
  EXPECT_STREQ(e.syscall, "RTM_NEWQDISC");
  EXPECT_EQ(e.detail, "Specified qdisc kind is unknown");
}

TEST(Psched, MatchesIproute2Conversion) {
  const auto psched = ParsePsched("000003e8 00000040 000f4240 3b9aca00\n");
  ASSERT_TRUE(psched.ok());
  EXPECT_DOUBLE_EQ(psched.value().tick_in_usec, 15.625);
  bool fits = false;
  EXPECT_EQ(UsecToTicks(psched.value(), 100000, &fits), 1562500u);
  EXPECT_TRUE(fits);
  UsecToTicks(psched.value(), 300'000'000, &fits);  // 300 s no longer fits 32-bit ticks
  EXPECT_FALSE(fits);
  EXPECT_FALSE(ParsePsched("garbage").ok());
}

TEST(Netem, RefusesWhatTcRefuses) {
  const Psched psched{15.625, 1};
  inj::NetemSpec reorder_without_delay;
  reorder_without_delay.reorder_pct = 10;
  EXPECT_EQ(inj::EncodeNetemOptions(reorder_without_delay, psched).error().err, EINVAL);
  inj::NetemSpec gap_without_reorder;
  gap_without_reorder.delay_us = 1000;
  gap_without_reorder.gap = 2;
  EXPECT_FALSE(inj::EncodeNetemOptions(gap_without_reorder, psched).ok());
  inj::NetemSpec long_delay;
  long_delay.delay_us = 300'000'000;  // 5 min: carried as TCA_NETEM_LATENCY64
  const auto bytes = inj::EncodeNetemOptions(long_delay, psched);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes.value().size(), 4u + 24u + 12u);
}


// A u32 key as the kernel dumps one: the attributes faultd sent, plus hash, counters and flags.
std::vector<uint8_t> DumpedU32Key(const std::vector<uint8_t>& sent, uint32_t flags) {
  const auto outer = nl::ParseAttrs(sent);
  nl::AttrWriter w(4096);
  const size_t at = w.NestBegin(TCA_OPTIONS);
  for (const nl::Attr& a : nl::ParseAttrs(outer.at(0).payload)) w.Put(a.type, a.payload.data(), a.payload.size());
  w.PutU32(TCA_U32_HASH, 0x80000000);
  w.Put(TCA_U32_PCNT, std::vector<uint8_t>(24, 0).data(), 24);
  w.PutU32(TCA_U32_FLAGS, flags);
  w.NestEnd(at);
  return w.bytes();
}

TEST(DecodeU32Node, KeyReplaysAsTheFilterThatWasSent) {
  inj::U32Match match;
  match.address = {10, 0, 0, 0};
  match.prefix_len = 8;
  match.l4proto = 6;
  match.port = 5432;
  const auto sent = inj::EncodeU32Options(match, 0xf0010002);
  ASSERT_TRUE(sent.ok());
  const inj::U32Node node = inj::DecodeU32Node(DumpedU32Key(sent.value(), TCA_CLS_FLAGS_NOT_IN_HW));
  EXPECT_EQ(node.kind, inj::U32Node::Kind::kKey);
  EXPECT_TRUE(node.actions.empty());
  EXPECT_TRUE(node.extra_attributes.empty());
  EXPECT_EQ(node.replay, sent.value()) << "not_in_hw is dump-only state and is dropped";
}

TEST(DecodeU32Node, KeepsSkipFlagsAndNamesActions) {
  inj::U32Match match;
  const auto sent = inj::EncodeU32Options(match, 0x10001);
  ASSERT_TRUE(sent.ok());
  const inj::U32Node skip_sw = inj::DecodeU32Node(DumpedU32Key(sent.value(), TCA_CLS_FLAGS_SKIP_SW | TCA_CLS_FLAGS_IN_HW));
  const auto replayed = nl::ParseAttrs(nl::ParseAttrs(skip_sw.replay).at(0).payload);
  ASSERT_EQ(replayed.size(), 3u);
  EXPECT_EQ(replayed[2].type, TCA_U32_FLAGS);
  EXPECT_EQ(replayed[2].As<uint32_t>().value(), static_cast<uint32_t>(TCA_CLS_FLAGS_SKIP_SW));

  const auto redirect = inj::EncodeU32RedirectOptions(7);
  ASSERT_TRUE(redirect.ok());
  const inj::U32Node node = inj::DecodeU32Node(DumpedU32Key(redirect.value(), 0));
  EXPECT_EQ(node.kind, inj::U32Node::Kind::kKey);
  EXPECT_EQ(node.actions, std::vector<std::string>{"mirred"});
  EXPECT_EQ(node.extra_attributes, std::vector<uint16_t>{TCA_U32_ACT});
}

TEST(DecodeU32Node, TellsHeadersAndTablesApart) {
  EXPECT_EQ(inj::DecodeU32Node({}).kind, inj::U32Node::Kind::kHeader);
  nl::AttrWriter w(256);
  const size_t at = w.NestBegin(TCA_OPTIONS);
  w.PutU32(TCA_U32_DIVISOR, 256);
  w.NestEnd(at);
  const inj::U32Node table = inj::DecodeU32Node(w.bytes());
  EXPECT_EQ(table.kind, inj::U32Node::Kind::kTable);
  EXPECT_EQ(table.divisor, 256u);
  EXPECT_TRUE(table.replay.empty());
}

TEST(ReplayableQdiscOptions, GivesHtbItsMajorVersionBack) {
  const auto sent = inj::EncodeHtbQdiscOptions(1);
  ASSERT_TRUE(sent.ok());
  std::vector<uint8_t> dumped = sent.value();
  // The kernel dumps HTB_VER (0x30011) where tc sent the major (3).
  const auto init = nl::FindAttr(nl::ParseAttrs(nl::ParseAttrs(dumped).at(0).payload), TCA_HTB_INIT);
  ASSERT_TRUE(init.has_value());
  const uint32_t full = 0x30011;
  std::memcpy(dumped.data() + (init->payload.data() - dumped.data()), &full, sizeof(full));
  EXPECT_NE(dumped, sent.value());
  EXPECT_EQ(inj::ReplayableQdiscOptions("htb", dumped), sent.value());
  EXPECT_EQ(inj::ReplayableQdiscOptions("tbf", dumped), dumped) << "other kinds are returned as dumped";
  EXPECT_EQ(inj::ReplayableQdiscOptions("htb", sent.value()), sent.value());
}

}  // namespace
}  // namespace faultd::core
