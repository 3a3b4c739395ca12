// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include "../core/netlink/attr.h"
#include "../core/netlink/socket.h"
#include "../core/psched.h"
#include "../injectors/tc_netem.h"

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

}  // namespace
}  // namespace faultd::core
