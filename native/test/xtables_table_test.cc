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

#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netfilter/xt_statistic.h>

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
  Rule rule;
  rule.address = {10, 1, 2, 3};
  rule.prefix_len = 24;
  rule.l4proto = IPPROTO_TCP;
  rule.port = 8080;
  Rule icmp;
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
  Rule accept;
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
  Rule rule;
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

  Rule source;
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
  Rule rule;
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

TEST(XtablesTable, RuleEntryEncodesAStatisticMatchAndTheNfqueueTarget) {
  Rule rule;
  rule.l4proto = IPPROTO_TCP;
  rule.port = 80;
  rule.percent = 30;
  const auto b = RuleEntryBytes(rule);
  const auto* e = reinterpret_cast<const ipt_entry*>(b.data());
  // ipt_entry, tcp (48), statistic (56: header + xt_statistic_info of 24), standard target.
  EXPECT_EQ(kStatisticMatchSize, 56U);
  EXPECT_EQ(e->target_offset, kEntrySize + 48 + 56);
  const auto* m = reinterpret_cast<const xt_entry_match*>(b.data() + kEntrySize + 48);
  EXPECT_STREQ(m->u.user.name, "statistic");
  EXPECT_EQ(m->u.user.match_size, 56);
  EXPECT_EQ(m->u.user.revision, 0);
  const auto* info = reinterpret_cast<const xt_statistic_info*>(b.data() + kEntrySize + 48 + kMatchHeaderSize);
  EXPECT_EQ(info->mode, XT_STATISTIC_MODE_RANDOM);
  // libxt_statistic: lround(0x80000000 * 0.30); iptables-legacy-save prints 0.29999999981.
  EXPECT_EQ(info->u.random.probability, 644245094U);
  EXPECT_EQ(At<int32_t>(b, e->target_offset + kTargetHeaderSize), kVerdictDrop);

  Rule queue;
  queue.queue_num = 0xf123;
  const auto q = RuleEntryBytes(queue);
  const auto* qe = reinterpret_cast<const ipt_entry*>(q.data());
  EXPECT_EQ(kNfqTargetSize, 40U);
  EXPECT_EQ(qe->next_offset, kEntrySize + 40);
  const auto* t = reinterpret_cast<const xt_entry_target*>(q.data() + kEntrySize);
  EXPECT_STREQ(t->u.user.name, "NFQUEUE");
  EXPECT_EQ(t->u.user.revision, 3);
  const auto* nfq = reinterpret_cast<const xt_NFQ_info_v3*>(q.data() + kEntrySize + kTargetHeaderSize);
  EXPECT_EQ(nfq->queuenum, 0xf123);
  EXPECT_EQ(nfq->queues_total, 1);
  EXPECT_EQ(nfq->flags, NFQ_FLAG_BYPASS);
}

TEST(XtablesTable, Ipv6RuleEntryIsAnIp6tEntry) {
  EXPECT_EQ(kEntry6Size, 168U);
  Rule rule;
  rule.address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};
  rule.prefix_len = 60;
  rule.match_source_address = true;
  rule.l4proto = IPPROTO_TCP;
  rule.port = 443;
  rule.in_interface = "veth1";
  const auto b = RuleEntryBytes(rule, Family::kIpv6);
  const auto* e = reinterpret_cast<const ip6t_entry*>(b.data());
  // 2001:db8::1234/60 → 2001:db8::/60 under ffff:ffff:ffff:fff0::, as ip6tables masks it.
  const std::vector<uint8_t> src(e->ipv6.src.s6_addr, e->ipv6.src.s6_addr + 16);
  const std::vector<uint8_t> smsk(e->ipv6.smsk.s6_addr, e->ipv6.smsk.s6_addr + 16);
  EXPECT_EQ(src, (std::vector<uint8_t>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(smsk, (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(e->ipv6.dmsk.s6_addr[0], 0);
  EXPECT_EQ(e->ipv6.proto, IPPROTO_TCP);
  EXPECT_EQ(e->ipv6.flags, IP6T_F_PROTO);
  EXPECT_STREQ(e->ipv6.iniface, "veth1");
  EXPECT_EQ(e->ipv6.iniface_mask[5], 0xFF);
  EXPECT_EQ(e->ipv6.iniface_mask[6], 0);
  EXPECT_EQ(e->target_offset, kEntry6Size + 48);
  EXPECT_EQ(e->next_offset, kEntry6Size + 48 + kStandardTargetSize);
  const auto* m = reinterpret_cast<const xt_entry_match*>(b.data() + kEntry6Size);
  EXPECT_STREQ(m->u.user.name, "tcp");
  const auto* tcp = reinterpret_cast<const xt_tcp*>(b.data() + kEntry6Size + kMatchHeaderSize);
  EXPECT_EQ(tcp->spts[0], 0);
  EXPECT_EQ(tcp->dpts[0], 443);
  EXPECT_EQ(tcp->dpts[1], 443);
  Rule any;
  const auto a = RuleEntryBytes(any, Family::kIpv6);
  EXPECT_EQ(reinterpret_cast<const ip6t_entry*>(a.data())->ipv6.flags, 0);
}

// The IPv6 filter table of a fresh namespace, built with ip6t_entry headers.
Fixture EmptyFilter6() {
  Fixture f;
  constexpr uint32_t kStd6 = kEntry6Size + kStandardTargetSize;
  const auto put = [&](uint16_t target_size, const char* target, const void* data, size_t data_size) {
    const size_t at = f.blob.size();
    f.blob.resize(at + kEntry6Size + target_size, 0);
    auto* e = reinterpret_cast<ip6t_entry*>(f.blob.data() + at);
    e->target_offset = kEntry6Size;
    e->next_offset = static_cast<uint16_t>(kEntry6Size + target_size);
    e->comefrom = 0x4;
    auto* t = reinterpret_cast<xt_entry_target*>(f.blob.data() + at + kEntry6Size);
    t->u.user.target_size = target_size;
    std::strncpy(t->u.user.name, target, sizeof(t->u.user.name) - 1);
    std::memcpy(f.blob.data() + at + kEntry6Size + kTargetHeaderSize, data, data_size);
  };
  for (int i = 0; i < 3; ++i) put(kStandardTargetSize, "", &kVerdictAccept, sizeof(kVerdictAccept));
  char error[kErrorNameSize] = "ERROR";
  put(kErrorTargetSize, "ERROR", error, sizeof(error));
  f.info.family = Family::kIpv6;
  f.info.name = "filter";
  f.info.valid_hooks = (1U << kHookInput) | (1U << kHookForward) | (1U << kHookOutput);
  f.info.hook_entry = {0xFFFFFFFFU, 0, kStd6, 2 * kStd6, 0xFFFFFFFFU};
  f.info.underflow = f.info.hook_entry;
  f.info.num_entries = 4;
  f.info.size = static_cast<uint32_t>(f.blob.size());
  return f;
}

TEST(XtablesTable, Ipv6TableAddsAndRemovesItsChainByteForByte) {
  const Fixture f = EmptyFilter6();
  std::string why;
  auto table = Decode(f.info, f.blob, &why);
  ASSERT_TRUE(table) << why;
  EXPECT_EQ(Encode(*table).blob, f.blob);
  ChainSpec spec{"FAULTD-v6", {kHookInput, kHookOutput}, {}};
  Rule rule;
  rule.address = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  rule.prefix_len = 128;
  rule.l4proto = IPPROTO_ICMPV6;
  spec.rules.push_back(rule);
  ASSERT_TRUE(AddChain(*table, spec, &why)) << why;
  const Encoded e = Encode(*table);
  constexpr uint32_t kStd6 = kEntry6Size + kStandardTargetSize;
  constexpr uint32_t kErr6 = kEntry6Size + kErrorTargetSize;
  // jump, INPUT policy, FORWARD policy, jump, OUTPUT policy, head, rule, RETURN, ERROR.
  ASSERT_EQ(e.num_entries, 9U);
  const uint32_t first_rule = 5 * kStd6 + kErr6;
  EXPECT_EQ(At<int32_t>(e.blob, kEntry6Size + kTargetHeaderSize), static_cast<int32_t>(first_rule));
  EXPECT_EQ(e.hook_entry[kHookOutput], 3 * kStd6);
  EXPECT_EQ(e.underflow[kHookOutput], 4 * kStd6);
  EXPECT_EQ(e.blob.size(), first_rule + kStd6 + kStd6 + kErr6);
  TableInfo info = InfoOf(*table, e);
  info.family = Family::kIpv6;
  auto read = Decode(info, e.blob, &why);
  ASSERT_TRUE(read) << why;
  EXPECT_TRUE(SameEntries(*read, *table));
  EXPECT_EQ(UserChains(*read), std::vector<std::string>{"FAULTD-v6"});
  ASSERT_TRUE(RemoveChain(*read, "FAULTD-v6"));
  EXPECT_EQ(Encode(*read).blob, f.blob);
}

TEST(XtablesTable, SameEntriesIgnoresOnlyWhatTheKernelWrites) {
  const Fixture f = EmptyFilter();
  auto a = Decode(f.info, f.blob);
  ASSERT_TRUE(a);
  Rule rule;
  rule.percent = 50;
  ASSERT_TRUE(AddChain(*a, ChainSpec{"FAULTD-s", {kHookOutput}, {rule}}));
  Table b = *a;
  EXPECT_TRUE(SameEntries(*a, b));
  // Counters, comefrom and xt_statistic's kernel pointer differ in a table read back.
  b.entries[0].bytes[offsetof(ipt_entry, counters)] ^= 1;
  b.entries[1].bytes[offsetof(ipt_entry, comefrom)] ^= 1;
  // INPUT policy, FORWARD policy, jump, OUTPUT policy, head, the statistic rule, RETURN, ERROR.
  Entry& statistic = b.entries[5];
  ASSERT_EQ(statistic.bytes.size(), kEntrySize + kStatisticMatchSize + kStandardTargetSize);
  statistic.bytes[kEntrySize + kStatisticMatchSize - 1] ^= 1;
  EXPECT_TRUE(SameEntries(*a, b));
  // An address, a verdict or an entry more are not.
  Table c = *a;
  c.entries[5].bytes[offsetof(ipt_entry, ip.dst)] = 10;
  EXPECT_FALSE(SameEntries(*a, c));
  Table d = *a;
  d.entries[0].verdict = kVerdictDrop;
  std::memcpy(d.entries[0].bytes.data() + kEntrySize + kTargetHeaderSize, &kVerdictDrop, sizeof(kVerdictDrop));
  EXPECT_FALSE(SameEntries(*a, d));
  Table e = *a;
  ASSERT_TRUE(AddChain(e, ChainSpec{"OTHER", {kHookInput}, {}}));
  EXPECT_FALSE(SameEntries(*a, e));
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
