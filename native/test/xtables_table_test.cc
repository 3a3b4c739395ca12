// SPDX-License-Identifier: Apache-2.0
// The x_tables table model: the blob the kernel hands out decodes and encodes back byte for byte,
// faultd's chain lands where libiptc would put it (offsets, hooks, verdicts), and removing it
// gives back the exact bytes it was added to.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>

#include <cstring>
#include <string>
#include <vector>

#include "../core/xtables/ipt_abi.h"
#include "../core/xtables/ipt_table.h"

namespace faultd::core::xt {
namespace {

constexpr uint32_t kStd = kEntrySize + kStandardTargetSize;  // 152 on x86_64 and aarch64
constexpr uint32_t kErr = kEntrySize + kErrorTargetSize;     // 176

template <typename T>
T At(const std::vector<uint8_t>& b, size_t offset) {
  T v;
  std::memcpy(&v, b.data() + offset, sizeof(T));
  return v;
}

void PutEntry(std::vector<uint8_t>& blob, uint16_t target_size, const char* target, const void* data, size_t data_size) {
  const size_t at = blob.size();
  blob.resize(at + kEntrySize + target_size, 0);
  auto* e = reinterpret_cast<ipt_entry*>(blob.data() + at);
  e->target_offset = kEntrySize;
  e->next_offset = static_cast<uint16_t>(kEntrySize + target_size);
  e->comefrom = 0x2;           // what the kernel reports; kept as read
  e->counters.pcnt = 7;        // likewise
  auto* t = reinterpret_cast<xt_entry_target*>(blob.data() + at + kEntrySize);
  t->u.user.target_size = target_size;
  std::strncpy(t->u.user.name, target, sizeof(t->u.user.name) - 1);
  std::memcpy(blob.data() + at + kEntrySize + kTargetHeaderSize, data, data_size);
}

void PutStandard(std::vector<uint8_t>& blob, int32_t verdict) { PutEntry(blob, kStandardTargetSize, "", &verdict, sizeof(verdict)); }

void PutError(std::vector<uint8_t>& blob, const char* name) {
  char error[kErrorNameSize] = {};
  std::strncpy(error, name, sizeof(error) - 1);
  PutEntry(blob, kErrorTargetSize, "ERROR", error, sizeof(error));
}

// The filter table as a fresh namespace has it (INPUT, FORWARD, OUTPUT), FORWARD's policy DROP.
struct Fixture {
  TableInfo info;
  std::vector<uint8_t> blob;
};

Fixture EmptyFilter() {
  Fixture f;
  PutStandard(f.blob, kVerdictAccept);  // INPUT policy
  PutStandard(f.blob, kVerdictDrop);    // FORWARD policy
  PutStandard(f.blob, kVerdictAccept);  // OUTPUT policy
  PutError(f.blob, "ERROR");
  f.info.name = "filter";
  f.info.valid_hooks = (1U << kHookInput) | (1U << kHookForward) | (1U << kHookOutput);
  f.info.hook_entry = {0xFFFFFFFFU, 0, kStd, 2 * kStd, 0xFFFFFFFFU};
  f.info.underflow = f.info.hook_entry;
  f.info.num_entries = 4;
  f.info.size = static_cast<uint32_t>(f.blob.size());
  return f;
}

TableInfo InfoOf(const Table& table, const Encoded& e) {
  TableInfo info;
  info.name = table.name;
  info.valid_hooks = table.valid_hooks;
  info.hook_entry = e.hook_entry;
  info.underflow = e.underflow;
  info.num_entries = e.num_entries;
  info.size = static_cast<uint32_t>(e.blob.size());
  return info;
}

ChainSpec PartitionSpec(const std::string& name) {
  Ipv4Rule rule;
  rule.address = {10, 1, 2, 3};
  rule.prefix_len = 24;
  rule.l4proto = IPPROTO_TCP;
  rule.port = 8080;
  Ipv4Rule icmp;
  icmp.address = {192, 0, 2, 9};
  icmp.prefix_len = 32;
  icmp.l4proto = IPPROTO_ICMP;
  return ChainSpec{name, {kHookInput, kHookOutput}, {rule, icmp}};
}

TEST(XtablesTable, StandardVerdictsAreTheKernelsEncoding) {
  EXPECT_EQ(kVerdictDrop, -NF_DROP - 1);
  EXPECT_EQ(kVerdictAccept, -NF_ACCEPT - 1);
  EXPECT_EQ(kVerdictReturn, XT_RETURN);
  EXPECT_EQ(kEntrySize, 112U);
  EXPECT_EQ(kStandardTargetSize, 40U);
  EXPECT_EQ(kErrorTargetSize, 64U);
}

TEST(XtablesTable, DecodeEncodeIsByteExact) {
  const Fixture f = EmptyFilter();
  std::string why;
  const auto table = Decode(f.info, f.blob, &why);
  ASSERT_TRUE(table) << why;
  EXPECT_EQ(table->entries.size(), 4U);
  EXPECT_EQ(table->entries[1].verdict, kVerdictDrop);
  EXPECT_EQ(table->entries[3].error_name, "ERROR");
  EXPECT_TRUE(UserChains(*table).empty());
  const Encoded e = Encode(*table);
  EXPECT_EQ(e.blob, f.blob);
  EXPECT_EQ(e.hook_entry, f.info.hook_entry);
  EXPECT_EQ(e.underflow, f.info.underflow);
  EXPECT_EQ(e.num_entries, 4U);
}

TEST(XtablesTable, AddChainPutsJumpsFirstAndTheChainBeforeTheEnd) {
  const Fixture f = EmptyFilter();
  auto table = Decode(f.info, f.blob);
  ASSERT_TRUE(table);
  std::string why;
  ASSERT_TRUE(AddChain(*table, PartitionSpec("FAULTD-abc"), &why)) << why;
  const Encoded e = Encode(*table);
  // INPUT: jump, policy; FORWARD: policy; OUTPUT: jump, policy; chain head, tcp rule, icmp rule, RETURN; ERROR.
  ASSERT_EQ(e.num_entries, 10U);
  const uint32_t tcp_rule = kEntrySize + 48 + kStandardTargetSize;  // ipt_entry + xt_tcp match + target
  EXPECT_EQ(e.hook_entry[kHookInput], 0U);
  EXPECT_EQ(e.underflow[kHookInput], kStd);
  EXPECT_EQ(e.hook_entry[kHookForward], 2 * kStd);
  EXPECT_EQ(e.underflow[kHookForward], 2 * kStd);
  EXPECT_EQ(e.hook_entry[kHookOutput], 3 * kStd);
  EXPECT_EQ(e.underflow[kHookOutput], 4 * kStd);
  const uint32_t head = 5 * kStd;
  const uint32_t first_rule = head + kErr;
  // Both jumps land on the chain's first rule, after its ERROR head (libiptc's layout).
  EXPECT_EQ(At<int32_t>(e.blob, kEntrySize + kTargetHeaderSize), static_cast<int32_t>(first_rule));
  EXPECT_EQ(At<int32_t>(e.blob, 3 * kStd + kEntrySize + kTargetHeaderSize), static_cast<int32_t>(first_rule));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.blob.data() + head + kEntrySize + kTargetHeaderSize)), "FAULTD-abc");
  const uint32_t ret = first_rule + tcp_rule + kStd;
  EXPECT_EQ(At<int32_t>(e.blob, ret + kEntrySize + kTargetHeaderSize), kVerdictReturn);
  EXPECT_EQ(e.blob.size(), ret + kStd + kErr);
  // Model → bytes → model → bytes.
  const auto again = Decode(InfoOf(*table, e), e.blob, &why);
  ASSERT_TRUE(again) << why;
  EXPECT_EQ(Encode(*again).blob, e.blob);
  EXPECT_EQ(UserChains(*again), std::vector<std::string>{"FAULTD-abc"});
  EXPECT_EQ(again->entries[0].jump_to, again->entries[6].id);
}

TEST(XtablesTable, AddChainRefusesAnExistingChainOrAMissingHook) {
  const Fixture f = EmptyFilter();
  auto table = Decode(f.info, f.blob);
  ASSERT_TRUE(table);
  ASSERT_TRUE(AddChain(*table, PartitionSpec("FAULTD-abc")));
  const auto before = Encode(*table).blob;
  std::string why;
  EXPECT_FALSE(AddChain(*table, PartitionSpec("FAULTD-abc"), &why));
  EXPECT_EQ(why, "chain FAULTD-abc exists");
  ChainSpec prerouting = PartitionSpec("FAULTD-pre");
  prerouting.hooks = {0};
  EXPECT_FALSE(AddChain(*table, prerouting, &why));
  EXPECT_FALSE(AddChain(*table, PartitionSpec(std::string(29, 'x')), &why));
  EXPECT_EQ(Encode(*table).blob, before);
}

TEST(XtablesTable, RemoveChainRestoresTheExactBytes) {
  const Fixture f = EmptyFilter();
  auto table = Decode(f.info, f.blob);
  ASSERT_TRUE(table);
  // Someone's own chain with a jump from INPUT and a rule, as `iptables -N USER; -A USER -j
  // ACCEPT; -A INPUT -j USER` leave it.
  Ipv4Rule accept;
  accept.verdict = kVerdictAccept;
  ChainSpec user{"USER", {kHookInput}, {accept}};
  ASSERT_TRUE(AddChain(*table, user));
  const Encoded with_user = Encode(*table);
  auto read = Decode(InfoOf(*table, with_user), with_user.blob);
  ASSERT_TRUE(read);
  ASSERT_TRUE(AddChain(*read, PartitionSpec("FAULTD-1")));
  ASSERT_TRUE(AddChain(*read, PartitionSpec("FAULTD-2")));
  EXPECT_EQ(UserChains(*read), (std::vector<std::string>{"USER", "FAULTD-1", "FAULTD-2"}));
  // Through the kernel's representation and back, as a later revert would read it.
  const Encoded applied = Encode(*read);
  auto later = Decode(InfoOf(*read, applied), applied.blob);
  ASSERT_TRUE(later);
  EXPECT_TRUE(RemoveChain(*later, "FAULTD-1"));
  EXPECT_FALSE(RemoveChain(*later, "FAULTD-1"));
  EXPECT_TRUE(RemoveChain(*later, "FAULTD-2"));
  const Encoded restored = Encode(*later);
  EXPECT_EQ(restored.blob, with_user.blob);
  EXPECT_EQ(restored.hook_entry, with_user.hook_entry);
  EXPECT_EQ(restored.underflow, with_user.underflow);
  EXPECT_EQ(restored.num_entries, with_user.num_entries);
  EXPECT_TRUE(RemoveChain(*later, "USER"));
  EXPECT_EQ(Encode(*later).blob, f.blob);
}

TEST(XtablesTable, RuleEntryEncodesAddressProtocolAndPort) {
  Ipv4Rule rule;
  rule.address = {10, 1, 2, 3};
  rule.prefix_len = 24;
  rule.l4proto = IPPROTO_UDP;
  rule.port = 53;
  const auto b = RuleEntryBytes(rule);
  const auto* e = reinterpret_cast<const ipt_entry*>(b.data());
  EXPECT_EQ(e->ip.dst.s_addr, inet_addr("10.1.2.0"));
  EXPECT_EQ(e->ip.dmsk.s_addr, inet_addr("255.255.255.0"));
  EXPECT_EQ(e->ip.smsk.s_addr, 0U);
  EXPECT_EQ(e->ip.proto, IPPROTO_UDP);
  EXPECT_EQ(e->target_offset, kEntrySize + 48);
  EXPECT_EQ(e->next_offset, kEntrySize + 48 + kStandardTargetSize);
  ASSERT_EQ(b.size(), e->next_offset);
  const auto* m = reinterpret_cast<const xt_entry_match*>(b.data() + kEntrySize);
  EXPECT_EQ(m->u.user.match_size, 48);
  EXPECT_STREQ(m->u.user.name, "udp");
  const auto* udp = reinterpret_cast<const xt_udp*>(b.data() + kEntrySize + sizeof(xt_entry_match));
  EXPECT_EQ(udp->spts[0], 0);
  EXPECT_EQ(udp->spts[1], 0xFFFF);
  EXPECT_EQ(udp->dpts[0], 53);
  EXPECT_EQ(udp->dpts[1], 53);
  EXPECT_EQ(At<int32_t>(b, e->target_offset + kTargetHeaderSize), kVerdictDrop);

  Ipv4Rule source;
  source.address = {192, 0, 2, 7};
  source.prefix_len = 32;
  source.match_source_address = true;
  const auto s = RuleEntryBytes(source);
  const auto* se = reinterpret_cast<const ipt_entry*>(s.data());
  EXPECT_EQ(se->ip.src.s_addr, inet_addr("192.0.2.7"));
  EXPECT_EQ(se->ip.smsk.s_addr, 0xFFFFFFFFU);
  EXPECT_EQ(se->ip.dmsk.s_addr, 0U);
  EXPECT_EQ(se->target_offset, kEntrySize);
}

TEST(XtablesTable, RuleEntryEncodesInterfacesAsIptablesDoes) {
  Ipv4Rule rule;
  rule.in_interface = "veth0";
  rule.out_interface = "eth1";
  const auto b = RuleEntryBytes(rule);
  const auto* e = reinterpret_cast<const ipt_entry*>(b.data());
  EXPECT_STREQ(e->ip.iniface, "veth0");
  EXPECT_STREQ(e->ip.outiface, "eth1");
  // `-i veth0`: the 5 bytes and the NUL are compared, nothing after.
  const std::vector<unsigned char> in_mask(e->ip.iniface_mask, e->ip.iniface_mask + IFNAMSIZ);
  EXPECT_EQ(in_mask, (std::vector<unsigned char>{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(e->ip.outiface_mask[4], 0xFF);
  EXPECT_EQ(e->ip.outiface_mask[5], 0);
  EXPECT_EQ(e->ip.proto, 0);
  EXPECT_EQ(e->target_offset, kEntrySize);
}

TEST(XtablesTable, DecodeRefusesBadOffsets) {
  Fixture f = EmptyFilter();
  std::string why;
  f.info.hook_entry[kHookOutput] = 2 * kStd + 8;
  EXPECT_FALSE(Decode(f.info, f.blob, &why));
  EXPECT_EQ(why, "hook 3 offsets are not on entries");
  f = EmptyFilter();
  const int32_t into_the_middle = 16;
  std::memcpy(f.blob.data() + kEntrySize + kTargetHeaderSize, &into_the_middle, sizeof(into_the_middle));
  EXPECT_FALSE(Decode(f.info, f.blob, &why));
  f = EmptyFilter();
  f.info.num_entries = 5;
  EXPECT_FALSE(Decode(f.info, f.blob, &why));
  f = EmptyFilter();
  EXPECT_FALSE(Decode(f.info, std::span<const uint8_t>(f.blob.data(), f.blob.size() - 8), &why));
}

TEST(XtablesTable, CountersFollowTheirEntries) {
  const Fixture f = EmptyFilter();
  auto before = Decode(f.info, f.blob);
  ASSERT_TRUE(before);
  Table after = *before;
  ASSERT_TRUE(AddChain(after, PartitionSpec("FAULTD-c")));
  // jump, INPUT policy, FORWARD policy, jump, OUTPUT policy, head, 2 rules, RETURN, ERROR.
  EXPECT_EQ(CounterSources(*before, after), (std::vector<int64_t>{-1, 0, 1, -1, 2, -1, -1, -1, -1, 3}));
}

}  // namespace
}  // namespace faultd::core::xt
