// SPDX-License-Identifier: Apache-2.0
// The nf_tables expressions faultd sends, byte for byte against what nft 1.0.6 sends for the
// same rule. The golden bytes are the NFTA_RULE_EXPRESSIONS payloads captured with
//   strace -e trace=sendmsg -xx -s 4096 nft 'add rule inet t c meta mark 0x0fa17d53 accept;
//     add rule inet t c ip daddr 10.77.1.2 udp dport 53 redirect to :5353;
//     add rule inet t c ip6 daddr ::1 tcp dport 53 redirect to :5353'
// in a namespace whose `c` is `type nat hook output priority -100`.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../injectors/nft_rules.h"

namespace faultd::inj {
namespace {

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<uint8_t> Encode(const NftRule& rule) {
  const auto encoded = EncodeNftExpressions(rule, NftHook::kOutput);
  EXPECT_TRUE(encoded.ok()) << (encoded.ok() ? "" : encoded.error().detail);
  return encoded.ok() ? encoded.value() : std::vector<uint8_t>{};
}

TEST(NftEncoding, MarkAcceptIsByteExactWithNft) {
  NftRule rule;
  rule.match.mark = 0x0fa17d53;
  rule.verdict = NftVerdict::kAccept;
  EXPECT_EQ(Encode(rule), FromHex(
      "24000180090001006d6574610000000014000280080002000000000308000100000000012c00018008000100636d7000"
      "20000280080001000000000108000200000000000c00038008000100537da10f300001800e000100696d6d6564696174"
      "650000001c0002800800010000000000100002800c0002800800010000000001"));
}

TEST(NftEncoding, SocketUidAcceptIsByteExactWithNft) {
  // nft add rule inet t c meta skuid 65534 accept
  NftRule rule;
  rule.match.skuid = 65534;
  rule.verdict = NftVerdict::kAccept;
  EXPECT_EQ(Encode(rule), FromHex(
      "24000180090001006d6574610000000014000280080002000000000a08000100000000012c00018008000100636d7000"
      "20000280080001000000000108000200000000000c00038008000100feff0000300001800e000100696d6d6564696174"
      "650000001c0002800800010000000000100002800c0002800800010000000001"));
}

TEST(NftEncoding, Ipv4UdpRedirectIsByteExactWithNft) {
  NftRule rule;
  rule.match.ip_version = 4;
  rule.match.address = {10, 77, 1, 2};
  rule.match.prefix_len = 32;
  rule.match.l4proto = IPPROTO_UDP;
  rule.match.port = 53;
  rule.verdict = NftVerdict::kRedirect;
  rule.redirect_port = 5353;
  EXPECT_EQ(Encode(rule), FromHex(
      "24000180090001006d6574610000000014000280080002000000000f08000100000000012c00018008000100636d7000"
      "20000280080001000000000108000200000000000c0003800500010002000000340001800c0001007061796c6f616400"
      "2400028008000100000000010800020000000001080003000000001008000400000000042c00018008000100636d7000"
      "20000280080001000000000108000200000000000c000380080001000a4d010224000180090001006d65746100000000"
      "14000280080002000000001008000100000000012c00018008000100636d700020000280080001000000000108000200"
      "000000000c0003800500010011000000340001800c0001007061796c6f61640024000280080001000000000108000200"
      "00000002080003000000000208000400000000022c00018008000100636d700020000280080001000000000108000200"
      "000000000c00038006000100003500002c0001800e000100696d6d656469617465000000180002800800010000000001"
      "0c0002800600010014e90000240001800a00010072656469720000001400028008000100000000010800030000000002"));
}

TEST(NftEncoding, Ipv6TcpRedirectIsByteExactWithNft) {
  NftRule rule;
  rule.match.ip_version = 6;
  rule.match.address = std::vector<uint8_t>(16, 0);
  rule.match.address[15] = 1;
  rule.match.prefix_len = 128;
  rule.match.l4proto = IPPROTO_TCP;
  rule.match.port = 53;
  rule.verdict = NftVerdict::kRedirect;
  rule.redirect_port = 5353;
  EXPECT_EQ(Encode(rule), FromHex(
      "24000180090001006d6574610000000014000280080002000000000f08000100000000012c00018008000100636d7000"
      "20000280080001000000000108000200000000000c000380050001000a000000340001800c0001007061796c6f616400"
      "2400028008000100000000010800020000000001080003000000001808000400000000103800018008000100636d7000"
      "2c0002800800010000000001080002000000000018000380140001000000000000000000000000000000000124000180"
      "090001006d6574610000000014000280080002000000001008000100000000012c00018008000100636d700020000280"
      "080001000000000108000200000000000c0003800500010006000000340001800c0001007061796c6f61640024000280"
      "08000100000000010800020000000002080003000000000208000400000000022c00018008000100636d700020000280"
      "080001000000000108000200000000000c00038006000100003500002c0001800e000100696d6d656469617465000000"
      "1800028008000100000000010c0002800600010014e90000240001800a00010072656469720000001400028008000100"
      "000000010800030000000002"));
}

TEST(NftEncoding, RedirectWithoutAPortIsRefused) {
  NftRule rule;
  rule.verdict = NftVerdict::kRedirect;
  const auto encoded = EncodeNftExpressions(rule, NftHook::kOutput);
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.error().detail, "redirect needs a port (1..65535)");
}

}  // namespace
}  // namespace faultd::inj
