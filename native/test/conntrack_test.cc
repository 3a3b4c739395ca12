// SPDX-License-Identifier: Apache-2.0
// The ctnetlink messages the DNS faults send, byte for byte against conntrack-tools 1.4.7. The
// golden messages are the IPCTNL_MSG_CT_DELETE requests captured with
//   strace -e trace=sendto -xx -s 4096 conntrack -D [-f ipv6] -p udp --orig-dst S --dport 53
// in a namespace with one UDP flow 10.88.0.1:50252 → 10.88.0.53:53 (and fd88::1:40000 →
// fd88::53:53). conntrack sends the header and CTA_TUPLE_ORIG first, then the reply tuple,
// status, timeout and mark, which the kernel's delete does not read: faultd sends the prefix.
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "../core/netlink/conntrack.h"

namespace faultd::core::nl {
namespace {

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// conntrack -D's whole messages (seq zeroed).
const std::vector<uint8_t> kConntrackV4 = FromHex(
    "94000000020105000000000000000000020000003400018014000180080001000a580001080002000a5800351c000280"
    "050001001100000006000200c44c000006000300003500003400028014000180080001000a580035080002000a580001"
    "1c0002800500010011000000060002000035000006000300c44c00000800030000000188080007000000001d08000800"
    "00000000");

const std::vector<uint8_t> kConntrackV6 = FromHex(
    "c40000000201050000000000000000000a0000004c0001802c00018014000300fd880000000000000000000000000001"
    "14000400fd8800000000000000000000000000531c0002800500010011000000060002009c4000000600030000350000"
    "4c0002802c00018014000300fd88000000000000000000000000005314000400fd880000000000000000000000000001"
    "1c00028005000100110000000600020000350000060003009c4000000800030000000008080007000000001d08000800"
    "00000000");

// The request's bytes as sent: nlmsg_len set, seq 0.
std::vector<uint8_t> Wire(Request& request) {
  std::vector<uint8_t> bytes = request.body().bytes();
  const auto len = static_cast<uint32_t>(bytes.size());
  std::memcpy(bytes.data(), &len, sizeof(len));
  return bytes;
}

// conntrack's message cut to the header and CTA_TUPLE_ORIG, with nlmsg_len of that prefix.
std::vector<uint8_t> Prefix(std::vector<uint8_t> message) {
  const size_t tuple_len = message[20] | (message[21] << 8);
  message.resize(20 + tuple_len);
  const auto len = static_cast<uint32_t>(message.size());
  std::memcpy(message.data(), &len, sizeof(len));
  return message;
}

TEST(Conntrack, DeleteIsByteExactWithConntrackIpv4) {
  CtTuple t;
  t.family = AF_INET;
  t.src = {10, 88, 0, 1};
  t.dst = {10, 88, 0, 53};
  t.l4proto = IPPROTO_UDP;
  t.src_port = 50252;
  t.dst_port = 53;
  Request request = CtDeleteRequest(t);
  EXPECT_EQ(Wire(request), Prefix(kConntrackV4));
}

TEST(Conntrack, DeleteIsByteExactWithConntrackIpv6) {
  CtTuple t;
  t.family = AF_INET6;
  t.src = {0xfd, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  t.dst = {0xfd, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53};
  t.l4proto = IPPROTO_UDP;
  t.src_port = 40000;
  t.dst_port = 53;
  Request request = CtDeleteRequest(t);
  EXPECT_EQ(Wire(request), Prefix(kConntrackV6));
}

TEST(Conntrack, DumpRequestIsConntracks) {
  // conntrack -L / -D: IPCTNL_MSG_CT_GET, NLM_F_REQUEST|NLM_F_DUMP, AF_INET, version 0.
  Request request = CtDumpRequest(AF_INET);
  EXPECT_EQ(Wire(request), FromHex("1400000001010103000000000000000002000000"));
}

TEST(Conntrack, ReadsTheOriginalTupleAndMatchesOnlyTheNamedFlows) {
  // An entry as the kernel reports it carries CTA_TUPLE_ORIG in the same form conntrack sends.
  const std::vector<uint8_t> message = kConntrackV4;
  const auto tuple = ParseCtOriginal(std::span<const uint8_t>(message).subspan(sizeof(nlmsghdr)));
  ASSERT_TRUE(tuple.has_value());
  EXPECT_EQ(tuple->family, AF_INET);
  EXPECT_EQ(tuple->src, (std::vector<uint8_t>{10, 88, 0, 1}));
  EXPECT_EQ(tuple->dst, (std::vector<uint8_t>{10, 88, 0, 53}));
  EXPECT_EQ(tuple->l4proto, IPPROTO_UDP);
  EXPECT_EQ(tuple->src_port, 50252);
  EXPECT_EQ(tuple->dst_port, 53);
  CtFlowFilter filter{IPPROTO_UDP, 53, {{10, 88, 0, 9}, {10, 88, 0, 53}}};
  EXPECT_TRUE(CtFlowMatches(filter, *tuple));
  filter.dst_port = 5353;
  EXPECT_FALSE(CtFlowMatches(filter, *tuple)) << "another port";
  filter = {IPPROTO_TCP, 53, {{10, 88, 0, 53}}};
  EXPECT_FALSE(CtFlowMatches(filter, *tuple)) << "another protocol";
  filter = {IPPROTO_UDP, 53, {{10, 88, 0, 54}}};
  EXPECT_FALSE(CtFlowMatches(filter, *tuple)) << "another server";
  // Every truncation of the entry is read within bounds (no tuple or a shorter one, never a crash).
  for (size_t n = 0; n < message.size() - sizeof(nlmsghdr); ++n) {
    (void)ParseCtOriginal(std::span<const uint8_t>(message).subspan(sizeof(nlmsghdr), n));
  }
  EXPECT_FALSE(ParseCtOriginal(std::span<const uint8_t>(message).subspan(sizeof(nlmsghdr), 40)).has_value());
}

}  // namespace
}  // namespace faultd::core::nl
